//! What the command-line tests share: the binary, prepared tasks, and filters for snapshots.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

pub use mlm_test_support::{copy_of_prepared_task, prepared_task};

/// The `ml-master` binary under test, with a data directory that cannot touch the user's.
pub fn ml_master() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("ml-master").expect("the binary is built");
    command.env("NO_COLOR", "1");
    command
}

/// The deep profile's interpreter (or `ML_MASTER_PYTHON`).
pub fn deep_python() -> std::path::PathBuf {
    mlm_exec::PythonEnvironment::resolve(None, mlm_exec::Profile::Deep)
        .unwrap()
        .require_python()
        .expect("the deep profile is set up: run `cargo run -- env setup --profile deep`")
}

/// Runs `ml-master` and returns (exit code, stdout, stderr).
pub fn run(arguments: &[&str]) -> (i32, String, String) {
    let output = ml_master()
        .args(arguments)
        .output()
        .expect("ml-master runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn path(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Replaces a directory's path in text with a fixed name, for snapshots.
pub fn redact(text: &str, directory: &Path, name: &str) -> String {
    text.replace(path(directory), name)
}

/// An `ml-master` server (the validator, the dashboard) started with `--port 0`, which prints its URL as
/// its first line on stdout; killed when dropped.
pub struct LocalServer {
    child: Child,
    /// The URL it printed, without a trailing slash.
    pub url: String,
}

impl LocalServer {
    pub fn start(arguments: &[&std::ffi::OsStr]) -> LocalServer {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ml-master"))
            .args(arguments)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout is piped"))
            .read_line(&mut line)
            .expect("the server prints its URL");
        assert!(
            line.starts_with("http://127.0.0.1:"),
            "unexpected first line: {line:?}"
        );
        LocalServer {
            child,
            url: line.trim().trim_end_matches('/').to_string(),
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `row`s of a node's `oof.csv`.
pub fn oof_rows(run_dir: &Path, oof_path: &str) -> BTreeSet<u64> {
    std::fs::read_to_string(run_dir.join(oof_path))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap().parse().unwrap())
        .collect()
}
