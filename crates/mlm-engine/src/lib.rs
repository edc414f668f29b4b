//! The run. Workers ask the search where to expand, ask the coder for a script, run it in an execution
//! slot, check its submission, have it reviewed, and report the node back to the search, while budgets
//! (steps, wall-clock time, tokens, cost) decide when to stop. Front ends talk to it through a queue
//! pair: [`Op`] in, [`Event`] out; the engine itself never prints.
//!
//! Proposing and executing are decoupled: there are more workers (trajectories) than execution slots, so
//! a slot is handed to whichever worker has a script ready while others are still waiting for their
//! coder. The engine sees the coder, the executor and the submission check only through traits.
//!
//! A worker takes each node through propose → execute → judge → commit (`worker/`); what the workers
//! share is one state behind one lock (`state`, `context`), and the slots are lent by one pool (`slots`).

mod context;
mod error;
mod event;
mod layout;
mod memory;
mod run;
mod settings;
mod slots;
mod state;
mod traits;
mod worker;

pub use context::EngineParts;
pub use error::{Error, Result};
pub use event::{Event, Op, StopReason};
pub use layout::{RunLayout, OOF_FILE, TEST_PREDICTIONS_FILE};
pub use run::{run_engine, FinishedRun, RunSummary};
pub use settings::{RunSettings, Workers, MAX_AUTO_WORKERS_PER_SLOT};
pub use traits::{
    CancelFlag, Execution, ExecutionJob, Executor, ExecutorError, SubmissionCheck,
    SubmissionRejected,
};
