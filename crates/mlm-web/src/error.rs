//! Errors of the dashboard and the report, each naming the path or address at fault.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The journal is missing, unreadable or of another schema version.
    #[error(transparent)]
    Journal(#[from] mlm_journal::Error),
    #[error("{path}: cannot read: {source}\nhint: check the run directory's permissions")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write the report: {source}\nhint: choose another file with --out")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot serve the dashboard on {address}: {source}\nhint: pick another port with --port"
    )]
    Serve {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the run's data cannot be encoded as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    /// A journal read on the blocking pool panicked or was cancelled (transient: the next poll retries).
    #[error("a journal read did not complete: {0}")]
    Background(String),
}
