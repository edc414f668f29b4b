//! Running Python: the managed virtual environment (pinned profiles, set up idempotently under the data
//! directory, or the user's own interpreter), and the one function that spawns, supervises and reaps
//! every child process the product starts, and the sandboxed run of one node's solution script: its
//! directory, its slot (cores and GPUs), its limits, and the launcher that confines it.
//!
//! This crate decides nothing about *what* runs: callers build a [`ProcessRequest`] and get back a
//! [`ProcessOutcome`].

mod environment;
mod error;
mod gpu;
mod node;
mod node_files;
mod output;
mod process;
pub mod sandbox;
mod slot;

pub use environment::{
    data_home, importable_deep_learning_modules, Profile, PythonEnvironment, PythonSource,
    SetupOutcome, SetupProgress,
};
pub use error::{Error, Result};
pub use gpu::{discover_gpus, parse_gpu_list, select_gpus, Gpu, GpuSelection};
pub use node::{
    build_node_request, probe_node_sandbox, run_node, script_environment, NodeLayout, NodeLimits,
    NodeMetrics, NodeResult, NodeRun, NodeStatus, PythonInstallation,
};
pub use output::CapturedOutput;
pub use process::{
    run_process, Environment, ExitStatus, OutputLine, ProcessOutcome, ProcessRequest, ReportPipe,
    Session, Stream, DEFAULT_OUTPUT_LIMIT_BYTES,
};
pub use sandbox::Launcher;
pub use slot::{available_cpus, plan_slots, Slot};
