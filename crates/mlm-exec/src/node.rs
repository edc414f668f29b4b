//! One node's run: the node directory that a solution script sees, the sandboxed request built as a pure
//! function of the node, its slot and its limits, and the classification of what happened (ok, error,
//! timeout, out of memory, killed) with the submission and metrics the script left behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::node_files;
use crate::output::CapturedOutput;
use crate::process::{run_process, Environment, ExitStatus, ProcessRequest, ReportPipe, Session};
use crate::sandbox::{
    gpu_device_paths, system_hidden_paths, system_read_only_paths, system_read_write_paths,
    ChildOutcome, DiskLimit, FilesystemIsolation, LaunchStatus, Launcher, NetworkAccess,
    ResourceLimits, SandboxPolicy, SandboxTier, SandboxTiers,
};
use crate::slot::Slot;

const SCRIPT: &str = "solution.py";
/// Where the script leaves its submission, relative to the node directory.
const SUBMISSION: &str = "submission/submission.csv";
const METRICS: &str = "metrics.json";
const OUTPUT: &str = "output.txt";

/// The most of metrics.json that is read: a few numbers, never a flood.
const METRICS_LIMIT_BYTES: u64 = 64 * 1024;

/// The files and folders of one node, as DESIGN.md fixes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLayout {
    pub root: PathBuf,
}

impl NodeLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        NodeLayout { root: root.into() }
    }

    pub fn script(&self) -> PathBuf {
        self.root.join(SCRIPT)
    }

    /// Read-only links to the competition's public files.
    pub fn input_dir(&self) -> PathBuf {
        self.root.join("input")
    }

    pub fn working_dir(&self) -> PathBuf {
        self.root.join("working")
    }

    pub fn submission_file(&self) -> PathBuf {
        self.root.join(SUBMISSION)
    }

    pub fn metrics_file(&self) -> PathBuf {
        self.root.join(METRICS)
    }

    /// The captured output, as the script's debugger will read it.
    pub fn output_file(&self) -> PathBuf {
        self.root.join(OUTPUT)
    }

    /// The script's private temporary directory (`TMPDIR`).
    pub fn private_tmp(&self) -> PathBuf {
        self.root.join(".tmp")
    }

    /// Creates the directory tree, writes the script and links every public file under `input/`.
    pub fn prepare(&self, public_dir: &Path, script: &str) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        for directory in [
            self.input_dir(),
            self.working_dir(),
            self.root.join("submission"),
            self.private_tmp(),
        ] {
            std::fs::create_dir_all(&directory).map_err(io(&directory))?;
        }
        // A directory a script ran in before may hold a link named like the script.
        node_files::replace(&self.root, SCRIPT, script.as_bytes()).map_err(io(&self.script()))?;
        let entries = std::fs::read_dir(public_dir).map_err(io(public_dir))?;
        for entry in entries {
            let entry = entry.map_err(io(public_dir))?;
            let link = self.input_dir().join(entry.file_name());
            if link.symlink_metadata().is_err() {
                std::os::unix::fs::symlink(entry.path(), &link).map_err(io(&link))?;
            }
        }
        Ok(())
    }
}

/// The interpreter and the directories it loads from, which the sandbox must let it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonInstallation {
    pub python: PathBuf,
    pub prefixes: Vec<PathBuf>,
}

/// The limits of one node's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLimits {
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL at the timeout.
    pub kill_grace: Duration,
    /// Enforced through RLIMIT_AS, and only for slots without a GPU (CUDA reserves far more address space
    /// than it uses).
    pub memory_bytes: Option<u64>,
    pub output_limit_bytes: usize,
    pub file_size_bytes: u64,
    pub open_files: u64,
    pub processes: u64,
    /// The most the node directory may hold; past it the node ends as [`NodeStatus::DiskLimit`].
    pub disk_bytes: Option<u64>,
    /// The size of each of the script's private `/tmp` and `/dev/shm` (in memory).
    pub scratch_bytes: u64,
    /// Sandbox tiers without which no script runs (`[sandbox] require`).
    pub required_tiers: Vec<SandboxTier>,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            timeout: Duration::from_secs(3600),
            kill_grace: Duration::from_secs(10),
            memory_bytes: None,
            output_limit_bytes: crate::process::DEFAULT_OUTPUT_LIMIT_BYTES,
            file_size_bytes: 16 * 1024 * 1024 * 1024,
            open_files: 4096,
            processes: 512,
            disk_bytes: Some(32 * 1024 * 1024 * 1024),
            scratch_bytes: 1024 * 1024 * 1024,
            required_tiers: Vec::new(),
        }
    }
}

/// Everything that decides how one node runs.
#[derive(Debug, Clone)]
pub struct NodeRun<'a> {
    pub layout: &'a NodeLayout,
    pub public_dir: &'a Path,
    /// Directories besides the public files the script may read: a user's local model
    /// (`[builtin] text_model`).
    pub read_only_dirs: &'a [PathBuf],
    pub python: &'a PythonInstallation,
    pub slot: &'a Slot,
    pub limits: &'a NodeLimits,
    pub network: NetworkAccess,
    pub filesystem: FilesystemIsolation,
    pub launcher: &'a Launcher,
    /// A path outside the node directory: the sandbox policy is written beside it (with the extension
    /// `policy.json`). The launcher's status itself travels on a pipe.
    pub status_path: &'a Path,
    /// Set to stop the script early; it then ends as [`NodeStatus::Interrupted`].
    pub cancellation: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// How a node's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    Ok,
    Error,
    Timeout,
    Oom,
    Killed,
    /// Ended because the node directory grew past [`NodeLimits::disk_bytes`].
    #[serde(rename = "disk_limit")]
    DiskLimit,
    /// Stopped by the caller (the run was interrupted); such a run is discarded, never counted.
    Interrupted,
}

/// What a script reports about itself in `metrics.json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodeMetrics {
    pub validation_metric: f64,
    pub lower_is_better: bool,
}

/// The result of one node's run.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeResult {
    pub status: NodeStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration: Duration,
    pub output: CapturedOutput,
    pub submission_path: Option<PathBuf>,
    /// Why the submission was ignored (a link, a directory), when the script left one that is not a
    /// regular file.
    pub submission_problem: Option<String>,
    pub metrics: Option<NodeMetrics>,
    /// Why metrics.json was ignored, when the script wrote one that could not be read.
    pub metrics_problem: Option<String>,
    pub peak_rss_kilobytes: Option<u64>,
    pub tiers: Option<SandboxTiers>,
}

/// The environment a script starts with: an allow-list, nothing inherited. No API key, token or proxy
/// variable can reach it because none is copied.
pub fn script_environment(run: &NodeRun<'_>) -> Vec<(String, String)> {
    let threads = run.slot.cpus.len().max(1).to_string();
    let python_bin = run
        .python
        .python
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut variables = vec![
        (
            "PATH".to_string(),
            format!("{}:/usr/local/bin:/usr/bin:/bin", python_bin.display()),
        ),
        ("HOME".to_string(), run.layout.root.display().to_string()),
        (
            "TMPDIR".to_string(),
            run.layout.private_tmp().display().to_string(),
        ),
        ("LANG".to_string(), "C.UTF-8".to_string()),
        ("LC_ALL".to_string(), "C.UTF-8".to_string()),
        ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
        ("PYTHONNOUSERSITE".to_string(), "1".to_string()),
        ("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()),
        ("MPLBACKEND".to_string(), "Agg".to_string()),
        (
            "MPLCONFIGDIR".to_string(),
            run.layout.private_tmp().display().to_string(),
        ),
        // Spinning OpenMP threads on shared cores made LightGBM 5–45× slower in our measurements.
        ("OMP_WAIT_POLICY".to_string(), "PASSIVE".to_string()),
        (
            "CUDA_VISIBLE_DEVICES".to_string(),
            run.slot.cuda_visible_devices(),
        ),
    ];
    for name in [
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "LOKY_MAX_CPU_COUNT",
    ] {
        variables.push((name.to_string(), threads.clone()));
    }
    variables
}

/// The request and the sandbox policy of one node. Reads only the system's path list; writes nothing.
pub fn build_node_request(run: &NodeRun<'_>) -> (ProcessRequest, SandboxPolicy) {
    let mut read_only_paths = system_read_only_paths();
    read_only_paths.extend(run.python.prefixes.iter().cloned());
    read_only_paths.push(run.public_dir.to_path_buf());
    read_only_paths.extend(run.read_only_dirs.iter().cloned());
    let devices = gpu_device_paths(&run.slot.gpus);
    let mut read_write_paths = system_read_write_paths();
    read_write_paths.extend(devices.iter().cloned());
    read_write_paths.push(run.layout.root.clone());
    let address_space_bytes = match run.slot.gpus.is_empty() {
        true => run.limits.memory_bytes,
        false => None,
    };
    let policy = SandboxPolicy {
        read_only_paths,
        read_write_paths,
        network: run.network,
        filesystem: run.filesystem,
        limits: ResourceLimits {
            file_size_bytes: Some(run.limits.file_size_bytes),
            open_files: Some(run.limits.open_files),
            processes: Some(run.limits.processes),
            address_space_bytes,
        },
        cpu_set: Some(run.slot.cpus.clone()).filter(|cpus| !cpus.is_empty()),
        hidden_paths: system_hidden_paths(),
        devices,
        scratch_bytes: run.limits.scratch_bytes,
        disk_limit: run.limits.disk_bytes.map(|bytes| DiskLimit {
            directory: run.layout.root.clone(),
            bytes,
        }),
        required_tiers: run.limits.required_tiers.clone(),
    };
    let policy_file = policy_file_of(run.status_path);
    let command = [
        run.python.python.clone().into_os_string(),
        run.layout.script().into_os_string(),
    ];
    let arguments = run.launcher.arguments(&policy_file, &command);
    let mut request = ProcessRequest::new(&run.launcher.program, &run.layout.root).args(arguments);
    request.environment = Environment::Only(script_environment(run));
    request.timeout = Some(run.limits.timeout);
    request.kill_grace = run.limits.kill_grace;
    request.session = Session::CreatedByChild;
    request.output_limit_bytes = run.limits.output_limit_bytes;
    request.cancellation = run.cancellation.clone();
    request.spawn_hint = "the sandbox launcher could not start; reinstall ml-master".to_string();
    request.report = ReportPipe::OnStandardInput;
    (request, policy)
}

fn policy_file_of(status_path: &Path) -> PathBuf {
    status_path.with_extension("policy.json")
}

/// Checks which sandbox tiers a node of `run` would get, by launching `/bin/true` under the same policy:
/// what the run log reports at start-up.
pub fn probe_node_sandbox(run: &NodeRun<'_>) -> Result<SandboxTiers> {
    let (_, policy) = build_node_request(run);
    let policy_file = policy_file_of(run.status_path);
    let tiers = crate::sandbox::probe_tiers(run.launcher, &policy, &policy_file);
    let _ = std::fs::remove_file(&policy_file);
    tiers
}

/// Runs one node in the sandbox, writes its output to `output.txt`, and classifies the result.
pub fn run_node(
    run: &NodeRun<'_>,
    on_line: &mut dyn FnMut(crate::OutputLine),
) -> Result<NodeResult> {
    let (request, policy) = build_node_request(run);
    let policy_file = policy_file_of(run.status_path);
    policy.write(&policy_file)?;
    let outcome = run_process(&request, on_line);
    let _ = std::fs::remove_file(&policy_file);
    let outcome = outcome?;
    let launch_status = outcome.report.as_deref().and_then(LaunchStatus::parse);
    node_files::replace(&run.layout.root, OUTPUT, outcome.output.text.as_bytes()).map_err(
        |source| Error::Io {
            path: run.layout.output_file(),
            source,
        },
    )?;

    let launched = match &launch_status {
        Some(status) => match &status.outcome {
            ChildOutcome::FailedToStart(reason) => {
                return Err(Error::Sandbox {
                    reason: reason.clone(),
                })
            }
            ChildOutcome::Refused { tier, reason } => {
                return Err(Error::TierRequired {
                    tier: *tier,
                    reason: reason.clone(),
                })
            }
            ChildOutcome::Exited(code) => Launched::Exited(*code),
            ChildOutcome::Signaled(signal) => Launched::Signaled(*signal),
            ChildOutcome::DiskLimitExceeded { .. } => Launched::DiskLimit,
        },
        // No status: the launcher itself was killed; its exit status is all there is.
        None => match outcome.status {
            ExitStatus::Exited(code) => Launched::Exited(code),
            ExitStatus::Signaled(signal) => Launched::Signaled(signal),
            ExitStatus::TimedOut | ExitStatus::Cancelled => Launched::Stopped,
        },
    };
    let (exit_code, signal) = match (outcome.status, launched) {
        (ExitStatus::TimedOut | ExitStatus::Cancelled, _) => (None, None),
        (_, Launched::Exited(code)) => (Some(code), None),
        (_, Launched::Signaled(signal)) => (None, Some(signal)),
        (_, Launched::DiskLimit | Launched::Stopped) => (None, None),
    };
    let status = match launched {
        Launched::DiskLimit => NodeStatus::DiskLimit,
        Launched::Exited(_) | Launched::Signaled(_) | Launched::Stopped => {
            classify(outcome.status, exit_code, signal, &outcome.output.text)
        }
    };
    let (metrics, metrics_problem) = read_metrics(&run.layout.root);
    let (submission_path, submission_problem) =
        match node_files::open_regular(&run.layout.root, Path::new(SUBMISSION)) {
            Ok(Some(_)) => (Some(run.layout.submission_file()), None),
            Ok(None) => (None, None),
            Err(refusal) => (None, Some(format!("{SUBMISSION} is ignored: {refusal}"))),
        };
    Ok(NodeResult {
        status,
        exit_code,
        signal,
        duration: outcome.duration,
        output: outcome.output,
        submission_path,
        submission_problem,
        metrics,
        metrics_problem,
        peak_rss_kilobytes: launch_status
            .as_ref()
            .map(|status| status.peak_rss_kilobytes),
        tiers: launch_status.map(|status| status.tiers),
    })
}

/// How the launch ended, as far as the launcher saw it.
#[derive(Debug, Clone, Copy)]
enum Launched {
    Exited(i32),
    Signaled(i32),
    DiskLimit,
    /// Killed by the supervisor's timeout or cancellation before it could report.
    Stopped,
}

/// Output that Python, numpy and C++ libraries print when an allocation fails.
const OUT_OF_MEMORY_MARKERS: [&str; 5] = [
    "MemoryError",
    "Unable to allocate",
    "std::bad_alloc",
    "Cannot allocate memory",
    "out of memory",
];

const SIGKILL: i32 = 9;

fn classify(
    status: ExitStatus,
    exit_code: Option<i32>,
    signal: Option<i32>,
    output: &str,
) -> NodeStatus {
    let tail_start = output.len().saturating_sub(4096);
    let tail = output.get(tail_start..).unwrap_or(output);
    let out_of_memory = OUT_OF_MEMORY_MARKERS
        .iter()
        .any(|marker| tail.contains(marker));
    match status {
        ExitStatus::TimedOut => return NodeStatus::Timeout,
        ExitStatus::Cancelled => return NodeStatus::Interrupted,
        ExitStatus::Exited(_) | ExitStatus::Signaled(_) => {}
    }
    match (exit_code, signal) {
        (Some(0), _) => NodeStatus::Ok,
        // Nothing of ours sends SIGKILL before the timeout: the kernel's OOM killer does.
        (_, Some(SIGKILL)) => NodeStatus::Oom,
        _ if out_of_memory => NodeStatus::Oom,
        (_, Some(_)) => NodeStatus::Killed,
        (_, None) => NodeStatus::Error,
    }
}

fn read_metrics(node: &Path) -> (Option<NodeMetrics>, Option<String>) {
    let text = match node_files::read_text(node, Path::new(METRICS), METRICS_LIMIT_BYTES) {
        Ok(Some(text)) => text,
        Ok(None) => return (None, None),
        Err(refusal) => return (None, Some(format!("{METRICS} is ignored: {refusal}"))),
    };
    match serde_json::from_str::<NodeMetrics>(&text) {
        Ok(metrics) if metrics.validation_metric.is_finite() => (Some(metrics), None),
        Ok(metrics) => (None, Some(format!("metrics.json: validation_metric is {}, not a finite number", metrics.validation_metric))),
        Err(error) => (
            None,
            Some(format!(
                "metrics.json is not {{\"validation_metric\": <number>, \"lower_is_better\": <bool>}}: {error}"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_exit_status_signal_and_output() {
        assert_eq!(
            classify(ExitStatus::TimedOut, None, None, ""),
            NodeStatus::Timeout
        );
        assert_eq!(
            classify(
                ExitStatus::Exited(0),
                Some(0),
                None,
                "MemoryError in a log line"
            ),
            NodeStatus::Ok
        );
        assert_eq!(
            classify(
                ExitStatus::Exited(1),
                Some(1),
                None,
                "Traceback\nMemoryError\n"
            ),
            NodeStatus::Oom
        );
        assert_eq!(
            classify(ExitStatus::Exited(3), Some(3), None, "bye"),
            NodeStatus::Error
        );
        assert_eq!(
            classify(ExitStatus::Signaled(11), None, Some(11), ""),
            NodeStatus::Killed
        );
        assert_eq!(
            classify(ExitStatus::Signaled(9), None, Some(9), ""),
            NodeStatus::Oom
        );
    }

    #[test]
    fn preparing_a_node_again_replaces_a_planted_script_link_instead_of_writing_through_it() {
        let node = tempfile::tempdir().unwrap();
        let public = tempfile::tempdir().unwrap();
        let victim = public.path().join("train.csv");
        std::fs::write(&victim, "x,y\n").unwrap();
        let layout = NodeLayout::new(node.path());
        layout.prepare(public.path(), "print(1)").unwrap();
        std::fs::remove_file(layout.script()).unwrap();
        std::os::unix::fs::symlink(&victim, layout.script()).unwrap();
        layout.prepare(public.path(), "print(2)").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "x,y\n");
        assert_eq!(
            std::fs::read_to_string(layout.script()).unwrap(),
            "print(2)"
        );
    }

    #[test]
    fn metrics_json_is_read_or_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.json");
        assert_eq!(read_metrics(dir.path()), (None, None));
        std::fs::write(
            &path,
            r#"{"validation_metric": 0.81, "lower_is_better": false}"#,
        )
        .unwrap();
        assert_eq!(
            read_metrics(dir.path()).0,
            Some(NodeMetrics {
                validation_metric: 0.81,
                lower_is_better: false
            })
        );
        std::fs::write(&path, r#"{"score": 0.81}"#).unwrap();
        assert!(read_metrics(dir.path())
            .1
            .unwrap()
            .contains("validation_metric"));
    }
}
