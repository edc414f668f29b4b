//! The best-solution export `<run>/best/`.

use std::path::Path;

use mlm_journal::{export_best, NodeEntry};
use mlm_test_support::journal_rows::{node_entry, valid};

fn entry(id: u32, code: &str, submission_path: Option<&str>) -> NodeEntry {
    NodeEntry {
        code: code.into(),
        submission_path: submission_path.map(String::from),
        ..node_entry(id, None, valid(0.8))
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_export_holds_the_nodes_solution_submission_and_entry() {
    let run = tempfile::tempdir().unwrap();
    write(
        &run.path().join("nodes/3/submission/submission.csv"),
        "id,y\n1,0\n",
    );
    let node = entry(
        3,
        "print('best')",
        Some("nodes/3/submission/submission.csv"),
    );
    export_best(run.path(), &node).unwrap();

    let best = run.path().join("best");
    assert_eq!(
        std::fs::read_to_string(best.join("solution.py")).unwrap(),
        "print('best')"
    );
    assert_eq!(
        std::fs::read_to_string(best.join("submission.csv")).unwrap(),
        "id,y\n1,0\n"
    );
    let exported: NodeEntry =
        serde_json::from_str(&std::fs::read_to_string(best.join("node.json")).unwrap()).unwrap();
    assert_eq!(exported, node);
    assert!(!run.path().join("best.partial").exists());
}

#[test]
fn a_new_best_replaces_every_file_of_the_old_one() {
    let run = tempfile::tempdir().unwrap();
    write(&run.path().join("nodes/0/submission.csv"), "id,y\n1,0\n");
    export_best(
        run.path(),
        &entry(0, "print(0)", Some("nodes/0/submission.csv")),
    )
    .unwrap();
    // A leftover staging directory from a session killed mid-export is cleared, not merged.
    write(&run.path().join("best.partial/stale.txt"), "stale");

    export_best(run.path(), &entry(1, "print(1)", None)).unwrap();
    let best = run.path().join("best");
    assert_eq!(
        std::fs::read_to_string(best.join("solution.py")).unwrap(),
        "print(1)"
    );
    assert!(
        !best.join("submission.csv").exists(),
        "the old node's submission was left behind"
    );
    assert!(!best.join("stale.txt").exists());
}

#[test]
fn a_missing_submission_file_is_an_error_naming_it() {
    let run = tempfile::tempdir().unwrap();
    let error = export_best(
        run.path(),
        &entry(2, "print(2)", Some("nodes/2/submission.csv")),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("nodes/2/submission.csv") && message.contains("hint:"),
        "{message}"
    );
}
