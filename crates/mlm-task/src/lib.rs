//! Competitions: loading a task directory in either of its two layouts (ours, described by `task.toml`,
//! or an MLE-bench registry folder beside its prepared data), reading CSV tables with errors that name
//! the file, and the data preview that prompts show to a coder.
//!
//! This crate never runs code and knows nothing about models or metrics beyond their names: it hands the
//! grading section of a task to `mlm-grade` as declared.

mod error;
pub mod preview;
mod recipe;
mod table;
mod task;

pub use error::{Error, Result};
pub use recipe::{Recipe, RecipeCommand, RECIPE_FINGERPRINT_FILE};
pub use table::{is_missing_cell, CsvTable, MISSING_CELLS};
pub use task::{Grading, Task, TaskLayout};
