//! `ml-master bench`: a tiny suite end to end (two seeds, the simple baseline, the report files), a rerun
//! that skips what is recorded, bad suites and mixed settings refused with exit code 2, FLAML and
//! AutoGluon.

use std::path::Path;

use mlm_exec::{Profile, PythonEnvironment};

use crate::support::{ml_master, path, prepared_task};

/// A suite of one competition: the prepared titanic.
fn titanic_suite(dir: &Path) -> std::path::PathBuf {
    let suite = dir.join("suite.toml");
    std::fs::write(
        &suite,
        format!(
            "[[competition]]\ntask = \"{}\"\n",
            path(&prepared_task("titanic"))
        ),
    )
    .unwrap();
    suite
}

fn bench(arguments: &[&str]) -> (i32, String, String) {
    let output = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .arg("bench")
        .args(arguments)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_two_seed_bench_reports_both_runs_and_the_baseline_then_a_rerun_skips_them() {
    let scratch = tempfile::tempdir().unwrap();
    let suite = titanic_suite(scratch.path());
    let out = scratch.path().join("out");
    let arguments = [
        "--suite",
        path(&suite),
        "--seeds",
        "2",
        "--steps",
        "2",
        "--time-limit",
        "300",
        "--slots",
        "1",
        "--out",
        path(&out),
        "--json",
    ];
    let (code, stdout, stderr) = bench(&arguments);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("titanic seed 1: accuracy"), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(report, written, "--json prints bench.json");
    assert_eq!(report["runs"].as_array().unwrap().len(), 2, "{report}");
    let row = &report["competitions"][0];
    assert_eq!(row["runs"], 2, "{row}");
    assert!(
        (row["baseline_score"].as_f64().unwrap() - 0.65779).abs() < 1e-4,
        "the majority-class baseline, graded by ml-master: {row}"
    );
    assert!(row["ratio_to_baseline"].as_f64().is_some(), "{row}");
    assert_eq!(report["aggregate"]["seeds"], 2);
    assert_eq!(
        report["aggregate"]["any_medal"],
        serde_json::Value::Null,
        "titanic has no leaderboard"
    );
    let markdown = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert!(markdown.contains("| titanic | accuracy |"), "{markdown}");
    for seed in 0..2 {
        assert!(out
            .join(format!("runs/titanic/seed-{seed}/journal.sqlite"))
            .is_file());
    }

    let results_before = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    // Without --json the report's tables are the result, on stdout.
    let without_json: Vec<&str> = arguments
        .iter()
        .copied()
        .filter(|argument| *argument != "--json")
        .collect();
    let (code, stdout, stderr) = bench(&without_json);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("| titanic | accuracy |"), "{stdout}");
    assert_eq!(
        stderr.matches("skipped").count(),
        3,
        "two runs and the baseline are skipped: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("results.jsonl")).unwrap(),
        results_before,
        "nothing ran again"
    );
    let run_dirs = std::fs::read_dir(out.join("runs/titanic")).unwrap().count();
    assert_eq!(
        run_dirs, 4,
        "two run directories and their two logs, no more"
    );

    let mut other = arguments.to_vec();
    other[3] = "3";
    let (code, _, stderr) = bench(&other);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("bench-settings.json")
            && stderr.contains("seeds")
            && stderr.contains("hint:"),
        "other settings are refused, not mixed: {stderr}"
    );
}

#[test]
fn a_bad_suite_file_is_exit_code_2_naming_it() {
    let scratch = tempfile::tempdir().unwrap();
    let suite = scratch.path().join("typo.toml");
    std::fs::write(&suite, "seedz = 2\n[[competition]]\ntask = \".\"\n").unwrap();
    let (code, _, stderr) = bench(&["--suite", path(&suite)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(path(&suite)) && stderr.contains("seedz") && stderr.contains("hint:"),
        "{stderr}"
    );

    std::fs::write(&suite, "[[competition]]\ntask = \"no-such-task\"\n").unwrap();
    let (code, _, stderr) = bench(&["--suite", path(&suite)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(path(&suite)) && stderr.contains("no-such-task"),
        "{stderr}"
    );
}

/// What a bench of the titanic suite left: its scratch directory (removed on drop), its `--out`, exit
/// code, stdout and stderr.
struct TitanicBench {
    _scratch: tempfile::TempDir,
    out: std::path::PathBuf,
    code: i32,
    stdout: String,
    stderr: String,
}

/// `bench --suite <titanic> --out <scratch> ARGUMENTS`.
fn bench_titanic(arguments: &[&str]) -> TitanicBench {
    let scratch = tempfile::tempdir().unwrap();
    let suite = titanic_suite(scratch.path());
    let out = scratch.path().join("out");
    let mut all = vec!["--suite", path(&suite), "--out", path(&out)];
    all.extend_from_slice(arguments);
    let (code, stdout, stderr) = bench(&all);
    TitanicBench {
        _scratch: scratch,
        out,
        code,
        stdout,
        stderr,
    }
}

/// `bench --baseline BASELINE` on titanic where the interpreter lacks that baseline's package: it must
/// stop with exit code 2 before anything runs. Returns its stderr.
fn refused_baseline_on_titanic(baseline: &str) -> String {
    let refused = bench_titanic(&["--baseline", baseline]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(!refused.out.exists(), "nothing ran");
    refused.stderr
}

#[test]
#[cfg_attr(
    base_python_has_flaml,
    ignore = "the base interpreter had FLAML when the tests were built, so it cannot show FLAML missing"
)]
fn flaml_missing_from_the_interpreter_is_exit_code_2_with_the_setup_command() {
    // The test interpreter is the base profile, which has no FLAML.
    assert!(
        !profile_ready_in(Profile::Automl, Some(mlm_test_support::python())),
        "the base interpreter has FLAML now: rebuild the tests"
    );
    let stderr = refused_baseline_on_titanic("flaml");
    assert!(
        stderr.contains("ml-master env setup --profile automl"),
        "{stderr}"
    );
}

/// True when `profile`'s environment (or `python`, when given) holds every package the profile adds.
fn profile_ready_in(profile: Profile, python: Option<std::path::PathBuf>) -> bool {
    PythonEnvironment::resolve(python, profile)
        .and_then(|environment| environment.missing_modules(profile))
        .is_ok_and(|missing| missing.is_empty())
}

/// `bench --json` on titanic with the baseline named: one step and 45 s each, which the run's one node
/// must finish inside on a busy two-core machine (15 s did not, at a load of 10). Returns bench's
/// report, its stderr, and its output directory.
fn bench_titanic_with_baseline(
    scratch: &std::path::Path,
    baseline: &str,
) -> (serde_json::Value, String, std::path::PathBuf) {
    let suite = titanic_suite(scratch);
    let out = scratch.join("out");
    let output = ml_master()
        .args([
            "bench",
            "--suite",
            path(&suite),
            "--steps",
            "1",
            "--time-limit",
            "45",
            "--slots",
            "1",
            "--baseline",
            baseline,
            "--out",
            path(&out),
            "--json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    (serde_json::from_slice(&output.stdout).unwrap(), stderr, out)
}

/// Runs FLAML for real on titanic. Without the automl profile when the tests were built it is ignored,
/// with that reason; CI installs the profile and sets ML_MASTER_REQUIRE_FLAML=1, which makes it run
/// (and fail without FLAML) whatever the build found.
#[test]
#[cfg_attr(
    missing_flaml,
    ignore = "no FLAML when the tests were built: run `cargo run -- env setup --profile automl`"
)]
fn the_flaml_baseline_runs_beside_the_simple_one() {
    assert!(
        profile_ready_in(Profile::Automl, None),
        "the automl profile lacks FLAML: run `cargo run -- env setup --profile automl`"
    );
    let scratch = tempfile::tempdir().unwrap();
    let (report, stderr, out) = bench_titanic_with_baseline(scratch.path(), "flaml");
    let row = &report["competitions"][0];
    assert!(
        row["flaml_score"].as_f64().unwrap() > 0.6,
        "FLAML beats chance on titanic: {row}\n{stderr}"
    );
    assert!(row["ratio_to_flaml"].as_f64().is_some(), "{row}");
    assert!(std::fs::read_to_string(out.join("bench.md"))
        .unwrap()
        .contains("FLAML"));
}

#[test]
#[cfg_attr(
    base_python_has_autogluon,
    ignore = "the base interpreter had AutoGluon when the tests were built, so it cannot show it missing"
)]
fn autogluon_missing_from_the_interpreter_is_exit_code_2_with_the_setup_command() {
    // The test interpreter is the base profile, whose pandas 3 AutoGluon Tabular cannot share.
    assert!(
        !profile_ready_in(Profile::Autogluon, Some(mlm_test_support::python())),
        "the base interpreter has AutoGluon now: rebuild the tests"
    );
    let stderr = refused_baseline_on_titanic("autogluon");
    assert!(
        stderr.contains("--baseline autogluon needs AutoGluon Tabular")
            && stderr.contains("autogluon.tabular")
            && stderr.contains("ml-master env setup --profile autogluon"),
        "{stderr}"
    );
}

/// Runs AutoGluon Tabular for real on titanic. Without the autogluon profile when the tests were built
/// it is ignored, with that reason; ML_MASTER_REQUIRE_AUTOGLUON=1 makes it run (and fail without
/// AutoGluon) whatever the build found.
#[test]
#[cfg_attr(
    missing_autogluon,
    ignore = "no AutoGluon when the tests were built: run `cargo run -- env setup --profile autogluon`"
)]
fn the_autogluon_baseline_runs_beside_the_simple_one() {
    assert!(
        profile_ready_in(Profile::Autogluon, None),
        "the autogluon profile lacks AutoGluon: run `cargo run -- env setup --profile autogluon`"
    );
    let scratch = tempfile::tempdir().unwrap();
    let (report, stderr, out) = bench_titanic_with_baseline(scratch.path(), "autogluon");
    let row = &report["competitions"][0];
    assert!(
        row["autogluon_score"].as_f64().unwrap() > 0.6,
        "AutoGluon beats chance on titanic: {row}\n{stderr}"
    );
    assert!(row["ratio_to_autogluon"].as_f64().is_some(), "{row}");
    assert_eq!(row["flaml_score"], serde_json::Value::Null, "{row}");
    let graded = report["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|baseline| baseline["baseline"] == "autogluon")
        .unwrap_or_else(|| panic!("no AutoGluon result: {report}"));
    assert_eq!(graded["grade"]["invalid_reason"], serde_json::Value::Null);
    let directory = out.join("baselines/titanic/autogluon");
    assert!(
        directory.join("baseline_submission.csv").is_file(),
        "its submission is kept beside its log"
    );
    let leftovers: Vec<String> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("autogluon-models-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the saved models are removed: {leftovers:?}"
    );
    let markdown = std::fs::read_to_string(out.join("bench.md")).unwrap();
    assert!(
        markdown.contains("| AutoGluon | vs AutoGluon |")
            && markdown.contains(", and AutoGluon on ")
            && !markdown.contains("FLAML"),
        "{markdown}"
    );
}

#[test]
fn a_run_directory_left_unrecorded_is_resumed_not_restarted() {
    let scratch = tempfile::tempdir().unwrap();
    let suite = titanic_suite(scratch.path());
    let out = scratch.path().join("out");
    let run_dir = out.join("runs/titanic/seed-0");
    // The bench was killed after its run had started: the run directory exists, results.jsonl does not.
    let output = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args([
            "run",
            "--task",
            path(&prepared_task("titanic")),
            "--steps",
            "1",
            "--slots",
            "1",
            "--run-dir",
            path(&run_dir),
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (code, stdout, stderr) = bench(&[
        "--suite",
        path(&suite),
        "--steps",
        "1",
        "--slots",
        "1",
        "--out",
        path(&out),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let run = &report["runs"][0];
    assert_eq!(
        run["exit"], "exit code 0",
        "`resume` continued the run; `run` would have refused its directory: {run}"
    );
    assert_eq!(run["nodes"], 1, "{run}");
    let log = std::fs::read_to_string(out.join("runs/titanic/seed-0.log")).unwrap();
    assert!(!log.contains("already holds a run"), "{log}");
}

/// `--ablate moves` reaches each run's own configuration, where a resume reads it back: ML-Master's
/// walk on from a loss and the built-in coder's improves in list order.
#[test]
fn the_moves_ablation_reaches_every_runs_configuration() {
    let ablated = bench_titanic(&[
        "--steps", "1", "--slots", "1", "--ablate", "moves", "--json",
    ]);
    assert_eq!(ablated.code, 0, "{}", ablated.stderr);
    let report: serde_json::Value = serde_json::from_str(&ablated.stdout).unwrap();
    assert_eq!(report["runs"][0]["nodes"], 1, "{report}");
    let run_config =
        std::fs::read_to_string(ablated.out.join("runs/titanic/seed-0/config.toml")).unwrap();
    let run_config: toml::Value = toml::from_str(&run_config).unwrap();
    assert_eq!(run_config["search"]["after_loss"].as_str(), Some("node"));
    assert_eq!(
        run_config["builtin"]["improve_choice"].as_str(),
        Some("in_order")
    );
    let settings = std::fs::read_to_string(ablated.out.join("bench-settings.json")).unwrap();
    assert!(settings.contains("\"moves\""), "{settings}");
}
