//! Execute: wait for a free slot, run the proposed script in the expansion's attempt directory, and give
//! the slot back. A script that could not run, or was cancelled by a stop, gives the expansion back.

use std::time::Duration;

use mlm_coder::ExecutionStatus;
use tokio::sync::watch;

use super::propose::Proposed;
use crate::context::{stopped, RunContext};
use crate::error::Result;
use crate::event::{Event, StopReason};
use crate::traits::{Execution, ExecutionJob};

/// What running a proposed script showed.
pub(super) struct Executed {
    pub execution: Execution,
    /// How the script ended (a cancelled run has none and never gets here).
    pub status: ExecutionStatus,
    pub slot: usize,
}

/// Runs `proposed`'s script in a free slot; `None` when the expansion was given back.
pub(super) async fn execute(
    run: &RunContext,
    stop: &mut watch::Receiver<Option<StopReason>>,
    proposed: &Proposed,
) -> Result<Option<Executed>> {
    let expansion = proposed.expansion;
    let calls = &proposed.proposal.calls;
    let slot = tokio::select! {
        slot = run.slots.acquire() => slot?,
        () = stopped(stop) => {
            run.abandon(expansion.ticket, calls)?;
            return Ok(None);
        }
    };
    run.emit(Event::Executing {
        worker: expansion.worker.0,
        slot: slot.id,
        stage: expansion.stage,
        parent: expansion.parent,
    });
    let job = ExecutionJob {
        node_dir: run.layout.attempt_dir(expansion.ticket),
        code: proposed.proposal.code.clone(),
        slot: slot.id,
        timeout: run
            .settings
            .node_timeout
            .min(run.time_remaining().max(Duration::from_secs(1))),
        cancel: run.scripts_cancelled(),
    };
    let execution = run.executor.execute(job).await;
    let slot_id = slot.id;
    drop(slot);
    let execution = match execution {
        Ok(execution) => execution,
        Err(error) => {
            run.emit(Event::Warning {
                message: format!("the executor failed: {error}"),
            });
            run.abandon(expansion.ticket, calls)?;
            return Ok(None);
        }
    };
    let Some(status) = execution.status else {
        // Cancelled: an interrupted node is discarded, never half-counted.
        run.abandon(expansion.ticket, calls)?;
        return Ok(None);
    };
    Ok(Some(Executed {
        execution,
        status,
        slot: slot_id,
    }))
}
