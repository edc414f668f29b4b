//! The assembly's errors. Each says whether the user's input was wrong or the job failed, which is all
//! the binary needs to choose an exit code; the messages carry the path, the value and a hint.

use std::path::PathBuf;

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input or configuration is wrong (a bad task directory, an unknown key): exit code 2.
    BadInput,
    /// The job ran and did not succeed (a failed install, a broken recipe): exit code 1.
    JobFailed,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration, suite or argument problem, already worded with its hint.
    #[error("{0}")]
    Invalid(String),
    /// A job that ran and failed, already worded with its hint.
    #[error("{0}")]
    Failed(String),
    #[error("{}: {what}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    /// Writing our own JSON (results, reports) failed.
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Task(#[from] mlm_task::Error),
    #[error(transparent)]
    Grade(#[from] mlm_grade::Error),
    /// The interpreter or environment the user named cannot be used.
    #[error(transparent)]
    Python(mlm_exec::Error),
    /// Installing, running or sandboxing failed.
    #[error(transparent)]
    Exec(#[from] mlm_exec::Error),
    /// A run directory's journal cannot be used as the user asked (resume of a damaged run).
    #[error(transparent)]
    RunDirectory(mlm_journal::Error),
    #[error(transparent)]
    Journal(#[from] mlm_journal::Error),
    #[error(transparent)]
    Engine(#[from] mlm_engine::Error),
    /// A configured model cannot be used: the start-up check failed.
    #[error("[{section}] cannot use the model `{model}` at {base_url}: {error}")]
    Model {
        section: &'static str,
        model: String,
        base_url: String,
        error: Box<mlm_llm::Error>,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_)
            | Error::Task(_)
            | Error::Grade(_)
            | Error::Python(_)
            | Error::RunDirectory(_)
            | Error::Model { .. }
            // Another process owns the run directory: the user asked for something that cannot be.
            | Error::Journal(mlm_journal::Error::Locked { .. })
            // The machine lacks a sandbox tier the configuration requires.
            | Error::Exec(mlm_exec::Error::TierRequired { .. }) => ErrorKind::BadInput,
            Error::Failed(_)
            | Error::Io { .. }
            | Error::Json(_)
            | Error::Exec(_)
            | Error::Journal(_)
            | Error::Engine(_) => ErrorKind::JobFailed,
        }
    }

    /// An I/O error with the path it happened at and what was being done.
    pub fn io(
        path: impl Into<PathBuf>,
        what: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, what, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
