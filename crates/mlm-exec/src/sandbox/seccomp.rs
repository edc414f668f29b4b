//! The seccomp filter. Network denial: `socket()` fails with EPERM for every domain but `AF_UNIX`, and
//! `io_uring_setup()` fails too (io_uring can open sockets without the `socket` system call). CPU set
//! lock: `sched_setaffinity()` fails with EPERM, so a script cannot widen the slot's cores (without
//! cgroups, the affinity is all that binds it). Calls through another architecture's ABI (32-bit x86
//! on x86_64) kill the process, as seccompiler's architecture check does.

use std::collections::BTreeMap;

use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::policy::{NetworkAccess, TierState};

/// What the filter applied: the network tier, and whether the CPU set is locked.
pub(super) struct SeccompTiers {
    pub network: TierState,
    pub cpu_set_lock: TierState,
}

/// Whether the script's CPU set is pinned and so must not be widened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CpuSet {
    Pinned,
    Inherited,
}

/// Installs the filter on the calling thread (the launcher's only one); the child inherits it.
/// `no_new_privs` must be set first. `Err` says why the launch must not go ahead.
pub(super) fn restrict(network: NetworkAccess, cpu_set: CpuSet) -> Result<SeccompTiers, String> {
    let deny_network = match network {
        NetworkAccess::Allowed => false,
        NetworkAccess::Denied => true,
    };
    let lock_cpu_set = match cpu_set {
        CpuSet::Pinned => true,
        CpuSet::Inherited => false,
    };
    let unavailable = |reason: String| {
        let state = |asked: bool| match asked {
            true => TierState::Unavailable {
                reason: reason.clone(),
            },
            false => TierState::Disabled,
        };
        SeccompTiers {
            network: state(deny_network),
            cpu_set_lock: state(lock_cpu_set),
        }
    };
    if !deny_network && !lock_cpu_set {
        return Ok(unavailable(String::new()));
    }
    let architecture = match TargetArch::try_from(std::env::consts::ARCH) {
        Ok(architecture) => architecture,
        Err(error) => {
            return Ok(unavailable(format!(
                "no seccomp filter for this architecture: {error}"
            )))
        }
    };
    let program = filter(architecture, network, cpu_set)
        .map_err(|error| format!("cannot build the seccomp filter: {error}"))?;
    if let Err(error) = seccompiler::apply_filter(&program) {
        return Ok(unavailable(format!(
            "this kernel refused the seccomp filter: {error}"
        )));
    }
    let enforced = |asked: bool, detail: &str| match asked {
        true => TierState::Enforced {
            detail: detail.to_string(),
        },
        false => TierState::Disabled,
    };
    Ok(SeccompTiers {
        network: enforced(
            deny_network,
            "seccomp: sockets other than AF_UNIX and io_uring are denied",
        ),
        cpu_set_lock: enforced(lock_cpu_set, "seccomp: sched_setaffinity is denied"),
    })
}

fn filter(
    architecture: TargetArch,
    network: NetworkAccess,
    cpu_set: CpuSet,
) -> seccompiler::Result<BpfProgram> {
    let mut rules = BTreeMap::new();
    if network == NetworkAccess::Denied {
        let not_unix = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Ne,
            libc::AF_UNIX as u64,
        )?;
        rules.insert(libc::SYS_socket, vec![SeccompRule::new(vec![not_unix])?]);
        rules.insert(libc::SYS_io_uring_setup, Vec::new());
    }
    if cpu_set == CpuSet::Pinned {
        rules.insert(libc::SYS_sched_setaffinity, Vec::new());
    }
    let denied = SeccompAction::Errno(libc::EPERM as u32);
    SeccompFilter::new(rules, SeccompAction::Allow, denied, architecture)?
        .try_into()
        .map_err(seccompiler::Error::Backend)
}
