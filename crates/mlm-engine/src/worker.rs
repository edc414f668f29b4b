//! One worker's loop, ML-Master's `step(node)`: reserve an expansion, have the coder write the script,
//! run it in a free slot, check and review it, and report the node to the search, which decides whether
//! the worker's trajectory continues.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use mlm_coder::{
    Budget, Coder, CoderError, ExecutionStatus, ModelCall, NodeView, ProposalRequest,
    ReviewRequest, TaskBrief, TokenUsage,
};
use mlm_journal::{Journal, LlmCallRecord, NodeEntry};
use mlm_search::{
    BestChange, Direction, Expansion, ExpansionId, Metric, Next, NodeId, NodeResult, Outcome,
    Search, WorkerId,
};
use tokio::sync::{mpsc, watch, Notify, Semaphore};

use crate::error::{Error, Result};
use crate::event::{Event, StopReason};
use crate::layout::RunLayout;
use crate::memory::{scoped_memory, PendingProposal};
use crate::run::RunSummary;
use crate::settings::RunSettings;
use crate::traits::{CancelFlag, Execution, ExecutionJob, Executor, SubmissionCheck};

/// How long a worker with nothing to expand waits before asking again, when nothing wakes it sooner.
const WAIT_PERIOD: Duration = Duration::from_millis(500);

/// Budget counters across the run (and its earlier sessions).
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    /// Completed nodes.
    pub steps_done: u32,
    /// Expansions reserved and not yet completed or abandoned.
    pub steps_in_flight: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

impl Counters {
    /// The counters of a journal: its nodes, and the model calls of proposals that failed (which cost
    /// tokens but made no node).
    pub fn from_journal<'a>(
        entries: impl Iterator<Item = &'a NodeEntry>,
        calls: &[LlmCallRecord],
    ) -> Counters {
        let mut counters = entries.fold(Counters::default(), |mut counters, entry| {
            counters.steps_done += 1;
            counters.add_usage(TokenUsage {
                prompt_tokens: entry.prompt_tokens,
                completion_tokens: entry.completion_tokens,
                cost_usd: entry.cost_usd,
            });
            counters
        });
        for call in calls.iter().filter(|call| call.node.is_none()) {
            counters.add_usage(TokenUsage {
                prompt_tokens: call.prompt_tokens,
                completion_tokens: call.completion_tokens,
                cost_usd: call.cost_usd,
            });
        }
        counters
    }

    fn add_usage(&mut self, usage: TokenUsage) {
        self.prompt_tokens += usage.prompt_tokens;
        self.completion_tokens += usage.completion_tokens;
        self.cost_usd += usage.cost_usd;
    }
}

/// State the workers share. Locks are held only for short, non-awaiting sections.
pub(crate) struct Shared {
    pub search: Mutex<Search>,
    pub entries: Mutex<HashMap<NodeId, NodeEntry>>,
    pub journal: Mutex<Journal>,
    pub counters: Mutex<Counters>,
    pub stop: watch::Sender<Option<StopReason>>,
    pub stop_receiver: watch::Receiver<Option<StopReason>>,
    /// The parent of every proposal a coder is writing now, by expansion.
    pub writing: Mutex<HashMap<ExpansionId, Option<NodeId>>>,
    /// Proposals written and not yet finished, by expansion: memory for their siblings.
    pub pending: Mutex<HashMap<ExpansionId, PendingProposal>>,
    /// Cancel flags of the scripts running now, by expansion.
    pub cancel_flags: Mutex<HashMap<ExpansionId, CancelFlag>>,
    /// Woken whenever a node completes or an expansion is given back.
    pub completed: Notify,
    pub slot_permits: Semaphore,
    pub free_slots: Mutex<Vec<usize>>,
    pub events: mpsc::UnboundedSender<Event>,
    pub started: Instant,
    /// Wall-clock time spent by earlier sessions of this run.
    pub elapsed_before: Duration,
    pub settings: RunSettings,
    pub task: TaskBrief,
    pub coder: Arc<dyn Coder>,
    pub executor: Arc<dyn Executor>,
    pub check: Arc<dyn SubmissionCheck>,
    pub layout: RunLayout,
}

fn lock<'a, T>(mutex: &'a Mutex<T>, what: &str) -> Result<MutexGuard<'a, T>> {
    mutex.lock().map_err(|_| {
        Error::Executor(format!(
            "the {what} lock was poisoned by a panicking worker"
        ))
    })
}

impl Shared {
    pub fn emit(&self, event: Event) {
        if let Ok(journal) = self.journal.lock() {
            if let Ok(payload) = serde_json::to_string(&event) {
                if let Err(error) = journal.record_event(event.kind(), &payload) {
                    tracing::warn!("cannot journal an event: {error}");
                }
            }
        }
        // A front end that went away must not stop the run.
        let _ = self.events.send(event);
    }

    pub fn elapsed(&self) -> Duration {
        self.elapsed_before + self.started.elapsed()
    }

    pub fn time_remaining(&self) -> Duration {
        self.settings.time_limit.saturating_sub(self.elapsed())
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        *self.stop_receiver.borrow()
    }

    /// Stops the run for `reason` (the first reason wins). Interruptions and the time limit also kill
    /// the scripts running now: their nodes are discarded, never counted.
    pub fn request_stop(&self, reason: StopReason) {
        let mut first = false;
        self.stop.send_if_modified(|current| match current {
            Some(_) => false,
            None => {
                *current = Some(reason);
                first = true;
                true
            }
        });
        if !first {
            return;
        }
        match reason {
            StopReason::Interrupted | StopReason::TimeLimit => {
                if let Ok(flags) = self.cancel_flags.lock() {
                    for flag in flags.values() {
                        flag.store(true, Ordering::SeqCst);
                    }
                }
            }
            StopReason::StepsExhausted
            | StopReason::TokenBudget
            | StopReason::CostBudget
            | StopReason::SearchExhausted => {}
        }
        self.completed.notify_waiters();
    }

    pub fn summary(&self, reason: StopReason) -> RunSummary {
        let counters = self
            .counters
            .lock()
            .map(|counters| counters.clone())
            .unwrap_or_default();
        let best = self.search.lock().ok().and_then(|search| {
            search
                .best_node()
                .map(|node| (node.id(), node.metric().map(|metric| metric.value)))
        });
        RunSummary {
            reason,
            nodes: counters.steps_done,
            best_node: best.map(|(node, _)| node),
            best_metric: best.and_then(|(_, metric)| metric),
            elapsed: self.elapsed(),
            prompt_tokens: counters.prompt_tokens,
            completion_tokens: counters.completion_tokens,
            cost_usd: counters.cost_usd,
        }
    }

    /// Reserves one step of the budget; false when every step is done or in flight.
    fn reserve_step(&self) -> Result<bool> {
        let mut counters = lock(&self.counters, "counters")?;
        if counters.steps_done + counters.steps_in_flight >= self.settings.steps {
            return Ok(false);
        }
        counters.steps_in_flight += 1;
        Ok(true)
    }

    fn release_step(&self) -> Result<()> {
        let mut counters = lock(&self.counters, "counters")?;
        counters.steps_in_flight = counters.steps_in_flight.saturating_sub(1);
        Ok(())
    }

    /// Records tokens spent; stops the run when a token or cost budget is spent.
    fn spend(&self, usage: TokenUsage) -> Result<()> {
        let (tokens, cost) = {
            let mut counters = lock(&self.counters, "counters")?;
            counters.add_usage(usage);
            (
                counters.prompt_tokens + counters.completion_tokens,
                counters.cost_usd,
            )
        };
        if self
            .settings
            .token_budget
            .is_some_and(|budget| tokens >= budget)
        {
            self.request_stop(StopReason::TokenBudget);
        } else if self
            .settings
            .cost_budget
            .is_some_and(|budget| cost >= budget)
        {
            self.request_stop(StopReason::CostBudget);
        }
        Ok(())
    }

    /// Journals model calls, with the node they produced once it exists. A journal that cannot take
    /// them loses a transcript, never the run.
    fn record_calls(&self, node: Option<NodeId>, calls: &[ModelCall]) -> Result<()> {
        let journal = lock(&self.journal, "journal")?;
        for call in calls {
            let record = LlmCallRecord {
                node,
                purpose: call.purpose.name().to_string(),
                model: call.model.clone(),
                request_json: call.request.to_string(),
                response_json: call.response.to_string(),
                prompt_tokens: call.usage.prompt_tokens,
                completion_tokens: call.usage.completion_tokens,
                latency_seconds: call.latency.as_secs_f64(),
                cost_usd: call.usage.cost_usd,
                created_at: Utc::now(),
            };
            if let Err(error) = journal.record_llm_call(&record) {
                tracing::warn!("cannot journal a model call: {error}");
            }
        }
        Ok(())
    }

    /// Gives back an expansion whose proposal was written: its calls are journaled without a node.
    fn abandon_written(&self, ticket: ExpansionId, calls: &[ModelCall]) -> Result<()> {
        self.record_calls(None, calls)?;
        self.abandon(ticket)
    }

    /// Gives an expansion back without a node.
    fn abandon(&self, ticket: ExpansionId) -> Result<()> {
        lock(&self.writing, "writing")?.remove(&ticket);
        lock(&self.pending, "pending")?.remove(&ticket);
        {
            let mut search = lock(&self.search, "search")?;
            search.abandon(ticket)?;
            let records = search.take_records();
            lock(&self.journal, "journal")?.record_search_records(&records)?;
        }
        self.release_step()?;
        let attempt = self.layout.attempt_dir(ticket);
        if attempt.exists() {
            let _ = std::fs::remove_dir_all(&attempt);
        }
        self.completed.notify_waiters();
        Ok(())
    }

    fn budget(&self) -> Result<Budget> {
        let counters = lock(&self.counters, "counters")?;
        Ok(Budget {
            time_remaining: self.time_remaining(),
            steps_remaining: self
                .settings
                .steps
                .saturating_sub(counters.steps_done + counters.steps_in_flight),
            node_timeout: self.settings.node_timeout,
        })
    }
}

/// A worker: expands until the run stops or nothing is left for it.
pub(crate) async fn worker_loop(shared: Arc<Shared>, worker: WorkerId) -> Result<()> {
    let mut stop = shared.stop_receiver.clone();
    loop {
        if shared.stop_reason().is_some() {
            return Ok(());
        }
        if !shared.reserve_step()? {
            let all_done = {
                let counters = lock(&shared.counters, "counters")?;
                counters.steps_in_flight == 0
            };
            if all_done {
                shared.request_stop(StopReason::StepsExhausted);
                return Ok(());
            }
            wait_for_change(&shared, &mut stop).await;
            continue;
        }
        let next = {
            let mut search = lock(&shared.search, "search")?;
            let next = search.next_expansion(worker)?;
            let records = search.take_records();
            lock(&shared.journal, "journal")?.record_search_records(&records)?;
            let in_flight = search.in_flight().len();
            (next, in_flight)
        };
        match next {
            (Next::Expand(expansion), _) => expand(&shared, &mut stop, expansion).await?,
            (Next::Wait, in_flight) => {
                shared.release_step()?;
                // With nothing in flight, every request moves the statistics on: ask again at once.
                if in_flight > 0 {
                    wait_for_change(&shared, &mut stop).await;
                }
            }
            (Next::Exhausted, _) => {
                shared.release_step()?;
                shared.request_stop(StopReason::SearchExhausted);
                return Ok(());
            }
        }
    }
}

async fn wait_for_change(shared: &Shared, stop: &mut watch::Receiver<Option<StopReason>>) {
    tokio::select! {
        () = shared.completed.notified() => {}
        _ = stop.changed() => {}
        () = tokio::time::sleep(WAIT_PERIOD) => {}
    }
}

/// Resolves when the run is asked to stop.
async fn stopped(stop: &mut watch::Receiver<Option<StopReason>>) {
    let _ = stop.wait_for(Option::is_some).await;
}

async fn expand(
    shared: &Arc<Shared>,
    stop: &mut watch::Receiver<Option<StopReason>>,
    expansion: Expansion,
) -> Result<()> {
    let worker = expansion.worker.0;
    let ticket = expansion.ticket;
    let proposed_at = Utc::now();
    let propose_started = Instant::now();
    let request = {
        let search = lock(&shared.search, "search")?;
        let entries = lock(&shared.entries, "entries")?;
        let pending: Vec<PendingProposal> = lock(&shared.pending, "pending")?
            .values()
            .cloned()
            .collect();
        // Counted and registered under the search lock, so two workers never get the same count.
        let mut writing = lock(&shared.writing, "writing")?;
        let siblings_being_written = writing
            .values()
            .filter(|parent| **parent == expansion.parent)
            .count() as u32;
        writing.insert(ticket, expansion.parent);
        drop(writing);
        let (parent, memory, buggy_ancestors) = scoped_memory(
            &search,
            &entries,
            &pending,
            expansion.parent,
            expansion.stage,
        );
        ProposalRequest {
            stage: expansion.stage,
            parent,
            memory,
            buggy_ancestors,
            budget: shared.budget()?,
            siblings_being_written,
            seed: shared.settings.seed ^ (u64::from(search.tree().len() as u32) << 32) ^ ticket.0,
        }
    };
    tracing::debug!(
        worker,
        stage = ?expansion.stage,
        parent = ?expansion.parent,
        siblings_being_written = request.siblings_being_written,
        memory = ?request.memory.iter().map(|entry| entry.plan.split(':').next().unwrap_or("")).collect::<Vec<_>>(),
        "proposing"
    );
    shared.emit(Event::Proposing {
        worker,
        stage: expansion.stage,
        parent: expansion.parent,
    });
    let proposal = tokio::select! {
        proposal = shared.coder.propose(&shared.task, &request) => proposal,
        () = stopped(stop) => return shared.abandon(ticket),
    };
    lock(&shared.writing, "writing")?.remove(&ticket);
    let proposal = match proposal {
        Ok(proposal) => proposal,
        Err(error) => {
            shared.emit(Event::ProposalFailed {
                worker,
                stage: expansion.stage,
                parent: expansion.parent,
                reason: error.to_string(),
            });
            match error {
                CoderError::Failed { calls, .. } => {
                    shared.spend(TokenUsage::total(calls.iter().map(|call| &call.usage)))?;
                    shared.abandon_written(ticket, &calls)?;
                }
                CoderError::BudgetExhausted(_) => {
                    shared.abandon(ticket)?;
                    shared.request_stop(StopReason::TokenBudget);
                }
            }
            return Ok(());
        }
    };
    let propose_seconds = propose_started.elapsed().as_secs_f64();
    shared.spend(proposal.usage)?;
    lock(&shared.pending, "pending")?.insert(
        ticket,
        PendingProposal {
            parent: expansion.parent,
            plan: proposal.plan.clone(),
        },
    );

    let permit = tokio::select! {
        permit = shared.slot_permits.acquire() => permit.map_err(|_| Error::Executor("the slots were closed".into()))?,
        () = stopped(stop) => return shared.abandon_written(ticket, &proposal.calls),
    };
    let slot = lock(&shared.free_slots, "slots")?.pop().unwrap_or_default();
    let cancel: CancelFlag = Arc::new(AtomicBool::new(false));
    lock(&shared.cancel_flags, "cancel flags")?.insert(ticket, cancel.clone());
    if shared
        .stop_reason()
        .is_some_and(|reason| matches!(reason, StopReason::Interrupted | StopReason::TimeLimit))
    {
        cancel.store(true, Ordering::SeqCst);
    }
    shared.emit(Event::Executing {
        worker,
        slot,
        stage: expansion.stage,
        parent: expansion.parent,
    });
    let job = ExecutionJob {
        node_dir: shared.layout.attempt_dir(ticket),
        code: proposal.code.clone(),
        slot,
        timeout: shared
            .settings
            .node_timeout
            .min(shared.time_remaining().max(Duration::from_secs(1))),
        cancel: cancel.clone(),
    };
    let execution = shared.executor.execute(job).await;
    lock(&shared.cancel_flags, "cancel flags")?.remove(&ticket);
    lock(&shared.free_slots, "slots")?.push(slot);
    drop(permit);
    let execution = match execution {
        Ok(execution) => execution,
        Err(message) => {
            shared.emit(Event::Warning {
                message: format!("the executor failed: {message}"),
            });
            return shared.abandon_written(ticket, &proposal.calls);
        }
    };
    let Some(status) = execution.status else {
        // Cancelled: an interrupted node is discarded, never half-counted.
        return shared.abandon_written(ticket, &proposal.calls);
    };

    shared.emit(Event::Reviewing { worker });
    let validation_message = execution
        .submission
        .as_deref()
        .and_then(|path| shared.check.check(path).err());
    let view = NodeView {
        node: ticket.0 as u32,
        stage: expansion.stage,
        plan: proposal.plan.clone(),
        code: proposal.code.clone(),
        output: execution.output.clone(),
        status,
        duration: execution.duration,
        metric: execution.reported_metric.map(|(value, _)| value),
        buggy: false,
        summary: String::new(),
        validation_message: validation_message.clone(),
    };
    let review_request = ReviewRequest {
        node: view,
        reported_metric: execution.reported_metric,
        submission_exists: execution.submission.is_some(),
    };
    let review = tokio::select! {
        review = shared.coder.review(&shared.task, &review_request) => review,
        () = stopped(stop), if shared.stop_reason().is_some_and(|reason| matches!(reason, StopReason::Interrupted)) => {
            return shared.abandon_written(ticket, &proposal.calls);
        }
    };
    let (review_summary, review_bug, review_metric, review_usage, review_calls) = match review {
        Ok(review) => (
            review.summary,
            review.is_bug,
            review.metric,
            review.usage,
            review.calls,
        ),
        Err(CoderError::Failed { reason, calls }) => (
            format!("The review failed: {reason}"),
            false,
            None,
            TokenUsage::total(calls.iter().map(|call| &call.usage)),
            calls,
        ),
        Err(error @ CoderError::BudgetExhausted(_)) => (
            format!("The review failed: {error}"),
            false,
            None,
            TokenUsage::default(),
            Vec::new(),
        ),
    };
    shared.spend(review_usage)?;

    let direction = if shared.task.lower_is_better {
        Direction::LowerIsBetter
    } else {
        Direction::HigherIsBetter
    };
    // metrics.json is deterministic and wins over the reviewer's reading of the output.
    let metric_value = execution
        .reported_metric
        .map(|(value, _)| value)
        .or(review_metric)
        .filter(|value| value.is_finite());
    let metric = metric_value.map(|value| Metric::new(value, direction));
    let submission_exists = execution.submission.is_some();
    // Valid: it ran, wrote a submission the grader accepts, and has a metric the review believes.
    // Invalid: it ran, but the submission was rejected. Buggy: anything else.
    let outcome = if status != ExecutionStatus::Ok || !submission_exists {
        Outcome::Buggy
    } else if validation_message.is_some() {
        Outcome::Invalid { metric }
    } else {
        match (metric, review_bug) {
            (Some(metric), false) => Outcome::Valid { metric },
            (None, _) | (Some(_), true) => Outcome::Buggy,
        }
    };
    let usage = TokenUsage::total([&proposal.usage, &review_usage]);
    let mut calls = proposal.calls;
    calls.extend(review_calls);
    let mut output = execution.output.clone();
    if let Some(message) = &validation_message {
        output.push_str(&format!("\nSubmission invalid! {message}\n"));
    }
    if let Some(problem) = &execution.metrics_problem {
        output.push_str(&format!("\n{problem}\n"));
    }

    let finished = Finished {
        expansion,
        plan: proposal.plan,
        code: proposal.code,
        output,
        execution: &execution,
        status,
        outcome,
        validation_message,
        review_summary,
        usage,
        calls,
        proposed_at,
        propose_seconds,
        slot,
    };
    complete(shared, finished)
}

/// A finished expansion on its way into the tree and the journal.
struct Finished<'a> {
    expansion: Expansion,
    plan: String,
    code: String,
    output: String,
    execution: &'a Execution,
    status: ExecutionStatus,
    outcome: Outcome,
    validation_message: Option<String>,
    review_summary: String,
    usage: TokenUsage,
    /// The model calls behind the proposal and its review.
    calls: Vec<ModelCall>,
    proposed_at: chrono::DateTime<Utc>,
    propose_seconds: f64,
    slot: usize,
}

fn complete(shared: &Arc<Shared>, finished: Finished<'_>) -> Result<()> {
    let Finished {
        expansion,
        plan,
        code,
        output,
        execution,
        status,
        outcome,
        validation_message,
        review_summary,
        usage,
        calls,
        proposed_at,
        propose_seconds,
        slot,
    } = finished;
    let attempt_dir = shared.layout.attempt_dir(expansion.ticket);
    let (entry, completion) = {
        // The search lock is held until the journal has the node, so records reach the journal in the
        // order the search produced them, whichever worker finishes first.
        let mut search = lock(&shared.search, "search")?;
        let node_id = NodeId(search.tree().len() as u32);
        let node_dir = shared.layout.node_dir(node_id);
        let completion = search.complete(
            expansion.ticket,
            NodeResult {
                plan: plan.clone(),
                code_ref: shared.layout.relative(&node_dir),
                outcome,
            },
        )?;
        if let Some(parent) = node_dir.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        if attempt_dir.exists() {
            std::fs::rename(&attempt_dir, &node_dir).map_err(|source| Error::Io {
                path: node_dir.clone(),
                source,
            })?;
        }
        let submission_path = execution.submission.as_ref().map(|path| {
            shared
                .layout
                .relative(&node_dir.join(path.strip_prefix(&attempt_dir).unwrap_or(path)))
        });
        let entry = NodeEntry {
            id: completion.node,
            parent: expansion.parent,
            stage: expansion.stage,
            operator: shared.coder.name(),
            plan,
            code,
            output,
            execution_status: status.name().to_string(),
            exit_code: execution.exit_code,
            metric: outcome.metric().map(|metric| metric.value),
            lower_is_better: Some(shared.task.lower_is_better),
            buggy: outcome.is_buggy(),
            valid: outcome.is_valid(),
            validation_message,
            review_summary,
            submission_path,
            worker: expansion.worker.0,
            slot: Some(slot as u32),
            proposed_at,
            finished_at: Utc::now(),
            propose_seconds,
            execute_seconds: execution.duration.as_secs_f64(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_usd: usage.cost_usd,
            test_score: None,
        };
        let records = search.take_records();
        let mut journal = lock(&shared.journal, "journal")?;
        journal.record_node(&entry, &records)?;
        journal.set_elapsed_seconds(shared.elapsed().as_secs_f64())?;
        // Still under the search lock: two workers improving the best at once must not interleave here.
        match completion.best_change {
            BestChange::Unchanged => {}
            BestChange::First | BestChange::Improved => write_best(&shared.layout, &entry)?,
        }
        // The node moves from the pending proposals to the remembered nodes in one step, as seen by a
        // worker building its memory under the search lock.
        lock(&shared.entries, "entries")?.insert(entry.id, entry.clone());
        lock(&shared.pending, "pending")?.remove(&expansion.ticket);
        (entry, completion)
    };
    shared.record_calls(Some(entry.id), &calls)?;
    {
        let mut counters = lock(&shared.counters, "counters")?;
        counters.steps_in_flight = counters.steps_in_flight.saturating_sub(1);
        counters.steps_done += 1;
    }
    shared.emit(Event::NodeFinished {
        node: entry.id,
        parent: entry.parent,
        stage: entry.stage,
        worker: entry.worker,
        execution_status: entry.execution_status.clone(),
        metric: entry.metric,
        valid: entry.valid,
        buggy: entry.buggy,
        summary: entry.review_summary.clone(),
        execute_seconds: entry.execute_seconds,
        prompt_tokens: entry.prompt_tokens,
        completion_tokens: entry.completion_tokens,
        cost_usd: entry.cost_usd,
    });
    match completion.best_change {
        BestChange::Unchanged => {}
        BestChange::First | BestChange::Improved => {
            if let Some(metric) = entry.metric {
                shared.emit(Event::BestImproved {
                    node: entry.id,
                    metric,
                });
            }
        }
    }
    shared.completed.notify_waiters();
    Ok(())
}

/// Replaces `best/` with the node's solution, submission and summary, atomically.
fn write_best(layout: &RunLayout, entry: &NodeEntry) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let best = layout.best_dir();
    let staging = layout.root.join("best.partial");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    std::fs::write(staging.join("solution.py"), &entry.code).map_err(io(&staging))?;
    if let Some(submission) = &entry.submission_path {
        let source = layout.root.join(submission);
        std::fs::copy(&source, staging.join("submission.csv")).map_err(io(&source))?;
    }
    let summary = serde_json::to_string_pretty(entry).map_err(|error| Error::Io {
        path: staging.join("node.json"),
        source: std::io::Error::other(error),
    })?;
    std::fs::write(staging.join("node.json"), summary).map_err(io(&staging))?;
    if best.exists() {
        std::fs::remove_dir_all(&best).map_err(io(&best))?;
    }
    std::fs::rename(&staging, &best).map_err(io(&best))
}
