//! Errors that end a run (as opposed to a node: a failed node is a result, not an error).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Journal(#[from] mlm_journal::Error),
    #[error(transparent)]
    Search(#[from] mlm_search::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The executor could not run a script at all (not: the script failed).
    #[error("the executor failed: {0}")]
    Executor(String),
    #[error("invalid run settings: {0}")]
    Settings(String),
}
