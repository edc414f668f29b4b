//! The journal: one SQLite file per run (`<run>/journal.sqlite`, WAL, one writer) that is the source of
//! truth for everything the run did — its configuration, every node with its code, output and timings,
//! the search's record log that rebuilds the tree on resume, every LLM call with secrets removed, and the
//! event stream that the terminal, the dashboard and reports replay.
//!
//! A node and the search record that counts it are written in one transaction, so a run killed at any
//! instant resumes with each node counted exactly once. A writer holds the run directory's lock
//! (`<run>/run.lock`) for as long as its journal is open, and a journal that is damaged, or that lost nodes
//! whose directories exist, is refused rather than resumed as a shorter run. It also exports the best node
//! for a user to pick up (`best/`). This crate holds no policy: it stores and returns.

mod error;
mod export;
mod integrity;
mod journal;
mod lock;
mod records;
mod reevaluations;

pub use error::{Error, Result};
pub use export::export_best;
pub use journal::Journal;
pub use records::{
    EnsembleMember, EnsembleRecord, EventRecord, LlmCallRecord, NodeEntry, Reevaluated,
    ReevaluationRecord, RunRecord, RunStatus,
};
