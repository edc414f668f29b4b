//! `ml-master grade`: reports, invalid submissions, medals, batch, and bad task directories.

use std::path::Path;

use crate::support::{copy_of_prepared_task, ml_master, path, prepared_task, redact, run};

fn sample_submission(task: &Path) -> std::path::PathBuf {
    task.join("prepared/public/sample_submission.csv")
}

/// `grade --task tasks/titanic` takes the recipe path `run --task` takes: prepared once, then reused.
#[test]
fn grade_accepts_a_recipe_as_run_does() {
    let home = tempfile::tempdir().unwrap();
    let recipe = mlm_test_support::repository_root().join("tasks/titanic");
    let submission = sample_submission(&prepared_task("titanic"));
    let grade = || {
        ml_master()
            .env("ML_MASTER_HOME", home.path())
            .env("ML_MASTER_PYTHON", mlm_test_support::python())
            .args([
                "grade",
                "--task",
                path(&recipe),
                "--submission",
                path(&submission),
            ])
            .output()
            .unwrap()
    };
    let first = grade();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr),
    );
    assert_eq!(first.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("valid submission"), "{stdout}");
    assert!(stderr.contains("Prepared `titanic`"), "{stderr}");
    let again = grade();
    assert_eq!(again.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("Prepared"),
        "the prepared copy is reused"
    );
}

#[test]
fn the_sample_submission_of_titanic_is_valid_and_reported_in_mle_bench_fields() {
    let task = prepared_task("titanic");
    let (code, stdout, stderr) = run(&[
        "grade",
        "--task",
        path(&task),
        "--submission",
        path(&sample_submission(&task)),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for field in [
        "competition_id",
        "score",
        "gold_threshold",
        "silver_threshold",
        "bronze_threshold",
        "median_threshold",
        "any_medal",
        "gold_medal",
        "silver_medal",
        "bronze_medal",
        "above_median",
        "submission_exists",
        "valid_submission",
        "is_lower_better",
        "created_at",
        "submission_path",
    ] {
        assert!(
            report.get(field).is_some(),
            "missing field {field} in {report}"
        );
    }
    assert_eq!(report["competition_id"], "titanic");
    assert_eq!(report["valid_submission"], true);
    assert_eq!(report["is_lower_better"], false);
    let score = report["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    // No leaderboard: medal fields are null and the report says why.
    assert!(report["gold_medal"].is_null() && report["gold_threshold"].is_null());
    assert!(report["medals_note"]
        .as_str()
        .unwrap()
        .contains("no leaderboard.csv"));
}

/// Rewrites the sample submission with `edit` and grades it, returning (exit code, human output).
fn grade_edited(edit: impl Fn(&mut Vec<String>)) -> (i32, String) {
    let scratch = tempfile::tempdir().unwrap();
    let task = prepared_task("titanic");
    let mut lines: Vec<String> = std::fs::read_to_string(sample_submission(&task))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    edit(&mut lines);
    let submission = scratch.path().join("submission.csv");
    std::fs::write(&submission, lines.join("\n") + "\n").unwrap();
    let (code, stdout, _) = run(&[
        "grade",
        "--task",
        path(&task),
        "--submission",
        path(&submission),
    ]);
    (code, redact(&stdout, scratch.path(), "[scratch]"))
}

#[test]
fn broken_submissions_are_invalid_with_a_message_naming_the_problem() {
    let (code, dropped_row) = grade_edited(|lines| {
        lines.remove(5);
    });
    assert_eq!(code, 1);
    let (_, wrong_id) = grade_edited(|lines| {
        let (_, rest) = lines[3].split_once(',').unwrap();
        lines[3] = format!("999999,{rest}");
    });
    let (_, nan) = grade_edited(|lines| {
        let (id, _) = lines[2].split_once(',').unwrap();
        lines[2] = format!("{id},NaN");
    });
    let (_, renamed_column) =
        grade_edited(|lines| lines[0] = lines[0].replace("Survived", "survived"));
    let (_, not_csv) = grade_edited(|lines| lines[4] = "1,2,3,4".to_string());
    let task = prepared_task("titanic");
    let text = [dropped_row, wrong_id, nan, renamed_column, not_csv].join("\n");
    // Ids differ between recipes' seeds only if the recipe changes; keep them out of the snapshot.
    let text = regex_lite_ids(&text);
    insta::assert_snapshot!(redact(&text, &task, "[task]"));
}

/// Masks the numbers inside backquoted ids (`id `123``) so the snapshot is about the messages.
fn regex_lite_ids(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("id `") {
        out.push_str(&rest[..start + 4]);
        rest = &rest[start + 4..];
        let end = rest.find('`').unwrap_or(0);
        let id = &rest[..end];
        out.push_str(if id == "999999" { id } else { "N" });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_leaderboard_gives_medals_and_thresholds() {
    let scratch = tempfile::tempdir().unwrap();
    let task = copy_of_prepared_task("titanic", scratch.path());
    // 20 teams scoring 0.95, 0.90, …: gold at position 2, silver 4, bronze 8.
    let scores: Vec<String> = (0..20)
        .map(|rank| format!("{},{:.2}", rank + 1, 0.95 - 0.05 * rank as f64))
        .collect();
    std::fs::write(
        task.join("leaderboard.csv"),
        format!("teamId,score\n{}\n", scores.join("\n")),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&[
        "grade",
        "--task",
        path(&task),
        "--submission",
        path(&sample_submission(&task)),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["gold_threshold"].as_f64().unwrap(), 0.9);
    assert_eq!(report["silver_threshold"].as_f64().unwrap(), 0.8);
    assert_eq!(report["bronze_threshold"].as_f64().unwrap(), 0.6);
    assert!((report["median_threshold"].as_f64().unwrap() - 0.475).abs() < 1e-12);
    assert!(report["medals_note"].is_null());
    let score = report["score"].as_f64().unwrap();
    assert_eq!(
        report["bronze_medal"].as_bool().unwrap(),
        (0.6..0.8).contains(&score)
    );
}

#[test]
fn a_bad_task_directory_is_exit_code_2_naming_the_file() {
    let scratch = tempfile::tempdir().unwrap();
    let task = copy_of_prepared_task("titanic", scratch.path());
    let submission = sample_submission(&task);
    std::fs::remove_file(task.join("prepared/private/answers.csv")).unwrap();
    let (code, _, stderr) = run(&[
        "grade",
        "--task",
        path(&task),
        "--submission",
        path(&submission),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("prepared/private/answers.csv") && stderr.contains("hint:"),
        "{stderr}"
    );

    let task = copy_of_prepared_task("titanic", &scratch.path().join("unknown-metric"));
    let task_file = task.join("task.toml");
    let text = std::fs::read_to_string(&task_file).unwrap();
    std::fs::write(
        &task_file,
        text.replace("\"accuracy\"", "\"accuracy_score\""),
    )
    .unwrap();
    let (code, _, stderr) = run(&[
        "grade",
        "--task",
        path(&task),
        "--submission",
        path(&submission),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("unknown metric `accuracy_score`") && stderr.contains("task.toml"),
        "{stderr}"
    );
}

#[test]
fn answers_outside_the_task_or_in_its_public_files_are_exit_code_2_without_their_content() {
    let scratch = tempfile::tempdir().unwrap();
    let secret = scratch.path().join("shadow");
    std::fs::write(&secret, "root:SECRET-HASH:19000:0:99999:7:::\n").unwrap();
    let task = copy_of_prepared_task("titanic", &scratch.path().join("task"));
    let submission = sample_submission(&task);
    let task_file = task.join("task.toml");
    let text = std::fs::read_to_string(&task_file).unwrap();
    std::fs::copy(
        task.join("prepared/private/answers.csv"),
        task.join("prepared/public/answers.csv"),
    )
    .unwrap();
    for (answers, problem) in [
        (path(&secret), "outside the task directory"),
        ("../../shadow", "outside the task directory"),
        (
            "prepared/public/answers.csv",
            "which every generated script can read",
        ),
    ] {
        std::fs::write(
            &task_file,
            text.replace("\"prepared/private/answers.csv\"", &format!("{answers:?}")),
        )
        .unwrap();
        let (code, stdout, stderr) = run(&[
            "grade",
            "--task",
            path(&task),
            "--submission",
            path(&submission),
        ]);
        assert_eq!(code, 2, "{answers}: {stderr}");
        assert!(stderr.contains(problem), "{answers}: {stderr}");
        assert!(
            !stderr.contains("SECRET") && !stdout.contains("SECRET"),
            "{answers}: {stderr}"
        );
    }
}

#[test]
fn a_batch_writes_mle_bench_aggregate_report() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let titanic = copy_of_prepared_task("titanic", &data_dir);
    let batch = scratch.path().join("submissions.jsonl");
    let missing = scratch.path().join("missing.csv");
    std::fs::write(
        &batch,
        format!(
            "{{\"competition_id\": \"titanic\", \"submission_path\": \"{}\"}}\n# a comment line\n{{\"competition_id\": \"titanic\", \"submission_path\": \"{}\"}}\n",
            path(&sample_submission(&titanic)),
            path(&missing)
        ),
    )
    .unwrap();
    let output_dir = scratch.path().join("reports");
    let (code, _, stderr) = run(&[
        "grade",
        "--batch",
        path(&batch),
        "--output-dir",
        path(&output_dir),
        "--data-dir",
        path(&data_dir),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report_path = std::fs::read_dir(&output_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(report_path
        .to_string_lossy()
        .ends_with("_grading_report.json"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_path).unwrap()).unwrap();
    assert_eq!(report["total_runs"], 2);
    assert_eq!(report["total_runs_with_submissions"], 1);
    assert_eq!(report["total_valid_submissions"], 1);
    assert_eq!(report["total_medals"], 0);
    assert_eq!(report["competition_reports"].as_array().unwrap().len(), 2);
}
