//! A scripted coder and a fake executor for the engine's tests and its utilisation benchmark: the coder
//! takes a fixed latency and encodes each node's result in its code, the executor sleeps for a fixed time
//! and reports that result, so the engine's own behaviour is all that is measured.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mlm_coder::{
    Coder, CoderError, ExecutionStatus, Proposal, ProposalRequest, Review, ReviewRequest,
    TaskBrief, TokenUsage,
};
use mlm_engine::{
    Execution, ExecutionJob, Executor, ExecutorError, RunLayout, SubmissionCheck,
    SubmissionRejected,
};
use mlm_journal::{Journal, RunRecord, RunStatus};

/// Writes scripts whose "result" is encoded in the code: every third proposal is buggy, the others report
/// a metric that grows with the request's seed.
pub struct ScriptedCoder {
    pub proposals: AtomicU64,
    pub latency: Duration,
    pub usage: TokenUsage,
}

#[async_trait::async_trait]
impl Coder for ScriptedCoder {
    fn name(&self) -> String {
        "scripted".into()
    }

    async fn propose(
        &self,
        _task: &TaskBrief,
        request: &ProposalRequest,
    ) -> Result<Proposal, CoderError> {
        tokio::time::sleep(self.latency).await;
        let index = self.proposals.fetch_add(1, Ordering::SeqCst);
        let code = if index % 3 == 2 {
            "raise SystemExit(1)".to_string()
        } else {
            format!("metric = {}", 0.5 + (index as f64) / 1000.0)
        };
        Ok(Proposal {
            plan: format!("{:?} #{index}", request.stage),
            code,
            usage: self.usage,
            calls: Vec::new(),
        })
    }

    async fn review(
        &self,
        _task: &TaskBrief,
        request: &ReviewRequest,
    ) -> Result<Review, CoderError> {
        Ok(Review {
            is_bug: request.node.status != ExecutionStatus::Ok,
            summary: format!("ran with status {:?}", request.node.status),
            metric: None,
            lower_is_better: None,
            usage: TokenUsage::default(),
            calls: Vec::new(),
            notice: None,
        })
    }
}

/// Pretends to run the script: sleeps, then writes a submission and reports the metric in the code.
pub struct FakeExecutor {
    pub duration: Duration,
}

#[async_trait::async_trait]
impl Executor for FakeExecutor {
    async fn execute(&self, job: ExecutionJob) -> Result<Execution, ExecutorError> {
        // tokio's clock: a test on its paused clock runs scripts of any length at once.
        let started = tokio::time::Instant::now();
        while started.elapsed() < self.duration {
            if job.cancel.load(Ordering::SeqCst) {
                return Ok(Execution {
                    status: None,
                    exit_code: None,
                    output: String::new(),
                    duration: started.elapsed(),
                    submission: None,
                    reported_metric: None,
                    metrics_problem: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        std::fs::create_dir_all(job.node_dir.join("submission"))
            .map_err(|error| ExecutorError::Sandbox(Box::new(error)))?;
        std::fs::write(job.node_dir.join("solution.py"), &job.code)
            .map_err(|error| ExecutorError::Sandbox(Box::new(error)))?;
        let metric = job
            .code
            .strip_prefix("metric = ")
            .and_then(|value| value.parse::<f64>().ok());
        let submission = job.node_dir.join("submission/submission.csv");
        if metric.is_some() {
            std::fs::write(&submission, "id,y\n1,0\n")
                .map_err(|error| ExecutorError::Sandbox(Box::new(error)))?;
        }
        Ok(Execution {
            status: Some(if metric.is_some() {
                ExecutionStatus::Ok
            } else {
                ExecutionStatus::Error
            }),
            exit_code: Some(if metric.is_some() { 0 } else { 1 }),
            output: "fake output\n".into(),
            duration: started.elapsed(),
            submission: metric.map(|_| submission),
            reported_metric: metric.map(|value| (value, false)),
            metrics_problem: None,
        })
    }
}

pub struct AlwaysValid;

impl SubmissionCheck for AlwaysValid {
    fn check(&self, _submission: &Path) -> Result<(), SubmissionRejected> {
        Ok(())
    }
}

/// A competition brief for a toy task that nothing reads from disk.
pub fn toy_task() -> TaskBrief {
    TaskBrief {
        competition_id: "toy".into(),
        description: "A toy task".into(),
        data_preview: String::new(),
        metric: mlm_grade::Metric::Accuracy,
        train_sample: None,
        test_sample: None,
        public_dir: std::env::temp_dir(),
        id_column: "id".into(),
        target_columns: vec!["y".into()],
        sample_submission_file: "sample_submission.csv".into(),
        hardware: "test".into(),
        installed_packages: vec!["numpy".into()],
        text_model: None,
    }
}

/// The journal of a new run of the toy task in `layout`, or the existing one to resume.
pub fn toy_journal(layout: &RunLayout) -> Journal {
    if layout.journal().exists() {
        return Journal::open(&layout.journal()).expect("the journal opens");
    }
    std::fs::create_dir_all(&layout.root).expect("the run directory can be created");
    Journal::create(
        &layout.journal(),
        &RunRecord {
            task_id: "toy".into(),
            task_dir: "toy".into(),
            coder: "scripted".into(),
            seed: 11,
            config_toml: String::new(),
            created_at: chrono::Utc::now(),
            status: RunStatus::Running,
            elapsed_seconds: 0.0,
        },
    )
    .expect("the journal can be created")
}
