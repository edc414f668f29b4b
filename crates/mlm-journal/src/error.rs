//! Journal errors, each naming the journal file.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}\nhint: is another ml-master process using this run directory?")]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: the journal holds a value it cannot read back: {problem}")]
    Corrupt { path: PathBuf, problem: String },
    #[error("{path}: no run is recorded here\nhint: start a run with `ml-master run --task DIR --run-dir {path_parent}`")]
    NoRun { path: PathBuf, path_parent: String },
    /// Writing the best solution's export (`best/`) failed.
    #[error("{path}: cannot export the best solution: {source}\nhint: check that the run directory is writable and its disk has space")]
    Export {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{run_dir}: this run is in use by another ml-master process ({})\nhint: wait for that process to end, or stop it; one process at a time may run or resume a run", holder_text(*.holder))]
    Locked {
        run_dir: PathBuf,
        /// The holder's process id, as it wrote it into the lock file.
        holder: Option<u32>,
    },
    #[error(
        "{path}: cannot take the run's lock: {source}\nhint: the run directory must be writable"
    )]
    LockFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the journal is damaged: {problem}\nhint: restore the run directory from a backup, or start a new run in another directory; ml-master will not resume a damaged journal, since that would overwrite the run's nodes")]
    Damaged { path: PathBuf, problem: String },
    #[error("{path}: the journal records {journaled} nodes, but {nodes_dir} also holds the directories of nodes {}: the journal lost nodes (its write-ahead log journal.sqlite-wal was damaged or removed)\nhint: restore the run directory from a backup, or start a new run in another directory; resuming would overwrite those nodes", listed(.ahead))]
    LostNodes {
        path: PathBuf,
        journaled: u32,
        nodes_dir: PathBuf,
        /// Node directories past the journal's last node, in order.
        ahead: Vec<u32>,
    },
    #[error("{path}: this journal was written by schema version {found}; this ml-master reads version {expected}")]
    SchemaVersion {
        path: PathBuf,
        found: i64,
        expected: i64,
    },
}

fn holder_text(holder: Option<u32>) -> String {
    match holder {
        Some(pid) => format!("PID {pid}"),
        None => "its PID is not written yet".to_string(),
    }
}

fn listed(ids: &[u32]) -> String {
    ids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
