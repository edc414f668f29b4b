//! Where a bench job's command runs: the interface every executor implements, and the local one (a
//! child process of this machine, as the bench always ran). The Ray executor is in [`crate::bench::ray`];
//! a Slurm one would be a third implementation of [`JobExecutor`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mlm_exec::{run_process, ExitStatus, ProcessRequest};

use crate::error::{Error, Result};

/// Which executor the bench hands its jobs to.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutorChoice {
    /// Child processes of this machine, `concurrency` at once.
    Local,
    /// Jobs on a Ray cluster, through its Job Submission API.
    Ray(RaySettings),
}

/// How to reach a Ray cluster and what each job reserves there.
#[derive(Debug, Clone, PartialEq)]
pub struct RaySettings {
    /// The head's dashboard address, such as `http://10.0.0.1:8265`.
    pub address: String,
    /// `entrypoint_num_gpus` of every job.
    pub gpus_per_run: Option<f64>,
    /// `entrypoint_resources` of every job (custom resources, such as an accelerator type).
    pub resources: BTreeMap<String, f64>,
}

/// One job as an executor sees it.
pub struct ExecutorJob<'a> {
    /// Names the job within its bench, the same on every rerun: `titanic-seed-0`, `titanic-baseline-simple`.
    pub key: String,
    /// Builds the job's command; called only when the job must start anew, because building it may
    /// clear what a dead attempt left behind.
    pub command: &'a dyn Fn() -> Result<ProcessRequest>,
    /// Where the job's output ends up.
    pub log: &'a Path,
}

/// What the bench needs to check, before its first job, that the place jobs run can run them.
#[derive(Debug, Clone)]
pub struct WorkerProbe {
    /// The `ml-master` binary the jobs start.
    pub executable: PathBuf,
    /// The interpreter the jobs' scripts run with.
    pub python: PathBuf,
    /// The bench directory, which jobs write into.
    pub out: PathBuf,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobExit {
    /// "exit code 0", "timed out", or why the executor lost the job.
    pub status: String,
    pub seconds: f64,
}

/// Runs bench jobs somewhere. Implementations are shared by the bench's job threads.
pub trait JobExecutor: Send + Sync + std::fmt::Debug {
    /// Checks once, before the first job, that the jobs' place can run `ml-master` and the Python
    /// environment, and sees the bench directory; the error says what is missing.
    fn check_workers(&self, probe: &WorkerProbe) -> Result<()>;

    /// Runs the job to its end, its output written to `job.log`, telling `placed` where it runs;
    /// `None` when the bench was cancelled meanwhile (the job is stopped, nothing is recorded).
    fn execute(&self, job: &ExecutorJob<'_>, placed: &dyn Fn(&str)) -> Result<Option<JobExit>>;
}

/// Jobs as child processes of this machine, supervised by mlm-exec's `run_process`.
#[derive(Debug)]
pub struct LocalExecutor;

impl JobExecutor for LocalExecutor {
    /// This machine already resolved the environment and runs this very binary.
    fn check_workers(&self, _probe: &WorkerProbe) -> Result<()> {
        Ok(())
    }

    fn execute(&self, job: &ExecutorJob<'_>, _placed: &dyn Fn(&str)) -> Result<Option<JobExit>> {
        let request = (job.command)()?;
        let mut file =
            std::fs::File::create(job.log).map_err(Error::io(job.log, "cannot create the log"))?;
        let started = Instant::now();
        let outcome = run_process(&request, &mut |line| {
            let _ = writeln!(file, "{}", line.text);
        })?;
        match outcome.status {
            ExitStatus::Cancelled => Ok(None),
            status @ (ExitStatus::Exited(_) | ExitStatus::Signaled(_) | ExitStatus::TimedOut) => {
                Ok(Some(JobExit {
                    status: status.to_string(),
                    seconds: started.elapsed().as_secs_f64(),
                }))
            }
        }
    }
}
