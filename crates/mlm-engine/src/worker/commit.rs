//! Commit: a judged expansion becomes node `n` of the tree, its attempt directory becomes `nodes/<n>`,
//! the journal gets the node with the search records its completion produced, and `best/` follows a new
//! best node; then its model calls are journaled and the front ends told.

use chrono::Utc;
use mlm_journal::NodeEntry;
use mlm_search::{BestChange, NodeId, NodeResult};

use super::judge::Judged;
use crate::context::RunContext;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::layout::{OOF_FILE, TEST_PREDICTIONS_FILE};

pub(super) fn commit(run: &RunContext, judged: Judged) -> Result<()> {
    let Judged {
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
    } = judged;
    let attempt_dir = run.layout.attempt_dir(expansion.ticket);
    let (entry, best_change) = {
        // One section from the search's completion to the journal's node: records reach the journal in
        // the order the search produced them, whichever worker finishes first, and two workers
        // improving the best at once do not interleave their exports.
        let mut state = run.state()?;
        let node_id = NodeId(state.search.tree().len() as u32);
        let node_dir = run.layout.node_dir(node_id);
        let completion = state.search.complete(
            expansion.ticket,
            NodeResult {
                plan: plan.clone(),
                code_ref: run.layout.relative(&node_dir),
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
            run.layout
                .relative(&node_dir.join(path.strip_prefix(&attempt_dir).unwrap_or(path)))
        });
        let entry = NodeEntry {
            id: completion.node,
            parent: expansion.parent,
            stage: expansion.stage,
            operator: run.coder.name(),
            plan,
            code,
            output,
            execution_status: status,
            exit_code: execution.exit_code,
            outcome,
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
            cached_prompt_tokens: usage.cached_prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cost_usd: usage.cost_usd,
            test_score: None,
            oof_path: run.layout.written_file(&node_dir, OOF_FILE),
            test_predictions_path: run.layout.written_file(&node_dir, TEST_PREDICTIONS_FILE),
        };
        let records = state.search.take_records();
        state.journal.record_node(&entry, &records)?;
        state
            .journal
            .set_elapsed_seconds(run.elapsed().as_secs_f64())?;
        match completion.best_change {
            BestChange::Unchanged => {}
            BestChange::First | BestChange::Improved => {
                mlm_journal::export_best(&run.layout.root, &entry)?;
            }
        }
        // The node moves from the proposals in flight to the remembered nodes in one step, as a worker
        // building its memory sees it.
        state.entries.insert(entry.id, entry.clone());
        state.proposals.remove(&expansion.ticket);
        state.record_calls(Some(entry.id), &calls);
        state.counters.steps_in_flight = state.counters.steps_in_flight.saturating_sub(1);
        state
            .counters
            .completed(entry.propose_seconds, entry.execute_seconds);
        (entry, completion.best_change)
    };
    run.emit(Event::NodeFinished {
        node: entry.id,
        parent: entry.parent,
        stage: entry.stage,
        worker: entry.worker,
        execution_status: entry.execution_status,
        outcome: entry.outcome,
        summary: entry.review_summary.clone(),
        execute_seconds: entry.execute_seconds,
        prompt_tokens: entry.prompt_tokens,
        completion_tokens: entry.completion_tokens,
        cost_usd: entry.cost_usd,
    });
    match best_change {
        BestChange::Unchanged => {}
        BestChange::First | BestChange::Improved => {
            if let Some(metric) = entry.outcome.valid_metric() {
                run.emit(Event::BestImproved {
                    node: entry.id,
                    metric: metric.value,
                });
            }
        }
    }
    run.notify_change();
    Ok(())
}
