//! What the command-line tests share: the binary, prepared tasks, and filters for snapshots.

use std::path::Path;

pub use mlm_test_support::{copy_of_prepared_task, prepared_task};

/// The `ml-master` binary under test, with a data directory that cannot touch the user's.
pub fn ml_master() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("ml-master").expect("the binary is built");
    command.env("NO_COLOR", "1");
    command
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
