//! `ml-master prepare`: every bundled recipe builds a competition whose sample submission is valid.

use crate::support::{path, run};
use mlm_test_support::BUNDLED_TASKS;

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
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                continue; // the image recipe's folders of PNG files
            }
            assert_ne!(
                std::fs::read(entry.path()).unwrap(),
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
        ]
        .into_iter()
        .chain((name == "digit-images").then_some("prepared/public/train/1.png"))
        {
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

/// A recipe of one's own, as the README's "Writing a recipe" shows it: `prepare.py` builds tables and
/// hands them to `ml_master_recipe.write_competition`.
fn write_recipe(dir: &std::path::Path, test_ids: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("task.toml"),
        "id = \"tiny\"\nname = \"Tiny\"\n[grading]\nmetric = \"accuracy\"\nanswers = \"prepared/private/answers.csv\"\nsample_submission = \"prepared/public/sample_submission.csv\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("description.md"), "# Tiny\nPredict y from x.\n").unwrap();
    std::fs::write(
        dir.join("prepare.py"),
        format!(
            r#"import argparse
from pathlib import Path

import pandas as pd

from ml_master_recipe import write_competition

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True, type=Path)
out = parser.parse_args().out
train = pd.DataFrame({{"id": [1, 2, 3, 4], "x": [0, 1, 0, 1], "y": [0, 1, 0, 1]}})
test = pd.DataFrame({{"id": {test_ids}, "x": [1, 0]}})
answers = pd.DataFrame({{"id": test["id"], "y": [1, 0]}})
write_competition(
    out,
    Path(__file__).parent,
    train,
    test,
    answers.assign(y=0),
    answers,
    id_column="id",
    target="y",
)
"#
        ),
    )
    .unwrap();
}

#[test]
fn a_recipe_of_ones_own_uses_the_helper_module_and_its_mistakes_are_named() {
    let scratch = tempfile::tempdir().unwrap();
    let recipe = scratch.path().join("tiny");
    write_recipe(&recipe, "[5, 6]");
    let out = scratch.path().join("prepared-tiny");
    let (code, _, stderr) = run(&["prepare", path(&recipe), "--out", path(&out)]);
    assert_eq!(code, 0, "{stderr}");
    let sample = out.join("prepared/public/sample_submission.csv");
    let (code, stdout, stderr) = run(&[
        "grade",
        "--task",
        path(&out),
        "--submission",
        path(&sample),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"score\": 0.5"), "{stdout}");
    assert!(
        out.join("task.toml").is_file() && out.join("prepared/public/description.md").is_file()
    );

    let leaky = scratch.path().join("leaky");
    write_recipe(&leaky, "[4, 5]");
    let (code, _, stderr) = run(&[
        "prepare",
        path(&leaky),
        "--out",
        path(&scratch.path().join("prepared-leaky")),
    ]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("1 'id' values are in both train and test, e.g. [4]")
            && stderr.contains("prepare.py failed"),
        "{stderr}"
    );
}

/// A competition prepared from the recipe as it is now is not built again: `prepare` says so, and
/// `--force` builds it anew.
#[test]
fn preparing_again_says_the_competition_is_prepared_and_force_rebuilds_it() {
    let scratch = tempfile::tempdir().unwrap();
    let recipe = mlm_test_support::repository_root().join("tasks/titanic");
    let out = scratch.path().join("titanic");
    let prepare = |extra: &[&str]| {
        let mut arguments = vec!["prepare", path(&recipe), "--out", path(&out)];
        arguments.extend_from_slice(extra);
        let (code, _, stderr) = run(&arguments);
        assert_eq!(code, 0, "{stderr}");
        stderr
    };
    assert!(prepare(&[]).contains("Prepared `titanic`"));
    let again = prepare(&[]);
    assert!(
        !again.contains("Preparing")
            && again.contains("already prepared")
            && again.contains("--force"),
        "{again}"
    );
    let forced = prepare(&["--force"]);
    assert!(forced.contains("Prepared `titanic`"), "{forced}");
}
