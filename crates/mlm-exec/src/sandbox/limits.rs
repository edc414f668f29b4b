//! CPU affinity and kernel resource limits, set on the launcher before it starts its child, which
//! inherits them.

use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::unistd::{geteuid, Pid};

use super::policy::{ResourceLimits, TierState};

/// Pins the launcher (and so the child) to `cpus`. `Err` says why the launch must not go ahead.
pub(super) fn apply_cpu_set(cpus: Option<&[usize]>) -> Result<TierState, String> {
    let Some(cpus) = cpus else {
        return Ok(TierState::Disabled);
    };
    let listed = cpus
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu).map_err(|error| {
            format!(
                "cpu {cpu} is past the largest cpu set this system supports ({}): {error}",
                CpuSet::count()
            )
        })?;
    }
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|error| {
        format!("cannot pin to cpus [{listed}]: {error}\nhint: name cpus this process may use")
    })?;
    Ok(TierState::Enforced {
        detail: format!("cpus {listed}"),
    })
}

/// Sets every requested limit as both soft and hard limit (so the script cannot raise it), and the
/// core size to 0. A request above the inherited hard limit gets the hard limit.
pub(super) fn apply_resource_limits(limits: &ResourceLimits) -> Result<TierState, String> {
    let requested = [
        (Resource::RLIMIT_FSIZE, "file size", limits.file_size_bytes),
        (Resource::RLIMIT_NOFILE, "open files", limits.open_files),
        (Resource::RLIMIT_NPROC, "processes", limits.processes),
        (
            Resource::RLIMIT_AS,
            "address space",
            limits.address_space_bytes,
        ),
        (Resource::RLIMIT_CORE, "core size", Some(0)),
    ];
    let mut applied = Vec::new();
    for (resource, name, value) in requested {
        let Some(value) = value else {
            continue;
        };
        let (_, hard) = getrlimit(resource)
            .map_err(|error| format!("cannot read the {name} limit: {error}"))?;
        let effective = value.min(hard);
        setrlimit(resource, effective, effective)
            .map_err(|error| format!("cannot set the {name} limit to {effective}: {error}"))?;
        if effective < value {
            applied.push(format!("{name} {effective} (the inherited hard limit)"));
        } else {
            applied.push(format!("{name} {effective}"));
        }
    }
    let detail = applied.join(", ");
    // The kernel ignores RLIMIT_NPROC for processes with CAP_SYS_RESOURCE or CAP_SYS_ADMIN.
    if limits.processes.is_some() && geteuid().is_root() {
        return Ok(TierState::Partial {
            detail: format!("{detail}; the processes limit is not enforced for root"),
        });
    }
    Ok(TierState::Enforced { detail })
}

/// Where cgroup v2 is mounted when the machine uses it.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// cgroup v2 limits: detected, and always unavailable for now. Memory (tmpfs included), processes and
/// cpus are bound by the resource limits, the disk watch and the affinity instead.
pub(super) fn cgroup_tier() -> TierState {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    let unified = statfs(CGROUP_ROOT)
        .is_ok_and(|filesystem| filesystem.filesystem_type() == CGROUP2_SUPER_MAGIC);
    let reason = match unified {
        false => format!("cgroup v2 is not mounted at {CGROUP_ROOT} (cgroup v1 or none); memory, processes and cpus are bound by rlimits and the cpu set"),
        true => "cgroup v2 is mounted, but ml-master does not create cgroups yet; memory, processes and cpus are bound by rlimits and the cpu set".to_string(),
    };
    TierState::Unavailable { reason }
}
