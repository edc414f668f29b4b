//! Network denial with a seccomp filter: `socket()` fails with EPERM for every domain but `AF_UNIX`,
//! and `io_uring_setup()` fails too (io_uring can open sockets without the `socket` system call).
//! Calls through another architecture's ABI (32-bit x86 on x86_64) kill the process, as seccompiler's
//! architecture check does.

use std::collections::BTreeMap;

use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::policy::{NetworkAccess, TierState};

/// Installs the filter on the calling thread (the launcher's only one); the child inherits it.
/// `no_new_privs` must be set first. `Err` says why the launch must not go ahead.
pub(super) fn restrict(network: NetworkAccess) -> Result<TierState, String> {
    match network {
        NetworkAccess::Allowed => return Ok(TierState::Disabled),
        NetworkAccess::Denied => {}
    }
    let architecture = match TargetArch::try_from(std::env::consts::ARCH) {
        Ok(architecture) => architecture,
        Err(error) => {
            return Ok(TierState::Unavailable {
                reason: format!("no seccomp filter for this architecture: {error}"),
            })
        }
    };
    let program = filter(architecture).map_err(|error| {
        format!("cannot build the seccomp filter that denies the network: {error}")
    })?;
    match seccompiler::apply_filter(&program) {
        Ok(()) => Ok(TierState::Enforced {
            detail: "seccomp: sockets other than AF_UNIX and io_uring are denied".to_string(),
        }),
        Err(error) => Ok(TierState::Unavailable {
            reason: format!("this kernel refused the seccomp filter: {error}"),
        }),
    }
}

fn filter(architecture: TargetArch) -> seccompiler::Result<BpfProgram> {
    let not_unix = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Ne,
        libc::AF_UNIX as u64,
    )?;
    let rules = BTreeMap::from([
        (libc::SYS_socket, vec![SeccompRule::new(vec![not_unix])?]),
        (libc::SYS_io_uring_setup, Vec::new()),
    ]);
    let denied = SeccompAction::Errno(libc::EPERM as u32);
    SeccompFilter::new(rules, SeccompAction::Allow, denied, architecture)?
        .try_into()
        .map_err(seccompiler::Error::Backend)
}
