//! `workers = "auto"`: the number of active trajectories follows the measured proposal latency L and
//! execution time E. Time is tokio's paused clock, so latencies of seconds cost nothing.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mlm_coder::{Coder, CoderError, Proposal, ProposalRequest, Review, ReviewRequest, TaskBrief};
use mlm_engine::{run_engine, EngineParts, Event, RunLayout, RunSummary, StopReason, Workers};
use mlm_journal::Journal;
use mlm_test_support::tree_invariants::check_journal_tree;
use tokio::sync::mpsc;

use super::fakes::{toy_journal, toy_task, AlwaysValid, FakeExecutor, ScriptedCoder};
use super::settings;

/// The scripted coder, counting the proposals it is writing at once.
struct CountingCoder {
    inner: ScriptedCoder,
    writing: AtomicUsize,
    most_writing: AtomicUsize,
}

#[async_trait::async_trait]
impl Coder for CountingCoder {
    fn name(&self) -> String {
        "counting".into()
    }

    async fn propose(
        &self,
        task: &TaskBrief,
        request: &ProposalRequest,
    ) -> Result<Proposal, CoderError> {
        let writing = self.writing.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_writing.fetch_max(writing, Ordering::SeqCst);
        let proposal = self.inner.propose(task, request).await;
        self.writing.fetch_sub(1, Ordering::SeqCst);
        proposal
    }

    async fn review(
        &self,
        task: &TaskBrief,
        request: &ReviewRequest,
    ) -> Result<Review, CoderError> {
        self.inner.review(task, request).await
    }
}

struct AutoRun {
    summary: RunSummary,
    events: Vec<Event>,
    most_writing: usize,
}

/// Runs `steps` nodes on two slots with `workers = "auto"`, proposals taking `latency` and scripts
/// `execution`, and checks the journal's tree.
async fn run_auto(steps: u32, latency: Duration, execution: Duration) -> AutoRun {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let layout = RunLayout::new(dir.path().join("run"));
    let coder = Arc::new(CountingCoder {
        inner: ScriptedCoder {
            proposals: AtomicU64::new(0),
            latency,
            usage: mlm_coder::TokenUsage::default(),
        },
        writing: AtomicUsize::new(0),
        most_writing: AtomicUsize::new(0),
    });
    let (event_sender, mut event_receiver) = mpsc::unbounded_channel();
    let (_operations, operation_receiver) = mpsc::unbounded_channel();
    let mut settings = settings(steps, 2, 2);
    settings.workers = Workers::Auto;
    settings.time_limit = Duration::from_secs(100_000);
    let parts = EngineParts {
        settings,
        task: toy_task(),
        coder: coder.clone(),
        executor: Arc::new(FakeExecutor {
            duration: execution,
        }),
        check: Arc::new(AlwaysValid),
        journal: toy_journal(&layout),
        layout: layout.clone(),
    };
    let summary = run_engine(parts, event_sender, operation_receiver)
        .await
        .expect("the run ends")
        .summary;
    let mut events = Vec::new();
    while let Ok(event) = event_receiver.try_recv() {
        events.push(event);
    }
    let nodes = Journal::open(&layout.journal())
        .and_then(|journal| journal.nodes())
        .expect("the journal reads");
    assert_eq!(nodes.len(), steps as usize);
    check_journal_tree(&layout.root, &nodes);
    AutoRun {
        summary,
        events,
        most_writing: coder.most_writing.load(Ordering::SeqCst),
    }
}

/// The active worker counts the run reported, the start's first.
fn active_counts(events: &[Event]) -> Vec<usize> {
    events
        .iter()
        .filter_map(|event| {
            if let Event::RunStarted { workers, .. } = event {
                Some(*workers)
            } else if let Event::WorkersChanged { active } = event {
                Some(*active)
            } else {
                None
            }
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_slow_model_gets_more_than_two_proposals_per_slot_in_flight() {
    let run = run_auto(30, Duration::from_secs(10), Duration::from_secs(1)).await;
    assert_eq!(run.summary.reason, StopReason::StepsExhausted);
    let counts = active_counts(&run.events);
    assert_eq!(counts.first(), Some(&4), "slots × 2 before any measurement");
    // slots × (1 + L/E) = 22, held to num_drafts = 5 (a draft's subtree takes one trajectory at a time).
    assert_eq!(counts.iter().max(), Some(&5), "{counts:?}");
    assert!(
        run.most_writing > 4,
        "at most {} proposals were in flight on 2 slots",
        run.most_writing
    );
}

#[tokio::test(start_paused = true)]
async fn slow_scripts_keep_about_one_worker_more_than_slots() {
    let run = run_auto(30, Duration::from_millis(100), Duration::from_secs(10)).await;
    assert_eq!(run.summary.reason, StopReason::StepsExhausted);
    let counts = active_counts(&run.events);
    assert_eq!(counts.first(), Some(&4), "slots × 2 before any measurement");
    assert_eq!(
        counts.last(),
        Some(&3),
        "slots × (1 + 0.01), rounded up: {counts:?}"
    );
    // Once the first nodes are measured, only the first three workers start trajectories.
    let late_workers: BTreeSet<u32> = run
        .events
        .iter()
        .skip_while(|event| !matches!(event, Event::WorkersChanged { active: 3 }))
        .filter_map(|event| {
            if let Event::Proposing { worker, .. } = event {
                Some(*worker)
            } else {
                None
            }
        })
        .collect();
    assert!(late_workers.len() <= 3, "{late_workers:?}");
}
