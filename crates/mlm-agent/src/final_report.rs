//! The report written when a run ends: the selected submission (final selection's node, else the best
//! node's by validation metric; the ensemble's when its out-of-fold score beats that node's validation
//! score) graded against the private answers, how final selection chose, and, for analysis only, every
//! valid node's test score and the node that was best on test, so users see the gap between validation
//! and test. Test scores never influence selection.

use serde::Serialize;

use mlm_engine::{RunLayout, RunSummary, StopReason};
use mlm_grade::{CompetitionReport, Grader};
use mlm_journal::Journal;
use mlm_search::{Direction, Metric, NodeId};

use crate::ensemble::Ensemble;
use crate::error::{Error, Result};
use crate::final_selection::SelectionReport;

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
    /// Final selection's node, else the best valid node by validation metric; its submission is handed
    /// back unless the ensemble is selected.
    pub selected: Option<NodeId>,
    /// The selected submission's validation score on the run's folds (the ensemble's out-of-fold score
    /// when it is selected).
    pub validation_metric: Option<f64>,
    /// How final selection chose the node, when it ran.
    pub selection: Option<SelectionReport>,
    /// The run's ensemble, when one was built.
    pub ensemble: Option<EnsembleReport>,
    /// MLE-bench's report for the selected submission (`best/submission.csv`).
    pub grading: Option<CompetitionReport>,
    /// Analysis only: the valid node with the best test score, and that score.
    pub best_on_test: Option<TestScore>,
}

/// The ensemble in the report.
#[derive(Debug, Clone, Serialize)]
pub struct EnsembleReport {
    #[serde(flatten)]
    pub ensemble: Ensemble,
    /// Analysis only: its submission's test score.
    pub test_score: Option<f64>,
    /// Whether its submission is the one handed back (`best/submission.csv`): its out-of-fold score beat
    /// the selected node's validation score.
    pub selected: bool,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct TestScore {
    pub node: NodeId,
    pub score: f64,
}

/// Grades the selected submission and every valid node's, records test scores through the run's own
/// journal (and in `best/node.json`), and writes `report.json`. The selected node is `selection`'s,
/// else the engine's best; its files become `best/`. An `ensemble` that beats the selected node's
/// validation score replaces `best/submission.csv` and is described in `best/ensemble.json`.
pub fn write_final_report(
    layout: &RunLayout,
    grader: &Grader,
    summary: &RunSummary,
    journal: &Journal,
    ensemble: Option<Ensemble>,
    selection: Option<SelectionReport>,
) -> Result<FinalReport> {
    let direction = Direction::from_lower_is_better(grader.metric.lower_is_better());
    let selected = selection
        .as_ref()
        .map(|selection| selection.selected)
        .or(summary.best_node);
    let mut selected_metric = None;
    let mut best_on_test: Option<TestScore> = None;
    for mut node in journal.nodes()? {
        let (true, Some(submission)) = (node.outcome.is_valid(), &node.submission_path) else {
            continue;
        };
        let score = grader.grade_file(&layout.root.join(submission)).score;
        journal.set_test_score(node.id, score)?;
        if selected == Some(node.id) {
            node.test_score = score;
            selected_metric = node.outcome.valid_metric().map(|metric| metric.value);
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
    let ensemble = match ensemble {
        Some(ensemble) => Some(select_ensemble(
            layout,
            grader,
            selected_metric,
            journal,
            ensemble,
        )?),
        None => None,
    };
    let ensemble_selected = ensemble.as_ref().is_some_and(|ensemble| ensemble.selected);
    let validation_metric = match &ensemble {
        Some(ensemble) if ensemble.selected => Some(ensemble.ensemble.validation_metric),
        Some(_) | None => selected_metric,
    };
    let grading =
        (selected.is_some() || ensemble_selected).then(|| grader.grade_file(&best_submission));
    let report = FinalReport {
        stop_reason: summary.reason,
        nodes: summary.nodes,
        elapsed_seconds: summary.elapsed.as_secs_f64(),
        prompt_tokens: summary.prompt_tokens,
        cached_prompt_tokens: summary.cached_prompt_tokens,
        completion_tokens: summary.completion_tokens,
        cost_usd: summary.cost_usd,
        selected,
        validation_metric,
        selection,
        ensemble,
        grading,
        best_on_test,
    };
    let text = serde_json::to_string_pretty(&report).map_err(|error| {
        Error::Failed(format!("cannot write the final report as JSON: {error}"))
    })?;
    std::fs::write(layout.report(), text).map_err(Error::io(layout.report(), "cannot write"))?;
    Ok(report)
}

/// Grades the ensemble's submission and, when its out-of-fold score beats the selected node's validation
/// score (`selected_metric`, on the same folds), makes it the run's: `best/submission.csv` and
/// `best/ensemble.json`.
fn select_ensemble(
    layout: &RunLayout,
    grader: &Grader,
    selected_metric: Option<f64>,
    journal: &Journal,
    ensemble: Ensemble,
) -> Result<EnsembleReport> {
    let direction = Direction::from_lower_is_better(grader.metric.lower_is_better());
    let test_score = grader.grade_file(&ensemble.submission).score;
    journal.set_ensemble_test_score(ensemble.id, test_score)?;
    let blended = Metric::new(ensemble.validation_metric, direction);
    let selected = selected_metric
        .is_none_or(|selected| blended.is_better_than(&Metric::new(selected, direction)));
    let report = EnsembleReport {
        ensemble,
        test_score,
        selected,
    };
    if selected {
        let best = layout.best_dir();
        std::fs::create_dir_all(&best).map_err(Error::io(&best, "cannot create"))?;
        let submission = best.join("submission.csv");
        std::fs::copy(&report.ensemble.submission, &submission).map_err(Error::io(
            &submission,
            "cannot copy the ensemble's submission",
        ))?;
        let description = best.join("ensemble.json");
        std::fs::write(&description, serde_json::to_string_pretty(&report)?)
            .map_err(Error::io(&description, "cannot write"))?;
    }
    Ok(report)
}
