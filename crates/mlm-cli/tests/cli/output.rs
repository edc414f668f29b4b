//! Snapshots of what a user reads: `grade`'s report, `exec --json`, the start and end of a `run`, and a
//! bad input of each, with temporary paths, timings and scores filtered out. Results go to stdout, the
//! log and errors to stderr.

use std::path::Path;

use crate::support::{ml_master, path, prepared_task, run};

/// Filters for the parts of the output that change from run to run.
fn settings_for(task: &Path, scratch: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(path(task)), "[task]");
    settings.add_filter(&regex_escape(path(scratch)), "[scratch]");
    settings.add_filter(r"\d{8}-\d{6}(-\d+)?", "[time]");
    settings.add_filter(r"\b\d+(\.\d+)? ?s\b", "[seconds]");
    settings.add_filter(r"\b0\.\d{3,}\b", "[score]");
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|character| match character {
            '.' | '+' | '*' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' | '\\' => {
                format!("\\{character}")
            }
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn grade_reports_a_valid_submission_and_names_a_missing_task() {
    let task = prepared_task("titanic");
    let scratch = tempfile::tempdir().unwrap();
    let submission = task.join("prepared/public/sample_submission.csv");
    let (code, stdout, stderr) = run(&[
        "grade",
        "--task",
        path(&task),
        "--submission",
        path(&submission),
    ]);
    let missing = scratch.path().join("no-such-task");
    let (bad_code, _, bad_stderr) = run(&[
        "grade",
        "--task",
        path(&missing),
        "--submission",
        path(&submission),
    ]);
    settings_for(&task, scratch.path()).bind(|| {
        insta::assert_snapshot!(format!(
            "exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}\n--- a missing task: exit {bad_code}\n{bad_stderr}"
        ));
    });
}

#[test]
fn exec_json_describes_the_run_and_a_missing_script_is_named() {
    let task = prepared_task("titanic");
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("hello.py");
    std::fs::write(&script, "print('hello')\n").unwrap();
    let node_dir = scratch.path().join("node");
    let (code, stdout, _) = run(&[
        "exec",
        "--task",
        path(&task),
        path(&script),
        "--node-dir",
        path(&node_dir),
        "--json",
    ]);
    assert_eq!(code, 0, "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let (bad_code, _, bad_stderr) = run(&[
        "exec",
        "--task",
        path(&task),
        path(&scratch.path().join("missing.py")),
    ]);
    settings_for(&task, scratch.path()).bind(|| {
        // The sandbox's tiers depend on the kernel and the user: the sandbox tests check them.
        insta::assert_json_snapshot!(report, {
            ".duration_s" => "[seconds]",
            ".peak_rss_kilobytes" => "[kilobytes]",
            ".supervisor_peak_rss_kilobytes" => "[kilobytes]",
            ".sandbox" => "[tiers]",
        });
        insta::assert_snapshot!(format!("exit {bad_code}\n{bad_stderr}"));
    });
}

#[test]
fn run_names_what_it_does_and_refuses_bad_input_with_a_hint() {
    let task = prepared_task("titanic");
    let scratch = tempfile::tempdir().unwrap();
    let run_dir = scratch.path().join("run");
    let (code, stdout, stderr) = run(&[
        "run",
        "--task",
        path(&task),
        "--steps",
        "1",
        "--slots",
        "1",
        "--workers",
        "1",
        "--run-dir",
        path(&run_dir),
    ]);
    assert_eq!(code, 0, "{stderr}");
    // The log's first line says what runs; stdout what came of it.
    let first = stderr.lines().next().unwrap_or_default().to_string();
    let ending: Vec<&str> = stdout.lines().collect();
    let (missing_code, _, missing_stderr) =
        run(&["run", "--task", path(&scratch.path().join("no-such-task"))]);
    let (again_code, _, again_stderr) =
        run(&["run", "--task", path(&task), "--run-dir", path(&run_dir)]);
    settings_for(&task, scratch.path()).bind(|| {
        insta::assert_snapshot!(format!(
            "{first}\n...\n{}\n--- a missing task: exit {missing_code}\n{missing_stderr}--- a run directory that holds a run: exit {again_code}\n{again_stderr}",
            ending.join("\n")
        ));
    });
}

#[test]
fn env_check_of_a_profile_not_set_up_names_the_command_that_sets_it_up() {
    let home = tempfile::tempdir().unwrap();
    let output = ml_master()
        .env("ML_MASTER_HOME", home.path())
        .env_remove("ML_MASTER_PYTHON")
        .args(["env", "check", "--profile", "automl"])
        .output()
        .unwrap();
    let stderr = redact_home(&String::from_utf8_lossy(&output.stderr), home.path());
    insta::assert_snapshot!(format!("exit {:?}\n{stderr}", output.status.code()));
}

fn redact_home(text: &str, home: &Path) -> String {
    text.replace(path(home), "[home]")
}

/// `--time-limit -5` and `--time-limit=-5` get the same message: the value, what is accepted.
#[test]
fn a_negative_count_gets_one_message_whichever_way_it_is_written() {
    let (code, _, apart) = run(&["run", "--task", "tasks/titanic", "--time-limit", "-5"]);
    let (joined_code, _, joined) = run(&["run", "--task", "tasks/titanic", "--time-limit=-5"]);
    assert_eq!((code, joined_code), (2, 2));
    assert_eq!(apart, joined);
    let (_, _, steps) = run(&["resume", "runs/x", "--steps", "0"]);
    insta::assert_snapshot!(format!("{apart}--- resume --steps 0\n{steps}"));
}

/// `exec … > result.txt` and `env check > packages.txt` keep the result; the script's output and notes
/// stay on stderr.
#[test]
fn exec_and_env_check_print_their_results_on_stdout() {
    let task = prepared_task("titanic");
    let scratch = tempfile::tempdir().unwrap();
    let script = scratch.path().join("hello.py");
    std::fs::write(&script, "print('hello')\n").unwrap();
    let node_dir = scratch.path().join("node");
    let (code, stdout, stderr) = run(&[
        "exec",
        "--task",
        path(&task),
        path(&script),
        "--node-dir",
        path(&node_dir),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("node directory:"), "{stdout}");
    assert!(
        stderr.contains("| hello") && !stdout.contains("| hello"),
        "{stderr}"
    );
    let checked = ml_master()
        .env("ML_MASTER_PYTHON", mlm_test_support::python())
        .args(["env", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(
        stdout.contains("every package of the base profile is present"),
        "{stdout}"
    );
}
