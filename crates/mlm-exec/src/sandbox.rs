//! The sandbox that confines one node's script. The supervisor writes a [`SandboxPolicy`] and starts
//! the *launcher* (`mlm-sandbox-launcher`, or `ml-master sandbox-exec`) with an already scrubbed
//! environment, the node directory as working directory, and no process group of its own:
//!
//! ```text
//! <launcher> [leading arguments] --policy-file <policy.json> -- <python> <script.py> [arguments...]
//! ```
//!
//! with the write end of the status pipe as stdin.
//!
//! Tiers, outermost first, each probed and reported as a [`TierState`], never skipped silently:
//! - **namespaces** (bubblewrap): user, PID, mount, IPC, UTS, cgroup and network namespaces; a
//!   private `/proc`, a minimal `/dev`, private size-bounded `/tmp` and `/dev/shm`, read-only public
//!   files, no capabilities. The launcher stays outside the script's PID namespace.
//! - **filesystem** (Landlock) and **network** (seccomp, which also locks the cpu set), inside.
//! - **resource limits** (rlimits, no core dumps, the node directory's watched disk bound) and the
//!   **cpu affinity**, set by the launcher and inherited. **cgroups** (v2) are detected and reported
//!   as unavailable: ml-master does not create cgroups yet.
//!
//! The launcher marks every inherited descriptor above stderr close-on-exec, takes a session of its
//! own (the supervisor kills the group `-pid`), watches its parent, and writes a [`LaunchStatus`] on
//! the status pipe the supervisor passes as its stdin ([`ReportPipe`](crate::ReportPipe)), which no
//! script ever holds. A policy's required tiers that are not in force end
//! the launch as [`ChildOutcome::Refused`] before the program starts. What it does not do: limit
//! the wall-clock time (the supervisor's job).

mod descriptors;
mod disk;
mod filesystem;
mod inside;
mod launcher;
mod limits;
mod namespaces;
mod policy;
mod probe;
mod reaper;
mod seccomp;
mod system_paths;

pub use launcher::launcher_main;
pub use policy::{
    ChildOutcome, DiskLimit, FilesystemIsolation, LaunchStatus, NetworkAccess, ResourceLimits,
    SandboxPolicy, SandboxTier, SandboxTiers, TierState,
};
pub use probe::{probe_tiers, Launcher};
pub use system_paths::{
    gpu_device_paths, system_hidden_paths, system_read_only_paths, system_read_write_paths,
};

/// The launcher's exit code when nothing ran: the sandbox could not be set up as asked, the program
/// could not be started, or the status could not be written.
pub const LAUNCH_FAILED_EXIT_CODE: i32 = 125;
