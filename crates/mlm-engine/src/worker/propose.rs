//! Propose: build the coder's request for an expansion (the parent, the scoped memory, the budget, a
//! seed) and have the coder write the script. A failed proposal gives the expansion back, and stops the
//! run when going on would only repeat it: at once when the server refused the request for good, or
//! once `max_consecutive_failures` proposals in a row failed the same way.

use chrono::{DateTime, Utc};
use mlm_coder::{Budget, CoderError, Proposal, ProposalRequest, TokenUsage};
use mlm_search::Expansion;
use tokio::sync::watch;

use crate::context::{stopped, RunContext};
use crate::error::Result;
use crate::event::{Event, StopReason};
use crate::memory::{scoped_memory, PendingProposal};
use crate::state::{FailureStreak, ProposalInFlight};

/// A script the coder wrote for an expansion.
pub(super) struct Proposed {
    pub expansion: Expansion,
    pub proposal: Proposal,
    pub proposed_at: DateTime<Utc>,
    pub propose_seconds: f64,
}

/// What came of asking the coder.
pub(super) enum Proposing {
    Written(Proposed),
    /// The coder failed; the expansion was given back.
    Failed,
    /// The run stopped while the coder wrote; the expansion was given back.
    Stopped,
}

/// Has the coder write the script for `expansion`.
pub(super) async fn propose(
    run: &RunContext,
    stop: &mut watch::Receiver<Option<StopReason>>,
    expansion: Expansion,
) -> Result<Proposing> {
    let worker = expansion.worker.0;
    let ticket = expansion.ticket;
    let proposed_at = Utc::now();
    // tokio's clock, so a test on its paused clock measures the latency it scripted.
    let propose_started = tokio::time::Instant::now();
    let request = {
        let mut state = run.state()?;
        // Counted and registered in one section, so two workers never get the same count.
        let siblings_being_written = state
            .proposals
            .values()
            .filter(|proposal| match proposal {
                ProposalInFlight::Writing { parent } => *parent == expansion.parent,
                ProposalInFlight::Written(_) => false,
            })
            .count() as u32;
        state.proposals.insert(
            ticket,
            ProposalInFlight::Writing {
                parent: expansion.parent,
            },
        );
        let written: Vec<PendingProposal> = state
            .proposals
            .values()
            .filter_map(|proposal| match proposal {
                ProposalInFlight::Written(pending) => Some(pending.clone()),
                ProposalInFlight::Writing { .. } => None,
            })
            .collect();
        let (parent, memory, buggy_ancestors) = scoped_memory(
            &state.search,
            &state.entries,
            &written,
            expansion.parent,
            expansion.stage,
        );
        let tree_len = u64::from(state.search.tree().len() as u32);
        ProposalRequest {
            stage: expansion.stage,
            parent,
            memory,
            buggy_ancestors,
            budget: Budget {
                time_remaining: run.time_remaining(),
                steps_remaining: state.counters.steps_remaining(run.settings.steps),
                node_timeout: run.settings.node_timeout,
            },
            siblings_being_written,
            seed: run.settings.seed ^ (tree_len << 32) ^ ticket.0,
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
    run.emit(Event::Proposing {
        worker,
        stage: expansion.stage,
        parent: expansion.parent,
    });
    let proposal = tokio::select! {
        proposal = run.coder.propose(&run.task, &request) => proposal,
        () = stopped(stop) => {
            run.abandon(ticket, &[])?;
            return Ok(Proposing::Stopped);
        }
    };
    run.state()?.proposals.remove(&ticket);
    let proposal = match proposal {
        Ok(proposal) => proposal,
        Err(error) => {
            run.emit(Event::ProposalFailed {
                worker,
                stage: expansion.stage,
                parent: expansion.parent,
                reason: error.to_string(),
            });
            match error {
                CoderError::Failed { cause, calls } => {
                    run.spend(TokenUsage::total(calls.iter().map(|call| &call.usage)))?;
                    run.abandon(ticket, &calls)?;
                    let failed_in_a_row = run.state()?.failure_streak.failed(cause.kind());
                    if cause.is_permanent() {
                        run.stop_for_coder_failure(with_hint(
                            format!("{} proposal refused: {cause}", expansion.stage.name()),
                            "the server refuses this request as configured; check the model, \
                             base_url and the parameters under [llm]",
                        ));
                    } else if failed_in_a_row >= run.settings.max_consecutive_failures {
                        run.stop_for_coder_failure(with_hint(
                            format!(
                                "{failed_in_a_row} proposals in a row failed the same way ({}); \
                                 the last: {cause}",
                                cause.kind()
                            ),
                            "the model keeps failing the same way: read its replies in the \
                             run's journal (the llm_calls table), then change the model or the \
                             prompts, or raise max_consecutive_failures under [llm]",
                        ));
                    }
                }
                CoderError::BudgetExhausted(_) => {
                    run.abandon(ticket, &[])?;
                    run.request_stop(StopReason::TokenBudget);
                }
            }
            return Ok(Proposing::Failed);
        }
    };
    run.state()?.failure_streak = FailureStreak::default();
    let propose_seconds = propose_started.elapsed().as_secs_f64();
    run.spend(proposal.usage)?;
    run.state()?.proposals.insert(
        ticket,
        ProposalInFlight::Written(PendingProposal {
            parent: expansion.parent,
            plan: proposal.plan.clone(),
        }),
    );
    Ok(Proposing::Written(Proposed {
        expansion,
        proposal,
        proposed_at,
        propose_seconds,
    }))
}

/// `message`, ending in `hint` unless it already has one of its own.
fn with_hint(message: String, hint: &str) -> String {
    if message.contains("\nhint: ") {
        message
    } else {
        format!("{message}\nhint: {hint}")
    }
}
