//! The run directory, as DESIGN.md fixes it: `journal.sqlite`, `config.toml`, `nodes/<id>/`, `best/`,
//! `report.json`, plus `work/` where scripts run before the search numbers them.

use std::path::{Path, PathBuf};

use mlm_search::{ExpansionId, NodeId};

/// Where a script leaves its out-of-fold predictions, relative to its node directory.
pub const OOF_FILE: &str = "oof.csv";
/// Where a script leaves its test predictions, relative to its node directory.
pub const TEST_PREDICTIONS_FILE: &str = "test_pred.csv";

/// Paths inside one run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLayout {
    pub root: PathBuf,
}

impl RunLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunLayout { root: root.into() }
    }

    pub fn journal(&self) -> PathBuf {
        self.root.join("journal.sqlite")
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn report(&self) -> PathBuf {
        self.root.join("report.json")
    }

    pub fn best_dir(&self) -> PathBuf {
        self.root.join("best")
    }

    pub fn node_dir(&self, node: NodeId) -> PathBuf {
        self.root.join("nodes").join(node.0.to_string())
    }

    /// Where an expansion's script runs before its node has an id; renamed to `nodes/<id>` on completion.
    pub fn attempt_dir(&self, ticket: ExpansionId) -> PathBuf {
        self.work_dir().join(format!("attempt-{}", ticket.0))
    }

    /// Expansions in flight; whatever is left here after a crash was never counted and is discarded.
    pub fn work_dir(&self) -> PathBuf {
        self.root.join("work")
    }

    /// `name` inside `node_dir`, relative to the run directory, when the script left a regular file
    /// there (a link is not followed: it could point anywhere).
    pub fn written_file(&self, node_dir: &Path, name: &str) -> Option<String> {
        let path = node_dir.join(name);
        path.symlink_metadata()
            .is_ok_and(|metadata| metadata.is_file())
            .then(|| self.relative(&path))
    }

    /// `path` relative to the run directory, for the journal.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}
