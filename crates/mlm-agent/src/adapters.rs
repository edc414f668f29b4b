//! The engine's traits implemented with the real parts: scripts run through `mlm-exec`'s sandbox, and
//! submissions are checked by `mlm-grade`'s validation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlm_coder::ExecutionStatus;
use mlm_engine::{
    Execution, ExecutionJob, Executor, ExecutorError, SubmissionCheck, SubmissionRejected,
};
use mlm_exec::sandbox::{FilesystemIsolation, NetworkAccess};
use mlm_exec::{
    run_node, Launcher, NodeLayout, NodeLimits, NodeRun, NodeStatus, PythonInstallation, Slot,
};
use mlm_grade::Grader;

/// Runs each script in the sandbox, in the slot the engine hands it. Final selection runs its
/// re-evaluations through copies that hand the scripts other folds.
#[derive(Clone)]
pub struct SandboxExecutor {
    pub public_dir: PathBuf,
    /// Directories every script may read besides the public files (`[builtin] text_model`).
    pub read_only_dirs: Vec<PathBuf>,
    /// The run's folds, copied into each script's `input/` beside the public files.
    pub folds_file: Option<PathBuf>,
    pub python: PythonInstallation,
    pub slots: Vec<Slot>,
    pub limits: NodeLimits,
    pub network: NetworkAccess,
    pub filesystem: FilesystemIsolation,
    pub launcher: Launcher,
}

#[async_trait::async_trait]
impl Executor for SandboxExecutor {
    async fn execute(&self, job: ExecutionJob) -> Result<Execution, ExecutorError> {
        let slot = self
            .slots
            .get(job.slot)
            .cloned()
            .ok_or(ExecutorError::NoSlot(job.slot))?;
        let public_dir = self.public_dir.clone();
        let read_only_dirs = self.read_only_dirs.clone();
        let folds_file = self.folds_file.clone();
        let python = self.python.clone();
        let limits = NodeLimits {
            timeout: job.timeout,
            ..self.limits.clone()
        };
        let (network, filesystem, launcher) =
            (self.network, self.filesystem, self.launcher.clone());
        tokio::task::spawn_blocking(move || {
            let layout = NodeLayout::new(&job.node_dir);
            layout
                .prepare(&public_dir, &job.code)
                .map_err(|error| ExecutorError::Sandbox(Box::new(error)))?;
            if let Some(folds_file) = &folds_file {
                copy_folds(folds_file, &layout.input_dir())
                    .map_err(|error| ExecutorError::Sandbox(Box::new(error)))?;
            }
            // Outside the node directory, so the script cannot forge its own exit status.
            let status_path = job.node_dir.with_extension("status.json");
            let run = NodeRun {
                layout: &layout,
                public_dir: &public_dir,
                read_only_dirs: &read_only_dirs,
                python: &python,
                slot: &slot,
                limits: &limits,
                network,
                filesystem,
                launcher: &launcher,
                status_path: &status_path,
                cancellation: Some(Arc::clone(&job.cancel)),
            };
            let result = run_node(&run, &mut |_| {})
                .map_err(|error| ExecutorError::Sandbox(Box::new(error)))?;
            let status = match result.status {
                NodeStatus::Ok => Some(ExecutionStatus::Ok),
                NodeStatus::Error => Some(ExecutionStatus::Error),
                NodeStatus::Timeout => Some(ExecutionStatus::Timeout),
                NodeStatus::Oom => Some(ExecutionStatus::Oom),
                NodeStatus::Killed => Some(ExecutionStatus::Killed),
                NodeStatus::DiskLimit => Some(ExecutionStatus::DiskLimit),
                NodeStatus::Interrupted => None,
            };
            // Why a submission was ignored (a link, a directory) is what the debugger needs to read.
            let mut output = result.output.text;
            if let Some(problem) = &result.submission_problem {
                output.push_str(&format!("\n{problem}\n"));
            }
            Ok(Execution {
                status,
                exit_code: result.exit_code,
                output,
                duration: result.duration,
                submission: result.submission_path,
                reported_metric: result
                    .metrics
                    .map(|metrics| (metrics.validation_metric, metrics.lower_is_better)),
                metrics_problem: result.metrics_problem,
            })
        })
        .await
        .map_err(|error| ExecutorError::Sandbox(Box::new(error)))?
    }
}

/// The run's folds as the script's own `input/folds.csv`: a copy, so that a script that changes it
/// changes only its own node, and any public file of that name it replaces.
fn copy_folds(folds_file: &Path, input_dir: &Path) -> Result<(), crate::Error> {
    let copy = input_dir.join(crate::folds::FOLDS_FILE);
    if copy.symlink_metadata().is_ok() {
        std::fs::remove_file(&copy).map_err(crate::Error::io(&copy, "cannot replace"))?;
    }
    std::fs::copy(folds_file, &copy)
        .map(|_| ())
        .map_err(crate::Error::io(&copy, "cannot copy the run's folds"))
}

/// The grader's validation, as the `/validate` endpoint answers it.
pub struct GraderCheck(pub Arc<Grader>);

impl SubmissionCheck for GraderCheck {
    fn check(&self, submission: &Path) -> Result<(), SubmissionRejected> {
        self.0
            .validate_file(submission)
            .map_err(|invalid| SubmissionRejected {
                reason: invalid.reason,
            })
    }
}

/// Compiles each proposed script with the run's interpreter (`python -m py_compile`) before it is run,
/// so a reply with broken code is asked again instead of costing a node.
pub struct PythonSyntaxCheck {
    pub python: PathBuf,
    /// Where scripts are written to be compiled; nothing else is written.
    pub scratch_dir: PathBuf,
    pub counter: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl mlm_coder::SyntaxCheck for PythonSyntaxCheck {
    async fn check(&self, code: &str) -> Result<(), mlm_coder::SyntaxError> {
        let index = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let script = self.scratch_dir.join(format!("proposal-{index}.py"));
        let scratch_dir = self.scratch_dir.clone();
        let python = self.python.clone();
        let code = code.to_string();
        let outcome = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&scratch_dir)
                .and_then(|()| std::fs::write(&script, code))
                .map_err(|error| format!("{}: {error}", script.display()))?;
            let mut request = mlm_exec::ProcessRequest::new(&python, &scratch_dir).args([
                std::ffi::OsString::from("-m"),
                "py_compile".into(),
                script.clone().into(),
            ]);
            request.environment = mlm_exec::Environment::Only(vec![(
                "PYTHONPYCACHEPREFIX".to_string(),
                scratch_dir.join("pycache").display().to_string(),
            )]);
            request.timeout = Some(std::time::Duration::from_secs(60));
            let outcome =
                mlm_exec::run_process(&request, &mut |_| {}).map_err(|error| error.to_string());
            let _ = std::fs::remove_file(&script);
            outcome
        })
        .await
        .map_err(|error| error.to_string())
        .and_then(|outcome| outcome);
        match outcome {
            Ok(outcome) if outcome.success() => Ok(()),
            Ok(outcome) => Err(mlm_coder::SyntaxError {
                compiler_output: outcome.output.last_lines(12),
            }),
            // The checker itself could not run: the script's own run will tell what is wrong.
            Err(error) => {
                tracing::warn!("cannot syntax-check a proposal: {error}");
                Ok(())
            }
        }
    }
}
