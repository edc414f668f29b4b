//! What the engine needs from the outside world, as traits: an executor that runs a script in a slot,
//! and a check of a submission file (the grader's validation).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use mlm_coder::ExecutionStatus;

/// Set to stop an execution early; the executor then kills the script and reports it interrupted.
pub type CancelFlag = Arc<AtomicBool>;

/// One script to run.
#[derive(Debug, Clone)]
pub struct ExecutionJob {
    /// The directory to run in; the executor lays it out (input links, working/, submission/).
    pub node_dir: PathBuf,
    pub code: String,
    /// The execution slot (cores and GPUs) to use.
    pub slot: usize,
    pub timeout: Duration,
    pub cancel: CancelFlag,
}

/// What running a script showed.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// `None` when the run was cancelled: the engine discards it.
    pub status: Option<ExecutionStatus>,
    pub exit_code: Option<i32>,
    pub output: String,
    pub duration: Duration,
    /// The submission file, when the script wrote one.
    pub submission: Option<PathBuf>,
    /// `metrics.json`: (validation_metric, lower_is_better).
    pub reported_metric: Option<(f64, bool)>,
    /// Why metrics.json was ignored, when it was.
    pub metrics_problem: Option<String>,
}

/// Why an executor could not run a script at all; a script that fails still makes an [`Execution`].
/// The engine gives the expansion back and says why in a warning.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The job named a slot the executor does not have.
    #[error("no execution slot {0}")]
    NoSlot(usize),
    /// Preparing the node directory, starting the sandbox or supervising the script failed.
    #[error(transparent)]
    Sandbox(Box<dyn std::error::Error + Send + Sync>),
}

/// Runs scripts.
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    async fn execute(&self, job: ExecutionJob) -> Result<Execution, ExecutorError>;
}

/// A submission the check refused, with the message a debugger needs ("missing column(s) `Survived` …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SubmissionRejected {
    pub reason: String,
}

/// Checks a submission file as the validation server would, never revealing a score.
pub trait SubmissionCheck: Send + Sync {
    fn check(&self, submission: &Path) -> Result<(), SubmissionRejected>;
}
