//! The launcher process: it confines itself, starts the program as its child (which inherits the
//! confinement, the standard streams, the environment and the working directory), waits for it,
//! kills whatever it left behind and writes a [`LaunchStatus`].

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::prctl::{set_child_subreaper, set_no_new_privs, set_pdeathsig};
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::signal::Signal;
use nix::unistd::{getpgrp, getpid, getppid, setsid};

use super::policy::{ChildOutcome, LaunchStatus, SandboxPolicy, SandboxTiers};
use super::{filesystem, limits, network, reaper, LAUNCH_FAILED_EXIT_CODE};

/// How often the launcher checks on its child and on the termination flag.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

const USAGE: &str = "usage: --policy-file POLICY.json -- PROGRAM [ARGUMENT...]";

/// What the launcher was asked to run.
#[derive(Debug, PartialEq)]
struct Invocation {
    policy_file: PathBuf,
    program: OsString,
    arguments: Vec<OsString>,
}

/// The launcher's entry point. `arguments` are its own, after any leading ones (a subcommand name):
/// `--policy-file POLICY.json -- PROGRAM [ARGUMENT...]`. Returns the code to exit with: the child's
/// exit code, 128 + the signal that killed it, or [`LAUNCH_FAILED_EXIT_CODE`] when nothing ran.
/// When even the status file cannot be written, the reason goes to stderr.
///
/// Call it on the main thread of a freshly started process, before any other thread exists:
/// Landlock and seccomp confine only the calling thread, so the launcher refuses to run otherwise.
pub fn launcher_main(arguments: Vec<OsString>) -> i32 {
    let (invocation, policy, status_file) = match start(arguments) {
        Ok(started) => started,
        Err(message) => return fail_without_status(&message),
    };
    let mut tiers = SandboxTiers::not_reached();
    let outcome = match confine(&policy, &mut tiers) {
        Ok(terminate) => run_child(&invocation, &terminate),
        Err(message) => ChildOutcome::FailedToStart(message),
    };
    let status = LaunchStatus {
        outcome,
        peak_rss_kilobytes: getrusage(UsageWho::RUSAGE_CHILDREN)
            .map_or(0, |usage| u64::try_from(usage.max_rss()).unwrap_or(0)),
        tiers,
    };
    match write_status(status_file, &status) {
        Ok(()) => status.exit_code(),
        Err(message) => fail_without_status(&message),
    }
}

fn start(arguments: Vec<OsString>) -> Result<(Invocation, SandboxPolicy, File), String> {
    let invocation = parse(arguments)?;
    let policy = SandboxPolicy::read(&invocation.policy_file).map_err(|error| error.to_string())?;
    let status_file = open_status_file(&policy)?;
    Ok((invocation, policy, status_file))
}

fn parse(arguments: Vec<OsString>) -> Result<Invocation, String> {
    let mut arguments = arguments.into_iter();
    match (arguments.next(), arguments.next(), arguments.next()) {
        (Some(flag), Some(policy_file), Some(separator))
            if flag == "--policy-file" && separator == "--" =>
        {
            let program = arguments
                .next()
                .ok_or_else(|| format!("no program to run\n{USAGE}"))?;
            Ok(Invocation {
                policy_file: policy_file.into(),
                program,
                arguments: arguments.collect(),
            })
        }
        _ => Err(format!("unexpected arguments\n{USAGE}")),
    }
}

/// Opens (creates) the status file before the filesystem is restricted; the launcher writes it
/// through this descriptor at the end. A status file the script could write is refused.
fn open_status_file(policy: &SandboxPolicy) -> Result<File, String> {
    let path = &policy.status_path;
    let cannot = |error: std::io::Error| format!("status file {}: {error}", path.display());
    let file = File::create(path).map_err(cannot)?;
    let resolved = path.canonicalize().map_err(cannot)?;
    for writable in &policy.read_write_paths {
        if writable
            .canonicalize()
            .is_ok_and(|writable| resolved.starts_with(writable))
        {
            return Err(format!(
                "status file {} lies inside the read-write path {}, where the script could forge it",
                path.display(),
                writable.display()
            ));
        }
    }
    Ok(file)
}

/// Applies every tier in order, recording each in `tiers`, and returns the flag that SIGTERM, SIGINT
/// and SIGHUP raise. `Err` says why the program must not start.
fn confine(policy: &SandboxPolicy, tiers: &mut SandboxTiers) -> Result<Arc<AtomicBool>, String> {
    let terminate = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&terminate))
            .map_err(|error| format!("cannot handle signal {signal}: {error}"))?;
    }
    let supervisor = getppid();
    lead_own_session()?;
    // If the supervisor dies (kill -9 included), the launcher gets SIGTERM and takes its script down with
    // it, instead of leaving it running unsupervised in a run directory that a resume is about to clean.
    set_pdeathsig(Signal::SIGTERM)
        .map_err(|error| format!("cannot watch the supervisor: {error}"))?;
    if getppid() != supervisor {
        terminate.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    set_child_subreaper(true).map_err(|error| format!("cannot become a subreaper: {error}"))?;
    tiers.cpu_affinity = limits::apply_cpu_set(policy.cpu_set.as_deref())?;
    tiers.resource_limits = limits::apply_resource_limits(&policy.limits)?;
    ensure_single_threaded()?;
    set_no_new_privs().map_err(|error| format!("cannot set no_new_privs: {error}"))?;
    tiers.filesystem = filesystem::restrict(policy)?;
    tiers.network = network::restrict(policy.network)?;
    Ok(terminate)
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

/// Runs the program until it exits or a termination signal arrives, then kills and reaps every
/// descendant that is left.
fn run_child(invocation: &Invocation, terminate: &AtomicBool) -> ChildOutcome {
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
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if terminate.load(Ordering::Relaxed) => {
                let _ = child.kill();
                break child.wait();
            }
            Ok(None) => std::thread::sleep(POLL_INTERVAL),
            Err(error) => break Err(error),
        }
    };
    reaper::kill_all_descendants();
    match status {
        Ok(status) => status.code().map_or_else(
            || ChildOutcome::Signaled(status.signal().unwrap_or(0)),
            ChildOutcome::Exited,
        ),
        Err(error) => ChildOutcome::FailedToStart(format!("lost track of {program}: {error}")),
    }
}

fn write_status(mut file: File, status: &LaunchStatus) -> Result<(), String> {
    let text = serde_json::to_vec_pretty(status)
        .map_err(|error| format!("cannot encode the launch status: {error}"))?;
    file.write_all(&text)
        .map_err(|error| format!("cannot write the launch status: {error}"))
}

fn fail_without_status(message: &str) -> i32 {
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
