//! The launcher's inside stage, started by bubblewrap in the new namespaces: it restores the script's
//! stderr, confines itself with Landlock and seccomp, reports how far they applied on the pipe the
//! outside stage reads, and becomes the program. The report's descriptor is close-on-exec, so the
//! program never holds it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::launcher::{confine_self, fail_without_status, Invocation};
use super::policy::{ChildOutcome, SandboxPolicy, SandboxTiers, TierState};
use super::LAUNCH_FAILED_EXIT_CODE;

/// The first argument that selects the inside stage, followed by the report and stderr descriptors.
pub(super) const INSIDE_FLAG: &str = "--inside";

/// One line on the report pipe: the tiers applied, and, when nothing will run, why.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct InsideReport {
    pub filesystem: TierState,
    pub network: TierState,
    /// Whether seccomp keeps the script from widening its cpu set.
    pub cpu_set_lock: TierState,
    /// `None`: the program is being started.
    pub ended: Option<ChildOutcome>,
}

/// Runs the inside stage; returns only when the program could not be started.
pub(super) fn inside_main(invocation: &Invocation, report: i32, stderr: i32) -> i32 {
    // Reopened through /proc, so that the descriptor is ours (close-on-exec) without unsafe code.
    let mut report_file = match OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{report}"))
    {
        Ok(file) => file,
        Err(error) => {
            return fail_without_status(&format!("cannot open the report pipe {report}: {error}"))
        }
    };
    let _ = nix::unistd::close(report);
    if let Err(error) = nix::unistd::dup2(stderr, 2) {
        return fail_without_status(&format!("cannot restore the standard error: {error}"));
    }
    let _ = nix::unistd::close(stderr);
    let mut tiers = SandboxTiers::not_reached();
    let (cpu_set_lock, ended) = match confine(invocation, &mut tiers) {
        Ok(lock) => (lock, None),
        Err(outcome) => (TierState::Disabled, Some(outcome)),
    };
    let stopping = ended.is_some();
    let first = InsideReport {
        filesystem: tiers.filesystem.clone(),
        network: tiers.network.clone(),
        cpu_set_lock,
        ended,
    };
    if send(&mut report_file, &first).is_err() || stopping {
        return LAUNCH_FAILED_EXIT_CODE;
    }
    let error = Command::new(&invocation.program)
        .args(&invocation.arguments)
        .exec();
    let program = std::path::Path::new(&invocation.program).display();
    let failed = InsideReport {
        ended: Some(ChildOutcome::FailedToStart(format!(
            "cannot start {program}: {error}\nhint: the program and everything it loads must lie beneath the policy's read-only paths"
        ))),
        ..first
    };
    let _ = send(&mut report_file, &failed);
    LAUNCH_FAILED_EXIT_CODE
}

/// Returns whether the cpu set is locked.
fn confine(invocation: &Invocation, tiers: &mut SandboxTiers) -> Result<TierState, ChildOutcome> {
    super::descriptors::close_on_exec_above_stderr().map_err(ChildOutcome::FailedToStart)?;
    let policy = SandboxPolicy::read(&invocation.policy_file)
        .map_err(|error| ChildOutcome::FailedToStart(error.to_string()))?;
    confine_self(&policy, tiers)
}

fn send(file: &mut File, report: &InsideReport) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(report)?;
    line.push(b'\n');
    file.write_all(&line)
}
