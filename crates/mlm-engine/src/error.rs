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
    /// A worker panicked while it held the run's state, which may now be half-changed.
    #[error("a worker panicked while changing the run's state; the run stops\nhint: this is a bug in ml-master; the journal holds every node completed before it, so `ml-master resume` continues the run")]
    StatePoisoned,
    #[error("a worker panicked: {0}\nhint: this is a bug in ml-master; `ml-master resume` continues the run from its journal")]
    WorkerPanicked(String),
    /// Cannot happen while the pool exists; answered as an error rather than a panic.
    #[error("the execution slot pool was closed while a worker waited for a slot")]
    SlotPoolClosed,
    /// Cannot happen once every worker has been joined; answered as an error rather than a panic.
    #[error("the run's state was still shared when the run ended")]
    RunStillShared,
    #[error("invalid run settings: {0}")]
    Settings(String),
}
