//! Errors of environment set-up and process supervision, each naming the path or command involved.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start `{program}`: {source}\nhint: {hint}")]
    Spawn {
        program: String,
        hint: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed ({status})\n{output_tail}\nhint: {hint}")]
    SetupStep {
        what: String,
        status: String,
        output_tail: String,
        hint: String,
    },
    #[error("{path}: no Python interpreter here\nhint: {hint}")]
    MissingPython { path: PathBuf, hint: String },
    #[error("cannot find a home directory for the data directory\nhint: set ML_MASTER_HOME")]
    NoHome,
    #[error("GPU {index} was asked for, but the driver lists {found}\nhint: pass --gpus with indices that `nvidia-smi -L` shows, or --gpus auto")]
    /// `found`: what the driver lists, in words (`no GPU`, `GPUs 0, 1`).
    GpuUnavailable { index: u32, found: String },
    #[error("the sandbox could not confine the script: {reason}\nhint: check the paths named above, or report a bug with this message")]
    Sandbox { reason: String },
    #[error("the sandbox tier `{}` is required (`[sandbox] require`) but not in force on this machine: {reason}\nhint: {}, or remove it from `[sandbox] require`", .tier.name(), .tier.how_to_enable())]
    TierRequired {
        tier: crate::sandbox::SandboxTier,
        reason: String,
    },
}
