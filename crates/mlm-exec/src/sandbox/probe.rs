//! How the supervisor starts the launcher, and the probe that reports, before a run, which tiers
//! apply on this machine.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::policy::{ChildOutcome, LaunchStatus, SandboxPolicy, SandboxTiers};
use crate::error::{Error, Result};
use crate::process::{run_process, Environment, ProcessRequest, ReportPipe, Session};

/// The program the probe runs: it does nothing, so only the confinement can make it fail.
const PROBE_PROGRAM: &str = "/bin/true";

const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The launcher program and the arguments that select it: the `ml-master` binary's hidden
/// `sandbox-exec` command, or `mlm-sandbox-launcher` in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    pub program: PathBuf,
    pub leading_arguments: Vec<OsString>,
}

impl Launcher {
    /// The launcher's arguments (after its program) that run `command` under the policy in
    /// `policy_file`.
    pub fn arguments(&self, policy_file: &Path, command: &[OsString]) -> Vec<OsString> {
        let mut arguments = self.leading_arguments.clone();
        arguments.extend([
            "--policy-file".into(),
            policy_file.as_os_str().to_owned(),
            "--".into(),
        ]);
        arguments.extend_from_slice(command);
        arguments
    }
}

/// Runs `/bin/true` through the launcher under `policy` (written to `policy_file`) and returns the
/// tiers that applied: what the run log shows, and what the supervisor warns about. The policy's
/// read-only paths must hold `/bin/true` (the system paths do).
pub fn probe_tiers(
    launcher: &Launcher,
    policy: &SandboxPolicy,
    policy_file: &Path,
) -> Result<SandboxTiers> {
    policy.write(policy_file)?;
    let mut request = ProcessRequest::new(&launcher.program, "/")
        .args(launcher.arguments(policy_file, &[PROBE_PROGRAM.into()]))
        .spawn_hint("the sandbox launcher is part of ml-master; reinstall it");
    request.environment = Environment::Only(Vec::new());
    request.timeout = Some(PROBE_TIMEOUT);
    request.session = Session::CreatedByChild;
    request.report = ReportPipe::OnStandardInput;
    let outcome = run_process(&request, &mut |_| {})?;
    let failure = |status: String, output_tail: String| {
        Error::SetupStep {
        what: "the sandbox probe".to_string(),
        status,
        output_tail,
        hint: "check that every path of the sandbox policy exists and that the launcher is not started from a thread".to_string(),
    }
    };
    let status = outcome
        .report
        .as_deref()
        .and_then(LaunchStatus::parse)
        .ok_or_else(|| {
            failure(
                outcome.status.to_string(),
                format!(
                    "the launcher reported no status\n{}",
                    outcome.output.last_lines(20)
                ),
            )
        })?;
    match status.outcome {
        ChildOutcome::Exited(0) => Ok(status.tiers),
        ChildOutcome::Exited(_)
        | ChildOutcome::Signaled(_)
        | ChildOutcome::DiskLimitExceeded { .. } => Err(failure(
            outcome.status.to_string(),
            format!("{PROBE_PROGRAM} failed inside the sandbox"),
        )),
        ChildOutcome::Refused { tier, reason } => Err(Error::TierRequired { tier, reason }),
        ChildOutcome::FailedToStart(message) => Err(failure(
            "the sandbox could not be set up".to_string(),
            message,
        )),
    }
}
