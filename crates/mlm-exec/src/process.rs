//! The one way this product runs a child process: a [`ProcessRequest`] built by a pure function, handed to
//! [`run_process`], which spawns the child in its own process group, streams its output line by line,
//! enforces the wall-clock limit on the whole group (SIGTERM, a grace period, then SIGKILL) and reaps it.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// How many of the last output lines a [`ProcessOutcome`] keeps for error messages.
const TAIL_LINES: usize = 40;

/// Everything needed to start one process; building it does no I/O.
#[derive(Debug, Clone, PartialEq)]
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
}

/// The environment a child starts with.
#[derive(Debug, Clone, PartialEq)]
pub enum Environment {
    /// The parent's environment: only for our own trusted tools, such as pip during set-up.
    Inherit,
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
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(formatter, "exit code {code}"),
            ExitStatus::Signaled(signal) => write!(formatter, "killed by signal {signal}"),
            ExitStatus::TimedOut => write!(formatter, "timed out"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessOutcome {
    pub status: ExitStatus,
    pub duration: Duration,
    /// The last lines of stdout and stderr, interleaved as they arrived.
    pub tail: Vec<String>,
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
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    match &request.environment {
        Environment::Inherit => {}
        Environment::Only(variables) => {
            command
                .env_clear()
                .envs(variables.iter().map(|(key, value)| (key, value)));
        }
    }
    let started = Instant::now();
    let mut child = command.spawn().map_err(|source| Error::Spawn {
        program: request.program.display().to_string(),
        hint: request.spawn_hint.clone(),
        source,
    })?;
    let group = Pid::from_raw(child.id() as i32);

    let (sender, receiver) = mpsc::channel();
    let mut readers = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        readers.push(spawn_reader(stdout, Stream::Stdout, sender.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.push(spawn_reader(stderr, Stream::Stderr, sender.clone()));
    }
    drop(sender);

    let deadline = request.timeout.map(|timeout| started + timeout);
    let mut tail = std::collections::VecDeque::with_capacity(TAIL_LINES);
    let mut timed_out = false;
    loop {
        let wait = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        match receiver.recv_timeout(wait) {
            Ok(line) => {
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line.text.clone());
                on_line(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    timed_out = true;
                    terminate_group(group, request.kill_grace, &mut child);
                    break;
                }
            }
        }
    }
    let status = child.wait().map_err(|source| Error::Io {
        path: request.program.clone(),
        source,
    })?;
    // The group may hold grandchildren that outlived the leader; they must not outlive the request.
    let _ = killpg(group, Signal::SIGKILL);
    for reader in readers {
        let _ = reader.join();
    }
    let status = if timed_out {
        ExitStatus::TimedOut
    } else if let Some(code) = status.code() {
        ExitStatus::Exited(code)
    } else {
        ExitStatus::Signaled(status.signal().unwrap_or(0))
    };
    Ok(ProcessOutcome {
        status,
        duration: started.elapsed(),
        tail: tail.into_iter().collect(),
    })
}

fn spawn_reader(
    source: impl Read + Send + 'static,
    stream: Stream,
    sender: mpsc::Sender<OutputLine>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match reader.read_until(b'\n', &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buffer)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    if sender.send(OutputLine { stream, text }).is_err() {
                        break;
                    }
                }
            }
        }
    })
}

fn terminate_group(group: Pid, grace: Duration, child: &mut std::process::Child) {
    let _ = killpg(group, Signal::SIGTERM);
    let grace_ends = Instant::now() + grace;
    while Instant::now() < grace_ends {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = killpg(group, Signal::SIGKILL);
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
