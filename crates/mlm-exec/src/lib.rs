//! Running Python: the managed virtual environment (pinned profiles, set up idempotently under the data
//! directory, or the user's own interpreter), and the one function that spawns, supervises and reaps
//! every child process the product starts.
//!
//! This crate decides nothing about *what* runs: callers build a [`ProcessRequest`] and get back a
//! [`ProcessOutcome`].

mod environment;
mod error;
mod process;

pub use environment::{
    data_home, Profile, PythonEnvironment, PythonSource, SetupOutcome, SetupProgress,
    BASE_PYTHON_ENV, HOME_ENV, PYTHON_ENV,
};
pub use error::{Error, Result};
pub use process::{
    run_process, Environment, ExitStatus, OutputLine, ProcessOutcome, ProcessRequest, Stream,
};
