//! The one way this product runs a child process: a [`ProcessRequest`] built by a pure function, handed to
//! [`run_process`], which spawns the child in its own process group, streams its output line by line,
//! enforces the wall-clock limit on the whole group (SIGTERM, a grace period, then SIGKILL) and reaps it.
//! Output is read in fixed-size chunks through a bounded channel and kept head-and-tail, so neither a
//! flood nor a single endless line can grow the supervisor's memory. A child may also report on a pipe
//! of its own (the sandbox launcher's status), which only the supervisor reads.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::output::{CapturedOutput, OutputCapture};

/// A line longer than this is delivered in pieces of this size.
const MAX_LINE_BYTES: usize = 16 * 1024;
/// How often the supervisor checks the leader and the clock while no output arrives.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long output is still read after the leader exits, for lines already in the pipes.
const DRAIN_PERIOD: Duration = Duration::from_secs(2);
/// Lines buffered between the reader threads and the supervisor; a full channel slows the child down.
const CHANNEL_LINES: usize = 1024;
/// Output kept by default: enough for a long traceback at the end and the setup at the start.
pub const DEFAULT_OUTPUT_LIMIT_BYTES: usize = 256 * 1024;
/// The most of a report that is kept: a status of a few kilobytes, never a flood.
const REPORT_LIMIT_BYTES: u64 = 1024 * 1024;

/// Everything needed to start one process; building it does no I/O.
#[derive(Debug, Clone)]
pub struct ProcessRequest {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub environment: Environment,
    pub cwd: PathBuf,
    /// Wall-clock limit for the whole process group; `None` waits for ever.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the limit is reached.
    pub kill_grace: Duration,
    /// What to say when the program cannot be started at all.
    pub spawn_hint: String,
    /// Who makes the child a process-group leader.
    pub session: Session,
    /// Bytes of output kept (head and tail); the rest is counted and cut.
    pub output_limit_bytes: usize,
    /// Set from another thread to stop the child as a timeout would (SIGTERM, grace, SIGKILL).
    pub cancellation: Option<Arc<AtomicBool>>,
    /// Whether the child gets a pipe to report on.
    pub report: ReportPipe,
}

/// Where a child reports a result of its own, apart from its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportPipe {
    /// No report; the child's stdin is `/dev/null`.
    Absent,
    /// The child's stdin is the write end of a pipe that only the supervisor reads (no other child
    /// inherits it); what the child writes there arrives as [`ProcessOutcome::report`].
    OnStandardInput,
}

/// Which process creates the group that a timeout kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// The child is spawned as the leader of a new process group.
    NewProcessGroup,
    /// The child calls `setsid()` itself (the sandbox launcher does), becoming the leader of a new session
    /// and group; it must not already lead a group, or `setsid` fails.
    CreatedByChild,
}

/// The environment a child starts with.
#[derive(Debug, Clone, PartialEq)]
pub enum Environment {
    /// The parent's environment: only for our own trusted tools, such as pip during set-up.
    Inherit,
    /// The parent's environment with these variables added or replaced: for the user's own recipes,
    /// which may need the user's settings.
    InheritWith(Vec<(String, String)>),
    /// Exactly these variables and no others.
    Only(Vec<(String, String)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line a child printed, as it arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputLine {
    pub stream: Stream,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
    /// The wall-clock limit was reached and the group was killed.
    TimedOut,
    /// The caller cancelled the run and the group was killed.
    Cancelled,
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(formatter, "exit code {code}"),
            ExitStatus::Signaled(signal) => write!(formatter, "killed by signal {signal}"),
            ExitStatus::TimedOut => write!(formatter, "timed out"),
            ExitStatus::Cancelled => write!(formatter, "cancelled"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessOutcome {
    pub status: ExitStatus,
    pub duration: Duration,
    /// stdout and stderr, interleaved as they arrived, head and tail kept.
    pub output: CapturedOutput,
    /// What the child wrote on its report pipe (its first megabyte), when it had one.
    pub report: Option<Vec<u8>>,
}

impl ProcessOutcome {
    pub fn success(&self) -> bool {
        self.status == ExitStatus::Exited(0)
    }
}

impl ProcessRequest {
    pub fn new(program: impl Into<PathBuf>, cwd: impl Into<PathBuf>) -> Self {
        ProcessRequest {
            program: program.into(),
            args: Vec::new(),
            environment: Environment::Inherit,
            cwd: cwd.into(),
            timeout: None,
            kill_grace: Duration::from_secs(5),
            spawn_hint: "check that the program exists and is executable".to_string(),
            session: Session::NewProcessGroup,
            output_limit_bytes: DEFAULT_OUTPUT_LIMIT_BYTES,
            cancellation: None,
            report: ReportPipe::Absent,
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn spawn_hint(mut self, hint: impl Into<String>) -> Self {
        self.spawn_hint = hint.into();
        self
    }
}

/// Runs `request` to completion, calling `on_line` for every line of output as it arrives.
pub fn run_process(
    request: &ProcessRequest,
    on_line: &mut dyn FnMut(OutputLine),
) -> Result<ProcessOutcome> {
    let mut command = Command::new(&request.program);
    command
        .args(&request.args)
        .current_dir(&request.cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let report_reader = match request.report {
        ReportPipe::Absent => {
            command.stdin(Stdio::null());
            None
        }
        ReportPipe::OnStandardInput => {
            // Close-on-exec: only this child gets the write end, as its stdin, never a sibling.
            let (reader, writer) =
                nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|error| Error::Io {
                    path: request.program.clone(),
                    source: error.into(),
                })?;
            command.stdin(Stdio::from(writer));
            Some(reader)
        }
    };
    match request.session {
        Session::NewProcessGroup => {
            command.process_group(0);
        }
        Session::CreatedByChild => {}
    }
    match &request.environment {
        Environment::Inherit => {}
        Environment::InheritWith(variables) => {
            command.envs(variables.iter().map(|(key, value)| (key, value)));
        }
        Environment::Only(variables) => {
            command
                .env_clear()
                .envs(variables.iter().map(|(key, value)| (key, value)));
        }
    }
    let started = Instant::now();
    let spawned = command.spawn();
    // The command holds this side's copy of the report pipe's write end; the report ends when the
    // child's copy closes.
    drop(command);
    let mut child = spawned.map_err(|source| Error::Spawn {
        program: request.program.display().to_string(),
        hint: request.spawn_hint.clone(),
        source,
    })?;
    let report_thread = report_reader.map(|reader| {
        std::thread::spawn(move || {
            let mut report = Vec::new();
            let _ = File::from(reader)
                .take(REPORT_LIMIT_BYTES)
                .read_to_end(&mut report);
            report
        })
    });
    let group = Pid::from_raw(child.id() as i32);

    let (sender, receiver) = mpsc::sync_channel(CHANNEL_LINES);
    if let Some(stdout) = child.stdout.take() {
        spawn_reader(stdout, Stream::Stdout, sender.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        spawn_reader(stderr, Stream::Stderr, sender.clone());
    }
    drop(sender);

    let deadline = request.timeout.map(|timeout| started + timeout);
    let mut capture = OutputCapture::new(request.output_limit_bytes);
    let mut stopped: Option<ExitStatus> = None;
    let mut exited = None;
    // Read until both pipes close; once the leader has exited, stragglers get a short drain period.
    let mut drain_deadline = None;
    loop {
        match receiver.recv_timeout(POLL_INTERVAL) {
            Ok(line) => {
                capture.push_line(&line.text);
                on_line(line);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if exited.is_none() {
            exited = child.try_wait().map_err(|source| Error::Io {
                path: request.program.clone(),
                source,
            })?;
            if exited.is_some() {
                // The group may hold grandchildren that outlived the leader; they must not outlive the request.
                signal_group(group, Signal::SIGKILL);
                drain_deadline = Some(now + DRAIN_PERIOD);
            } else if stopped.is_none() {
                let cancelled = request
                    .cancellation
                    .as_ref()
                    .is_some_and(|flag| flag.load(Ordering::SeqCst));
                if cancelled || deadline.is_some_and(|deadline| now >= deadline) {
                    stopped = Some(if cancelled {
                        ExitStatus::Cancelled
                    } else {
                        ExitStatus::TimedOut
                    });
                    terminate_group(group, request.kill_grace, &mut child);
                    drain_deadline = Some(Instant::now() + DRAIN_PERIOD);
                }
            }
        }
        if drain_deadline.is_some_and(|drain_deadline| now >= drain_deadline) {
            // A process outside the group still holds a pipe; its reader thread ends when the pipe closes.
            break;
        }
    }
    let status = match exited {
        Some(status) => status,
        None => child.wait().map_err(|source| Error::Io {
            path: request.program.clone(),
            source,
        })?,
    };
    signal_group(group, Signal::SIGKILL);
    let report = report_thread.map(|thread| thread.join().unwrap_or_default());
    let status = if let Some(stopped) = stopped {
        stopped
    } else if let Some(code) = status.code() {
        ExitStatus::Exited(code)
    } else {
        ExitStatus::Signaled(status.signal().unwrap_or(0))
    };
    Ok(ProcessOutcome {
        status,
        duration: started.elapsed(),
        output: capture.finish(),
        report,
    })
}

fn spawn_reader(
    mut source: impl Read + Send + 'static,
    stream: Stream,
    sender: mpsc::SyncSender<OutputLine>,
) {
    std::thread::spawn(move || {
        let mut chunk = vec![0_u8; 64 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        let send = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes)
                .trim_end_matches('\r')
                .to_string();
            sender.send(OutputLine { stream, text }).is_ok()
        };
        loop {
            let read = match source.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            for piece in chunk[..read].split_inclusive(|byte| *byte == b'\n') {
                match piece.strip_suffix(b"\n") {
                    Some(line) => {
                        pending.extend_from_slice(line);
                        if !send(&pending) {
                            return;
                        }
                        pending.clear();
                    }
                    None => pending.extend_from_slice(piece),
                }
                while pending.len() >= MAX_LINE_BYTES {
                    let rest = pending.split_off(MAX_LINE_BYTES);
                    if !send(&pending) {
                        return;
                    }
                    pending = rest;
                }
            }
        }
        if !pending.is_empty() {
            send(&pending);
        }
    });
}

fn terminate_group(group: Pid, grace: Duration, child: &mut std::process::Child) {
    signal_group(group, Signal::SIGTERM);
    let grace_ends = Instant::now() + grace;
    while Instant::now() < grace_ends {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(group, Signal::SIGKILL);
}

/// Signals the group led by `leader`, or the leader alone when it has not made its group yet (a child
/// that calls `setsid` itself may be killed before it gets there).
fn signal_group(leader: Pid, signal: Signal) {
    if killpg(leader, signal).is_err() {
        let _ = nix::sys::signal::kill(leader, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> ProcessRequest {
        ProcessRequest::new("/bin/sh", std::env::temp_dir()).args(["-c", script])
    }

    #[test]
    fn streams_lines_from_both_streams_and_reports_the_exit_code() {
        let mut lines = Vec::new();
        let outcome = run_process(&shell("echo out; echo err >&2; exit 3"), &mut |line| {
            lines.push(line)
        })
        .unwrap();
        assert_eq!(outcome.status, ExitStatus::Exited(3));
        assert!(lines.contains(&OutputLine {
            stream: Stream::Stdout,
            text: "out".into()
        }));
        assert!(lines.contains(&OutputLine {
            stream: Stream::Stderr,
            text: "err".into()
        }));
    }

    #[test]
    fn a_timeout_kills_the_whole_group_including_grandchildren() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
        let mut request = shell(&script);
        request.timeout = Some(Duration::from_millis(300));
        request.kill_grace = Duration::from_millis(100);
        let outcome = run_process(&request, &mut |_| {}).unwrap();
        assert_eq!(outcome.status, ExitStatus::TimedOut);
        let grandchild: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Signal 0 probes for existence; a reaped or killed process is gone (or a zombie of init, briefly).
        let deadline = Instant::now() + Duration::from_secs(5);
        while nix::sys::signal::kill(Pid::from_raw(grandchild), None).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let status =
            std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
        assert!(
            status.is_empty() || status.contains(") Z "),
            "grandchild {grandchild} still alive: {status}"
        );
    }

    #[test]
    fn added_variables_keep_the_parents_environment() {
        let mut request = shell("echo \"[${PATH:+inherited}][$ML_MASTER_ADDED]\"");
        request.environment =
            Environment::InheritWith(vec![("ML_MASTER_ADDED".into(), "x".into())]);
        let mut lines = Vec::new();
        run_process(&request, &mut |line| lines.push(line.text)).unwrap();
        assert_eq!(lines, vec!["[inherited][x]"]);
    }

    #[test]
    fn an_explicit_environment_replaces_the_parents() {
        let mut request = shell("echo \"[$HOME][$PATH]\"");
        request.environment = Environment::Only(vec![("PATH".into(), "/usr/bin:/bin".into())]);
        let mut lines = Vec::new();
        run_process(&request, &mut |line| lines.push(line.text)).unwrap();
        assert_eq!(lines, vec!["[][/usr/bin:/bin]"]);
    }

    #[test]
    fn a_missing_program_is_a_spawn_error_with_its_hint() {
        let request =
            ProcessRequest::new("/nonexistent/python", "/").spawn_hint("run ml-master env setup");
        let error = run_process(&request, &mut |_| {}).unwrap_err().to_string();
        assert!(
            error.contains("/nonexistent/python") && error.contains("ml-master env setup"),
            "{error}"
        );
    }
}
