//! Final selection at the end of a built-in-coder run on `titanic`: the best nodes' scripts are re-run on
//! fresh folds under `<run>/selection/`, journaled, and the node with the best mean is the run's, with
//! every score and the reason in `report.json` and the reason on stdout. A forecast's time-ordered folds
//! have no fresh draws, and the report says so.

use std::path::{Path, PathBuf};

use mlm_journal::{Journal, Reevaluated};

use crate::support::{ml_master, path, prepared_task};

/// A built-in run of `steps` nodes on the bundled task `name` with seed 5, re-evaluating two candidates on
/// two fresh draws each (no ensemble, which would only cost time here), in `scratch`: its run
/// directory, stdout and stderr, after checking it succeeded.
fn run_with_reselection(scratch: &Path, name: &str, steps: u32) -> (PathBuf, String, String) {
    let run_dir = scratch.join("run");
    let config = scratch.join("ml-master.toml");
    std::fs::write(
        &config,
        "[search]\nensemble = false\nreselect_candidates = 2\nreselect_evaluations = 2\n",
    )
    .unwrap();
    let task = prepared_task(name);
    let output = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args([
            "run",
            "--task",
            path(&task),
            "--steps",
            &steps.to_string(),
            "--time-limit",
            "600",
            "--seed",
            "5",
            "--config",
            path(&config),
            "--run-dir",
            path(&run_dir),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    (run_dir, stdout, stderr)
}

#[test]
fn a_run_reevaluates_its_best_nodes_on_fresh_folds_and_selects_the_best_mean() {
    let scratch = tempfile::tempdir().unwrap();
    let (run_dir, stdout, stderr) = run_with_reselection(scratch.path(), "titanic", 3);

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    let selection = &report["selection"];
    let candidates = selection["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2, "{report}");
    let run_folds = std::fs::read_to_string(run_dir.join("folds.csv")).unwrap();
    for candidate in candidates {
        let node = candidate["node"].as_u64().unwrap();
        let validation = candidate["validation_metric"].as_f64().unwrap();
        let reevaluations = candidate["reevaluations"].as_array().unwrap();
        let seeds: Vec<u64> = reevaluations
            .iter()
            .map(|reevaluation| reevaluation["seed"].as_u64().unwrap())
            .collect();
        assert_eq!(seeds, [6, 7], "the seeds after the run's: {candidate}");
        let mut sum = validation;
        for reevaluation in reevaluations {
            assert_eq!(reevaluation["result"], "scored", "{candidate}");
            sum += reevaluation["metric"]["value"].as_f64().unwrap();
            let rerun = run_dir
                .join("selection")
                .join(node.to_string())
                .join(reevaluation["seed"].as_u64().unwrap().to_string());
            assert!(rerun.join("metrics.json").is_file(), "{}", rerun.display());
        }
        let mean = candidate["mean"].as_f64().unwrap();
        assert!((mean - sum / 3.0).abs() < 1e-12, "{candidate}");
    }
    // Each draw is a fold assignment of its own, not the run's.
    for seed in [6, 7] {
        let fresh =
            std::fs::read_to_string(run_dir.join(format!("selection/folds-{seed}.csv"))).unwrap();
        assert_eq!(fresh.lines().count(), run_folds.lines().count());
        assert_ne!(fresh, run_folds, "seed {seed}");
    }

    let best_mean = candidates
        .iter()
        .map(|candidate| candidate["mean"].as_f64().unwrap())
        .fold(f64::MIN, f64::max);
    let selected = selection["selected"].as_u64().unwrap();
    let chosen = candidates
        .iter()
        .find(|candidate| candidate["node"] == selected)
        .unwrap();
    assert_eq!(chosen["mean"].as_f64().unwrap(), best_mean, "{report}");
    assert_eq!(report["selected"], selected, "{report}");
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("best/node.json")).unwrap())
            .unwrap();
    assert_eq!(best["id"], selected, "{best}");
    let reason = selection["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("node {selected}: best mean")),
        "{reason}"
    );
    assert!(
        stdout.contains(&format!("Final selection: {reason}\n")),
        "{stdout}"
    );

    // The re-runs are announced as they start, so the end of the run is not silent.
    let announced = stderr
        .lines()
        .filter(|line| {
            line.contains("final selection: node ")
                && line.contains("runs again on fresh folds (seed ")
        })
        .count();
    assert_eq!(announced, 4, "{stderr}");

    let journal = Journal::open_read_only(&run_dir.join("journal.sqlite")).unwrap();
    let reevaluations = journal.reevaluations().unwrap();
    assert_eq!(reevaluations.len(), 4, "{reevaluations:?}");
    assert!(reevaluations
        .iter()
        .all(|reevaluation| matches!(reevaluation.result, Reevaluated::Scored { .. })));
}

/// `bikeshare` is split by time: the run's folds are blocks of its days, the latest fold 0, the same for
/// every seed, so final selection re-runs nothing and says why.
#[test]
fn a_run_on_time_ordered_folds_keeps_its_best_node_and_says_why() {
    let scratch = tempfile::tempdir().unwrap();
    let (run_dir, stdout, _) = run_with_reselection(scratch.path(), "bikeshare", 2);

    // train.csv runs in time: its last tenth is fold 0, its first tenth fold 9.
    let folds: Vec<u32> = std::fs::read_to_string(run_dir.join("folds.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split_once(',').unwrap().1.parse().unwrap())
        .collect();
    let tenth = folds.len() / 10;
    assert!(folds[..tenth].iter().all(|fold| *fold == 9), "{folds:?}");
    assert!(folds[folds.len() - tenth..].iter().all(|fold| *fold == 0));

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    let reason = report["selection"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("blocks in the order of `day`")
            && reason.contains("no fresh folds to re-evaluate on"),
        "{report}"
    );
    assert!(
        stdout.contains(&format!("Final selection: {reason}\n")),
        "{stdout}"
    );
    assert!(!run_dir.join("selection").exists());
}
