//! The order of calls a seeded run with one worker and one slot makes into the coder and the executor,
//! and the journal it leaves, pinned by a snapshot.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use mlm_coder::TokenUsage;
use mlm_engine::{run_engine, EngineParts, RunLayout, SubmissionRejected};
use mlm_journal::Journal;
use tokio::sync::mpsc;

use super::fakes::{toy_journal, toy_task, FakeExecutor, ScriptedCoder};
use super::{instant_coder, settings};

/// Wraps the scripted coder and writes down every request it gets; every seventh proposal fails after a
/// model call, as an LLM coder's does when no reply held runnable code.
struct RecordingCoder {
    inner: ScriptedCoder,
    requests: AtomicU64,
    trace: Arc<std::sync::Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl mlm_coder::Coder for RecordingCoder {
    fn name(&self) -> String {
        "recording".into()
    }

    async fn propose(
        &self,
        task: &mlm_coder::TaskBrief,
        request: &mlm_coder::ProposalRequest,
    ) -> Result<mlm_coder::Proposal, mlm_coder::CoderError> {
        let index = self
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let memory: Vec<String> = request
            .memory
            .iter()
            .map(|entry| {
                format!(
                    "{}:{}:{:?}:{}",
                    entry.node, entry.plan, entry.metric, entry.buggy
                )
            })
            .collect();
        let ancestors: Vec<u32> = request
            .buggy_ancestors
            .iter()
            .map(|view| view.node)
            .collect();
        self.trace
            .lock()
            .expect("a test thread panicked")
            .push(format!(
            "propose {:?} parent={:?} seed={} siblings={} steps_remaining={} memory={memory:?} ancestors={ancestors:?}",
            request.stage,
            request.parent.as_ref().map(|parent| parent.node),
            request.seed,
            request.siblings_being_written,
            request.budget.steps_remaining,
        ));
        if index % 7 == 6 {
            return Err(mlm_coder::CoderError::Failed {
                cause: mlm_coder::FailureCause::NoCode {
                    replies: 1,
                    problem: mlm_coder::CodeProblem::NoCodeBlock,
                },
                calls: vec![mlm_coder::ModelCall {
                    purpose: mlm_coder::CallPurpose::Draft,
                    model: "fake".into(),
                    request: serde_json::json!({ "proposal": index }),
                    response: serde_json::json!({}),
                    reasoning: None,
                    usage: TokenUsage {
                        prompt_tokens: 3,
                        cached_prompt_tokens: 0,
                        completion_tokens: 1,
                        cost_usd: 0.0,
                    },
                    latency: Duration::from_millis(1),
                }],
            });
        }
        self.inner.propose(task, request).await
    }

    async fn review(
        &self,
        task: &mlm_coder::TaskBrief,
        request: &mlm_coder::ReviewRequest,
    ) -> Result<mlm_coder::Review, mlm_coder::CoderError> {
        self.trace
            .lock()
            .expect("a test thread panicked")
            .push(format!(
                "review ticket={} status={:?} metric={:?} rejected={:?}",
                request.node.node,
                request.node.status,
                request.reported_metric,
                request.node.validation_message,
            ));
        self.inner.review(task, request).await
    }
}

/// Wraps the fake executor and writes down every job it gets.
struct RecordingExecutor {
    inner: FakeExecutor,
    trace: Arc<std::sync::Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl mlm_engine::Executor for RecordingExecutor {
    async fn execute(
        &self,
        job: mlm_engine::ExecutionJob,
    ) -> Result<mlm_engine::Execution, mlm_engine::ExecutorError> {
        self.trace
            .lock()
            .expect("a test thread panicked")
            .push(format!(
                "execute {} slot={} code={:?}",
                job.node_dir
                    .file_name()
                    .expect("a named attempt directory")
                    .to_string_lossy(),
                job.slot,
                job.code
            ));
        self.inner.execute(job).await
    }
}

/// Rejects the submission of every fourth attempt.
struct RejectsEveryFourth;

impl mlm_engine::SubmissionCheck for RejectsEveryFourth {
    fn check(&self, submission: &std::path::Path) -> Result<(), SubmissionRejected> {
        let attempt = submission
            .ancestors()
            .filter_map(|path| path.file_name()?.to_str()?.strip_prefix("attempt-"))
            .find_map(|ticket| ticket.parse::<u64>().ok())
            .expect("the submission lies in an attempt directory");
        match attempt % 4 {
            3 => Err(SubmissionRejected {
                reason: format!("attempt {attempt}: missing column(s) `y`"),
            }),
            _ => Ok(()),
        }
    }
}

/// A seeded run with one worker and one slot is a fixed sequence of calls into the coder and the
/// executor, and leaves a fixed journal: the snapshot was recorded before the worker was split into
/// propose, execute, judge and commit, and pins that the split changed neither.
#[tokio::test]
async fn a_seeded_one_worker_run_calls_the_coder_and_executor_in_a_fixed_order() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let trace = Arc::new(std::sync::Mutex::new(Vec::new()));
    let parts = EngineParts {
        settings: settings(24, 1, 1),
        task: toy_task(),
        coder: Arc::new(RecordingCoder {
            inner: instant_coder(),
            requests: AtomicU64::new(0),
            trace: trace.clone(),
        }),
        executor: Arc::new(RecordingExecutor {
            inner: FakeExecutor {
                duration: Duration::from_millis(1),
            },
            trace: trace.clone(),
        }),
        check: Arc::new(RejectsEveryFourth),
        journal: toy_journal(&layout),
        layout: layout.clone(),
    };
    let (event_sender, mut events) = mpsc::unbounded_channel();
    let (_operations, operation_receiver) = mpsc::unbounded_channel();
    let summary = run_engine(parts, event_sender, operation_receiver)
        .await
        .unwrap()
        .summary;
    let mut lines = std::mem::take(&mut *trace.lock().unwrap());
    lines.push(format!(
        "summary {:?} nodes={} best={:?} metric={:?} tokens={}",
        summary.reason,
        summary.nodes,
        summary.best_node,
        summary.best_metric,
        summary.prompt_tokens + summary.completion_tokens
    ));
    let mut kinds = Vec::new();
    while let Ok(event) = events.try_recv() {
        kinds.push(event.kind());
    }
    lines.push(format!("events {kinds:?}"));
    let journal = Journal::open(&layout.journal()).unwrap();
    for node in journal.nodes().unwrap() {
        lines.push(format!(
            "node {} parent={:?} {:?} plan={:?} status={} metric={:?} valid={} buggy={} rejected={:?} submission={:?} slot={:?} tokens={}",
            node.id,
            node.parent,
            node.stage,
            node.plan,
            node.execution_status.name(),
            node.outcome.metric().map(|metric| metric.value),
            node.outcome.is_valid(),
            node.outcome.is_buggy(),
            node.validation_message,
            node.submission_path,
            node.slot,
            node.prompt_tokens + node.completion_tokens,
        ));
    }
    for record in journal.search_records().unwrap() {
        lines.push(format!(
            "record {}",
            serde_json::to_string(&record).unwrap()
        ));
    }
    for call in journal.llm_calls().unwrap() {
        lines.push(format!("call node={:?} {}", call.node, call.request_json));
    }
    let events: Vec<String> = journal
        .events_after(0)
        .unwrap()
        .into_iter()
        .map(|event| event.kind)
        .collect();
    lines.push(format!("journaled events {events:?}"));
    let best: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(layout.best_dir().join("node.json")).unwrap(),
    )
    .unwrap();
    lines.push(format!("best/ node {}", best["id"]));
    insta::assert_snapshot!(lines.join("\n"));
}
