//! Putting an ml-master run together. This crate owns what sits between the command line and the
//! engine: the layered configuration, the adapters that give the engine its executor, submission check
//! and syntax check, the task brief, the Python environments and recipes a run needs, driving the engine,
//! re-evaluating its best nodes on fresh folds to select one (final selection), grading the selected
//! submission at the end, and the bench (suites, jobs, results, report).
//!
//! It refuses to parse arguments or print: the binary hands it requests and draws what it reports
//! through [`Reporter`], the engine's events and [`bench::runner::BenchEvent`].

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod adapters;
pub mod bench;
mod brief;
pub mod config;
pub mod ensemble;
mod environment;
mod error;
mod final_report;
pub mod final_selection;
mod folds;
mod recipe;
mod run;
pub mod system;

pub use brief::{task_brief, Hardware};
pub use environment::{automl_python, ready_environment, Reporter};
pub use error::{Error, ErrorKind, Result};
pub use final_report::{EnsembleReport, FinalReport, TestScore};
pub use recipe::{default_out, prepare_recipe, prepared_recipe, Preparation, Rebuild};
pub use run::{Assembly, Extension, Finished, NewRun, Sources};
