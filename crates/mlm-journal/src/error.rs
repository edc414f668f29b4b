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
    #[error("{path}: this journal was written by schema version {found}; this ml-master reads version {expected}")]
    SchemaVersion {
        path: PathBuf,
        found: i64,
        expected: i64,
    },
}
