//! The one error type of this crate: every variant names the file it is about and says what was expected.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {problem}\nhint: {hint}")]
    InvalidTask {
        path: PathBuf,
        problem: String,
        hint: String,
    },
    #[error("{path}: cannot read file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable CSV file: {source}\nhint: the file must be comma-separated with a header row")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
}

impl Error {
    pub(crate) fn invalid(
        path: impl Into<PathBuf>,
        problem: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Error::InvalidTask {
            path: path.into(),
            problem: problem.into(),
            hint: hint.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
