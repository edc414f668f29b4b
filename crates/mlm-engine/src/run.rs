//! Starting, resuming and finishing a run: restore the search from the journal, start the workers,
//! listen for operations, and record how the run ended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlm_coder::{Coder, TaskBrief};
use mlm_journal::{Journal, RunStatus};
use mlm_search::{NodeId, Search};
use tokio::sync::{mpsc, watch, Notify, Semaphore};

use crate::error::{Error, Result};
use crate::event::{Event, Op, StopReason};
use crate::layout::RunLayout;
use crate::settings::RunSettings;
use crate::traits::{Executor, SubmissionCheck};
use crate::worker::{worker_loop, Counters, Shared};

/// Everything a run is made of.
pub struct EngineParts {
    pub settings: RunSettings,
    pub task: TaskBrief,
    pub coder: Arc<dyn Coder>,
    pub executor: Arc<dyn Executor>,
    pub check: Arc<dyn SubmissionCheck>,
    /// The run's journal: new, or holding an earlier session's nodes to resume from.
    pub journal: Journal,
    pub layout: RunLayout,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub reason: StopReason,
    pub nodes: u32,
    pub best_node: Option<NodeId>,
    pub best_metric: Option<f64>,
    /// Across every session of the run.
    pub elapsed: Duration,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// Runs (or resumes) until a budget is spent, the search is exhausted, or [`Op::Interrupt`] arrives.
pub async fn run_engine(
    parts: EngineParts,
    events: mpsc::UnboundedSender<Event>,
    mut operations: mpsc::UnboundedReceiver<Op>,
) -> Result<RunSummary> {
    let EngineParts {
        settings,
        task,
        coder,
        executor,
        check,
        journal,
        layout,
    } = parts;
    settings.validate().map_err(Error::Settings)?;
    let records = journal.search_records()?;
    let search = Search::restore(settings.search.clone(), settings.seed, records)?;
    let entries: HashMap<NodeId, _> = journal
        .nodes()?
        .into_iter()
        .map(|entry| (entry.id, entry))
        .collect();
    let previous = journal.run()?;
    discard_uncounted_work(&layout, entries.len() as u32)?;
    journal.set_status(RunStatus::Running)?;

    let counters = Counters::from_journal(entries.values(), &journal.llm_calls()?);
    let resumed_nodes = counters.steps_done;
    let (stop_sender, stop_receiver) = watch::channel(None);
    let shared = Arc::new(Shared {
        search: Mutex::new(search),
        entries: Mutex::new(entries),
        journal: Mutex::new(journal),
        counters: Mutex::new(counters),
        stop: stop_sender,
        stop_receiver,
        writing: Mutex::new(HashMap::new()),
        pending: Mutex::new(HashMap::new()),
        cancel_flags: Mutex::new(HashMap::new()),
        completed: Notify::new(),
        slot_permits: Semaphore::new(settings.slots),
        free_slots: Mutex::new((0..settings.slots).rev().collect()),
        events,
        started: Instant::now(),
        elapsed_before: Duration::from_secs_f64(previous.elapsed_seconds.max(0.0)),
        settings: settings.clone(),
        task,
        coder: coder.clone(),
        executor,
        check,
        layout,
    });
    shared.emit(Event::RunStarted {
        task_id: shared.task.competition_id.clone(),
        coder: coder.name(),
        slots: settings.slots,
        workers: settings.workers,
        steps: settings.steps,
        time_limit_seconds: settings.time_limit.as_secs_f64(),
        resumed_nodes,
    });

    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..settings.workers {
        let shared = shared.clone();
        workers
            .spawn(async move { worker_loop(shared, mlm_search::WorkerId(worker as u32)).await });
    }
    let time_left = shared.time_remaining();
    let timer = tokio::time::sleep(time_left);
    tokio::pin!(timer);
    let mut first_error = None;
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(error))) => {
                    shared.request_stop(StopReason::Interrupted);
                    first_error.get_or_insert(error);
                }
                Some(Err(join_error)) => {
                    shared.request_stop(StopReason::Interrupted);
                    first_error.get_or_insert(Error::Executor(format!("a worker panicked: {join_error}")));
                }
            },
            operation = operations.recv() => match operation {
                Some(Op::Interrupt) => shared.request_stop(StopReason::Interrupted),
                // Nobody can send operations any more; keep running to the end of the budget.
                None => {}
            },
            () = &mut timer, if shared.stop_reason().is_none() => shared.request_stop(StopReason::TimeLimit),
        }
    }
    let reason = shared.stop_reason().unwrap_or(StopReason::SearchExhausted);
    let summary = shared.summary(reason);
    {
        let journal = shared
            .journal
            .lock()
            .map_err(|_| Error::Executor("the journal lock was poisoned".into()))?;
        journal.set_elapsed_seconds(summary.elapsed.as_secs_f64())?;
        journal.set_status(match (reason, &first_error) {
            (_, Some(_)) => RunStatus::Failed,
            (StopReason::Interrupted, None) => RunStatus::Interrupted,
            (
                StopReason::StepsExhausted
                | StopReason::TimeLimit
                | StopReason::TokenBudget
                | StopReason::CostBudget
                | StopReason::SearchExhausted,
                None,
            ) => RunStatus::Finished,
        })?;
    }
    shared.emit(Event::RunFinished {
        reason,
        nodes: summary.nodes,
        best_node: summary.best_node,
        best_metric: summary.best_metric,
        elapsed_seconds: summary.elapsed.as_secs_f64(),
    });
    match first_error {
        Some(error) => Err(error),
        None => Ok(summary),
    }
}

/// Removes what an interrupted session left that the journal never counted: scripts that were running
/// (`work/`) and node directories renamed just before a crash, past the last journaled node.
fn discard_uncounted_work(layout: &RunLayout, journaled_nodes: u32) -> Result<()> {
    let io = |path: std::path::PathBuf| move |source| Error::Io { path, source };
    let work = layout.work_dir();
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(io(work.clone()))?;
    }
    let nodes = layout.root.join("nodes");
    if let Ok(entries) = std::fs::read_dir(&nodes) {
        for entry in entries.flatten() {
            let uncounted = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
                .is_some_and(|id| id >= journaled_nodes);
            if uncounted {
                std::fs::remove_dir_all(entry.path()).map_err(io(entry.path()))?;
            }
        }
    }
    Ok(())
}
