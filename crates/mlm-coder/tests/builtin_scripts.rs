//! The built-in coder's scripts, run for real with the managed Python on every bundled task: a
//! first draft must run cleanly on one thread, report a finite validation metric, and write a valid
//! submission that beats the task's documented baseline. One improve and one debug run too. The LLM
//! coder's starting script (the baseline a draft prompt offers) runs on every task it fits.
//!
//! Runtimes are noted per test, measured on an idle 2-core machine (each script on one thread, the
//! tests two at a time): about 30 s for the whole file.

#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "test helpers: a failed step should fail the test loudly; the scores are worth seeing"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mlm_coder::{
    Budget, BuiltinCoder, Coder, ExecutionStatus, FoldDesign, MemoryEntry, NodeView, Prompts,
    Proposal, ProposalRequest, ReviewRequest, TaskBrief,
};
use mlm_exec::{run_process, Environment, NodeLayout, ProcessRequest};
use mlm_grade::Grader;
use mlm_search::Stage;
use mlm_task::Task;
use serde_json::Value;

/// A bundled task, its grader and the brief a coder gets.
struct Prepared {
    grader: Grader,
    brief: TaskBrief,
}

fn prepared(name: &str) -> Prepared {
    prepared_from(&mlm_test_support::prepared_task(name))
}

fn prepared_from(dir: &Path) -> Prepared {
    let task = Task::load(dir, None).unwrap();
    let grader = Grader::for_task(&task).unwrap();
    let sample = mlm_task::CsvTable::read(&task.grading.sample_submission).unwrap();
    let id_column = task
        .grading
        .id_column
        .clone()
        .unwrap_or_else(|| sample.headers[0].clone());
    let brief = TaskBrief {
        competition_id: task.id.clone(),
        description: task.description().unwrap(),
        data_preview: String::new(),
        metric: grader.metric,
        public_dir: task.public_dir.clone(),
        train_sample: mlm_task::CsvTable::read_head(
            &task.public_dir.join("train.csv"),
            BuiltinCoder::SAMPLE_ROWS,
        )
        .ok(),
        test_sample: mlm_task::CsvTable::read_head(
            &task.public_dir.join("test.csv"),
            BuiltinCoder::SAMPLE_ROWS,
        )
        .ok(),
        target_columns: sample
            .headers
            .iter()
            .filter(|header| **header != id_column)
            .cloned()
            .collect(),
        id_column,
        sample_submission_file: task
            .grading
            .sample_submission
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        hardware: "2 CPU cores, no GPU".to_string(),
        installed_packages: Vec::new(),
        text_model: None,
    };
    Prepared { grader, brief }
}

fn request(
    stage: Stage,
    parent: Option<NodeView>,
    memory: Vec<MemoryEntry>,
    seed: u64,
) -> ProposalRequest {
    ProposalRequest {
        stage,
        parent,
        memory,
        buggy_ancestors: Vec::new(),
        budget: Budget {
            time_remaining: Duration::from_secs(3600),
            steps_remaining: 100,
            node_timeout: Duration::from_secs(600),
        },
        siblings_being_written: 0,
        seed,
    }
}

/// What one script run left behind.
struct Run {
    exit_code: Option<i32>,
    output: String,
    duration: Duration,
    metric: Option<(f64, bool)>,
    submission: PathBuf,
}

/// Runs `code` in a node directory laid out as the engine lays it out, on one thread.
fn run(brief: &TaskBrief, code: &str, node: &Path) -> Run {
    let layout = NodeLayout::new(node);
    layout.prepare(&brief.public_dir, code).unwrap();
    let python = mlm_test_support::python();
    let mut request = ProcessRequest::new(&python, node).args(["solution.py"]);
    let path = format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        python.parent().unwrap().display()
    );
    let mut variables: Vec<(String, String)> = vec![
        ("PATH".into(), path),
        ("HOME".into(), node.display().to_string()),
        ("TMPDIR".into(), layout.private_tmp().display().to_string()),
        ("LANG".into(), "C.UTF-8".into()),
        ("PYTHONUNBUFFERED".into(), "1".into()),
        ("OMP_WAIT_POLICY".into(), "PASSIVE".into()),
    ];
    for name in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"] {
        variables.push((name.into(), "1".into()));
    }
    request.environment = Environment::Only(variables);
    request.timeout = Some(Duration::from_secs(300));
    let started = Instant::now();
    let outcome = run_process(&request, &mut |_| {}).unwrap();
    let metric = std::fs::read_to_string(layout.metrics_file())
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|value| {
            Some((
                value["validation_metric"].as_f64()?,
                value["lower_is_better"].as_bool()?,
            ))
        });
    Run {
        // Signals, timeouts and cancellations have no exit code.
        exit_code: if let mlm_exec::ExitStatus::Exited(code) = outcome.status {
            Some(code)
        } else {
            None
        },
        output: outcome.output.text,
        duration: started.elapsed(),
        metric,
        submission: layout.submission_file(),
    }
}

/// The last lines of a script's output, on one line.
fn last_lines(output: &str) -> String {
    output.lines().rev().take(4).collect::<Vec<_>>().join(" | ")
}

fn node_view(node: u32, stage: Stage, plan: &str, code: &str, run: &Run) -> NodeView {
    NodeView {
        node,
        stage,
        plan: plan.to_string(),
        code: code.to_string(),
        output: run.output.clone(),
        status: match run.exit_code {
            Some(0) => ExecutionStatus::Ok,
            Some(_) | None => ExecutionStatus::Error,
        },
        duration: run.duration,
        metric: run.metric.map(|(value, _)| value),
        buggy: run.exit_code != Some(0),
        summary: String::new(),
        validation_message: None,
    }
}

/// Checks that `code` ran cleanly, wrote a finite validation metric in the task's direction and a
/// submission the grader accepts; returns the metric and the test score.
fn graded(name: &str, prepared: &Prepared, code: &str, result: &Run) -> (f64, f64) {
    assert_eq!(
        result.exit_code,
        Some(0),
        "{name}: the script failed:\n{code}\n{}",
        result.output
    );
    let (metric, lower_is_better) = result
        .metric
        .unwrap_or_else(|| panic!("{name}: no metrics.json:\n{}", result.output));
    assert!(metric.is_finite(), "{name}: validation metric {metric}");
    assert_eq!(lower_is_better, prepared.brief.metric.lower_is_better());
    let report = prepared.grader.grade_file(&result.submission);
    let score = report.score.unwrap_or_else(|| {
        panic!(
            "{name}: invalid submission: {:?}\n{code}",
            report.invalid_reason
        )
    });
    (metric, score)
}

/// Drafts (no memory, no siblings: the strongest family), runs it in `node`, and checks it beats `baseline`
/// on the hidden answers. Returns the task, the draft's plan and code, and its run.
async fn first_draft_beats(
    name: &str,
    baseline: f64,
    node: &Path,
) -> (Prepared, String, String, Run) {
    let prepared = prepared(name);
    let coder = BuiltinCoder::new();
    let proposal = coder
        .propose(&prepared.brief, &request(Stage::Draft, None, Vec::new(), 0))
        .await
        .unwrap();
    let result = run(&prepared.brief, &proposal.code, node);
    let (metric, score) = graded(name, &prepared, &proposal.code, &result);
    let lower_is_better = prepared.brief.metric.lower_is_better();
    let beats = match lower_is_better {
        true => score < baseline,
        false => score > baseline,
    };
    println!(
        "{name}: {} | validation {metric:.4}, test {score:.4} vs baseline {baseline:.4}, {:.1} s",
        proposal.plan.split(':').next().unwrap_or_default(),
        result.duration.as_secs_f64()
    );
    assert!(
        beats,
        "{name}: test score {score} does not beat the baseline {baseline}\n{}",
        result.output
    );
    (prepared, proposal.plan, proposal.code, result)
}

/// The options header of a built-in script, as JSON.
fn header(code: &str) -> serde_json::Map<String, Value> {
    let line = code.lines().next().unwrap();
    let json = line.strip_prefix("# ml-master-builtin: ").unwrap();
    serde_json::from_str::<Value>(json)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

/// LightGBM, then an improve and a debug: about 2 s per script.
#[tokio::test]
async fn titanic_first_draft_beats_the_majority_class_and_an_improve_and_a_debug_run() {
    let scratch = tempfile::tempdir().unwrap();
    let (prepared, plan, code, draft) =
        first_draft_beats("titanic", 0.6578, &scratch.path().join("draft")).await;
    let coder = BuiltinCoder::new();
    let parent = node_view(1, Stage::Draft, &plan, &code, &draft);
    let verdict = coder
        .review(
            &prepared.brief,
            &ReviewRequest {
                node: parent.clone(),
                reported_metric: draft.metric,
                submission_exists: true,
            },
        )
        .await
        .unwrap();
    assert!(!verdict.is_bug, "{}", verdict.summary);

    // An improve changes exactly the option its plan names, and still runs to a valid submission.
    let improve = coder
        .propose(
            &prepared.brief,
            &request(Stage::Improve, Some(parent.clone()), Vec::new(), 0),
        )
        .await
        .unwrap();
    let (before, after) = (header(&code), header(&improve.code));
    let changed: Vec<&String> = after
        .keys()
        .chain(before.keys())
        // "Trees with early stopping" is one setting: switching it on raises the allowance.
        .filter(|key| {
            *key != "trees" || before.get("early_stopping") == after.get("early_stopping")
        })
        .filter(|key| before.get(*key) != after.get(*key))
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}"); // each key counted from both sides
    assert!(
        improve.plan.contains(&format!("[option {} = ", changed[0])),
        "{}",
        improve.plan
    );
    let improved = run(
        &prepared.brief,
        &improve.code,
        &scratch.path().join("improve"),
    );
    assert_eq!(improved.exit_code, Some(0), "{}", improved.output);
    assert!(improved.metric.is_some_and(|(value, _)| value.is_finite()));
    let report = prepared.grader.grade_file(&improved.submission);
    assert!(report.valid_submission, "{:?}", report.invalid_reason);
    println!(
        "titanic improve: {} -> test {:?}",
        improve.plan, report.score
    );

    // A debug of a run that failed for want of LightGBM switches library and runs.
    let mut failed = parent;
    failed.status = ExecutionStatus::Error;
    failed.buggy = true;
    failed.metric = None;
    failed.output = concat!(
        "Traceback (most recent call last):\n",
        "  File \"solution.py\", line 21, in <module>\n",
        "    import lightgbm\n",
        "ModuleNotFoundError: No module named 'lightgbm'\n",
    )
    .to_string();
    let debug = coder
        .propose(
            &prepared.brief,
            &request(Stage::Debug, Some(failed), Vec::new(), 0),
        )
        .await
        .unwrap();
    assert!(
        debug
            .plan
            .starts_with("Debug: node 1 failed because the environment has no `lightgbm` module"),
        "{}",
        debug.plan
    );
    assert!(!debug.code.contains("import lightgbm"));
    let fixed = run(&prepared.brief, &debug.code, &scratch.path().join("debug"));
    assert_eq!(fixed.exit_code, Some(0), "{}", fixed.output);
    let report = prepared.grader.grade_file(&fixed.submission);
    assert!(
        report.score.is_some_and(|score| score > 0.6578),
        "{report:?}"
    );
    println!(
        "titanic debug: {} -> test {:?}",
        debug.plan.lines().next().unwrap_or_default(),
        report.score
    );
}

/// LightGBM, about 3 s.
#[tokio::test]
async fn churn_first_draft_beats_logistic_regression() {
    let scratch = tempfile::tempdir().unwrap();
    first_draft_beats("churn", 0.8171, &scratch.path().join("node")).await;
}

/// LightGBM over 32 classes, about 16 s: the slowest draft.
#[tokio::test]
async fn leaf_first_draft_beats_the_class_priors() {
    let scratch = tempfile::tempdir().unwrap();
    first_draft_beats("leaf", 3.4590, &scratch.path().join("node")).await;
}

/// LightGBM on log(1 + y), about 2.5 s.
#[tokio::test]
async fn bikeshare_first_draft_beats_the_training_mean() {
    let scratch = tempfile::tempdir().unwrap();
    first_draft_beats("bikeshare", 1.5203, &scratch.path().join("node")).await;
}

/// TF-IDF + logistic regression, folds grouped by film, about 5 s.
#[tokio::test]
async fn rotten_tomatoes_first_draft_beats_tfidf_logistic_regression() {
    let scratch = tempfile::tempdir().unwrap();
    first_draft_beats("rotten-tomatoes", 0.8362, &scratch.path().join("node")).await;
}

/// A one-hidden-layer MLP on the pixels, about 2.5 s.
#[tokio::test]
async fn digits_first_draft_beats_the_majority_class() {
    let scratch = tempfile::tempdir().unwrap();
    first_draft_beats("digits", 0.1000, &scratch.path().join("node")).await;
}

/// Churn with its training labels shuffled: nothing can be learnt, so an honest validation ROC AUC is
/// 0.5 give or take 0.01 (4,000 out-of-fold rows).
fn churn_with_shuffled_labels(root: &Path) -> PathBuf {
    let dir = mlm_test_support::copy_of_prepared_task("churn", root);
    let train_path = dir.join("prepared/public/train.csv");
    let mut train = mlm_task::CsvTable::read(&train_path).unwrap();
    let target = train.column_index("churn").unwrap();
    let mut labels: Vec<String> = train.rows.iter().map(|row| row[target].clone()).collect();
    // A fixed Fisher-Yates shuffle driven by a linear congruential generator: the same labels on
    // every machine.
    let mut state: u64 = 2026;
    for index in (1..labels.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        labels.swap(index, (state >> 33) as usize % (index + 1));
    }
    let mut text = train.headers.join(",") + "\n";
    for (row, label) in train.rows.iter_mut().zip(labels) {
        row[target] = label;
        assert!(row.iter().all(|cell| !cell.contains([',', '"'])));
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(&train_path, text).unwrap();
    dir
}

/// Boosting that stops early must not stop on the rows it is scored on: choosing the round that
/// scores best there flatters the validation score, and the search then prefers early stopping for
/// a gain that the test set never sees. On labels that carry no signal the validation score must stay
/// at chance. LightGBM with five folds, about 5 s.
#[tokio::test]
async fn early_stopping_does_not_flatter_the_validation_score() {
    let scratch = tempfile::tempdir().unwrap();
    let prepared = prepared_from(&churn_with_shuffled_labels(scratch.path()));
    let coder = BuiltinCoder::new();
    let draft = coder
        .propose(&prepared.brief, &request(Stage::Draft, None, Vec::new(), 0))
        .await
        .unwrap();
    // Boosting drafts stop early from the start.
    assert_eq!(
        header(&draft.code)["early_stopping"],
        "on",
        "{}",
        draft.plan
    );
    let drafted = run(&prepared.brief, &draft.code, &scratch.path().join("draft"));
    assert_eq!(drafted.exit_code, Some(0), "{}", drafted.output);
    let (metric, _) = drafted.metric.unwrap();
    println!("shuffled churn: validation roc_auc {metric:.4} with early stopping");
    // Two standard deviations above chance; stopping on the scored rows gave 0.531 here.
    assert!(
        metric < 0.52,
        "a validation ROC AUC of {metric} on labels without signal:\n{}",
        drafted.output
    );
}

/// Runs `work` on every job, two at a time (one per core of the reference machine).
fn in_parallel<T: Sync>(jobs: &[T], work: impl Fn(usize, &T) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(job) = jobs.get(index) else {
                    break;
                };
                work(index, job);
            });
        }
    });
}

/// A number with four decimals, or `-`.
fn shown(value: Option<f64>) -> String {
    value.map_or("-".to_string(), |value| format!("{value:.4}"))
}

/// Drafts a script of `family` by telling the coder every other family was drafted already.
async fn draft_of_family(prepared: &Prepared, family: &str) -> mlm_coder::Proposal {
    let families = [
        "LightGBM gradient boosting",
        "XGBoost gradient boosting",
        "CatBoost gradient boosting",
        "Random forest",
        "Extra trees",
        "Linear model",
        "k-nearest neighbours",
        "Multi-layer perceptron",
    ];
    let memory = families
        .iter()
        .filter(|name| **name != family)
        .enumerate()
        .map(|(index, name)| MemoryEntry {
            node: index as u32,
            plan: format!("{name}: an earlier draft."),
            summary: String::new(),
            metric: None,
            buggy: false,
        })
        .collect();
    let proposal = BuiltinCoder::new()
        .propose(&prepared.brief, &request(Stage::Draft, None, memory, 0))
        .await
        .unwrap();
    assert!(proposal.plan.starts_with(family), "{}", proposal.plan);
    proposal
}

/// Every family on every task, two at a time: a survey of scores and runtimes (several minutes).
#[tokio::test]
#[ignore = "a survey of every family on every task; takes several minutes"]
async fn every_family_on_every_task() {
    let tasks = [
        ("titanic", 0.6578),
        ("churn", 0.8171),
        ("leaf", 3.4590),
        ("bikeshare", 1.5203),
        ("rotten-tomatoes", 0.8362),
        ("digits", 0.1000),
    ];
    let families = [
        "LightGBM gradient boosting",
        "XGBoost gradient boosting",
        "CatBoost gradient boosting",
        "Random forest",
        "Extra trees",
        "Linear model",
        "k-nearest neighbours",
        "Multi-layer perceptron",
    ];
    let only: Option<String> = std::env::var("SURVEY_TASK").ok();
    let mut jobs = Vec::new();
    for (name, baseline) in tasks {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let prepared = prepared(name);
        for family in families {
            let proposal = draft_of_family(&prepared, family).await;
            if let Ok(dump) = std::env::var("SURVEY_DUMP") {
                let file = format!("{name}-{}.py", family.replace(' ', "_"));
                std::fs::write(Path::new(&dump).join(file), &proposal.code).unwrap();
            }
            jobs.push((
                name,
                baseline,
                family,
                prepared.brief.clone(),
                proposal.code,
            ));
        }
    }
    let scratch = tempfile::tempdir().unwrap();
    in_parallel(&jobs, |index, (name, baseline, family, brief, code)| {
        let result = run(brief, code, &scratch.path().join(format!("node{index}")));
        let report = prepared(name).grader.grade_file(&result.submission);
        let trouble = match result.exit_code {
            Some(0) => String::new(),
            Some(_) | None => last_lines(&result.output),
        };
        println!(
            "{name:16} {family:28} exit {:?} validation {:>8} test {:>8} (baseline {baseline}) \
             {:6.1} s {trouble}",
            result.exit_code,
            shown(result.metric.map(|(value, _)| value)),
            shown(report.score),
            result.duration.as_secs_f64(),
        );
    });
}

/// The targets of the synthetic competitions: one per kind the bundled tasks do not cover.
#[derive(Debug, Clone, Copy)]
enum Synthetic {
    /// roc_auc over two yes/no columns that train.csv holds.
    Multilabel,
    /// log_loss over three class columns that train.csv holds one-hot.
    OneHotClasses,
    /// f1_macro over three string labels.
    StringLabels,
    /// f1 over 0/1 labels.
    BinaryLabels,
    /// mcrmse over two numeric columns, one with negative values.
    TwoNumbers,
    /// quadratic_weighted_kappa over grades 0 to 4.
    Grades,
    /// mae over one number.
    AbsoluteErrors,
}

/// Writes a competition directory (task.toml, public files, private answers) for `kind`: 300
/// training and 60 test rows with a numeric column with gaps, a category, a date and a short note.
fn synthetic(root: &Path, kind: Synthetic) -> PathBuf {
    let (metric, targets): (&str, &[&str]) = match kind {
        Synthetic::Multilabel => ("roc_auc", &["toxic", "insult"]),
        Synthetic::OneHotClasses => ("log_loss", &["red", "green", "blue"]),
        Synthetic::StringLabels => ("f1_macro", &["animal"]),
        Synthetic::BinaryLabels => ("f1", &["flag"]),
        Synthetic::TwoNumbers => ("mcrmse", &["cohesion", "syntax"]),
        Synthetic::Grades => ("quadratic_weighted_kappa", &["grade"]),
        Synthetic::AbsoluteErrors => ("mae", &["amount"]),
    };
    let dir = root.join(format!("{kind:?}").to_lowercase());
    let public = dir.join("prepared/public");
    let private = dir.join("prepared/private");
    std::fs::create_dir_all(&public).unwrap();
    std::fs::create_dir_all(&private).unwrap();
    std::fs::write(
        dir.join("task.toml"),
        format!(
            "id = \"synthetic-{kind:?}\"\n[grading]\nmetric = \"{metric}\"\nanswers = \"prepared/private/answers.csv\"\nsample_submission = \"prepared/public/sample_submission.csv\"\nid_column = \"id\"\n"
        ),
    )
    .unwrap();
    let values = |row: usize| -> Vec<String> {
        let x1 = ((row * 37) % 100) as f64 / 10.0;
        let x2 = ((row * 53) % 71) as f64 / 7.1;
        let colour = ["a", "b", "c"][(row * 7) % 3];
        let score = x1 - 0.8 * x2 + if colour == "a" { 1.5 } else { 0.0 };
        let tertile = if score < -1.0 {
            0
        } else if score < 2.0 {
            1
        } else {
            2
        };
        match kind {
            Synthetic::Multilabel => vec![
                ((score > 1.0) as u8).to_string(),
                ((x2 > 5.0) as u8).to_string(),
            ],
            Synthetic::OneHotClasses => (0..3)
                .map(|class| ((class == tertile) as u8).to_string())
                .collect(),
            Synthetic::StringLabels => vec![["bird", "cat", "dog"][tertile].to_string()],
            Synthetic::BinaryLabels => vec![((score > 1.0) as u8).to_string()],
            Synthetic::TwoNumbers => vec![format!("{score:.3}"), format!("{:.3}", x1 * 2.0 - 3.0)],
            Synthetic::Grades => vec![((score.round() + 2.0).clamp(0.0, 4.0) as i64).to_string()],
            // A few wild rows: squared error chases them, absolute error does not.
            Synthetic::AbsoluteErrors => vec![format!(
                "{:.3}",
                score + if row.is_multiple_of(25) { 40.0 } else { 0.0 }
            )],
        }
    };
    let features = |row: usize| -> String {
        let x1 = if row.is_multiple_of(9) {
            String::new()
        } else {
            format!("{}", ((row * 37) % 100) as f64 / 10.0)
        };
        format!(
            "{},{x1},{},{},2020-{:02}-{:02},note {row} about {}",
            row + 1,
            ((row * 53) % 71) as f64 / 7.1,
            ["a", "b", "c"][(row * 7) % 3],
            1 + row % 12,
            1 + row % 28,
            ["rain", "sun", "snow", "wind"][row % 4]
        )
    };
    let header = "id,x1,x2,colour,day,note";
    let mut train = format!("{header},{}\n", targets.join(","));
    for row in 0..300 {
        train.push_str(&format!("{},{}\n", features(row), values(row).join(",")));
    }
    let mut test = format!("{header}\n");
    let mut sample = format!("id,{}\n", targets.join(","));
    let mut answers = sample.clone();
    for row in 300..360 {
        test.push_str(&format!("{}\n", features(row)));
        let placeholder: Vec<String> = values(0).iter().map(|_| "0".to_string()).collect();
        let placeholder = match kind {
            Synthetic::OneHotClasses => vec!["0.2".into(), "0.3".into(), "0.5".into()],
            Synthetic::StringLabels => vec!["cat".to_string()],
            Synthetic::Multilabel
            | Synthetic::BinaryLabels
            | Synthetic::TwoNumbers
            | Synthetic::Grades
            | Synthetic::AbsoluteErrors => placeholder,
        };
        sample.push_str(&format!("{},{}\n", row + 1, placeholder.join(",")));
        answers.push_str(&format!("{},{}\n", row + 1, values(row).join(",")));
    }
    std::fs::write(public.join("description.md"), "# A synthetic competition\n").unwrap();
    std::fs::write(public.join("train.csv"), train).unwrap();
    std::fs::write(public.join("test.csv"), test).unwrap();
    std::fs::write(public.join("sample_submission.csv"), sample).unwrap();
    std::fs::write(private.join("answers.csv"), answers).unwrap();
    dir
}

/// Every target kind the bundled tasks leave out, with a boosting and a linear script, graded
/// against hidden answers. About 1.5 s per script.
#[tokio::test]
async fn synthetic_tasks_of_every_other_target_kind_get_valid_submissions() {
    let scratch = tempfile::tempdir().unwrap();
    for kind in [
        Synthetic::Multilabel,
        Synthetic::OneHotClasses,
        Synthetic::StringLabels,
        Synthetic::BinaryLabels,
        Synthetic::TwoNumbers,
        Synthetic::Grades,
        Synthetic::AbsoluteErrors,
    ] {
        let prepared = prepared_from(&synthetic(scratch.path(), kind));
        for family in ["LightGBM gradient boosting", "Linear model"] {
            let proposal = draft_of_family(&prepared, family).await;
            let node = scratch.path().join(format!("{kind:?}-{}", &family[..6]));
            let result = run(&prepared.brief, &proposal.code, &node);
            assert_eq!(
                result.exit_code,
                Some(0),
                "{kind:?} {family}:\n{}",
                result.output
            );
            assert!(
                result.metric.is_some_and(|(value, _)| value.is_finite()),
                "{kind:?} {family}: {}",
                result.output
            );
            let report = prepared.grader.grade_file(&result.submission);
            assert!(
                report.valid_submission,
                "{kind:?} {family}: {:?}",
                report.invalid_reason
            );
            println!("{kind:?} {family}: {} {:?}", report.metric, report.score);
            // The objective follows the metric: boosting trains on absolute error for mae, and
            // grades are cut at thresholds tuned on out-of-fold predictions for kappa.
            match (kind, family) {
                (Synthetic::AbsoluteErrors, "LightGBM gradient boosting") => {
                    assert!(
                        proposal.code.contains("objective=\"l1\""),
                        "{}",
                        proposal.code
                    );
                }
                (Synthetic::Grades, _) => assert!(
                    result
                        .output
                        .contains("grade thresholds tuned on out-of-fold predictions"),
                    "{}",
                    result.output
                ),
                _ => {}
            }
        }
    }
}

/// Every improve the coder proposes from `parent`, each one told of the ones before it as siblings
/// that scored as the parent did, until it has none left.
async fn every_improve(
    coder: &BuiltinCoder,
    brief: &TaskBrief,
    parent: &NodeView,
) -> Vec<Proposal> {
    let mut siblings: Vec<MemoryEntry> = Vec::new();
    let mut improves = Vec::new();
    while let Ok(child) = coder
        .propose(
            brief,
            &request(Stage::Improve, Some(parent.clone()), siblings.clone(), 0),
        )
        .await
    {
        siblings.push(MemoryEntry {
            node: siblings.len() as u32 + 1,
            plan: child.plan.clone(),
            summary: String::new(),
            metric: parent.metric,
            buggy: false,
        });
        improves.push(child);
    }
    improves
}

/// The feature moves an improve can pick where the schema has the columns: frequency encoding of a
/// category and statistics of a text column, each chosen by the coder from a LightGBM draft and run.
#[tokio::test]
async fn feature_moves_are_chosen_where_the_columns_exist_and_run() {
    let scratch = tempfile::tempdir().unwrap();
    let prepared = prepared_from(&synthetic(scratch.path(), Synthetic::StringLabels));
    let coder = BuiltinCoder::new();
    let draft = coder
        .propose(&prepared.brief, &request(Stage::Draft, None, Vec::new(), 0))
        .await
        .unwrap();
    let drafted = run(&prepared.brief, &draft.code, &scratch.path().join("draft"));
    assert_eq!(drafted.exit_code, Some(0), "{}", drafted.output);
    let parent = node_view(0, Stage::Draft, &draft.plan, &draft.code, &drafted);
    let wanted = [
        "[option categorical_encoding = frequency",
        "[option text_statistics = on",
    ];
    let improves = every_improve(&coder, &prepared.brief, &parent).await;
    let found: Vec<&Proposal> = improves
        .iter()
        .filter(|child| wanted.iter().any(|tag| child.plan.contains(tag)))
        .collect();
    let plans: Vec<&str> = improves.iter().map(|child| child.plan.as_str()).collect();
    assert_eq!(found.len(), wanted.len(), "{plans:#?}");
    for (index, child) in found.iter().enumerate() {
        let result = run(
            &prepared.brief,
            &child.code,
            &scratch.path().join(format!("improve{index}")),
        );
        assert_eq!(
            result.exit_code,
            Some(0),
            "{}\n{}",
            child.plan,
            result.output
        );
        let report = prepared.grader.grade_file(&result.submission);
        assert!(report.valid_submission, "{:?}", report.invalid_reason);
        println!("{}: test {:?}", child.plan, report.score);
    }
}

/// The header and the rows of a CSV file the script wrote, split at commas (the synthetic tasks' labels
/// and numbers hold none).
fn csv_cells(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let split = |line: &str| line.split(',').map(str::to_string).collect::<Vec<_>>();
    let header = split(lines.next().unwrap());
    (header, lines.map(split).collect())
}

/// Given the run's folds in `input/folds.csv`, a script validates on them whatever its own scheme, and
/// writes its out-of-fold and test predictions in the run's format, for every target kind. About 1.5 s
/// per script.
#[tokio::test]
async fn scripts_validate_on_the_run_folds_and_write_their_predictions() {
    let scratch = tempfile::tempdir().unwrap();
    for (kind, prediction_columns) in [
        (Synthetic::Multilabel, vec!["toxic", "insult"]),
        (Synthetic::OneHotClasses, vec!["red", "green", "blue"]),
        (Synthetic::StringLabels, vec!["bird", "cat", "dog"]),
        (Synthetic::BinaryLabels, vec!["0", "1"]),
        (Synthetic::TwoNumbers, vec!["cohesion", "syntax"]),
        (Synthetic::Grades, vec!["grade"]),
    ] {
        let dir = synthetic(scratch.path(), kind);
        // Only folds 0 and 2: five-fold validation joins the run's folds in pairs, so two folds.
        let folds: String = std::iter::once("row,fold\n".to_string())
            .chain((0..300).map(|row| format!("{row},{}\n", 2 * (row % 2))))
            .collect();
        std::fs::write(dir.join("prepared/public/folds.csv"), folds).unwrap();
        let prepared = prepared_from(&dir);
        let proposal = draft_of_family(&prepared, "Linear model").await;
        let node = scratch.path().join(format!("{kind:?}-folds"));
        let result = run(&prepared.brief, &proposal.code, &node);
        assert_eq!(result.exit_code, Some(0), "{kind:?}:\n{}", result.output);
        assert!(
            result.output.contains("fold 2:") && !result.output.contains("fold 3:"),
            "{kind:?} did not validate on the run's two folds:\n{}",
            result.output
        );
        let (header, rows) = csv_cells(&node.join("oof.csv"));
        let targets = &prepared.brief.target_columns;
        let mut expected: Vec<String> = vec!["row".to_string()];
        expected.extend(prediction_columns.iter().map(|column| column.to_string()));
        expected.extend(targets.iter().map(|target| format!("truth:{target}")));
        assert_eq!(header, expected, "{kind:?}");
        let validated: Vec<String> = rows.iter().map(|row| row[0].clone()).collect();
        let every_row: Vec<String> = (0..300).map(|row| row.to_string()).collect();
        assert_eq!(validated, every_row, "{kind:?}");
        let (test_header, test_rows) = csv_cells(&node.join("test_pred.csv"));
        assert_eq!(test_header[0], "id", "{kind:?}");
        assert_eq!(
            test_header[1..],
            expected[1..=prediction_columns.len()],
            "{kind:?}"
        );
        assert_eq!(test_rows.len(), 60, "{kind:?}");
    }
}

/// Every improve move from the drafts of the first `SURVEY_FAMILIES` families (default 2) of each
/// task, run: a survey that each move renders a working script (several minutes).
#[tokio::test]
#[ignore = "a survey of every improve move; takes several minutes"]
async fn every_improve_move_runs() {
    let only: Option<String> = std::env::var("SURVEY_TASK").ok();
    let family_count: usize = std::env::var("SURVEY_FAMILIES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(2);
    let coder = BuiltinCoder::new();
    let mut jobs = Vec::new();
    // digit-images is left out: each of its network moves trains for minutes.
    for name in mlm_test_support::BUNDLED_TASKS
        .into_iter()
        .filter(|name| *name != "digit-images")
    {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let prepared = prepared(name);
        let mut drafts = Vec::new();
        for _ in 0..family_count {
            let proposal = coder
                .propose(
                    &prepared.brief,
                    &request(Stage::Draft, None, drafts.clone(), 0),
                )
                .await
                .unwrap();
            drafts.push(MemoryEntry {
                node: drafts.len() as u32,
                plan: proposal.plan.clone(),
                summary: String::new(),
                metric: None,
                buggy: false,
            });
            let parent = NodeView {
                node: 0,
                stage: Stage::Draft,
                plan: proposal.plan.clone(),
                code: proposal.code.clone(),
                output: String::new(),
                status: ExecutionStatus::Ok,
                duration: Duration::from_secs(5),
                metric: Some(0.5),
                buggy: false,
                summary: String::new(),
                validation_message: None,
            };
            for child in every_improve(&coder, &prepared.brief, &parent).await {
                jobs.push((name, prepared.brief.clone(), child.plan, child.code));
            }
        }
    }
    println!("{} scripts", jobs.len());
    let scratch = tempfile::tempdir().unwrap();
    let failures = std::sync::Mutex::new(Vec::new());
    in_parallel(&jobs, |index, (name, brief, plan, code)| {
        let result = run(brief, code, &scratch.path().join(format!("node{index}")));
        let report = prepared(name).grader.grade_file(&result.submission);
        let family = header(code)["family"].to_string();
        let change = plan.rsplit("[option ").next().unwrap_or_default();
        println!(
            "{name:16} {family:24} {change:48} exit {:?} validation {:>8} test {:>8} {:5.1} s",
            result.exit_code,
            shown(result.metric.map(|(value, _)| value)),
            shown(report.score),
            result.duration.as_secs_f64(),
        );
        if result.exit_code != Some(0) || !report.valid_submission {
            let failure = format!("{name} {family} {change}: {}", last_lines(&result.output));
            failures.lock().unwrap().push(failure);
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every draft family on every bundled task, and every improve of each draft, rendered (not run): a
/// script imports only names it uses (checked by Python's own parser), and its first line records the
/// rounds or trees its model trains (`"trees":500` once stood for up to 2,000 rounds).
#[tokio::test]
async fn every_script_imports_only_what_it_uses_and_its_header_matches_its_model() {
    let coder = BuiltinCoder::new();
    let scratch = tempfile::tempdir().unwrap();
    let mut scripts = Vec::new();
    // digit-images is left out: each of its network moves trains for minutes.
    for name in mlm_test_support::BUNDLED_TASKS
        .into_iter()
        .filter(|name| *name != "digit-images")
    {
        let prepared = prepared(name);
        let mut drafts = Vec::new();
        while let Ok(draft) = coder
            .propose(
                &prepared.brief,
                &request(Stage::Draft, None, drafts.clone(), 0),
            )
            .await
        {
            if drafts.len() == 8 {
                break;
            }
            drafts.push(MemoryEntry {
                node: drafts.len() as u32,
                plan: draft.plan.clone(),
                summary: String::new(),
                metric: None,
                buggy: false,
            });
            let parent = NodeView {
                node: 0,
                stage: Stage::Draft,
                plan: draft.plan.clone(),
                code: draft.code.clone(),
                output: String::new(),
                status: ExecutionStatus::Ok,
                duration: Duration::from_secs(5),
                metric: Some(0.5),
                buggy: false,
                summary: String::new(),
                validation_message: None,
            };
            scripts.push((format!("{name} {}", draft.plan), draft.code));
            let mut siblings: Vec<MemoryEntry> = Vec::new();
            while let Ok(child) = coder
                .propose(
                    &prepared.brief,
                    &request(Stage::Improve, Some(parent.clone()), siblings.clone(), 0),
                )
                .await
            {
                siblings.push(MemoryEntry {
                    node: siblings.len() as u32 + 1,
                    plan: child.plan.clone(),
                    summary: String::new(),
                    metric: Some(0.5),
                    buggy: false,
                });
                scripts.push((format!("{name} {}", child.plan), child.code));
            }
        }
    }
    let mut mismatched = Vec::new();
    for (index, (what, code)) in scripts.iter().enumerate() {
        std::fs::write(scratch.path().join(format!("{index:04}.py")), code).unwrap();
        let trees = header(code).get("trees").and_then(Value::as_u64);
        let rounds = code
            .split("\"rounds\": ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|rounds| rounds.parse::<u64>().ok());
        if trees.is_some() && trees != rounds {
            mismatched.push(format!("{what}: trees {trees:?}, rounds {rounds:?}"));
        }
    }
    assert!(
        mismatched.is_empty(),
        "{} of {} scripts:\n{}",
        mismatched.len(),
        scripts.len(),
        mismatched.join("\n")
    );
    let unused_imports = r#"
import ast, pathlib, sys
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.py")):
    tree = ast.parse(path.read_text())
    imported = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[(alias.asname or alias.name).split(".")[0]] = node.lineno
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                imported[alias.asname or alias.name] = node.lineno
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    for name in sorted(set(imported) - used):
        print(f"{path.stem} {name}")
"#;
    let output = std::process::Command::new(mlm_test_support::python())
        .args(["-c", unused_imports])
        .arg(scratch.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let unused: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let (index, name) = line.split_once(' ').unwrap();
            let what = &scripts[index.parse::<usize>().unwrap()].0;
            format!("{name} in {}", what.chars().take(120).collect::<String>())
        })
        .collect();
    assert!(
        unused.is_empty(),
        "{} unused imports in {} scripts:\n{}",
        unused.len(),
        scripts.len(),
        unused.join("\n")
    );
}

/// The starting script of an LLM draft prompt is a promise that a model which only echoes it still
/// replies with a script that runs: on every bundled task it fits, it must run cleanly, report a finite
/// validation metric and write a submission the grader accepts. About 10 s for the file.
#[test]
fn the_llm_starting_script_runs_as_written_on_every_task_it_fits() {
    let prompts = Prompts::load(None).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mut fitted = Vec::new();
    for name in mlm_test_support::BUNDLED_TASKS {
        let name: &str = name;
        let prepared = prepared(name);
        let Some(script) = prompts.starting_script(&prepared.brief).unwrap() else {
            continue;
        };
        fitted.push(name);
        let result = run(&prepared.brief, &script, &scratch.path().join(name));
        let (metric, score) = graded(name, &prepared, &script, &result);
        println!(
            "{name}: starting script: validation {metric:.4}, test {score:.4}, {:.1} s ({})",
            result.duration.as_secs_f64(),
            last_lines(&result.output)
        );
    }
    assert_eq!(
        fitted,
        ["titanic", "churn", "bikeshare", "rotten-tomatoes", "digits"]
    );
}

/// The run's folds as each bundled task's split calls for: `bikeshare` forecasts the last months of a
/// year from its first ones (blocks of time, although its unseen months would also group it),
/// `rotten-tomatoes` holds out whole films (groups), the classification tasks stratify by their label.
#[test]
fn each_bundled_task_gets_the_folds_its_split_calls_for() {
    let designs: Vec<(&str, FoldDesign)> = mlm_test_support::BUNDLED_TASKS
        .iter()
        .map(|name| (*name, FoldDesign::for_task(&prepared(name).brief)))
        .collect();
    let stratified = |label_column: &str| FoldDesign::Stratified {
        label_column: label_column.to_string(),
    };
    assert_eq!(
        designs,
        [
            ("titanic", stratified("Survived")),
            ("churn", stratified("churn")),
            ("leaf", stratified("species")),
            (
                "bikeshare",
                FoldDesign::TimeOrdered {
                    order_column: "day".to_string()
                }
            ),
            (
                "rotten-tomatoes",
                FoldDesign::Grouped {
                    group_column: "movie_name".to_string()
                }
            ),
            ("digits", stratified("label")),
            ("digit-images", stratified("label")),
        ]
    );
}
