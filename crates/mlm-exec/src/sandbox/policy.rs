//! What the supervisor and the launcher exchange: the [`SandboxPolicy`] file the supervisor writes
//! before a launch, and the [`LaunchStatus`] the launcher writes on its status pipe when its child is
//! gone; and the tiers of confinement, each probed and reported, which a policy may require.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What one launch may touch, and the limits it runs under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxPolicy {
    /// Paths the script may read and execute beneath: Python prefixes, system libraries, the public
    /// data. Every path must exist.
    pub read_only_paths: Vec<PathBuf>,
    /// Paths the script may read, write, create and delete beneath: its node directory, its private
    /// temporary directory, the devices of [`system_read_write_paths`](super::system_read_write_paths).
    pub read_write_paths: Vec<PathBuf>,
    pub network: NetworkAccess,
    pub filesystem: FilesystemIsolation,
    pub limits: ResourceLimits,
    /// The CPUs the script may run on; `None` leaves the inherited affinity.
    pub cpu_set: Option<Vec<usize>>,
    /// Paths beneath the read-only ones that the namespaces tier hides (the secrets of `/etc`, which
    /// it binds whole); Landlock, which never lists them, denies them too.
    pub hidden_paths: Vec<PathBuf>,
    /// Device nodes the script may open besides the harmless ones (the slot's GPUs).
    pub devices: Vec<PathBuf>,
    /// The private, size-bounded `/tmp` and `/dev/shm` of the script's mount namespace: each holds at
    /// most this many bytes, counted in memory, and both vanish with the namespace.
    pub scratch_bytes: u64,
    /// The directory whose size is watched, and its bound; `None` leaves every directory unwatched.
    pub disk_limit: Option<DiskLimit>,
    /// Tiers without which nothing runs: a required tier that this machine cannot apply makes the
    /// launch end as [`ChildOutcome::Refused`] before the program starts.
    pub required_tiers: Vec<SandboxTier>,
}

/// A watched quota: past `bytes` allocated beneath `directory` (the node directory), the launcher ends
/// the script and reports [`ChildOutcome::DiskLimitExceeded`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskLimit {
    pub directory: PathBuf,
    pub bytes: u64,
}

/// One layer of confinement, as a policy names it in [`SandboxPolicy::required_tiers`] and as the
/// configuration's `[sandbox] require` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxTier {
    /// User, PID, mount, IPC, UTS, network and cgroup namespaces, set up by bubblewrap.
    Namespaces,
    /// Landlock.
    Filesystem,
    /// The seccomp filter that denies sockets.
    Network,
    ResourceLimits,
    CpuAffinity,
    /// cgroup v2 limits on memory, processes and CPUs.
    Cgroups,
}

impl SandboxTier {
    pub const ALL: [SandboxTier; 6] = [
        SandboxTier::Namespaces,
        SandboxTier::Filesystem,
        SandboxTier::Network,
        SandboxTier::ResourceLimits,
        SandboxTier::CpuAffinity,
        SandboxTier::Cgroups,
    ];

    /// The name logs, warnings and the configuration's `[sandbox] require` use.
    pub fn name(self) -> &'static str {
        match self {
            SandboxTier::Namespaces => "namespaces",
            SandboxTier::Filesystem => "filesystem",
            SandboxTier::Network => "network",
            SandboxTier::ResourceLimits => "resource_limits",
            SandboxTier::CpuAffinity => "cpu_affinity",
            SandboxTier::Cgroups => "cgroups",
        }
    }

    /// What a user does to get this tier where the machine refuses it.
    pub fn how_to_enable(self) -> &'static str {
        match self {
            SandboxTier::Namespaces => "install bubblewrap (`apt-get install bubblewrap`) and allow user namespaces (`sysctl kernel.unprivileged_userns_clone=1`, or on Ubuntu an AppArmor profile for bwrap; inside a container, start it with user namespaces allowed)",
            SandboxTier::Filesystem => "use Linux 5.19 or newer with Landlock enabled (`lsm=landlock,...` on the kernel command line)",
            SandboxTier::Network => "use a kernel with seccomp filters (CONFIG_SECCOMP_FILTER) on x86_64 or aarch64",
            SandboxTier::ResourceLimits => "raise the hard limits this process inherits (`ulimit -H`), or run it as an ordinary user so that the process limit applies",
            SandboxTier::CpuAffinity => "run ml-master on cpus it may use (check `taskset -p $$`)",
            SandboxTier::Cgroups => "mount cgroup v2 (`systemd.unified_cgroup_hierarchy=1`) and delegate a subtree to this user; ml-master does not create cgroups yet, so this requirement cannot be met",
        }
    }
}

/// Whether the script may open network sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkAccess {
    /// Only UNIX-domain sockets; no io_uring (which could open sockets behind the filter's back).
    Denied,
    Allowed,
}

/// Whether file access is confined to the policy's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilesystemIsolation {
    /// Landlock: everything outside the read-only and read-write paths is out of reach.
    Landlock,
    /// No file confinement; only when the user's configuration asks for it.
    Unrestricted,
}

/// Kernel resource limits (soft and hard alike, so the script cannot raise them); `None` leaves a
/// limit as inherited. Core dumps are always off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLimits {
    /// `RLIMIT_FSIZE`: the largest file the script may write; past it the write fails with SIGXFSZ.
    pub file_size_bytes: Option<u64>,
    /// `RLIMIT_NOFILE`.
    pub open_files: Option<u64>,
    /// `RLIMIT_NPROC`: counted per user across the whole machine, and not enforced for root.
    pub processes: Option<u64>,
    /// `RLIMIT_AS`: virtual memory, so allocations past it fail (Python raises `MemoryError`).
    pub address_space_bytes: Option<u64>,
}

/// What the launcher reports once its child and every descendant are gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchStatus {
    pub outcome: ChildOutcome,
    /// The largest resident set of the child or any descendant, from `getrusage(RUSAGE_CHILDREN)`.
    pub peak_rss_kilobytes: u64,
    pub tiers: SandboxTiers,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildOutcome {
    Exited(i32),
    Signaled(i32),
    /// The node directory grew past [`SandboxPolicy::disk_limit`] and the script was ended.
    DiskLimitExceeded {
        limit_bytes: u64,
        used_bytes: u64,
    },
    /// A tier of [`SandboxPolicy::required_tiers`] is not in force here; nothing ran.
    Refused {
        tier: SandboxTier,
        reason: String,
    },
    /// The sandbox could not be set up as asked, or the program could not be started; nothing ran.
    FailedToStart(String),
}

/// How far each layer of confinement applied on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxTiers {
    pub namespaces: TierState,
    pub filesystem: TierState,
    pub network: TierState,
    pub resource_limits: TierState,
    pub cpu_affinity: TierState,
    pub cgroups: TierState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TierState {
    Enforced {
        detail: String,
    },
    /// Applied, but weaker than asked; `detail` says what is missing.
    Partial {
        detail: String,
    },
    /// This kernel (or architecture) cannot apply the tier; the run goes on without it.
    Unavailable {
        reason: String,
    },
    /// The policy did not ask for the tier.
    Disabled,
}

impl std::fmt::Display for TierState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TierState::Enforced { detail } => write!(formatter, "enforced ({detail})"),
            TierState::Partial { detail } => write!(formatter, "partial ({detail})"),
            TierState::Unavailable { reason } => write!(formatter, "unavailable ({reason})"),
            TierState::Disabled => write!(formatter, "disabled"),
        }
    }
}

impl SandboxTiers {
    /// Every tier before the launcher reached it; what a status shows for the steps after a failure.
    pub(super) fn not_reached() -> Self {
        let state = TierState::Unavailable {
            reason: "not reached: the launch failed before this step".to_string(),
        };
        SandboxTiers {
            namespaces: state.clone(),
            filesystem: state.clone(),
            network: state.clone(),
            resource_limits: state.clone(),
            cpu_affinity: state.clone(),
            cgroups: state,
        }
    }

    /// One warning per tier that is not fully in force: isolation is never weakened without saying so.
    pub fn warnings(&self) -> Vec<String> {
        self.named()
            .into_iter()
            .filter_map(|(name, state)| match state {
                TierState::Enforced { .. } => None,
                TierState::Partial { detail } => {
                    Some(format!("sandbox {name}: only partly in force: {detail}"))
                }
                TierState::Unavailable { reason } => Some(format!(
                    "sandbox {name}: unavailable on this system: {reason}"
                )),
                TierState::Disabled => {
                    Some(format!("sandbox {name}: disabled by the configuration"))
                }
            })
            .collect()
    }

    /// Each tier with its name, for logs and warnings.
    pub fn named(&self) -> [(&'static str, &TierState); 6] {
        SandboxTier::ALL.map(|tier| (tier.name(), self.state(tier)))
    }

    pub fn state(&self, tier: SandboxTier) -> &TierState {
        match tier {
            SandboxTier::Namespaces => &self.namespaces,
            SandboxTier::Filesystem => &self.filesystem,
            SandboxTier::Network => &self.network,
            SandboxTier::ResourceLimits => &self.resource_limits,
            SandboxTier::CpuAffinity => &self.cpu_affinity,
            SandboxTier::Cgroups => &self.cgroups,
        }
    }

    /// The first of `required` that is neither enforced nor partly in force, with why.
    pub fn missing(&self, required: &[SandboxTier]) -> Option<(SandboxTier, String)> {
        required.iter().find_map(|&tier| match self.state(tier) {
            TierState::Enforced { .. } | TierState::Partial { .. } => None,
            TierState::Unavailable { reason } => Some((tier, reason.clone())),
            TierState::Disabled => Some((tier, "disabled by the configuration".to_string())),
        })
    }
}

impl SandboxPolicy {
    /// Writes the policy as JSON, for the launcher's `--policy-file`.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }

    pub fn read(path: &Path) -> Result<Self> {
        read_json(path)
    }
}

impl LaunchStatus {
    /// The exit code the launcher exits with: the child's code, 128 + the signal that killed it, or
    /// [`LAUNCH_FAILED_EXIT_CODE`](super::LAUNCH_FAILED_EXIT_CODE).
    pub fn exit_code(&self) -> i32 {
        match &self.outcome {
            ChildOutcome::Exited(code) => *code,
            ChildOutcome::Signaled(signal) => 128 + signal,
            ChildOutcome::DiskLimitExceeded { .. } => {
                128 + nix::sys::signal::Signal::SIGKILL as i32
            }
            ChildOutcome::Refused { .. } | ChildOutcome::FailedToStart(_) => {
                super::LAUNCH_FAILED_EXIT_CODE
            }
        }
    }

    /// The status as the launcher wrote it on its status pipe; `None` when it wrote none (it was
    /// killed) or something unreadable.
    pub fn parse(report: &[u8]) -> Option<Self> {
        serde_json::from_slice(report).ok()
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = serde_json::to_vec_pretty(value).map_err(|error| io_error(error.into()))?;
    std::fs::write(path, text).map_err(io_error)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read(path).map_err(io_error)?;
    serde_json::from_slice(&text).map_err(|error| io_error(error.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_back_as_written_in_a_readable_form() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("status.json");
        let status = LaunchStatus {
            outcome: ChildOutcome::Signaled(11),
            peak_rss_kilobytes: 1024,
            tiers: SandboxTiers {
                namespaces: TierState::Enforced {
                    detail: "bubblewrap".into(),
                },
                filesystem: TierState::Enforced {
                    detail: "landlock ABI 7".into(),
                },
                network: TierState::Disabled,
                resource_limits: TierState::Partial {
                    detail: "open files capped".into(),
                },
                cpu_affinity: TierState::Unavailable {
                    reason: "no".into(),
                },
                cgroups: TierState::Disabled,
            },
        };
        write_json(&path, &status).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(LaunchStatus::parse(text.as_bytes()), Some(status.clone()));
        assert!(text.contains(r#""signaled": 11"#), "{text}");
        assert!(text.contains(r#""state": "enforced""#), "{text}");
        assert_eq!(status.exit_code(), 139);
    }

    #[test]
    fn an_unreadable_policy_names_its_path() {
        let error = SandboxPolicy::read(Path::new("/nonexistent/policy.json"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/policy.json"), "{error}");
    }
}
