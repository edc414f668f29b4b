//! The best-solution export: `<run>/best/` holds the best node's `solution.py`, its `submission.csv` and
//! its journal entry as `node.json`, so a user finds the result without reading the journal. It is built
//! in a staging directory and moved into place, so `best/` never mixes two nodes' files.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::records::NodeEntry;

/// Replaces `<run_root>/best/` with `entry`'s solution, submission and entry. The submission is copied
/// from `entry.submission_path`, relative to `run_root`.
pub fn export_best(run_root: &Path, entry: &NodeEntry) -> Result<()> {
    let export = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Export { path, source }
    };
    let best = run_root.join("best");
    let staging = run_root.join("best.partial");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(export(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(export(&staging))?;
    std::fs::write(staging.join("solution.py"), &entry.code).map_err(export(&staging))?;
    if let Some(submission) = &entry.submission_path {
        let source = run_root.join(submission);
        std::fs::copy(&source, staging.join("submission.csv")).map_err(export(&source))?;
    }
    let node_json: PathBuf = staging.join("node.json");
    let summary = serde_json::to_string_pretty(entry).map_err(|error| Error::Export {
        path: node_json.clone(),
        source: std::io::Error::other(error),
    })?;
    std::fs::write(&node_json, summary).map_err(export(&node_json))?;
    if best.exists() {
        std::fs::remove_dir_all(&best).map_err(export(&best))?;
    }
    std::fs::rename(&staging, &best).map_err(export(&best))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use mlm_search::{NodeId, Stage};

    use super::*;

    fn entry(id: u32, code: &str, submission_path: Option<&str>) -> NodeEntry {
        NodeEntry {
            id: NodeId(id),
            parent: None,
            stage: Stage::Draft,
            operator: "builtin".into(),
            plan: format!("plan {id}"),
            code: code.into(),
            output: String::new(),
            execution_status: "ok".into(),
            exit_code: Some(0),
            metric: Some(0.8),
            lower_is_better: Some(false),
            buggy: false,
            valid: true,
            validation_message: None,
            review_summary: "fine".into(),
            submission_path: submission_path.map(String::from),
            worker: 0,
            slot: Some(0),
            proposed_at: Utc::now(),
            finished_at: Utc::now(),
            propose_seconds: 0.1,
            execute_seconds: 1.5,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            test_score: None,
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
            serde_json::from_str(&std::fs::read_to_string(best.join("node.json")).unwrap())
                .unwrap();
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
}
