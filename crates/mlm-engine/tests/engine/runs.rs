//! Runs to their end: the tree's shape, the step, token and time budgets, interruption and resume, and
//! what a failed proposal costs.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use mlm_coder::TokenUsage;
use mlm_engine::{run_engine, EngineParts, Event, Op, RunLayout, RunSettings, StopReason};
use mlm_journal::{Journal, RunStatus};
use mlm_search::Stage;
use tokio::sync::mpsc;

use super::fakes::{toy_journal, toy_task, AlwaysValid, FakeExecutor, ScriptedCoder};
use super::{instant_coder, settings};
use mlm_test_support::tree_invariants::check_journal_tree;

struct Started {
    summary: tokio::task::JoinHandle<mlm_engine::Result<mlm_engine::RunSummary>>,
    events: mpsc::UnboundedReceiver<Event>,
    operations: mpsc::UnboundedSender<Op>,
}

fn start(
    layout: &RunLayout,
    settings: RunSettings,
    latency: Duration,
    execution: Duration,
    usage: TokenUsage,
) -> Started {
    let (event_sender, events) = mpsc::unbounded_channel();
    let (operations, operation_receiver) = mpsc::unbounded_channel();
    let parts = EngineParts {
        settings,
        task: toy_task(),
        coder: Arc::new(ScriptedCoder {
            proposals: AtomicU64::new(0),
            latency,
            usage,
        }),
        executor: Arc::new(FakeExecutor {
            duration: execution,
        }),
        check: Arc::new(AlwaysValid),
        journal: toy_journal(layout),
        layout: layout.clone(),
    };
    Started {
        summary: tokio::spawn(async move {
            run_engine(parts, event_sender, operation_receiver)
                .await
                .map(|finished| finished.summary)
        }),
        events,
        operations,
    }
}

#[tokio::test]
async fn the_tree_follows_ml_masters_expansion_rules_and_the_step_budget_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let started = start(
        &layout,
        settings(14, 2, 3),
        Duration::from_millis(5),
        Duration::from_millis(10),
        TokenUsage::default(),
    );
    let summary = started.summary.await.unwrap().unwrap();
    assert_eq!(summary.reason, StopReason::StepsExhausted);
    assert_eq!(summary.nodes, 14);

    let journal = Journal::open(&layout.journal()).unwrap();
    let nodes = journal.nodes().unwrap();
    assert_eq!(nodes.len(), 14);
    check_journal_tree(&layout.root, &nodes);
    assert!(
        nodes.iter().any(|node| node.stage == Stage::Debug),
        "buggy drafts get debugged"
    );
    let best = nodes
        .iter()
        .filter_map(|node| node.outcome.valid_metric().map(|metric| (node, metric)))
        .max_by(|(_, a), (_, b)| a.value.total_cmp(&b.value))
        .map(|(node, _)| node)
        .unwrap();
    assert_eq!(summary.best_node, Some(best.id));
    let best_node: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(layout.best_dir().join("node.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(best_node["id"], best.id.0);
    assert!(layout.best_dir().join("submission.csv").is_file());
    assert!(
        !layout.work_dir().exists()
            || std::fs::read_dir(layout.work_dir())
                .unwrap()
                .next()
                .is_none()
    );
    assert_eq!(journal.run().unwrap().status, RunStatus::Finished);
}

#[tokio::test]
async fn an_interrupted_run_resumes_with_every_node_once_and_budgets_that_continue() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let mut started = start(
        &layout,
        settings(30, 2, 3),
        Duration::from_millis(2),
        Duration::from_millis(40),
        TokenUsage {
            prompt_tokens: 10,
            cached_prompt_tokens: 0,
            completion_tokens: 5,
            cost_usd: 0.0,
        },
    );
    // Interrupt once a few nodes are done, while others are running.
    let mut finished = 0;
    while let Some(event) = started.events.recv().await {
        if let Event::NodeFinished { .. } = event {
            finished += 1;
            if finished == 5 {
                started.operations.send(Op::Interrupt).unwrap();
                break;
            }
        }
    }
    let first = started.summary.await.unwrap().unwrap();
    assert_eq!(first.reason, StopReason::Interrupted);
    let after_interrupt = Journal::open(&layout.journal()).unwrap();
    assert_eq!(
        after_interrupt.run().unwrap().status,
        RunStatus::Interrupted
    );
    let first_nodes = after_interrupt.nodes().unwrap();
    assert_eq!(first_nodes.len() as u32, first.nodes);
    drop(after_interrupt);

    let resumed = start(
        &layout,
        settings(30, 2, 3),
        Duration::from_millis(2),
        Duration::from_millis(5),
        TokenUsage {
            prompt_tokens: 10,
            cached_prompt_tokens: 0,
            completion_tokens: 5,
            cost_usd: 0.0,
        },
    );
    let summary = resumed.summary.await.unwrap().unwrap();
    assert_eq!(summary.reason, StopReason::StepsExhausted);
    assert_eq!(
        summary.nodes, 30,
        "the step budget continues from the first session"
    );
    assert!(
        summary.elapsed >= first.elapsed,
        "time spent continues from the first session"
    );
    assert_eq!(
        summary.prompt_tokens, 300,
        "tokens are counted once per node across sessions"
    );
    let journal = Journal::open(&layout.journal()).unwrap();
    let nodes = journal.nodes().unwrap();
    assert_eq!(nodes.len(), 30);
    for (index, node) in nodes.iter().enumerate() {
        assert_eq!(
            node.id.0 as usize, index,
            "ids are dense, with no duplicate"
        );
    }
    for (before, after) in first_nodes.iter().zip(&nodes) {
        assert_eq!(
            before.plan, after.plan,
            "a node of the first session changed"
        );
    }
}

#[tokio::test]
async fn a_token_budget_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let mut run_settings = settings(100, 1, 1);
    run_settings.token_budget = Some(100);
    let started = start(
        &layout,
        run_settings,
        Duration::from_millis(1),
        Duration::from_millis(1),
        TokenUsage {
            prompt_tokens: 20,
            cached_prompt_tokens: 0,
            completion_tokens: 5,
            cost_usd: 0.01,
        },
    );
    let summary = started.summary.await.unwrap().unwrap();
    assert_eq!(summary.reason, StopReason::TokenBudget);
    assert!(summary.nodes < 100);
    assert!(summary.prompt_tokens + summary.completion_tokens >= 100);
}

#[tokio::test]
async fn a_time_limit_ends_the_run_and_discards_running_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let mut run_settings = settings(1000, 2, 3);
    run_settings.time_limit = Duration::from_millis(600);
    let started = start(
        &layout,
        run_settings,
        Duration::from_millis(1),
        Duration::from_millis(100),
        TokenUsage::default(),
    );
    let summary = tokio::time::timeout(Duration::from_secs(10), started.summary)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(summary.reason, StopReason::TimeLimit);
    assert!(
        summary.elapsed < Duration::from_secs(3),
        "{:?}",
        summary.elapsed
    );
    let journal = Journal::open(&layout.journal()).unwrap();
    assert_eq!(journal.nodes().unwrap().len() as u32, summary.nodes);
}

/// Fails its first proposal after a model call, as an LLM coder does when no reply held runnable code;
/// otherwise writes what the scripted coder writes.
struct FirstProposalFails {
    inner: ScriptedCoder,
    failed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl mlm_coder::Coder for FirstProposalFails {
    fn name(&self) -> String {
        "first-fails".into()
    }

    async fn propose(
        &self,
        task: &mlm_coder::TaskBrief,
        request: &mlm_coder::ProposalRequest,
    ) -> Result<mlm_coder::Proposal, mlm_coder::CoderError> {
        if !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(mlm_coder::CoderError::Failed {
                cause: mlm_coder::FailureCause::NoCode {
                    replies: 3,
                    problem: mlm_coder::CodeProblem::NoCodeBlock,
                },
                calls: vec![mlm_coder::ModelCall {
                    purpose: mlm_coder::CallPurpose::Draft,
                    model: "fake".into(),
                    request: serde_json::json!({"messages": []}),
                    response: serde_json::json!({"choices": []}),
                    reasoning: Some("The data is tabular; a gradient-boosted model first.".into()),
                    usage: TokenUsage {
                        prompt_tokens: 20,
                        cached_prompt_tokens: 16,
                        completion_tokens: 10,
                        cost_usd: 0.5,
                    },
                    latency: Duration::from_millis(3),
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
        self.inner.review(task, request).await
    }
}

/// A toy run of `steps` nodes with `coder`, one slot, one worker.
fn toy_parts(layout: &RunLayout, steps: u32, coder: Arc<dyn mlm_coder::Coder>) -> EngineParts {
    EngineParts {
        settings: settings(steps, 1, 1),
        task: toy_task(),
        coder,
        executor: Arc::new(FakeExecutor {
            duration: Duration::from_millis(1),
        }),
        check: Arc::new(AlwaysValid),
        journal: toy_journal(layout),
        layout: layout.clone(),
    }
}

#[tokio::test]
async fn a_failed_proposal_costs_its_tokens_and_its_calls_are_journaled_without_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let coder = FirstProposalFails {
        inner: instant_coder(),
        failed: std::sync::atomic::AtomicBool::new(false),
    };
    let (event_sender, _events) = mpsc::unbounded_channel();
    let (_operations, operation_receiver) = mpsc::unbounded_channel();
    let summary = run_engine(
        toy_parts(&layout, 3, Arc::new(coder)),
        event_sender,
        operation_receiver,
    )
    .await
    .unwrap()
    .summary;
    assert_eq!(summary.nodes, 3, "the failed proposal gave its step back");
    assert_eq!(summary.prompt_tokens + summary.completion_tokens, 30);
    assert!((summary.cost_usd - 0.5).abs() < 1e-12);
    let journal = Journal::open(&layout.journal()).unwrap();
    let calls = journal.llm_calls().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].node, None);
    assert_eq!(calls[0].purpose, "draft");
    assert_eq!(calls[0].prompt_tokens, 20);
    assert_eq!(
        (calls[0].cached_prompt_tokens, calls[0].reasoning.as_deref()),
        (
            16,
            Some("The data is tabular; a gradient-boosted model first.")
        ),
        "the call's reasoning and cached tokens are journaled"
    );
    assert_eq!(summary.cached_prompt_tokens, 16);
    drop(journal);

    // A resumed run starts from what was spent, the failed proposal included.
    let (event_sender, _events) = mpsc::unbounded_channel();
    let (_operations, operation_receiver) = mpsc::unbounded_channel();
    let summary = run_engine(
        toy_parts(&layout, 4, Arc::new(instant_coder())),
        event_sender,
        operation_receiver,
    )
    .await
    .unwrap()
    .summary;
    assert_eq!(summary.nodes, 4);
    assert_eq!(summary.prompt_tokens + summary.completion_tokens, 30);
    assert_eq!(summary.cached_prompt_tokens, 16);
}

/// Writes what the scripted coder writes, but panics when the engine asks its name a second time, which
/// it does while the node enters the run's state.
struct PanicsWhileCommitting {
    inner: ScriptedCoder,
    names: AtomicU64,
}

#[async_trait::async_trait]
impl mlm_coder::Coder for PanicsWhileCommitting {
    fn name(&self) -> String {
        if self.names.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            panic!("the coder panicked");
        }
        "panics".into()
    }

    async fn propose(
        &self,
        task: &mlm_coder::TaskBrief,
        request: &mlm_coder::ProposalRequest,
    ) -> Result<mlm_coder::Proposal, mlm_coder::CoderError> {
        self.inner.propose(task, request).await
    }

    async fn review(
        &self,
        task: &mlm_coder::TaskBrief,
        request: &mlm_coder::ReviewRequest,
    ) -> Result<mlm_coder::Review, mlm_coder::CoderError> {
        self.inner.review(task, request).await
    }
}

#[tokio::test]
async fn a_worker_that_panics_fails_the_run_with_its_own_error_and_the_journal_says_failed() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let coder = PanicsWhileCommitting {
        inner: instant_coder(),
        names: AtomicU64::new(0),
    };
    let (event_sender, _events) = mpsc::unbounded_channel();
    let (_operations, operation_receiver) = mpsc::unbounded_channel();
    let error = run_engine(
        toy_parts(&layout, 3, Arc::new(coder)),
        event_sender,
        operation_receiver,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, mlm_engine::Error::WorkerPanicked(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("hint:"), "{error}");
    let journal = Journal::open(&layout.journal()).unwrap();
    assert_eq!(journal.run().unwrap().status, RunStatus::Failed);
}

/// Writes what the scripted coder writes and remembers the memory and parent summaries each request
/// carried; its first review raises a notice, every later review fails.
struct ReviewsFail {
    inner: ScriptedCoder,
    reviews: AtomicU64,
    summaries_seen: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl mlm_coder::Coder for ReviewsFail {
    fn name(&self) -> String {
        "reviews-fail".into()
    }

    async fn propose(
        &self,
        task: &mlm_coder::TaskBrief,
        request: &mlm_coder::ProposalRequest,
    ) -> Result<mlm_coder::Proposal, mlm_coder::CoderError> {
        {
            let mut seen = self
                .summaries_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.extend(request.memory.iter().map(|entry| entry.summary.clone()));
            seen.extend(request.parent.iter().map(|parent| parent.summary.clone()));
        }
        self.inner.propose(task, request).await
    }

    async fn review(
        &self,
        task: &mlm_coder::TaskBrief,
        request: &mlm_coder::ReviewRequest,
    ) -> Result<mlm_coder::Review, mlm_coder::CoderError> {
        if self
            .reviews
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            == 0
        {
            let review = self.inner.review(task, request).await?;
            return Ok(mlm_coder::Review {
                notice: Some("reviews are asked as JSON from now on".into()),
                ..review
            });
        }
        Err(mlm_coder::CoderError::Failed {
            cause: mlm_coder::FailureCause::UnreadableReview {
                replies: 3,
                problem: "HTTP 400: tool_choice is not supported".into(),
            },
            calls: Vec::new(),
        })
    }
}

#[tokio::test]
async fn a_failed_review_is_named_on_its_node_but_its_error_never_enters_memory() {
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let coder = Arc::new(ReviewsFail {
        inner: instant_coder(),
        reviews: AtomicU64::new(0),
        summaries_seen: std::sync::Mutex::new(Vec::new()),
    });
    let (event_sender, mut events) = mpsc::unbounded_channel();
    let (_operations, operation_receiver) = mpsc::unbounded_channel();
    run_engine(
        toy_parts(&layout, 6, coder.clone()),
        event_sender,
        operation_receiver,
    )
    .await
    .unwrap();
    let mut warnings = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::Warning { message } = event {
            warnings.push(message);
        }
    }
    assert_eq!(warnings, ["reviews are asked as JSON from now on"]);
    let journal = Journal::open(&layout.journal()).unwrap();
    let failed: Vec<_> = journal
        .nodes()
        .unwrap()
        .into_iter()
        .filter(|node| node.review_summary.contains("tool_choice is not supported"))
        .collect();
    assert_eq!(failed.len(), 5, "the node says its review failed");
    let seen = coder.summaries_seen.lock().unwrap();
    assert!(
        seen.len() > 1,
        "later requests carried memory or a parent: {seen:?}"
    );
    assert!(
        seen.iter()
            .all(|summary| !summary.contains("review failed") && !summary.contains("tool_choice")),
        "{seen:?}"
    );
}

/// Scores its first script a perfect 1.0 (a leak, say), every later one 0.8.
struct LeakyFirst {
    inner: ScriptedCoder,
    proposals: AtomicU64,
}

#[async_trait::async_trait]
impl mlm_coder::Coder for LeakyFirst {
    fn name(&self) -> String {
        "leaky-first".into()
    }

    async fn propose(
        &self,
        _task: &mlm_coder::TaskBrief,
        request: &mlm_coder::ProposalRequest,
    ) -> Result<mlm_coder::Proposal, mlm_coder::CoderError> {
        let index = self
            .proposals
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let metric = if index == 0 { 1.0 } else { 0.8 };
        Ok(mlm_coder::Proposal {
            plan: format!("{:?} #{index}", request.stage),
            code: format!("metric = {metric}"),
            usage: TokenUsage::default(),
            calls: Vec::new(),
        })
    }

    async fn review(
        &self,
        task: &mlm_coder::TaskBrief,
        request: &mlm_coder::ReviewRequest,
    ) -> Result<mlm_coder::Review, mlm_coder::CoderError> {
        self.inner.review(task, request).await
    }
}

#[tokio::test]
async fn a_suspiciously_perfect_score_says_why_and_is_not_selected_while_another_valid_node_exists()
{
    let dir = tempfile::tempdir().unwrap();
    let layout = RunLayout::new(dir.path().join("run"));
    let coder = Arc::new(LeakyFirst {
        inner: instant_coder(),
        proposals: AtomicU64::new(0),
    });
    let (event_sender, _events) = mpsc::unbounded_channel();
    let (_operations, operation_receiver) = mpsc::unbounded_channel();
    let finished = run_engine(
        toy_parts(&layout, 3, coder),
        event_sender,
        operation_receiver,
    )
    .await
    .unwrap();
    // The finished run hands its journal back locked; the test reads it as a user's tools would.
    let summary = finished.summary;
    drop(finished.journal);
    assert_eq!(summary.best_metric, Some(0.8));
    let journal = Journal::open(&layout.journal()).unwrap();
    let nodes = journal.nodes().unwrap();
    assert!(
        nodes[0]
            .review_summary
            .contains("Suspicious: a validation score of 1"),
        "{}",
        nodes[0].review_summary
    );
    assert!(!nodes[1].review_summary.contains("Suspicious"));
    assert_eq!(summary.best_node, Some(nodes[1].id));
    // The exported best is the trustworthy node's.
    let exported = std::fs::read_to_string(layout.best_dir().join("node.json")).unwrap();
    assert!(exported.contains("\"id\": 1,"), "{exported}");
}
