//! `ml-master prepare`: every bundled recipe builds a competition whose sample submission is valid.

use crate::support::{path, run};

const BUNDLED_TASKS: [&str; 6] = [
    "titanic",
    "churn",
    "leaf",
    "bikeshare",
    "rotten-tomatoes",
    "digits",
];

#[test]
fn every_bundled_recipe_prepares_a_gradable_competition_deterministically() {
    let scratch = tempfile::tempdir().unwrap();
    for name in BUNDLED_TASKS {
        let recipe = mlm_test_support::repository_root().join("tasks").join(name);
        let out = scratch.path().join(name);
        let (code, _, stderr) = run(&["prepare", path(&recipe), "--out", path(&out)]);
        assert_eq!(code, 0, "{name}: {stderr}");
        assert!(stderr.contains(&format!("Prepared `{name}`")), "{stderr}");
        let sample = out.join("prepared/public/sample_submission.csv");
        let (code, _, stderr) =
            run(&["grade", "--task", path(&out), "--submission", path(&sample)]);
        assert_eq!(code, 0, "{name}: {stderr}");
        // The answers never reach the public directory.
        let answers = std::fs::read(out.join("prepared/private/answers.csv")).unwrap();
        for entry in std::fs::read_dir(out.join("prepared/public")).unwrap() {
            assert_ne!(
                std::fs::read(entry.unwrap().path()).unwrap(),
                answers,
                "{name}: answers leaked"
            );
        }
        // Same seed, same bytes: compare with the cached copy the other tests use.
        let cached = mlm_test_support::prepared_task(name);
        for file in [
            "prepared/public/train.csv",
            "prepared/public/test.csv",
            "prepared/private/answers.csv",
        ] {
            assert!(
                std::fs::read(out.join(file)).unwrap() == std::fs::read(cached.join(file)).unwrap(),
                "{name}: {file} differs between two runs"
            );
        }
    }
}

#[test]
fn a_directory_that_is_not_a_recipe_is_bad_input() {
    let scratch = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(&["prepare", path(scratch.path())]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("not a task recipe") && stderr.contains("hint:"),
        "{stderr}"
    );
}
