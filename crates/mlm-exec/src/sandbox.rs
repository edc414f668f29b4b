//! The sandbox that confines one node's script. The supervisor writes a [`SandboxPolicy`] and starts
//! the *launcher* (`mlm-sandbox-launcher`, or `ml-master sandbox-exec`) with an already scrubbed
//! environment, the node directory as working directory, and no process group of its own:
//!
//! ```text
//! <launcher> [leading arguments] --policy-file <policy.json> -- <python> <script.py> [arguments...]
//! ```
//!
//! The launcher, freshly started and single-threaded, confines *itself* with safe system calls and
//! then starts the program as its child, which inherits every restriction. In order: the status file
//! opened, its own session (the supervisor kills the group `-pid`), child subreaper (orphans come back
//! to it), CPU affinity, resource limits and no core dumps, `no_new_privs`, Landlock, the seccomp
//! network filter. It waits for the child, kills and reaps every descendant left (also on SIGTERM),
//! and writes a [`LaunchStatus`]: the outcome, the peak resident memory, and how far each tier applied.
//! A tier this kernel cannot apply is reported as [`TierState::Unavailable`], never skipped silently;
//! a tier that is available but cannot be applied as asked (a missing path) stops the launch.
//!
//! What it does not do: drop capabilities (run the supervisor as an ordinary user), give the script a
//! private `/dev/shm`, or limit the wall-clock time (the supervisor's job).

mod filesystem;
mod launcher;
mod limits;
mod network;
mod policy;
mod probe;
mod reaper;
mod system_paths;

pub use launcher::launcher_main;
pub use policy::{
    ChildOutcome, FilesystemIsolation, LaunchStatus, NetworkAccess, ResourceLimits, SandboxPolicy,
    SandboxTiers, TierState,
};
pub use probe::{probe_tiers, Launcher};
pub use system_paths::{system_read_only_paths, system_read_write_paths};

/// The launcher's exit code when nothing ran: the sandbox could not be set up as asked, the program
/// could not be started, or the status could not be written.
pub const LAUNCH_FAILED_EXIT_CODE: i32 = 125;
