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
