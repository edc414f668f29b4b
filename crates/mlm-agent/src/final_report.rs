//! The report written when a run ends: the selected node (best by validation metric) graded against the
//! private answers, and, for analysis only, every valid node's test score and the node that was best on
//! test, so users see the gap between validation and test. Test scores never influence selection.

use serde::Serialize;

use mlm_engine::{RunLayout, RunSummary, StopReason};
use mlm_grade::{CompetitionReport, Grader};
use mlm_journal::Journal;
use mlm_search::{Direction, Metric, NodeId};

use crate::error::{Error, Result};

/// `<run>/report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FinalReport {
    pub stop_reason: StopReason,
    pub nodes: u32,
    pub elapsed_seconds: f64,
    pub prompt_tokens: u64,
    /// The part of `prompt_tokens` read from the providers' prompt caches.
    pub cached_prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    /// The node whose submission is handed back: the best valid node by validation metric.
    pub selected: Option<NodeId>,
    pub validation_metric: Option<f64>,
    /// MLE-bench's report for the selected submission (`best/submission.csv`).
    pub grading: Option<CompetitionReport>,
    /// Analysis only: the valid node with the best test score, and that score.
    pub best_on_test: Option<TestScore>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct TestScore {
    pub node: NodeId,
    pub score: f64,
}

/// Grades the selected submission and every valid node's, records test scores through the run's own
/// journal (and in `best/node.json`), and writes `report.json`.
pub fn write_final_report(
    layout: &RunLayout,
    grader: &Grader,
    summary: &RunSummary,
    journal: &Journal,
) -> Result<FinalReport> {
    let direction = Direction::from_lower_is_better(grader.metric.lower_is_better());
    let mut best_on_test: Option<TestScore> = None;
    for mut node in journal.nodes()? {
        let (true, Some(submission)) = (node.outcome.is_valid(), &node.submission_path) else {
            continue;
        };
        let score = grader.grade_file(&layout.root.join(submission)).score;
        journal.set_test_score(node.id, score)?;
        if summary.best_node == Some(node.id) {
            node.test_score = score;
            mlm_journal::export_best(&layout.root, &node)?;
        }
        if let Some(score) = score {
            let better = best_on_test.is_none_or(|best| {
                Metric::new(score, direction).is_better_than(&Metric::new(best.score, direction))
            });
            if better {
                best_on_test = Some(TestScore {
                    node: node.id,
                    score,
                });
            }
        }
    }
    let best_submission = layout.best_dir().join("submission.csv");
    let grading = summary
        .best_node
        .map(|_| grader.grade_file(&best_submission));
    let report = FinalReport {
        stop_reason: summary.reason,
        nodes: summary.nodes,
        elapsed_seconds: summary.elapsed.as_secs_f64(),
        prompt_tokens: summary.prompt_tokens,
        cached_prompt_tokens: summary.cached_prompt_tokens,
        completion_tokens: summary.completion_tokens,
        cost_usd: summary.cost_usd,
        selected: summary.best_node,
        validation_metric: summary.best_metric,
        grading,
        best_on_test,
    };
    let text = serde_json::to_string_pretty(&report).map_err(|error| {
        Error::Failed(format!("cannot write the final report as JSON: {error}"))
    })?;
    std::fs::write(layout.report(), text).map_err(Error::io(layout.report(), "cannot write"))?;
    Ok(report)
}
