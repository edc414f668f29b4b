//! Bench jobs as jobs on a Ray cluster, through Ray's Job Submission REST API on the head's dashboard
//! (`POST /api/jobs/`, `GET /api/jobs/{id}`, `GET /api/jobs/{id}/logs`, `POST /api/jobs/{id}/stop`).
//! Each job's entrypoint is the command line the local executor would run; its `submission_id` is derived
//! from the bench directory and the job, so a rerun follows the jobs it already submitted instead of
//! submitting them twice. Jobs write into the bench directory, which every node must share.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlm_env_vars::EnvVars;
use mlm_exec::{Environment, ProcessRequest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bench::executor::{ExecutorJob, JobExecutor, JobExit, RaySettings, WorkerProbe};
use crate::error::{Error, Result};

/// How often a job's status is asked for.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// One request to the job server; it answers from the head's memory, so this is generous.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the worker check may wait for a node with the jobs' resources before saying none has them.
const PROBE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a stopped job is waited for before its logs are fetched regardless.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// The configuration a job reads from the environment, forwarded because a Ray job inherits the
/// worker's environment, not the bench's. Secrets (API keys) are never sent through the job server:
/// the workers get them from their own environment.
const FORWARDED_VARIABLES: [&str; 4] = [
    EnvVars::ML_MASTER_HOME,
    EnvVars::ML_MASTER_PYTHON,
    EnvVars::ML_MASTER_MLEBENCH_REGISTRY,
    EnvVars::ML_MASTER_LOG,
];

/// A Ray job's status, as the job server spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum JobStatus {
    Pending,
    Running,
    Stopped,
    Succeeded,
    Failed,
}

/// The part of the job server's `JobDetails` the bench reads.
#[derive(Debug, Clone, Deserialize)]
struct JobDetails {
    status: JobStatus,
    message: Option<String>,
    /// The node the entrypoint runs on.
    driver_node_id: Option<String>,
    /// The job agent of that node, `http://10.0.0.3:52365`: the node's address.
    driver_agent_http_address: Option<String>,
    driver_exit_code: Option<i32>,
    /// Milliseconds since the epoch.
    start_time: Option<u64>,
    end_time: Option<u64>,
}

#[derive(Debug, Serialize)]
struct SubmitRequest<'a> {
    entrypoint: String,
    submission_id: &'a str,
    entrypoint_num_cpus: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint_num_gpus: Option<f64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    entrypoint_resources: &'a BTreeMap<String, f64>,
    metadata: BTreeMap<&'static str, String>,
}

#[derive(Debug, Deserialize)]
struct LogsReply {
    logs: String,
}

/// Jobs on one Ray cluster, for one bench directory.
#[derive(Debug)]
pub struct RayExecutor {
    settings: RaySettings,
    /// `entrypoint_num_cpus` of every job: the bench's slots.
    cpus_per_run: f64,
    /// Names this bench directory's jobs on the cluster.
    bench_identity: String,
    out: String,
    forwarded: Vec<(String, String)>,
    client: reqwest::Client,
    /// The HTTP client is async; the bench's job threads wait on it here.
    runtime: tokio::runtime::Runtime,
    cancellation: Arc<AtomicBool>,
}

/// An HTTP failure, or a reply the job server should not have given.
fn server_error(settings: &RaySettings, what: &str, detail: impl std::fmt::Display) -> Error {
    Error::Failed(format!(
        "Ray's job server at {}: {what}: {detail}\nhint: check that the head node runs (`ray status`) and that --ray-address names its dashboard (port 8265 by default)",
        settings.address
    ))
}

impl RayExecutor {
    /// Reaches the job server (`GET /api/version`) so that a wrong address fails before anything runs.
    /// `settings_file` is the bench's claim on `out`: its modification time tells this bench directory
    /// from an earlier one at the same path, whose jobs the cluster may still list.
    pub fn connect(
        settings: RaySettings,
        slots: usize,
        out: &Path,
        settings_file: &Path,
        cancellation: Arc<AtomicBool>,
    ) -> Result<RayExecutor> {
        let created = std::fs::metadata(settings_file)
            .and_then(|metadata| metadata.modified())
            .map_err(Error::io(settings_file, "cannot read the bench's settings"))?;
        let created = created
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let mut hasher = Sha256::new();
        hasher.update(out.as_os_str().as_encoded_bytes());
        hasher.update(created.to_le_bytes());
        let digest = format!("{:x}", hasher.finalize());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|error| {
                Error::Failed(format!("cannot start the Ray client's runtime: {error}"))
            })?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| server_error(&settings, "cannot build an HTTP client", error))?;
        let out_text = out
            .to_str()
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: the bench directory's path is not UTF-8, which a Ray entrypoint needs\nhint: pass an --out whose path is plain text",
                    out.display()
                ))
            })?
            .to_string();
        let executor = RayExecutor {
            cpus_per_run: slots.max(1) as f64,
            bench_identity: digest[..12].to_string(),
            out: out_text,
            forwarded: FORWARDED_VARIABLES
                .iter()
                .filter_map(|name| {
                    std::env::var(name)
                        .ok()
                        .filter(|value| !value.is_empty())
                        .map(|value| (name.to_string(), value))
                })
                .collect(),
            client,
            runtime,
            cancellation,
            settings,
        };
        let url = format!("{}/api/version", executor.base());
        executor
            .runtime
            .block_on(async {
                executor
                    .client
                    .get(&url)
                    .send()
                    .await?
                    .error_for_status()?
                    .text()
                    .await
            })
            .map_err(|error| {
                Error::Invalid(format!(
                    "cannot reach Ray's job server at {}: {error}\nhint: start a head node (`ray start --head`, see the README's \"Running on a cluster\") or pass --ray-address http://HEAD:8265",
                    executor.settings.address
                ))
            })?;
        Ok(executor)
    }

    fn base(&self) -> &str {
        self.settings.address.trim_end_matches('/')
    }

    /// The job's `submission_id`: the same for every rerun of this bench directory, and only for it.
    fn submission_id(&self, key: &str) -> String {
        let key: String = key
            .chars()
            .map(|character| match character {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => character,
                _ => '_',
            })
            .collect();
        format!("ml-master-{}-{key}", self.bench_identity)
    }

    /// The job's details; `None` when the cluster has never heard of it.
    fn details(&self, submission_id: &str) -> Result<Option<JobDetails>> {
        let url = format!("{}/api/jobs/{submission_id}", self.base());
        self.runtime
            .block_on(async {
                let reply = self.client.get(&url).send().await?;
                if reply.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                reply
                    .error_for_status()?
                    .json::<JobDetails>()
                    .await
                    .map(Some)
            })
            .map_err(|error| server_error(&self.settings, &format!("GET {url}"), error))
    }

    fn submit(&self, submission_id: &str, entrypoint: String, what: &str) -> Result<()> {
        let url = format!("{}/api/jobs/", self.base());
        let body = SubmitRequest {
            entrypoint,
            submission_id,
            entrypoint_num_cpus: self.cpus_per_run,
            entrypoint_num_gpus: self.settings.gpus_per_run,
            entrypoint_resources: &self.settings.resources,
            metadata: BTreeMap::from([
                ("ml_master_bench", self.out.clone()),
                ("ml_master_job", what.to_string()),
            ]),
        };
        self.runtime
            .block_on(async {
                let reply = self.client.post(&url).json(&body).send().await?;
                let status = reply.status();
                let text = reply.text().await?;
                Ok::<_, reqwest::Error>((status, text))
            })
            .map_err(|error| server_error(&self.settings, &format!("POST {url}"), error))
            .and_then(|(status, text)| {
                if status.is_success() {
                    Ok(())
                } else {
                    Err(Error::Failed(format!(
                        "Ray refused the job {submission_id} ({status}): {}\nhint: check --ray-resources and --gpus-per-run against the cluster's resources (`ray status`)",
                        text.trim()
                    )))
                }
            })
    }

    /// Stops the job; a job already ended is left as it is.
    fn stop(&self, submission_id: &str) -> Result<()> {
        let url = format!("{}/api/jobs/{submission_id}/stop", self.base());
        self.runtime
            .block_on(async { self.client.post(&url).send().await?.error_for_status() })
            .map(|_| ())
            .map_err(|error| server_error(&self.settings, &format!("POST {url}"), error))
    }

    /// Forgets a stopped job, so that its `submission_id` can be submitted again.
    fn delete(&self, submission_id: &str) -> Result<()> {
        let url = format!("{}/api/jobs/{submission_id}", self.base());
        self.runtime
            .block_on(async { self.client.delete(&url).send().await?.error_for_status() })
            .map(|_| ())
            .map_err(|error| server_error(&self.settings, &format!("DELETE {url}"), error))
    }

    fn logs(&self, submission_id: &str) -> Result<String> {
        let url = format!("{}/api/jobs/{submission_id}/logs", self.base());
        self.runtime
            .block_on(async {
                self.client
                    .get(&url)
                    .send()
                    .await?
                    .error_for_status()?
                    .json::<LogsReply>()
                    .await
            })
            .map(|reply| reply.logs)
            .map_err(|error| server_error(&self.settings, &format!("GET {url}"), error))
    }

    /// Follows a submitted job to its end; `None` when the bench was cancelled and the job stopped.
    fn follow(
        &self,
        submission_id: &str,
        timeout: Option<Duration>,
        log: &Path,
        placed: &dyn Fn(&str),
    ) -> Result<Option<JobExit>> {
        let mut announced = false;
        let mut running_since: Option<Instant> = None;
        loop {
            if self.cancellation.load(Ordering::SeqCst) {
                self.stop(submission_id)?;
                self.wait_until_ended(submission_id)?;
                self.write_logs(submission_id, log)?;
                return Ok(None);
            }
            let details = self.details(submission_id)?.ok_or_else(|| {
                Error::Failed(format!(
                    "Ray no longer knows the job {submission_id}\nhint: someone deleted it; rerun the bench to submit it again"
                ))
            })?;
            match details.status {
                JobStatus::Pending => {}
                JobStatus::Running => {
                    let started = *running_since.get_or_insert_with(Instant::now);
                    if !announced {
                        if let Some(place) = placement(&details) {
                            placed(&format!("running on {place}"));
                            announced = true;
                        }
                    }
                    if timeout.is_some_and(|limit| started.elapsed() > limit) {
                        self.stop(submission_id)?;
                        let details = self.wait_until_ended(submission_id)?;
                        self.write_logs(submission_id, log)?;
                        return Ok(Some(JobExit {
                            status: "timed out".to_string(),
                            seconds: seconds(details.as_ref()),
                        }));
                    }
                }
                JobStatus::Succeeded | JobStatus::Failed | JobStatus::Stopped => {
                    self.write_logs(submission_id, log)?;
                    return Ok(Some(JobExit {
                        status: exit_status(&details),
                        seconds: seconds(Some(&details)),
                    }));
                }
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Polls a job being stopped until it has ended, or [`STOP_TIMEOUT`] passed.
    fn wait_until_ended(&self, submission_id: &str) -> Result<Option<JobDetails>> {
        let started = Instant::now();
        loop {
            let details = self.details(submission_id)?;
            let ended = match details.as_ref().map(|details| details.status) {
                None | Some(JobStatus::Stopped | JobStatus::Succeeded | JobStatus::Failed) => true,
                Some(JobStatus::Pending | JobStatus::Running) => false,
            };
            if ended || started.elapsed() > STOP_TIMEOUT {
                return Ok(details);
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn write_logs(&self, submission_id: &str, log: &Path) -> Result<()> {
        let logs = self.logs(submission_id)?;
        std::fs::write(log, logs).map_err(Error::io(log, "cannot write the job's log"))
    }
}

impl JobExecutor for RayExecutor {
    /// Submits one small job with the jobs' resources that runs `ml-master --version`, imports the
    /// base packages with the jobs' interpreter and writes a marker file into the bench directory, which
    /// this process must then see.
    fn check_workers(&self, probe: &WorkerProbe) -> Result<()> {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let marker = probe.out.join(format!(".ray-worker-check-{nonce}"));
        let executable = quoted(&probe.executable.to_string_lossy())?;
        let python = quoted(&probe.python.to_string_lossy())?;
        let out = quoted(&probe.out.to_string_lossy())?;
        let script = format!(
            "missing=0\n\
             node=$(hostname)\n\
             if ! {executable} --version >/dev/null 2>&1; then echo \"missing on $node: the ml-master binary {executable} does not run there\"; missing=1; fi\n\
             if ! {python} -c 'import numpy, pandas, sklearn' >/dev/null 2>&1; then echo \"missing on $node: the Python environment {python} (with numpy, pandas, scikit-learn)\"; missing=1; fi\n\
             if ! test -d {out}; then echo \"missing on $node: the bench directory {out}\"; missing=1; fi\n\
             if [ $missing = 0 ]; then echo \"$node\" > {}; fi\n\
             exit $missing\n",
            quoted(&marker.to_string_lossy())?
        );
        let entrypoint = format!("sh -c {}", quoted(&script)?);
        let submission_id = format!("ml-master-{}-worker-check-{nonce}", self.bench_identity);
        self.submit(&submission_id, entrypoint, "worker check")?;
        let started = Instant::now();
        let details = loop {
            if self.cancellation.load(Ordering::SeqCst) {
                self.stop(&submission_id)?;
                return Err(Error::Failed(
                    "interrupted during the worker check".to_string(),
                ));
            }
            let details = self.details(&submission_id)?.ok_or_else(|| {
                Error::Failed(format!("Ray no longer knows the job {submission_id}"))
            })?;
            match details.status {
                JobStatus::Succeeded | JobStatus::Failed | JobStatus::Stopped => break details,
                JobStatus::Pending if started.elapsed() > PROBE_TIMEOUT => {
                    self.stop(&submission_id)?;
                    return Err(Error::Invalid(format!(
                        "Ray found no node for a job of {} CPU(s), {} GPU(s) and resources {:?} within {} s\nhint: lower --slots or --gpus-per-run, or check the cluster's resources with `ray status`",
                        self.cpus_per_run,
                        self.settings.gpus_per_run.unwrap_or(0.0),
                        self.settings.resources,
                        PROBE_TIMEOUT.as_secs()
                    )));
                }
                JobStatus::Pending | JobStatus::Running => {}
            }
            std::thread::sleep(POLL_INTERVAL);
        };
        let logs = self.logs(&submission_id)?;
        let node = placement(&details).unwrap_or_else(|| "a Ray node".to_string());
        if details.status != JobStatus::Succeeded {
            let missing: Vec<&str> = logs
                .lines()
                .filter(|line| line.starts_with("missing on"))
                .collect();
            let detail = if missing.is_empty() {
                logs.trim().to_string()
            } else {
                missing.join("\n")
            };
            return Err(Error::Invalid(format!(
                "the worker check on {node} failed ({}):\n{detail}\nhint: every node needs the ml-master binary and the Python environment at the same paths as here (a shared filesystem, or an install per node; see the README's \"Running on a cluster\")",
                exit_status(&details),
            )));
        }
        if !marker.is_file() {
            return Err(Error::Invalid(format!(
                "the worker check on {node} wrote {} but this machine does not see it\nhint: --out must be a directory every node of the cluster shares (NFS or the like), at the same path",
                marker.display()
            )));
        }
        std::fs::remove_file(&marker).map_err(Error::io(&marker, "cannot remove"))
    }

    fn execute(&self, job: &ExecutorJob<'_>, placed: &dyn Fn(&str)) -> Result<Option<JobExit>> {
        let submission_id = self.submission_id(&job.key);
        let timeout = match self.details(&submission_id)? {
            Some(details) => match details.status {
                JobStatus::Pending | JobStatus::Running => {
                    placed(&format!(
                        "already submitted as {submission_id}, following it"
                    ));
                    None
                }
                // It ended while no bench was watching: its result is in the bench directory.
                JobStatus::Succeeded | JobStatus::Failed => {
                    placed(&format!("already ran as {submission_id}"));
                    self.write_logs(&submission_id, job.log)?;
                    return Ok(Some(JobExit {
                        status: exit_status(&details),
                        seconds: seconds(Some(&details)),
                    }));
                }
                // Stopped by an interrupted bench: submitted again, and the run resumes.
                JobStatus::Stopped => {
                    self.delete(&submission_id)?;
                    self.submit_anew(job, &submission_id, placed)?
                }
            },
            None => self.submit_anew(job, &submission_id, placed)?,
        };
        self.follow(&submission_id, timeout, job.log, placed)
    }
}

impl RayExecutor {
    /// Builds the job's command and submits it; returns its time limit.
    fn submit_anew(
        &self,
        job: &ExecutorJob<'_>,
        submission_id: &str,
        placed: &dyn Fn(&str),
    ) -> Result<Option<Duration>> {
        let request = (job.command)()?;
        self.submit(
            submission_id,
            entrypoint(&request, &self.forwarded)?,
            &job.key,
        )?;
        placed(&format!(
            "submitted to Ray at {} as {submission_id}",
            self.settings.address
        ));
        Ok(request.timeout)
    }
}

/// "node 10.0.0.3 (Ray node 5f1c…)", once the job's entrypoint has a node.
fn placement(details: &JobDetails) -> Option<String> {
    let node = details.driver_node_id.as_ref()?;
    let host = details
        .driver_agent_http_address
        .as_deref()
        .and_then(|address| reqwest::Url::parse(address).ok())
        .and_then(|url| url.host_str().map(str::to_string));
    Some(match host {
        Some(host) => format!("node {host} (Ray node {node})"),
        None => format!("Ray node {node}"),
    })
}

/// The job's end in the words the local executor uses: "exit code 1", or what Ray said.
fn exit_status(details: &JobDetails) -> String {
    if let Some(code) = details.driver_exit_code {
        return format!("exit code {code}");
    }
    let message = details.message.as_deref().unwrap_or("no message");
    match details.status {
        JobStatus::Succeeded => "exit code 0".to_string(),
        JobStatus::Stopped => format!("stopped on Ray: {message}"),
        JobStatus::Pending | JobStatus::Running | JobStatus::Failed => {
            format!("failed on Ray: {message}")
        }
    }
}

/// The job's running time by Ray's clock; zero when it never started.
fn seconds(details: Option<&JobDetails>) -> f64 {
    details
        .and_then(|details| Some(details.end_time?.saturating_sub(details.start_time?)))
        .map_or(0.0, |milliseconds| milliseconds as f64 / 1000.0)
}

/// The shell command a Ray job runs for `request`: its directory, its environment (`forwarded` first,
/// since the job inherits the worker's environment, not ours), its argv.
fn entrypoint(request: &ProcessRequest, forwarded: &[(String, String)]) -> Result<String> {
    let mut words = vec![
        "cd".to_string(),
        quoted(&request.cwd.to_string_lossy())?,
        "&&".to_string(),
        "exec".to_string(),
        "env".to_string(),
    ];
    let variables: Vec<(String, String)> = match &request.environment {
        Environment::Inherit => forwarded.to_vec(),
        Environment::InheritWith(variables) => forwarded.iter().chain(variables).cloned().collect(),
        Environment::Only(variables) => {
            words.push("-i".to_string());
            variables.clone()
        }
    };
    for (name, value) in variables {
        words.push(quoted(&format!("{name}={value}"))?);
    }
    words.push(quoted(&request.program.to_string_lossy())?);
    for argument in &request.args {
        words.push(quoted(&argument.to_string_lossy())?);
    }
    Ok(words.join(" "))
}

/// One word of a POSIX shell command line.
fn quoted(word: &str) -> Result<String> {
    shlex::try_quote(word)
        .map(|quoted| quoted.into_owned())
        .map_err(|error| {
            Error::Invalid(format!(
                "`{word}` cannot be part of a Ray entrypoint: {error}\nhint: use paths without NUL bytes"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_that_failed_on_ray_reads_as_the_local_executor_would_say_it() {
        let details: JobDetails = serde_json::from_str(
            r#"{"type": "SUBMISSION", "status": "FAILED", "entrypoint": "x", "message": "Job entrypoint command failed with exit code 3", "driver_exit_code": 3, "start_time": 1000, "end_time": 3500, "driver_info": null, "driver_agent_http_address": "http://10.0.0.3:52365", "driver_node_id": "5f1c"}"#,
        )
        .unwrap();
        assert_eq!(exit_status(&details), "exit code 3");
        assert_eq!(seconds(Some(&details)), 2.5);
        assert_eq!(
            placement(&details).as_deref(),
            Some("node 10.0.0.3 (Ray node 5f1c)")
        );
    }

    #[test]
    fn the_entrypoint_runs_the_local_command_line_word_for_word_in_its_directory() {
        let mut request = ProcessRequest::new("/opt/ml master/bin/ml-master", "/shared/bench out")
            .args(["run", "--task", "/data/it's here", "--json"]);
        request.environment =
            Environment::InheritWith(vec![("ML_MASTER_STEPS".to_string(), String::new())]);
        let forwarded = [("ML_MASTER_HOME".to_string(), "/shared/home".to_string())];
        let line = entrypoint(&request, &forwarded).unwrap();
        assert_eq!(
            shlex::split(&line).unwrap(),
            [
                "cd",
                "/shared/bench out",
                "&&",
                "exec",
                "env",
                "ML_MASTER_HOME=/shared/home",
                "ML_MASTER_STEPS=",
                "/opt/ml master/bin/ml-master",
                "run",
                "--task",
                "/data/it's here",
                "--json"
            ]
        );

        request.environment = Environment::Only(vec![("PATH".to_string(), "/bin".to_string())]);
        let words = shlex::split(&entrypoint(&request, &forwarded).unwrap()).unwrap();
        assert_eq!(
            words[4..7],
            ["env", "-i", "PATH=/bin"],
            "a baseline's own environment, and nothing forwarded"
        );
    }
}
