//! `ml-master run` and `resume` with the built-in coder on a bundled task: the tree on the journal, the
//! run directory, and a resume after `kill -9`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use mlm_agent::config::ConfigLayer;
use mlm_journal::Journal;
use mlm_search::Search;
use mlm_test_support::tree_invariants::{check_journal_tree, check_tree_invariants};

use crate::support::{ml_master, path, prepared_task};

fn assert_tree_follows_the_rules(run_dir: &Path, steps: usize) {
    let journal = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
    let nodes = journal.nodes().unwrap();
    assert_eq!(nodes.len(), steps);
    check_journal_tree(run_dir, &nodes);
    // The tree the journal rebuilds obeys every invariant the search's own property tests check.
    let layer: ConfigLayer = toml::from_str(&journal.run().unwrap().config_toml).unwrap();
    let settings = layer.resolve(1, None).unwrap().settings;
    let search = Search::restore(
        settings.search,
        settings.seed,
        journal.search_records().unwrap(),
    )
    .unwrap();
    check_tree_invariants(&search);
}

#[test]
fn a_run_with_the_builtin_coder_ends_with_a_graded_best_submission() {
    let scratch = tempfile::tempdir().unwrap();
    let run_dir = scratch.path().join("run");
    let task = prepared_task("titanic");
    let output = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args([
            "run",
            "--task",
            path(&task),
            "--steps",
            "6",
            "--time-limit",
            "600",
            "--run-dir",
            path(&run_dir),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("with the builtin coder"),
        "the run says which coder it uses: {stderr}"
    );
    assert_tree_follows_the_rules(&run_dir, 6);

    let journal = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
    let nodes = journal.nodes().unwrap();
    let draft_families: Vec<String> = nodes
        .iter()
        .filter(|node| node.parent.is_none())
        .map(|node| node.plan.split(':').next().unwrap_or("").to_string())
        .collect();
    let mut distinct = draft_families.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        draft_families.len(),
        "drafts repeat a family: {draft_families:?}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["grading"]["valid_submission"], true, "{report}");
    assert!(
        report["grading"]["score"].as_f64().unwrap() > 0.6578,
        "beats the majority-class baseline: {report}"
    );
    let selected = report["selected"].as_u64().unwrap() as usize;
    assert!(nodes[selected].outcome.is_valid());
    assert!(
        nodes
            .iter()
            .filter(|node| node.outcome.is_valid())
            .all(|node| node.test_score.is_some()),
        "every valid node has a test score for analysis"
    );
    for file in [
        "best/solution.py",
        "best/submission.csv",
        "best/node.json",
        "config.toml",
    ] {
        assert!(run_dir.join(file).is_file(), "{file} is missing");
    }
    // The exported entry carries the test score the final grading gave the selected node.
    let best: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("best/node.json")).unwrap())
            .unwrap();
    assert_eq!(best["id"], selected, "{best}");
    assert_eq!(
        best["test_score"].as_f64(),
        nodes[selected].test_score,
        "{best}"
    );
    assert!(best["test_score"].as_f64().is_some(), "{best}");
}

#[test]
fn a_run_killed_with_sigkill_resumes_with_every_node_once() {
    let scratch = tempfile::tempdir().unwrap();
    let run_dir = scratch.path().join("run");
    let task = prepared_task("titanic");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ml-master"))
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args([
            "run",
            "--json",
            "--task",
            path(&task),
            "--steps",
            "7",
            "--time-limit",
            "600",
            "--run-dir",
            path(&run_dir),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut finished = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("\"event\":\"node_finished\"") {
            finished += 1;
            if finished == 3 {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
    let nodes_before = before.nodes().unwrap();
    let elapsed_before = before.run().unwrap().elapsed_seconds;
    assert!(
        nodes_before.len() >= 3 && nodes_before.len() < 7,
        "{} nodes before the kill",
        nodes_before.len()
    );
    drop(before);

    let output = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args(["resume", path(&run_dir)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_tree_follows_the_rules(&run_dir, 7);
    let after = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
    let nodes_after = after.nodes().unwrap();
    for (old, new) in nodes_before.iter().zip(&nodes_after) {
        assert_eq!(
            (old.id, &old.plan, &old.code),
            (new.id, &new.plan, &new.code),
            "a node of the killed run changed"
        );
    }
    assert!(
        after.run().unwrap().elapsed_seconds >= elapsed_before,
        "the time budget continues"
    );
    assert!(
        !run_dir.join("work").exists()
            || std::fs::read_dir(run_dir.join("work"))
                .unwrap()
                .next()
                .is_none()
    );
}

/// Starts `ml-master ARGUMENTS --json` and waits for its first line on stdout, which it prints once it
/// holds the run's journal.
fn started_with_the_journal_open(arguments: &[&str]) -> std::process::Child {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ml-master"))
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args(arguments)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert!(!first_line.is_empty(), "it printed nothing");
    child
}

#[test]
fn a_second_resume_of_a_run_being_resumed_exits_2_naming_the_holder() {
    let scratch = tempfile::tempdir().unwrap();
    let run_dir = scratch.path().join("run");
    let task = prepared_task("titanic");
    let mut first_session = started_with_the_journal_open(&[
        "run",
        "--task",
        path(&task),
        "--steps",
        "50",
        "--time-limit",
        "600",
        "--run-dir",
        path(&run_dir),
    ]);
    first_session.kill().unwrap();
    first_session.wait().unwrap();

    let mut resuming = started_with_the_journal_open(&["resume", path(&run_dir)]);
    let second = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args(["resume", path(&run_dir)])
        .output()
        .unwrap();
    resuming.kill().unwrap();
    resuming.wait().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("PID {}", resuming.id()))
            && stderr.contains(path(&run_dir))
            && stderr.contains("hint:"),
        "{stderr}"
    );
}

/// `resume --steps N --time-limit SECS` gives a finished run N more nodes and SECS more seconds, on the
/// same tree, and the journal keeps the new budget for later resumes.
#[test]
fn resume_extends_a_finished_run_with_more_steps_and_time() {
    let scratch = tempfile::tempdir().unwrap();
    let run_dir = scratch.path().join("run");
    let task = prepared_task("titanic");
    let ml_master_run = |arguments: &[&str]| {
        let output = ml_master()
            .env("ML_MASTER_PYTHON", mlm_test_support::python())
            .args(arguments)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(0), "{arguments:?}: {stderr}");
        stderr
    };
    ml_master_run(&[
        "run",
        "--task",
        path(&task),
        "--steps",
        "2",
        "--slots",
        "1",
        "--workers",
        "1",
        "--time-limit",
        "600",
        "--run-dir",
        path(&run_dir),
    ]);
    let recorded = |run_dir: &Path| {
        let journal = Journal::open(&run_dir.join("journal.sqlite")).unwrap();
        let layer: ConfigLayer = toml::from_str(&journal.run().unwrap().config_toml).unwrap();
        (
            journal.node_count().unwrap(),
            layer.run.steps,
            layer.run.time_limit_seconds,
            journal.run().unwrap().elapsed_seconds,
        )
    };
    let (nodes, _, _, spent) = recorded(&run_dir);
    assert_eq!(nodes, 2);
    let stderr = ml_master_run(&[
        "resume",
        path(&run_dir),
        "--steps",
        "2",
        "--time-limit",
        "900",
    ]);
    assert!(stderr.contains("2 of 4 nodes so far"), "{stderr}");
    let (nodes, steps, time_limit, _) = recorded(&run_dir);
    assert_eq!((nodes, steps), (4, Some(4)), "{stderr}");
    assert_eq!(time_limit, Some(spent.ceil() as u64 + 900));
    assert_tree_follows_the_rules(&run_dir, 4);
    // A plain resume of the extended run keeps its budget: nothing is left to do.
    ml_master_run(&["resume", path(&run_dir)]);
    assert_eq!(recorded(&run_dir).0, 4);
}
