//! One worker's loop, ML-Master's `step(node)`: reserve a step and an expansion, then
//! propose → execute → judge → commit, each a module of its own. Any step may give the expansion back
//! (the coder failed, the run stopped); the search then decides whether the worker's trajectory continues.

mod commit;
mod execute;
mod judge;
mod propose;

use propose::Proposing;

use std::sync::Arc;
use std::time::Duration;

use mlm_search::{Expansion, Next, WorkerId};
use tokio::sync::watch;

use crate::context::{stopped, RunContext, Staffing};
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

/// The wait after a worker's first failed proposal in a row; it doubles with each further one.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between a worker's failed proposals.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What came of one expansion, as the worker's backoff sees it.
enum Attempt {
    /// The coder wrote a script (whatever happened to it next), or the run stopped.
    Proposed,
    ProposalFailed,
}

/// A worker: expands until the run stops or nothing is left for it; between two trajectories it parks
/// while fewer workers are wanted (see [`RunContext::staff`]). After a failed proposal it waits
/// before asking again, twice as long after each further failure in a row, so a model or server that
/// keeps failing is not asked in a tight loop.
pub(crate) async fn worker_loop(run: Arc<RunContext>, worker: WorkerId) -> Result<()> {
    let mut stop = run.stop_receiver();
    let mut failures_in_a_row: u32 = 0;
    loop {
        if run.stop_reason().is_some() {
            return Ok(());
        }
        match run.staff(worker)? {
            Staffing::Working => {}
            Staffing::Parked => {
                run.wait_for_change(&mut stop).await;
                continue;
            }
        }
        match next_work(&run, worker)? {
            Work::Expand(expansion) => match expand(&run, &mut stop, expansion).await? {
                Attempt::Proposed => failures_in_a_row = 0,
                Attempt::ProposalFailed => {
                    let backoff = FIRST_BACKOFF
                        .saturating_mul(1 << failures_in_a_row.min(16))
                        .min(MAX_BACKOFF);
                    failures_in_a_row += 1;
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = stopped(&mut stop) => {}
                    }
                }
            },
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
) -> Result<Attempt> {
    let proposed = match propose::propose(run, stop, expansion).await? {
        Proposing::Written(proposed) => proposed,
        Proposing::Failed => return Ok(Attempt::ProposalFailed),
        Proposing::Stopped => return Ok(Attempt::Proposed),
    };
    let Some(executed) = execute::execute(run, stop, &proposed).await? else {
        return Ok(Attempt::Proposed);
    };
    let Some(judged) = judge::judge(run, stop, proposed, executed).await? else {
        return Ok(Attempt::Proposed);
    };
    commit::commit(run, judged)?;
    Ok(Attempt::Proposed)
}
