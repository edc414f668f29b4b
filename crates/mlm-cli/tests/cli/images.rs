//! Image tasks with the deep profile: on the image-files recipe the built-in coder drafts a
//! convolutional network first, and that network is the run's best node, ahead of every table model
//! that reads the same images as pixel columns. It trains on the CPU here, with few epochs.

use mlm_journal::Journal;

use crate::support::{deep_python, ml_master, oof_rows, path, prepared_task};

#[test]
#[cfg_attr(
    missing_torch,
    ignore = "no torch when the tests were built: run `cargo run -- env setup --profile deep`"
)]
fn on_image_files_the_best_node_is_a_convolutional_network_that_beats_the_table_models() {
    let scratch = tempfile::tempdir().unwrap();
    let run_dir = scratch.path().join("run");
    let task = prepared_task("digit-images");
    let output = ml_master()
        .env("ML_MASTER_PYTHON", deep_python())
        .args([
            "run",
            "--task",
            path(&task),
            "--steps",
            "4",
            "--time-limit",
            "1200",
            "--run-dir",
            path(&run_dir),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("; PyTorch installed"), "{stderr}");

    let journal = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
    let nodes = journal.nodes().unwrap();
    let is_network = |plan: &str| plan.starts_with("Convolutional network");
    let network = nodes
        .iter()
        .find(|node| is_network(&node.plan))
        .expect("a convolutional network was drafted");
    assert!(network.outcome.is_valid(), "{}", network.output);
    assert!(network.output.contains("device: cpu"), "{}", network.output);
    assert!(
        network.output.contains("epoch 1: hold-out accuracy"),
        "{}",
        network.output
    );
    // The network validates on the run's folds, as every script does, and keeps its predictions.
    let held_out: std::collections::BTreeSet<u64> =
        std::fs::read_to_string(run_dir.join("folds.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(','))
            .filter(|(_, fold)| fold.parse::<u32>().unwrap() < 2)
            .map(|(row, _)| row.parse().unwrap())
            .collect();
    let network_rows = oof_rows(&run_dir, network.oof_path.as_deref().expect("oof.csv"));
    assert_eq!(network_rows, held_out, "the network's hold-out rows");
    assert!(network.test_predictions_path.is_some(), "test_pred.csv");
    let best_table = nodes
        .iter()
        .filter(|node| !is_network(&node.plan) && node.outcome.is_valid())
        .filter_map(|node| node.test_score)
        .fold(f64::NAN, f64::max);
    assert!(best_table.is_finite(), "no table model ran validly");
    let network_score = network.test_score.unwrap();
    assert!(
        network_score > best_table,
        "the network's test accuracy {network_score} does not beat the table models' {best_table}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    let selected = report["selected"].as_u64().unwrap() as usize;
    assert!(
        is_network(&nodes[selected].plan),
        "the run selected node {selected}: {}",
        nodes[selected].plan
    );
}
