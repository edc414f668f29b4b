//! Grading, with MLE-bench's semantics: the metric table, submission validation with messages that name
//! the row and column at fault, medal thresholds from a Kaggle leaderboard, the per-competition report in
//! MLE-bench's field names, the batch form, and the `/validate` HTTP server that answers valid or invalid
//! without ever revealing a score.
//!
//! This crate touches no search state and runs no code: it reads files and computes numbers.

mod error;
pub mod leaderboard;
pub mod metric;
pub mod report;
pub mod submission;
pub mod validator;

pub use error::{Error, Result};
pub use leaderboard::{Leaderboard, MedalThresholds, Ranking};
pub use metric::{F1Average, Metric, ValueKind};
pub use report::{grade_batch, BatchReport, CompetitionReport, Grader};
pub use submission::InvalidSubmission;
pub use validator::{serve_validator, validator_router, ValidatorSettings};
