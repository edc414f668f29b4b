//! Debugs recognise each failure class and patch it; reviews give verdicts and summaries for
//! memory.

use mlm_search::Stage;

use super::{block_on, family_of, propose};
use crate::builtin::family::Family;
use crate::builtin::fixtures::{node, passengers, request};
use crate::builtin::options::{ScriptOptions, SubmissionChecks, Validation};
use crate::builtin::BuiltinCoder;
use crate::operator::{Coder, CoderError, ExecutionStatus, Proposal, ReviewRequest, TaskBrief};

fn debug_of(task: &TaskBrief, parent: crate::operator::NodeView) -> Proposal {
    propose(task, &request(Stage::Debug, Some(parent), Vec::new(), 0))
}

#[test]
fn a_missing_package_switches_to_a_family_that_does_not_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let output = concat!(
        "Traceback (most recent call last):\n",
        "  File \"solution.py\", line 14, in <module>\n",
        "    import lightgbm\n",
        "ModuleNotFoundError: No module named 'lightgbm'\n",
    );
    let fixed = debug_of(
        &task,
        node(1, &draft.plan, &draft.code, ExecutionStatus::Error, output),
    );
    assert_eq!(family_of(&fixed), Family::CatBoost);
    assert!(
        fixed
            .plan
            .starts_with("Debug: node 1 failed because the environment has no `lightgbm` module"),
        "{}",
        fixed.plan
    );
    assert!(!fixed.code.contains("import lightgbm"));

    let output = "ModuleNotFoundError: No module named 'numpy'";
    let error = block_on(BuiltinCoder::new().propose(
        &task,
        &request(
            Stage::Debug,
            Some(node(
                1,
                &draft.plan,
                &draft.code,
                ExecutionStatus::Error,
                output,
            )),
            Vec::new(),
            0,
        ),
    ))
    .unwrap_err();
    assert!(
        matches!(&error, CoderError::Failed { .. }
            if error.to_string().contains("`numpy`") && error.to_string().contains("env setup")),
        "{error}"
    );
}

#[test]
fn text_in_a_numeric_column_and_missing_columns_are_patched() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let output = "ValueError: could not convert string to float: '2nd'";
    let fixed = debug_of(
        &task,
        node(1, &draft.plan, &draft.code, ExecutionStatus::Error, output),
    );
    assert_eq!(
        ScriptOptions::from_code(&fixed.code)
            .unwrap()
            .features
            .force_categorical,
        vec!["class"]
    );
    assert!(
        fixed.plan.contains("`class` now becomes categories"),
        "{}",
        fixed.plan
    );

    let output = "Traceback (most recent call last):\nKeyError: 'age'";
    let fixed = debug_of(
        &task,
        node(1, &draft.plan, &draft.code, ExecutionStatus::Error, output),
    );
    let options = ScriptOptions::from_code(&fixed.code).unwrap();
    assert_eq!(options.features.excluded_columns, vec!["age"]);
    assert!(
        fixed.code.contains("NUMERIC_COLUMNS = []"),
        "age is no longer a feature"
    );
}

#[test]
fn out_of_memory_and_timeouts_make_the_script_cheaper() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let before = ScriptOptions::from_code(&draft.code).unwrap();

    let fixed = debug_of(
        &task,
        node(1, &draft.plan, &draft.code, ExecutionStatus::Oom, "Killed"),
    );
    let after = ScriptOptions::from_code(&fixed.code).unwrap();
    assert_eq!(after.row_subsample, 0.5);
    assert!(
        fixed
            .plan
            .starts_with("Debug: node 1 ran out of memory. Fix: train on 50% of the rows"),
        "{}",
        fixed.plan
    );

    let fixed = debug_of(
        &task,
        node(1, &draft.plan, &draft.code, ExecutionStatus::Timeout, ""),
    );
    let after = ScriptOptions::from_code(&fixed.code).unwrap();
    assert_eq!(after.validation, Validation::Holdout);
    assert_eq!(
        after.hyperparameters.trees,
        before.hyperparameters.trees.map(|trees| trees / 2)
    );
    assert!(
        fixed.plan.contains("ran past its time limit"),
        "{}",
        fixed.plan
    );
}

#[test]
fn a_rejected_submission_turns_on_strict_submission_checks() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let mut parent = node(1, &draft.plan, &draft.code, ExecutionStatus::Ok, "");
    parent.validation_message = Some(
        "id `61` has no row; the submission has 9 rows, expected 10 (one per test id)".to_string(),
    );
    let fixed = debug_of(&task, parent);
    assert_eq!(
        ScriptOptions::from_code(&fixed.code)
            .unwrap()
            .submission_checks,
        SubmissionChecks::Strict
    );
    assert!(
        fixed.plan.contains("its ids differ from the test set's"),
        "{}",
        fixed.plan
    );
    assert!(fixed
        .code
        .contains("the submission matches the sample submission"));
}

#[test]
fn an_unrecognised_failure_falls_back_to_a_safer_family() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let output = concat!(
        "Traceback (most recent call last):\n",
        "lightgbm.basic.LightGBMError: Check failed: (num_data) > (0)\n",
    );
    let fixed = debug_of(
        &task,
        node(1, &draft.plan, &draft.code, ExecutionStatus::Error, output),
    );
    let options = ScriptOptions::from_code(&fixed.code).unwrap();
    assert_eq!(options.family, Family::RandomForest);
    assert_eq!(options.validation, Validation::Holdout);
    assert_eq!(options.submission_checks, SubmissionChecks::Strict);
    assert!(
        fixed.plan.contains(
            "was not recognised (last error: `lightgbm.basic.LightGBMError: Check failed"
        ),
        "{}",
        fixed.plan
    );

    // Code from elsewhere (an LLM's) is rewritten the same way.
    let foreign = node(
        2,
        "XGBoost with tuned depth.",
        "import xgboost\n",
        ExecutionStatus::Error,
        "SyntaxError: invalid syntax",
    );
    assert_eq!(family_of(&debug_of(&task, foreign)), Family::RandomForest);
}

fn review(
    task: &TaskBrief,
    node: crate::operator::NodeView,
    metric: Option<(f64, bool)>,
    submission: bool,
) -> crate::operator::Review {
    block_on(BuiltinCoder::new().review(
        task,
        &ReviewRequest {
            node,
            reported_metric: metric,
            submission_exists: submission,
        },
    ))
    .unwrap()
}

#[test]
fn reviews_call_a_run_buggy_unless_it_ended_well_with_a_metric_and_a_valid_submission() {
    let dir = tempfile::tempdir().unwrap();
    let task = passengers(dir.path(), "accuracy");
    let draft = propose(&task, &request(Stage::Draft, None, Vec::new(), 0));
    let ok = node(
        1,
        &draft.plan,
        &draft.code,
        ExecutionStatus::Ok,
        "Validation accuracy: 0.81000",
    );

    let verdict = review(&task, ok.clone(), Some((0.81, false)), true);
    assert!(!verdict.is_bug);
    assert_eq!(verdict.metric, Some(0.81));
    assert_eq!(verdict.lower_is_better, Some(false));
    assert!(
        verdict.summary.starts_with(
            "LightGBM gradient boosting (up to 1000 trees with early stopping, learning rate 0.05"
        ),
        "{}",
        verdict.summary
    );
    assert!(
        verdict
            .summary
            .contains("reached a validation accuracy of 0.81000"),
        "{}",
        verdict.summary
    );

    let crashed = node(
        1,
        &draft.plan,
        &draft.code,
        ExecutionStatus::Error,
        "Traceback\nValueError: bad input\n",
    );
    let verdict = review(&task, crashed, None, false);
    assert!(verdict.is_bug);
    assert!(
        verdict.summary.contains(
            "exited with an error; it wrote no submission; it wrote no usable metrics.json"
        ),
        "{}",
        verdict.summary
    );
    assert!(
        verdict
            .summary
            .contains("Last error: `ValueError: bad input`"),
        "{}",
        verdict.summary
    );

    assert!(review(&task, ok.clone(), Some((0.81, false)), false).is_bug);
    assert!(review(&task, ok.clone(), None, true).is_bug);
    let mut rejected = ok;
    rejected.validation_message = Some("missing column(s) `survived`".to_string());
    let verdict = review(&task, rejected, Some((0.81, false)), true);
    assert!(verdict.is_bug);
    assert!(
        verdict
            .summary
            .contains("the grader rejected the submission: missing column(s)"),
        "{}",
        verdict.summary
    );
    assert_eq!(BuiltinCoder::new().name(), "builtin");
}
