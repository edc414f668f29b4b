//! Starting, resuming and finishing a run: restore it from the journal, start the workers, listen for
//! operations and the time limit, and record how the run ended.

use std::sync::Arc;
use std::time::Duration;

use mlm_journal::{Journal, RunStatus};
use mlm_search::NodeId;
use tokio::sync::mpsc;

use crate::context::{EngineParts, RunContext};
use crate::error::{Error, Result};
use crate::event::{Event, Op, StopReason};
use crate::worker::worker_loop;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub reason: StopReason,
    /// For [`StopReason::CoderFailed`]: what failed, with the server's words and a `hint:`.
    pub failure: Option<String>,
    pub nodes: u32,
    pub best_node: Option<NodeId>,
    pub best_metric: Option<f64>,
    /// Across every session of the run.
    pub elapsed: Duration,
    pub prompt_tokens: u64,
    /// The part of `prompt_tokens` read from the providers' prompt caches.
    pub cached_prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

/// A run that ended, with its journal still open and locked: whatever is written after the run (the
/// final grading's test scores) goes through the same writer.
#[derive(Debug)]
pub struct FinishedRun {
    pub summary: RunSummary,
    pub journal: Journal,
}

/// Runs (or resumes) until a budget is spent, the search is exhausted, or [`Op::Interrupt`] arrives.
pub async fn run_engine(
    parts: EngineParts,
    events: mpsc::UnboundedSender<Event>,
    mut operations: mpsc::UnboundedReceiver<Op>,
) -> Result<FinishedRun> {
    parts.settings.validate().map_err(Error::Settings)?;
    let (run, resumed_nodes) = RunContext::restore(parts, events)?;
    let run = Arc::new(run);
    run.emit(Event::RunStarted {
        task_id: run.task.competition_id.clone(),
        coder: run.coder.name(),
        slots: run.settings.slots,
        workers: run.active_workers()?,
        steps: run.settings.steps,
        time_limit_seconds: run.settings.time_limit.as_secs_f64(),
        resumed_nodes,
    });

    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..run.settings.max_workers() {
        let run = run.clone();
        workers.spawn(async move { worker_loop(run, mlm_search::WorkerId(worker as u32)).await });
    }
    let timer = tokio::time::sleep(run.time_remaining());
    tokio::pin!(timer);
    let mut first_error = None;
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(error))) => {
                    run.request_stop(StopReason::Interrupted);
                    first_error.get_or_insert(error);
                }
                Some(Err(join_error)) => {
                    run.request_stop(StopReason::Interrupted);
                    first_error.get_or_insert(Error::WorkerPanicked(join_error.to_string()));
                }
            },
            operation = operations.recv() => match operation {
                Some(Op::Interrupt) => run.request_stop(StopReason::Interrupted),
                // Nobody can send operations any more; keep running to the end of the budget.
                None => {}
            },
            () = &mut timer, if run.stop_reason().is_none() => run.request_stop(StopReason::TimeLimit),
        }
    }
    let reason = run.stop_reason().unwrap_or(StopReason::SearchExhausted);
    let summary = {
        let state = run.final_state();
        let best = state
            .search
            .best_node()
            .map(|node| (node.id(), node.metric()));
        let summary = RunSummary {
            reason,
            failure: run.coder_failure(),
            nodes: state.counters.steps_done,
            best_node: best.map(|(node, _)| node),
            best_metric: best.and_then(|(_, metric)| metric.map(|metric| metric.value)),
            elapsed: run.elapsed(),
            prompt_tokens: state.counters.prompt_tokens,
            cached_prompt_tokens: state.counters.cached_prompt_tokens,
            completion_tokens: state.counters.completion_tokens,
            cost_usd: state.counters.cost_usd,
        };
        state
            .journal
            .set_elapsed_seconds(summary.elapsed.as_secs_f64())?;
        state.journal.set_status(match (reason, &first_error) {
            (_, Some(_)) | (StopReason::CoderFailed, None) => RunStatus::Failed,
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
        summary
    };
    run.emit(Event::RunFinished {
        reason,
        failure: summary.failure.clone(),
        nodes: summary.nodes,
        best_node: summary.best_node,
        best_metric: summary.best_metric,
        elapsed_seconds: summary.elapsed.as_secs_f64(),
    });
    if let Some(error) = first_error {
        return Err(error);
    }
    // Every worker has been joined, so nothing else holds the run.
    let run = Arc::into_inner(run).ok_or(Error::RunStillShared)?;
    Ok(FinishedRun {
        summary,
        journal: run.into_journal(),
    })
}
