//! One worker's loop, ML-Master's `step(node)`: reserve a step and an expansion, then
//! propose → execute → judge → commit, each a module of its own. Any step may give the expansion back
//! (the coder failed, the run stopped); the search then decides whether the worker's trajectory continues.

mod commit;
mod execute;
mod judge;
mod propose;

use std::sync::Arc;

use mlm_search::{Expansion, Next, WorkerId};
use tokio::sync::watch;

use crate::context::RunContext;
use crate::error::Result;
use crate::event::StopReason;

/// What a worker does next.
enum Work {
    Expand(Expansion),
    /// Other workers hold what can be expanded now: wait for one of them to finish.
    WaitForOthers,
    /// Nothing is in flight, so asking again moves the search's statistics on.
    AskAgain,
    /// Every step of the budget is done.
    StepsExhausted,
    /// Every step is done or in flight elsewhere: wait for those to finish or be given back.
    StepsInFlight,
    SearchExhausted,
}

/// A worker: expands until the run stops or nothing is left for it.
pub(crate) async fn worker_loop(run: Arc<RunContext>, worker: WorkerId) -> Result<()> {
    let mut stop = run.stop_receiver();
    loop {
        if run.stop_reason().is_some() {
            return Ok(());
        }
        match next_work(&run, worker)? {
            Work::Expand(expansion) => expand(&run, &mut stop, expansion).await?,
            Work::WaitForOthers | Work::StepsInFlight => run.wait_for_change(&mut stop).await,
            Work::AskAgain => {}
            Work::StepsExhausted => {
                run.request_stop(StopReason::StepsExhausted);
                return Ok(());
            }
            Work::SearchExhausted => {
                run.request_stop(StopReason::SearchExhausted);
                return Ok(());
            }
        }
    }
}

/// Reserves one step of the budget and asks the search for an expansion; a step that finds no
/// expansion is given back at once.
fn next_work(run: &RunContext, worker: WorkerId) -> Result<Work> {
    let mut state = run.state()?;
    if state.counters.steps_remaining(run.settings.steps) == 0 {
        return Ok(match state.counters.steps_in_flight {
            0 => Work::StepsExhausted,
            _ => Work::StepsInFlight,
        });
    }
    state.counters.steps_in_flight += 1;
    let next = state.search.next_expansion(worker)?;
    state.journal_search_records()?;
    let work = match next {
        Next::Expand(expansion) => return Ok(Work::Expand(expansion)),
        Next::Wait if state.search.in_flight().len() == 0 => Work::AskAgain,
        Next::Wait => Work::WaitForOthers,
        Next::Exhausted => Work::SearchExhausted,
    };
    state.counters.steps_in_flight = state.counters.steps_in_flight.saturating_sub(1);
    Ok(work)
}

/// Takes one expansion through propose → execute → judge → commit.
async fn expand(
    run: &RunContext,
    stop: &mut watch::Receiver<Option<StopReason>>,
    expansion: Expansion,
) -> Result<()> {
    let Some(proposed) = propose::propose(run, stop, expansion).await? else {
        return Ok(());
    };
    let Some(executed) = execute::execute(run, stop, &proposed).await? else {
        return Ok(());
    };
    let Some(judged) = judge::judge(run, stop, proposed, executed).await? else {
        return Ok(());
    };
    commit::commit(run, judged)
}
