//! Errors that stop grading from starting at all (a bad task, an unknown metric, an unreadable
//! leaderboard). An invalid *submission* is not an error: it is a verdict, see [`crate::InvalidSubmission`].

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Task(#[from] mlm_task::Error),
    #[error("{path}: unknown metric `{name}`\nhint: use one of: {known}")]
    UnknownMetric {
        path: PathBuf,
        name: String,
        known: String,
    },
    #[error("{path}: {problem}\nhint: {hint}")]
    InvalidInput {
        path: PathBuf,
        problem: String,
        hint: String,
    },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot serve the validator on {address}: {source}\nhint: pick another port with --port"
    )]
    Serve {
        address: String,
        #[source]
        source: std::io::Error,
    },
}
