//! `ml-master bench --executor ray` against a real Ray head on loopback, started from the cluster
//! profile's `ray` on free ports and stopped after: the jobs land in Ray's job list, the report has the
//! local executor's form, a rerun submits nothing, and a bench stopped mid-way completes when rerun.
//! Without the cluster profile the test is ignored, with the reason, unless `ML_MASTER_REQUIRE_RAY=1`
//! (CI), which makes it run and fail.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mlm_exec::{Profile, PythonEnvironment};
use serde_json::Value;

use crate::support::{copy_of_prepared_task, ml_master, path, prepared_task};

/// A Ray head node of this test's own, stopped when dropped.
struct RayHead {
    ray: PathBuf,
    address: String,
    /// Ray's session files.
    temp: tempfile::TempDir,
}

impl RayHead {
    /// A head started with the cluster profile's `ray`; without the profile the test fails, naming the
    /// command that installs it (the test is ignored at build time where the profile is missing).
    fn start(test: &str) -> RayHead {
        let environment = PythonEnvironment::resolve(None, Profile::Cluster).unwrap();
        let missing = environment.missing_modules(Profile::Cluster).unwrap();
        assert!(
            missing.is_empty(),
            "{test}: the cluster profile lacks {missing:?}: run `cargo run -- env setup --profile cluster`"
        );
        let ray = environment.python().with_file_name("ray");
        // Short: Ray's socket paths under it must stay within the kernel's 107 bytes.
        let temp = tempfile::Builder::new()
            .prefix("ray")
            .tempdir_in("/tmp")
            .unwrap();
        let (gcs_port, dashboard_port) = (free_port(), free_port());
        // Made first, so that a failed start is stopped too.
        let head = RayHead {
            ray,
            address: format!("http://127.0.0.1:{dashboard_port}"),
            temp,
        };
        let start = || {
            Command::new(&head.ray)
                .args([
                    "start",
                    "--head",
                    "--node-ip-address",
                    "127.0.0.1",
                    "--port",
                    &gcs_port.to_string(),
                    "--dashboard-host",
                    "127.0.0.1",
                    "--dashboard-port",
                    &dashboard_port.to_string(),
                    "--include-dashboard",
                    "true",
                    "--num-cpus",
                    "2",
                    "--temp-dir",
                    path(head.temp.path()),
                    "--disable-usage-stats",
                ])
                // Ray gives its dashboard 60 s to start, which a loaded two-core machine overran.
                .env("RAY_DASHBOARD_STARTUP_TIMEOUT_S", "300")
                .output()
                .unwrap()
        };
        // Ray waits a fixed 30 s for its raylet to register, which a loaded machine also overran
        // (beside the other tests of this binary): a failed start is stopped and tried again.
        let mut output = start();
        for _ in 0..2 {
            if output.status.success() {
                break;
            }
            let _ = Command::new(&head.ray).arg("stop").output();
            output = start();
        }
        assert!(
            output.status.success(),
            "ray start failed three times: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let started = Instant::now();
        while get_json(&format!("{}/api/version", head.address)).is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "Ray's job server did not come up at {}",
                head.address
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        head
    }

    /// Ray's job list: submission id → status.
    fn jobs(&self) -> Vec<(String, String)> {
        let jobs = get_json(&format!("{}/api/jobs/", self.address)).unwrap();
        let mut jobs: Vec<(String, String)> = jobs
            .as_array()
            .unwrap()
            .iter()
            .map(|job| {
                (
                    job["submission_id"].as_str().unwrap_or("").to_string(),
                    job["status"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        jobs.sort();
        jobs
    }
}

impl Drop for RayHead {
    fn drop(&mut self) {
        let _ = Command::new(&self.ray).arg("stop").output();
    }
}

/// The JSON a GET answers with, or `None` when the server does not answer it (yet).
fn get_json(url: &str) -> Option<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let reply = reqwest::get(url).await.ok()?.error_for_status().ok()?;
        reply.json().await.ok()
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two competitions, one seed: titanic, and a copy of it under another id (titanic is the quickest
/// bundled task for the built-in coder, which keeps this test within CI's minutes).
fn two_competition_suite(dir: &Path) -> PathBuf {
    let copy = copy_of_prepared_task("titanic", &dir.join("second"));
    let task_file = copy.join("task.toml");
    let text = std::fs::read_to_string(&task_file).unwrap();
    assert!(text.contains("id = \"titanic\""), "{text}");
    std::fs::write(
        &task_file,
        text.replace("id = \"titanic\"", "id = \"titanic-copy\""),
    )
    .unwrap();
    let suite = dir.join("suite.toml");
    let mut text = String::new();
    for task in [prepared_task("titanic"), copy] {
        text.push_str(&format!("[[competition]]\ntask = \"{}\"\n", path(&task)));
    }
    std::fs::write(&suite, text).unwrap();
    suite
}

fn bench_arguments<'a>(suite: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "bench",
        "--suite",
        path(suite),
        "--steps",
        "1",
        "--time-limit",
        "120",
        "--slots",
        "1",
        "--concurrency",
        "2",
        "--out",
        path(out),
        "--json",
    ]
}

fn bench(arguments: &[&str]) -> (i32, String, String) {
    let output = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args(arguments)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The JSON's shape: every key path, with the values' types, so that two reports of the same suite can
/// be compared whatever their scores and timings.
fn shape(value: &Value, prefix: &str, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                shape(value, &format!("{prefix}.{key}"), into);
            }
        }
        Value::Array(items) => {
            into.push(format!("{prefix}[{}]", items.len()));
            for item in items {
                shape(item, &format!("{prefix}[]"), into);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            into.push(prefix.to_string());
        }
    }
    into.sort();
    into.dedup();
}

#[test]
#[cfg_attr(
    missing_ray,
    ignore = "no Ray in the cluster profile when the tests were built: `ml-master env setup --profile cluster`"
)]
fn a_bench_on_a_ray_head_reports_as_a_local_one_resumes_and_survives_an_interruption() {
    let test = "a_bench_on_a_ray_head_reports_as_a_local_one_resumes_and_survives_an_interruption";
    let head = RayHead::start(test);
    let scratch = tempfile::tempdir().unwrap();
    let suite = two_competition_suite(scratch.path());
    let ray_out = scratch.path().join("ray");
    let mut ray_arguments = bench_arguments(&suite, &ray_out);
    ray_arguments.extend(["--executor", "ray", "--ray-address", &head.address]);

    let (code, stdout, stderr) = bench(&ray_arguments);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("titanic seed 0: running on node ") && stderr.contains(" (Ray node "),
        "progress says where each job runs: {stderr}"
    );
    let jobs = head.jobs();
    let ours: Vec<&(String, String)> = jobs
        .iter()
        .filter(|(id, _)| id.starts_with("ml-master-") && !id.contains("worker-check"))
        .collect();
    assert_eq!(
        ours.len(),
        4,
        "two runs and two baselines, each submitted once: {jobs:?}"
    );
    for suffix in [
        "-titanic-seed-0",
        "-titanic-copy-seed-0",
        "-titanic-baseline-simple",
    ] {
        assert!(
            ours.iter()
                .any(|(id, status)| id.ends_with(suffix) && status == "SUCCEEDED"),
            "{suffix} succeeded on Ray: {jobs:?}"
        );
    }
    let log = std::fs::read_to_string(ray_out.join("runs/titanic/seed-0.log")).unwrap();
    assert!(
        log.contains("\"event\""),
        "the run's JSON events came back from Ray: {log}"
    );

    let local_out = scratch.path().join("local");
    let (code, local_stdout, stderr) = bench(&bench_arguments(&suite, &local_out));
    assert_eq!(code, 0, "{stderr}");
    let ray_report: Value = serde_json::from_str(&stdout).unwrap();
    let local_report: Value = serde_json::from_str(&local_stdout).unwrap();
    let (mut ray_shape, mut local_shape) = (Vec::new(), Vec::new());
    shape(&ray_report, "", &mut ray_shape);
    shape(&local_report, "", &mut local_shape);
    assert_eq!(ray_shape, local_shape, "the same report, key for key");
    for (row, competition) in ray_report["competitions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["titanic", "titanic-copy"])
    {
        assert_eq!(row["competition"], competition, "{row}");
        assert!(row["baseline_score"].as_f64().is_some(), "{row}");
    }
    let table_header = |out: &Path| -> Vec<String> {
        std::fs::read_to_string(out.join("bench.md"))
            .unwrap()
            .lines()
            .filter(|line| line.starts_with("| competition"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(table_header(&ray_out), table_header(&local_out));

    let (code, _, stderr) = bench(&ray_arguments);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.matches("skipped").count(), 4, "{stderr}");
    assert_eq!(head.jobs(), jobs, "a rerun submits nothing new");

    // Stopped mid-way (as Ctrl-C does) once a run is running, then rerun to completion.
    let stopped_out = scratch.path().join("stopped");
    let mut stopped_arguments = bench_arguments(&suite, &stopped_out);
    stopped_arguments.extend(["--executor", "ray", "--ray-address", &head.address]);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ml-master"))
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .env("NO_COLOR", "1")
        .args(&stopped_arguments)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut progress = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        progress.push_str(&line);
        progress.push('\n');
        if line.contains("seed 0: running on") {
            let interrupted = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(interrupted.success());
        }
    }
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(0), "{progress}");
    assert!(progress.contains("Interrupted"), "{progress}");
    assert!(
        head.jobs().iter().any(|(_, status)| status == "STOPPED"),
        "the running job was stopped on Ray: {:?}\n{progress}",
        head.jobs()
    );
    let (code, stdout, stderr) = bench(&stopped_arguments);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["runs"].as_array().unwrap().len(), 2, "{report}");
    assert!(
        !head.jobs().iter().any(|(_, status)| status == "STOPPED"),
        "the stopped job ran again under its own name: {:?}",
        head.jobs()
    );
}
