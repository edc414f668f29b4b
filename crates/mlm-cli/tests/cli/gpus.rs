//! GPU discovery as `run` does it: through `nvidia-smi`, the driver's own interface. A script named
//! `nvidia-smi` first on `PATH` prints what the real program prints, so these tests run on machines
//! without a GPU; what the run makes of it shows in the line that says what each script gets.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{ml_master, path, prepared_task};

/// What `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits` prints on a
/// one-H100 machine.
const ONE_H100: &str = "0, NVIDIA H100 80GB HBM3, 81559";

/// A directory holding an `nvidia-smi` that prints `listing` and exits with `code`, as the real one
/// exits 6 with "No devices were found" on a machine whose driver sees no GPU.
fn fake_driver(scratch: &Path, listing: &str, code: i32) -> PathBuf {
    let bin = scratch.join("fake-driver");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("nvidia-smi");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncat <<'LISTING'\n{listing}\nLISTING\nexit {code}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs one step on titanic with the given driver and flags; returns (exit code, stderr).
fn run_with_driver(scratch: &Path, bin: &Path, flags: &[&str]) -> (Option<i32>, String) {
    let task = prepared_task("titanic");
    let run_dir = scratch.join("run");
    let output = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .env("PATH", path_with(bin))
        .args([
            "run",
            "--task",
            path(&task),
            "--steps",
            "1",
            "--run-dir",
            path(&run_dir),
        ])
        .args(flags)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_drivers_gpu_is_shared_by_the_slots_and_the_run_says_so() {
    let scratch = tempfile::tempdir().unwrap();
    let bin = fake_driver(scratch.path(), ONE_H100, 0);
    let (code, stderr) = run_with_driver(scratch.path(), &bin, &["--slots", "2"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "1 GPU per script: NVIDIA H100 80GB HBM3 (79.6 GiB), shared by 2 scripts running at once, no fixed memory limit"
        ),
        "{stderr}"
    );
}

#[test]
fn a_driver_without_gpus_or_no_driver_at_all_runs_as_before_and_gpus_none_ignores_the_driver() {
    let scratch = tempfile::tempdir().unwrap();
    let bin = fake_driver(scratch.path(), "No devices were found", 6);
    let (code, stderr) = run_with_driver(scratch.path(), &bin, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("per script, no GPU, "), "{stderr}");

    let other = tempfile::tempdir().unwrap();
    let bin = fake_driver(other.path(), ONE_H100, 0);
    let (code, stderr) = run_with_driver(other.path(), &bin, &["--gpus", "none"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("per script, no GPU, "), "{stderr}");
}

#[test]
fn a_gpu_the_driver_does_not_list_is_refused_before_the_run_directory_exists() {
    let scratch = tempfile::tempdir().unwrap();
    let bin = fake_driver(scratch.path(), ONE_H100, 0);
    let (code, stderr) = run_with_driver(scratch.path(), &bin, &["--gpus", "0,3"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("GPU 3 was asked for, but the driver lists GPUs 0\nhint: "),
        "{stderr}"
    );
    assert!(!scratch.path().join("run").exists());

    let (code, stderr) = run_with_driver(scratch.path(), &bin, &["--gpus", "all"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("hint: write \"auto\", \"none\""),
        "{stderr}"
    );
}
