//! The launcher process, outside stage: it takes a session of its own, pins the cpu set, sets the
//! resource limits, and starts bubblewrap (see [`namespaces`]), which runs the launcher's inside stage
//! (see [`inside`]) in fresh namespaces; the inside stage reports how far Landlock and seccomp applied
//! over a pipe and becomes the program. The outside stage stays in the supervisor's PID namespace, where the script
//! can neither signal nor trace it: it watches the node directory's size, waits for bubblewrap, kills
//! whatever is left and writes a [`LaunchStatus`] on the status pipe the supervisor passed as stdin.
//!
//! Where bubblewrap is missing or the kernel refuses namespaces, the namespaces tier is reported as
//! unavailable and the launcher confines itself (Landlock, seccomp) and starts the program as its
//! own child, as a child subreaper that kills every descendant at the end.
//!
//! [`inside`]: super::inside
//! [`namespaces`]: super::namespaces

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::prctl::{set_child_subreaper, set_no_new_privs, set_pdeathsig};
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::signal::Signal;
use nix::unistd::{getpgrp, getpid, getppid, setsid};

use super::descriptors::close_on_exec_above_stderr;
use super::inside::INSIDE_FLAG;
use super::policy::{
    ChildOutcome, LaunchStatus, SandboxPolicy, SandboxTier, SandboxTiers, TierState,
};
use super::seccomp::CpuSet;
use super::{disk, filesystem, limits, namespaces, reaper, seccomp, LAUNCH_FAILED_EXIT_CODE};

/// How often the launcher checks on its child and on the termination flag: short, since every node
/// waits for it once its script has ended.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// How often the node directory's size is measured.
const DISK_CHECK_INTERVAL: Duration = Duration::from_millis(500);

const USAGE: &str = "usage: --policy-file POLICY.json -- PROGRAM [ARGUMENT...]";

/// What the launcher was asked to run.
#[derive(Debug, PartialEq)]
pub(super) struct Invocation {
    pub stage: Stage,
    pub policy_file: PathBuf,
    pub program: OsString,
    pub arguments: Vec<OsString>,
}

/// Which side of the namespaces this launcher runs on.
#[derive(Debug, PartialEq)]
pub(super) enum Stage {
    Outside,
    /// Started by bubblewrap: it reports on `report` and restores the script's stderr from `stderr`.
    Inside {
        report: i32,
        stderr: i32,
    },
}

/// The launcher's entry point. `arguments` are its own, after any leading ones (a subcommand name):
/// `--policy-file POLICY.json -- PROGRAM [ARGUMENT...]`. Returns the code to exit with: the child's
/// exit code, 128 + the signal that killed it, or [`LAUNCH_FAILED_EXIT_CODE`] when nothing ran.
/// When even the status cannot be written, the reason goes to stderr.
///
/// Call it on the main thread of a freshly started process, before any other thread exists:
/// Landlock and seccomp confine only the calling thread, so the launcher refuses to run otherwise.
pub fn launcher_main(arguments: Vec<OsString>) -> i32 {
    // The leading arguments select the launcher in its program; the inside stage is started with them.
    let all: Vec<OsString> = std::env::args_os().skip(1).collect();
    let leading = all[..all.len().saturating_sub(arguments.len())].to_vec();
    let invocation = match parse(arguments) {
        Ok(invocation) => invocation,
        Err(message) => return fail_without_status(&message),
    };
    match invocation.stage {
        Stage::Inside { report, stderr } => super::inside::inside_main(&invocation, report, stderr),
        Stage::Outside => outside_main(&invocation, &leading),
    }
}

fn outside_main(invocation: &Invocation, leading: &[OsString]) -> i32 {
    let status_pipe = match take_status_pipe() {
        Ok(status_pipe) => status_pipe,
        Err(message) => return fail_without_status(&message),
    };
    let policy = match SandboxPolicy::read(&invocation.policy_file) {
        Ok(policy) => policy,
        Err(error) => return fail_without_status(&error.to_string()),
    };
    let mut tiers = SandboxTiers::not_reached();
    let outcome = match prepare(&policy, &mut tiers) {
        Ok(terminate) => launch(invocation, leading, &policy, &mut tiers, &terminate),
        Err(outcome) => outcome,
    };
    let status = LaunchStatus {
        outcome,
        peak_rss_kilobytes: getrusage(UsageWho::RUSAGE_CHILDREN)
            .map_or(0, |usage| u64::try_from(usage.max_rss()).unwrap_or(0)),
        tiers,
    };
    match write_status(status_pipe, &status) {
        Ok(()) => status.exit_code(),
        Err(message) => fail_without_status(&message),
    }
}

fn parse(arguments: Vec<OsString>) -> Result<Invocation, String> {
    let mut arguments = arguments.into_iter().peekable();
    let stage = match arguments.next_if(|first| first == INSIDE_FLAG) {
        None => Stage::Outside,
        Some(_) => {
            let mut descriptor = || {
                arguments
                    .next()
                    .and_then(|word| word.to_str()?.parse().ok())
                    .ok_or_else(|| format!("{INSIDE_FLAG} needs two descriptors\n{USAGE}"))
            };
            Stage::Inside {
                report: descriptor()?,
                stderr: descriptor()?,
            }
        }
    };
    match (arguments.next(), arguments.next(), arguments.next()) {
        (Some(flag), Some(policy_file), Some(separator))
            if flag == "--policy-file" && separator == "--" =>
        {
            let program = arguments
                .next()
                .ok_or_else(|| format!("no program to run\n{USAGE}"))?;
            Ok(Invocation {
                stage,
                policy_file: policy_file.into(),
                program,
                arguments: arguments.collect(),
            })
        }
        _ => Err(format!("unexpected arguments\n{USAGE}")),
    }
}

/// Takes the status pipe the supervisor passes as stdin (see [`ReportPipe`]) into a close-on-exec
/// descriptor of the launcher's own, and puts `/dev/null` on stdin for everything started after: the
/// status reaches the supervisor on a pipe that no script ever holds.
///
/// [`ReportPipe`]: crate::ReportPipe
fn take_status_pipe() -> Result<File, String> {
    let cannot = |what: &str, error: &dyn std::fmt::Display| {
        format!("cannot {what}: {error}\nhint: the supervisor passes the status pipe as stdin")
    };
    let copy = fcntl(0, FcntlArg::F_DUPFD_CLOEXEC(3))
        .map_err(|error| cannot("take the status pipe from stdin", &error))?;
    // Reopened through /proc, so that the descriptor is owned without unsafe code.
    let status_pipe = OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{copy}"))
        .map_err(|error| cannot("open the status pipe", &error))?;
    let _ = nix::unistd::close(copy);
    let null = File::open("/dev/null").map_err(|error| cannot("open /dev/null", &error))?;
    nix::unistd::dup2(null.as_raw_fd(), 0)
        .map_err(|error| cannot("put /dev/null on stdin", &error))?;
    Ok(status_pipe)
}

/// What every launch gets, whatever isolates it: the termination flag that SIGTERM, SIGINT and
/// SIGHUP raise, its own session, the supervisor watched, no inherited descriptor, the cpu set and
/// the resource limits. `Err` is the outcome of a launch that must not go ahead.
fn prepare(
    policy: &SandboxPolicy,
    tiers: &mut SandboxTiers,
) -> Result<Arc<AtomicBool>, ChildOutcome> {
    let failed = ChildOutcome::FailedToStart;
    let terminate = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&terminate))
            .map_err(|error| failed(format!("cannot handle signal {signal}: {error}")))?;
    }
    let supervisor = getppid();
    lead_own_session().map_err(failed)?;
    // If the supervisor dies (kill -9 included), the launcher gets SIGTERM and takes its script down with
    // it, instead of leaving it running unsupervised in a run directory that a resume is about to clean.
    set_pdeathsig(Signal::SIGTERM)
        .map_err(|error| failed(format!("cannot watch the supervisor: {error}")))?;
    if getppid() != supervisor {
        terminate.store(true, Ordering::SeqCst);
    }
    set_child_subreaper(true)
        .map_err(|error| failed(format!("cannot become a subreaper: {error}")))?;
    // A descriptor the supervisor's caller left open (a file of private answers) must not reach the script.
    close_on_exec_above_stderr().map_err(failed)?;
    tiers.cpu_affinity = limits::apply_cpu_set(policy.cpu_set.as_deref()).map_err(failed)?;
    tiers.resource_limits = limits::apply_resource_limits(&policy.limits).map_err(failed)?;
    if let Some(limit) = &policy.disk_limit {
        if let TierState::Enforced { detail } | TierState::Partial { detail } =
            &mut tiers.resource_limits
        {
            detail.push_str(&format!(", node directory {} bytes (watched)", limit.bytes));
        }
    }
    tiers.cgroups = limits::cgroup_tier();
    match refusal(
        policy,
        tiers,
        &[
            SandboxTier::ResourceLimits,
            SandboxTier::CpuAffinity,
            SandboxTier::Cgroups,
        ],
    ) {
        Some(refused) => Err(refused),
        None => Ok(terminate),
    }
}

/// The refusal of the first of `reached` that the policy requires but is not in force.
pub(super) fn refusal(
    policy: &SandboxPolicy,
    tiers: &SandboxTiers,
    reached: &[SandboxTier],
) -> Option<ChildOutcome> {
    let required: Vec<SandboxTier> = policy
        .required_tiers
        .iter()
        .copied()
        .filter(|tier| reached.contains(tier))
        .collect();
    tiers
        .missing(&required)
        .map(|(tier, reason)| ChildOutcome::Refused { tier, reason })
}

/// Starts the program in namespaces, or, where they cannot be had, confined by this process alone.
fn launch(
    invocation: &Invocation,
    leading: &[OsString],
    policy: &SandboxPolicy,
    tiers: &mut SandboxTiers,
    terminate: &AtomicBool,
) -> ChildOutcome {
    let reason = match namespaces::find_bubblewrap() {
        Some(bubblewrap) => {
            match namespaces::in_namespaces(
                &bubblewrap,
                invocation,
                leading,
                policy,
                tiers,
                terminate,
            ) {
                Ok(outcome) => return outcome,
                Err(reason) => reason,
            }
        }
        None => {
            "bubblewrap is not installed (no /usr/bin/bwrap or /usr/local/bin/bwrap)".to_string()
        }
    };
    tiers.namespaces = TierState::Unavailable { reason };
    if let Some(refused) = refusal(policy, tiers, &[SandboxTier::Namespaces]) {
        return refused;
    }
    match confine_self(policy, tiers) {
        Ok(lock) => tiers.cpu_affinity = with_lock(tiers.cpu_affinity.clone(), lock),
        Err(outcome) => return outcome,
    }
    let program = Path::new(&invocation.program).display();
    let mut child = match Command::new(&invocation.program)
        .args(&invocation.arguments)
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            return ChildOutcome::FailedToStart(format!(
                "cannot start {program}: {error}\nhint: the program and everything it loads must lie beneath the policy's read-only paths"
            ))
        }
    };
    let outcome = supervise(&mut child, terminate, policy);
    reaper::kill_all_descendants();
    outcome
}

/// Landlock and seccomp on the calling thread, which must be its process's only one; then the check
/// that the policy's required tiers among them are in force. Returns whether the cpu set is locked.
pub(super) fn confine_self(
    policy: &SandboxPolicy,
    tiers: &mut SandboxTiers,
) -> Result<TierState, ChildOutcome> {
    ensure_single_threaded().map_err(ChildOutcome::FailedToStart)?;
    set_no_new_privs().map_err(|error| {
        ChildOutcome::FailedToStart(format!("cannot set no_new_privs: {error}"))
    })?;
    tiers.filesystem = filesystem::restrict(policy).map_err(ChildOutcome::FailedToStart)?;
    let cpu_set = match policy.cpu_set {
        Some(_) => CpuSet::Pinned,
        None => CpuSet::Inherited,
    };
    let seccomp =
        seccomp::restrict(policy.network, cpu_set).map_err(ChildOutcome::FailedToStart)?;
    tiers.network = seccomp.network;
    match refusal(
        policy,
        tiers,
        &[SandboxTier::Filesystem, SandboxTier::Network],
    ) {
        Some(refused) => Err(refused),
        None => Ok(seccomp.cpu_set_lock),
    }
}

/// The cpu affinity tier once the seccomp filter has (or has not) locked the cpu set.
pub(super) fn with_lock(affinity: TierState, lock: TierState) -> TierState {
    match (affinity, lock) {
        (TierState::Enforced { detail }, TierState::Enforced { .. }) => TierState::Enforced {
            detail: format!("{detail}; the script cannot widen them (seccomp)"),
        },
        (TierState::Enforced { detail }, TierState::Unavailable { reason }) => TierState::Partial {
            detail: format!("{detail}; the script can widen them: {reason}"),
        },
        (affinity, _) => affinity,
    }
}

/// Waits for `child` while watching the termination flag and the node directory's size.
pub(super) fn supervise(
    child: &mut Child,
    terminate: &AtomicBool,
    policy: &SandboxPolicy,
) -> ChildOutcome {
    let mut next_disk_check = Instant::now() + DISK_CHECK_INTERVAL;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if terminate.load(Ordering::Relaxed) => {
                let _ = child.kill();
                break child.wait();
            }
            Ok(None) => {}
            Err(error) => break Err(error),
        }
        if let Some(limit) = &policy.disk_limit {
            if Instant::now() >= next_disk_check {
                let used_bytes = disk::allocated_bytes(&limit.directory);
                if used_bytes > limit.bytes {
                    let _ = child.kill();
                    let _ = child.wait();
                    return ChildOutcome::DiskLimitExceeded {
                        limit_bytes: limit.bytes,
                        used_bytes,
                    };
                }
                next_disk_check = Instant::now() + DISK_CHECK_INTERVAL;
            }
        }
        std::thread::sleep(POLL_INTERVAL);
    };
    match status {
        Ok(status) => status.code().map_or_else(
            || ChildOutcome::Signaled(status.signal().unwrap_or(0)),
            ChildOutcome::Exited,
        ),
        Err(error) => ChildOutcome::FailedToStart(format!("lost track of the program: {error}")),
    }
}

/// Starts a session, so the supervisor can kill the launcher's process group as one.
fn lead_own_session() -> Result<(), String> {
    match setsid() {
        Ok(_) => Ok(()),
        // Spawned as the leader of a process group of its own: killing that group works as well.
        Err(Errno::EPERM) if getpgrp() == getpid() => Ok(()),
        Err(error) => Err(format!("setsid: {error}")),
    }
}

fn ensure_single_threaded() -> Result<(), String> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map_err(|error| {
            format!("cannot count the launcher's threads in /proc/self/task: {error}")
        })?
        .count();
    if threads == 1 {
        return Ok(());
    }
    Err(format!(
        "the launcher runs {threads} threads, but Landlock and seccomp confine only the calling one\nhint: call launcher_main before any thread starts"
    ))
}

fn write_status(mut file: File, status: &LaunchStatus) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(status)
        .map_err(|error| format!("cannot encode the launch status: {error}"))?;
    file.write_all(&text)
        .map_err(|error| format!("cannot write the launch status: {error}"))
}

pub(super) fn fail_without_status(message: &str) -> i32 {
    let _ = writeln!(std::io::stderr(), "ml-master sandbox launcher: {message}");
    LAUNCH_FAILED_EXIT_CODE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_the_policy_file_and_the_command() {
        assert_eq!(
            parse(arguments(&[
                "--policy-file",
                "p.json",
                "--",
                "python",
                "s.py",
                "--"
            ]))
            .unwrap(),
            Invocation {
                stage: Stage::Outside,
                policy_file: "p.json".into(),
                program: "python".into(),
                arguments: arguments(&["s.py", "--"]),
            }
        );
    }

    #[test]
    fn refuses_a_missing_separator_or_program_with_the_usage() {
        for words in [
            &["--policy-file", "p.json", "python"][..],
            &["--policy-file", "p.json", "--"][..],
            &[][..],
        ] {
            let error = parse(arguments(words)).unwrap_err();
            assert!(error.contains("usage:"), "{error}");
        }
    }
}
