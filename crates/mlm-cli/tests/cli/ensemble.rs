//! A run with the built-in coder on `churn` shares one set of folds among its scripts, keeps every
//! node's predictions, and ends with an ensemble of them; `[search] ensemble = false` ends without one
//! (and, with `reselect_candidates = 0`, without final selection).

use std::path::Path;

use mlm_journal::Journal;

use crate::support::{ml_master, oof_rows, path, prepared_task};

fn run_churn(run_dir: &Path, config: Option<&Path>) {
    let task = prepared_task("churn");
    let mut command = ml_master();
    command
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args([
            "run",
            "--task",
            path(&task),
            "--steps",
            "5",
            "--time-limit",
            "900",
            "--run-dir",
            path(run_dir),
        ]);
    if let Some(config) = config {
        command.args(["--config", path(config)]);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_run_blends_its_nodes_predictions_into_a_graded_ensemble() {
    let scratch = tempfile::tempdir().unwrap();
    let run_dir = scratch.path().join("run");
    run_churn(&run_dir, None);

    let folds = std::fs::read_to_string(run_dir.join("folds.csv")).unwrap();
    assert!(folds.starts_with("row,fold\n"), "{folds}");
    let journal = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
    let valid: Vec<_> = journal
        .nodes()
        .unwrap()
        .into_iter()
        .filter(|node| node.outcome.is_valid())
        .collect();
    assert!(valid.len() >= 3, "{} valid nodes", valid.len());
    // Every script validated on the run's folds: the same rows, whatever its family.
    let first_rows = oof_rows(&run_dir, valid[0].oof_path.as_deref().unwrap());
    for node in &valid {
        let oof_path = node
            .oof_path
            .as_deref()
            .expect("every valid node keeps its predictions");
        assert!(node.test_predictions_path.is_some());
        assert_eq!(oof_rows(&run_dir, oof_path), first_rows, "node {}", node.id);
    }

    let ensembles = journal.ensembles().unwrap();
    assert_eq!(ensembles.len(), 1, "{ensembles:?}");
    let ensemble = &ensembles[0];
    assert!(ensemble.members.len() >= 2, "{ensemble:?}");
    let total: f64 = ensemble.members.iter().map(|member| member.weight).sum();
    assert!((total - 1.0).abs() < 1e-9, "{ensemble:?}");
    let best_single = valid
        .iter()
        .filter_map(|node| node.outcome.valid_metric())
        .map(|metric| metric.value)
        .fold(f64::MIN, f64::max);
    assert!(
        ensemble.metric.value >= best_single,
        "the blend starts from the best node and only improves on it: {} < {best_single}",
        ensemble.metric.value
    );
    assert_eq!(ensemble.validation_message, None, "{ensemble:?}");
    assert!(ensemble.test_score.is_some(), "{ensemble:?}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["ensemble"]["id"], ensemble.id, "{report}");
    assert_eq!(
        report["ensemble"]["members"].as_array().unwrap().len(),
        ensemble.members.len(),
        "{report}"
    );
    assert_eq!(report["grading"]["valid_submission"], true, "{report}");
    if report["ensemble"]["selected"] == true {
        assert!(run_dir.join("best/ensemble.json").is_file());
        assert_eq!(
            std::fs::read(run_dir.join("best/submission.csv")).unwrap(),
            std::fs::read(run_dir.join("ensemble/submission.csv")).unwrap()
        );
    }
}

#[test]
fn a_run_configured_without_the_ensemble_ends_without_one() {
    let scratch = tempfile::tempdir().unwrap();
    let run_dir = scratch.path().join("run");
    let config = scratch.path().join("ml-master.toml");
    std::fs::write(
        &config,
        "[search]\nensemble = false\nreselect_candidates = 0\n",
    )
    .unwrap();
    run_churn(&run_dir, Some(&config));
    let journal = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
    assert!(journal.ensembles().unwrap().is_empty());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    assert!(report["ensemble"].is_null(), "{report}");
    assert!(report["selection"].is_null(), "{report}");
    assert!(!run_dir.join("selection").exists());
    assert!(journal.reevaluations().unwrap().is_empty());
    assert!(!run_dir.join("ensemble").exists());
}
