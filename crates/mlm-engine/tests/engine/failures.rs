//! What failing proposals do to a run: a refused request stops it at once, failures of one kind in a
//! row stop it after `max_consecutive_failures`, a success in between resets the count, and a worker
//! waits longer after each failure in a row. Time is tokio's paused clock, so the backoff is measured
//! on it, never waited out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mlm_coder::{
    CodeProblem, Coder, CoderError, FailureCause, Proposal, ProposalRequest, Review, ReviewRequest,
    TaskBrief,
};
use mlm_engine::{run_engine, EngineParts, RunLayout, RunSummary, StopReason};
use mlm_journal::{Journal, RunStatus};
use tokio::sync::mpsc;

use super::fakes::{toy_journal, toy_task, AlwaysValid, FakeExecutor, ScriptedCoder};
use super::{instant_coder, settings};

/// Fails every proposal whose index `fails` picks with `cause`, and writes what the scripted coder
/// writes otherwise; notes when (on tokio's clock) each proposal was asked for.
struct FailingCoder {
    inner: ScriptedCoder,
    cause: FailureCause,
    fails: fn(u64) -> bool,
    proposals: AtomicU64,
    asked_at: Mutex<Vec<tokio::time::Instant>>,
}

impl FailingCoder {
    fn new(cause: FailureCause, fails: fn(u64) -> bool) -> FailingCoder {
        FailingCoder {
            inner: instant_coder(),
            cause,
            fails,
            proposals: AtomicU64::new(0),
            asked_at: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait::async_trait]
impl Coder for FailingCoder {
    fn name(&self) -> String {
        "failing".into()
    }

    async fn propose(
        &self,
        task: &TaskBrief,
        request: &ProposalRequest,
    ) -> Result<Proposal, CoderError> {
        self.asked_at
            .lock()
            .expect("a test thread panicked")
            .push(tokio::time::Instant::now());
        let index = self.proposals.fetch_add(1, Ordering::SeqCst);
        if (self.fails)(index) {
            return Err(CoderError::Failed {
                cause: self.cause.clone(),
                calls: Vec::new(),
            });
        }
        self.inner.propose(task, request).await
    }

    async fn review(
        &self,
        task: &TaskBrief,
        request: &ReviewRequest,
    ) -> Result<Review, CoderError> {
        self.inner.review(task, request).await
    }
}

fn no_code() -> FailureCause {
    FailureCause::NoCode {
        replies: 3,
        problem: CodeProblem::NoCodeBlock,
    }
}

/// Runs `steps` nodes with `coder` on one slot and `workers` workers.
async fn run(
    layout: &RunLayout,
    steps: u32,
    workers: usize,
    coder: Arc<FailingCoder>,
) -> RunSummary {
    let (event_sender, _events) = mpsc::unbounded_channel();
    let (_operations, operation_receiver) = mpsc::unbounded_channel();
    let parts = EngineParts {
        settings: settings(steps, 1, workers),
        task: toy_task(),
        coder,
        executor: Arc::new(FakeExecutor {
            duration: std::time::Duration::from_millis(1),
        }),
        check: Arc::new(AlwaysValid),
        journal: toy_journal(layout),
        layout: layout.clone(),
    };
    run_engine(parts, event_sender, operation_receiver)
        .await
        .expect("the run fails only by the coder's failures")
}

#[tokio::test(start_paused = true)]
async fn a_refused_request_stops_the_run_at_its_first_proposal_with_the_servers_words() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let coder = Arc::new(FailingCoder::new(
        FailureCause::Refused {
            status: 400,
            detail: "http://127.0.0.1:1/v1/chat/completions: the server refused the request (HTTP 400): Unsupported parameter: 'top_p'\nhint: a parameter it does not take can be left out".into(),
        },
        |_| true,
    ));
    let summary = run(&layout, 5, 1, coder.clone()).await;
    assert_eq!(coder.proposals.load(Ordering::SeqCst), 1);
    assert_eq!(summary.reason, StopReason::CoderFailed);
    assert_eq!(summary.nodes, 0);
    let failure = summary.failure.unwrap();
    assert!(
        failure.contains("Unsupported parameter: 'top_p'") && failure.contains("hint:"),
        "{failure}"
    );
    let journal = Journal::open(&layout.journal()).unwrap();
    assert_eq!(journal.run().unwrap().status, RunStatus::Failed);
}

#[tokio::test(start_paused = true)]
async fn failures_of_one_kind_in_a_row_stop_the_run_and_each_waits_twice_as_long() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let coder = Arc::new(FailingCoder::new(no_code(), |_| true));
    let summary = run(&layout, 20, 1, coder.clone()).await;
    assert_eq!(
        coder.proposals.load(Ordering::SeqCst),
        5,
        "max_consecutive_failures = 5"
    );
    assert_eq!(summary.reason, StopReason::CoderFailed);
    let failure = summary.failure.unwrap();
    assert!(
        failure.contains("5 proposals in a row failed the same way (no code)")
            && failure.contains("hint:"),
        "{failure}"
    );
    let asked_at = coder.asked_at.lock().unwrap().clone();
    let waits: Vec<u64> = asked_at
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).as_secs())
        .collect();
    assert_eq!(waits, vec![1, 2, 4, 8]);
}

#[tokio::test(start_paused = true)]
async fn a_proposal_that_succeeds_between_failures_keeps_the_run_going() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    // Four failures, one success, and again: never five failures in a row.
    let coder = Arc::new(FailingCoder::new(no_code(), |index| index % 5 != 4));
    let summary = run(&layout, 3, 1, coder.clone()).await;
    assert_eq!(summary.reason, StopReason::StepsExhausted);
    assert_eq!(summary.nodes, 3);
    assert_eq!(coder.proposals.load(Ordering::SeqCst), 15);
}
