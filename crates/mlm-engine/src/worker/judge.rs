//! Judge: check the submission as the validation server would, have the coder review the run, and let
//! the search's rules ([`mlm_search::judge`]) decide the node's outcome. An interruption during the review
//! gives the expansion back.

use chrono::{DateTime, Utc};
use mlm_coder::{CoderError, ExecutionStatus, ModelCall, NodeView, ReviewRequest, TokenUsage};
use mlm_search::{Evidence, Expansion, Outcome, ReviewVerdict, SubmissionState};
use tokio::sync::watch;

use super::execute::Executed;
use super::propose::Proposed;
use crate::context::{stopped, RunContext};
use crate::error::Result;
use crate::event::{Event, StopReason};
use crate::memory::REVIEW_FAILED;
use crate::traits::Execution;

/// A finished expansion with its outcome, on its way into the tree and the journal.
pub(super) struct Judged {
    pub expansion: Expansion,
    pub plan: String,
    pub code: String,
    /// The script's output, with the submission check's and `metrics.json`'s complaints appended.
    pub output: String,
    pub execution: Execution,
    pub status: ExecutionStatus,
    pub outcome: Outcome,
    pub validation_message: Option<String>,
    pub review_summary: String,
    /// The proposal's and the review's.
    pub usage: TokenUsage,
    /// The model calls behind the proposal and its review.
    pub calls: Vec<ModelCall>,
    pub proposed_at: DateTime<Utc>,
    pub propose_seconds: f64,
    pub slot: usize,
}

/// Checks, reviews and judges an executed proposal; `None` when the expansion was given back.
pub(super) async fn judge(
    run: &RunContext,
    stop: &mut watch::Receiver<Option<StopReason>>,
    proposed: Proposed,
    executed: Executed,
) -> Result<Option<Judged>> {
    let Proposed {
        expansion,
        proposal,
        proposed_at,
        propose_seconds,
    } = proposed;
    let Executed {
        execution,
        status,
        slot,
    } = executed;
    run.emit(Event::Reviewing {
        worker: expansion.worker.0,
    });
    let validation_message = execution
        .submission
        .as_deref()
        .and_then(|path| run.check.check(path).err())
        .map(|rejected| rejected.reason);
    let review_request = ReviewRequest {
        node: NodeView {
            node: expansion.ticket.0 as u32,
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
        },
        reported_metric: execution.reported_metric,
        submission_exists: execution.submission.is_some(),
    };
    let review = tokio::select! {
        review = run.coder.review(&run.task, &review_request) => review,
        () = stopped(stop), if run.stop_reason().is_some_and(|reason| matches!(reason, StopReason::Interrupted)) => {
            run.abandon(expansion.ticket, &proposal.calls)?;
            return Ok(None);
        }
    };
    let (review_summary, review_verdict, review_metric, review_usage, review_calls) = match review {
        Ok(review) => {
            if let Some(message) = review.notice {
                run.emit(Event::Warning { message });
            }
            (
                review.summary,
                if review.is_bug {
                    ReviewVerdict::Bug
                } else {
                    ReviewVerdict::NoBug
                },
                review.metric,
                review.usage,
                review.calls,
            )
        }
        Err(CoderError::Failed { cause, calls }) => (
            format!("{REVIEW_FAILED}: {cause}"),
            ReviewVerdict::NoBug,
            None,
            TokenUsage::total(calls.iter().map(|call| &call.usage)),
            calls,
        ),
        Err(error @ CoderError::BudgetExhausted(_)) => (
            format!("{REVIEW_FAILED}: {error}"),
            ReviewVerdict::NoBug,
            None,
            TokenUsage::default(),
            Vec::new(),
        ),
    };
    run.spend(review_usage)?;

    let outcome = mlm_search::judge(Evidence {
        execution: status,
        submission: match (&execution.submission, &validation_message) {
            (None, _) => SubmissionState::Missing,
            (Some(_), Some(_)) => SubmissionState::Rejected,
            (Some(_), None) => SubmissionState::Accepted,
        },
        reported_metric: execution.reported_metric.map(|(value, _)| value),
        review_metric,
        review: review_verdict,
        direction: run.task.direction(),
    });
    // MLE-STAR's leakage check: the reason stays on the node for the dashboard, the report and memory.
    let review_summary = match outcome.valid_metric().and_then(|metric| metric.suspicion()) {
        Some(reason) => format!("{review_summary} {reason}"),
        None => review_summary,
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
    Ok(Some(Judged {
        expansion,
        plan: proposal.plan,
        code: proposal.code,
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
    }))
}
