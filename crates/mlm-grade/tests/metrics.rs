//! Cross-check of every metric against scikit-learn and scipy: seeded random cases (ties, probabilities
//! at and near 0 and 1, several columns, and inputs that cannot be scored) are scored here and by
//! `metrics_reference.py` in one Python process, and must agree to 1e-9 (relative for large values) or
//! both refuse the case.
//!
//! Needs a Python interpreter with numpy, scipy and scikit-learn: the managed environment or
//! `ML_MASTER_PYTHON`. Without one the test fails rather than skips.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mlm_exec::{run_process, OutputLine, ProcessRequest, Profile, PythonEnvironment};
use mlm_grade::{F1Average, Metric};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

const TOLERANCE: f64 = 1e-9;
const CASES_PER_VARIANT: u64 = 6;

/// One scoring problem; cells are column-major, as [`Metric::compute`] takes them.
#[derive(Debug, Serialize)]
struct Case {
    id: String,
    metric: String,
    columns: Vec<String>,
    truth: Vec<Vec<String>>,
    predicted: Vec<Vec<String>>,
}

#[derive(Debug, serde::Deserialize)]
struct Reference {
    value: Option<f64>,
    error: Option<String>,
}

impl Case {
    fn new(
        metric: Metric,
        variant: &str,
        seed: u64,
        truth: Vec<Vec<String>>,
        predicted: Vec<Vec<String>>,
    ) -> Case {
        let columns = (0..truth.len())
            .map(|column| format!("target_{column}"))
            .collect();
        Case {
            id: format!("{} {variant} seed {seed}", metric.name()),
            metric: metric.name(),
            columns,
            truth,
            predicted,
        }
    }

    fn compute(&self) -> Result<f64, String> {
        fn borrow(table: &[Vec<String>]) -> Vec<Vec<&str>> {
            table
                .iter()
                .map(|column| column.iter().map(String::as_str).collect())
                .collect()
        }
        let metric = Metric::from_name(&self.metric)
            .ok_or_else(|| format!("unknown metric {}", self.metric))?;
        metric.compute(
            &self.columns,
            &borrow(&self.truth),
            &borrow(&self.predicted),
        )
    }
}

/// A probability that is often exactly or nearly 0 or 1, and often tied with others.
fn edgy_probability(rng: &mut StdRng) -> f64 {
    match rng.gen_range(0..10) {
        0 => 0.0,
        1 => 1.0,
        2 => 10f64.powi(-rng.gen_range(1..=20)),
        3 => 1.0 - 10f64.powi(-rng.gen_range(1..=17)),
        4 => f64::EPSILON / 2.0,
        5 => (rng.gen_range(0..=10) as f64) / 10.0,
        _ => rng.gen(),
    }
}

/// A random element of a non-empty slice.
fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn text(value: f64) -> String {
    format!("{value}")
}

fn texts(table: &[Vec<f64>]) -> Vec<Vec<String>> {
    table
        .iter()
        .map(|column| column.iter().copied().map(text).collect())
        .collect()
}

fn rows(rng: &mut StdRng) -> usize {
    match rng.gen_range(0..4) {
        0 => rng.gen_range(2..8),
        1 | 2 => rng.gen_range(8..200),
        _ => rng.gen_range(200..2000),
    }
}

/// 0/1 labels with both classes present.
fn binary_column(rng: &mut StdRng, rows: usize) -> Vec<bool> {
    let share = rng.gen_range(0.05..0.95);
    let mut labels: Vec<bool> = (0..rows).map(|_| rng.gen_bool(share)).collect();
    labels[0] = true;
    labels[1] = false;
    labels.shuffle(rng);
    labels
}

fn zero_one(labels: &[bool]) -> Vec<String> {
    labels
        .iter()
        .map(|&label| if label { "1" } else { "0" }.to_string())
        .collect()
}

fn accuracy_cases(seed: u64, rng: &mut StdRng, cases: &mut Vec<Case>) {
    const POOL: [&str; 5] = ["cat", "dog", "bird", "3", "7"];
    for columns in [1, 3] {
        let count = rows(rng);
        let agreement = rng.gen_range(0.3..0.95);
        let mut truth = Vec::new();
        let mut predicted = Vec::new();
        for _ in 0..columns {
            let column: Vec<String> = (0..count).map(|_| pick(rng, &POOL).to_string()).collect();
            let guesses = column
                .iter()
                .map(|label| {
                    if rng.gen_bool(agreement) {
                        label.clone()
                    } else {
                        pick(rng, &POOL).to_string()
                    }
                })
                .collect();
            truth.push(column);
            predicted.push(guesses);
        }
        cases.push(Case::new(
            Metric::Accuracy,
            &format!("{columns} columns"),
            seed,
            truth,
            predicted,
        ));
    }
}

fn roc_auc_cases(seed: u64, rng: &mut StdRng, cases: &mut Vec<Case>) {
    for columns in [1, 3] {
        let count = rows(rng);
        let decimals = rng.gen_range(1..4);
        let mut truth = Vec::new();
        let mut predicted = Vec::new();
        for _ in 0..columns {
            let labels = binary_column(rng, count);
            let scores = labels
                .iter()
                .map(|&positive| {
                    let score: f64 = if rng.gen_bool(0.2) {
                        edgy_probability(rng)
                    } else {
                        (rng.gen::<f64>() + if positive { 0.3 } else { 0.0 }).min(1.0)
                    };
                    // Rounding makes ties.
                    let scale = 10f64.powi(decimals);
                    text((score * scale).round() / scale)
                })
                .collect();
            truth.push(zero_one(&labels));
            predicted.push(scores);
        }
        cases.push(Case::new(
            Metric::RocAuc,
            &format!("{columns} columns"),
            seed,
            truth,
            predicted,
        ));
    }
    let count = rows(rng);
    let truth = vec![vec!["1".to_string(); count]];
    let predicted = vec![(0..count).map(|_| text(rng.gen())).collect()];
    cases.push(Case::new(
        Metric::RocAuc,
        "one class",
        seed,
        truth,
        predicted,
    ));
}

fn log_loss_cases(seed: u64, rng: &mut StdRng, cases: &mut Vec<Case>) {
    let count = rows(rng);
    let labels = binary_column(rng, count);
    let predicted = labels
        .iter()
        .map(|&positive| {
            let probability = if rng.gen_bool(0.5) {
                edgy_probability(rng)
            } else {
                (rng.gen::<f64>() * 0.7 + if positive { 0.3 } else { 0.0 }).min(1.0)
            };
            text(probability)
        })
        .collect();
    cases.push(Case::new(
        Metric::LogLoss,
        "binary",
        seed,
        vec![zero_one(&labels)],
        vec![predicted],
    ));

    let classes = rng.gen_range(2..7);
    let count = rows(rng);
    let mut truth = vec![Vec::new(); classes];
    let mut predicted = vec![Vec::new(); classes];
    for _ in 0..count {
        let actual = rng.gen_range(0..classes);
        let mut weights: Vec<f64> = (0..classes)
            .map(|_| match rng.gen_range(0..6) {
                0 => 0.0,
                1 => 10f64.powi(-rng.gen_range(5..=30)),
                _ => rng.gen(),
            })
            .collect();
        if rng.gen_bool(0.2) {
            // A confident row, right or wrong.
            let confident = rng.gen_range(0..classes);
            weights = (0..classes)
                .map(|class| if class == confident { 1.0 } else { 0.0 })
                .collect();
        }
        if weights.iter().all(|&weight| weight == 0.0) {
            weights[actual] = 1.0;
        }
        let total: f64 = weights.iter().sum();
        // Rows off by up to 5e-6 still pass MLE-bench's check.
        let drift = if rng.gen_bool(0.1) {
            1.0 + rng.gen_range(-5e-6..5e-6)
        } else {
            1.0
        };
        for class in 0..classes {
            truth[class].push(if class == actual { "1" } else { "0" }.to_string());
            predicted[class].push(weights[class] / total * drift);
        }
    }
    cases.push(Case::new(
        Metric::LogLoss,
        &format!("{classes} classes"),
        seed,
        truth.clone(),
        texts(&predicted),
    ));
    // One row that sums to 0.9 cannot be scored.
    let row = rng.gen_range(0..count);
    for column in predicted.iter_mut() {
        column[row] *= 0.9;
    }
    cases.push(Case::new(
        Metric::LogLoss,
        "row sum off",
        seed,
        truth,
        texts(&predicted),
    ));
}

fn regression_cases(seed: u64, rng: &mut StdRng, cases: &mut Vec<Case>) {
    for metric in [Metric::Rmse, Metric::Mae, Metric::Mcrmse, Metric::Rmsle] {
        for columns in [1, 3] {
            let count = rows(rng);
            let scale = 10f64.powi(rng.gen_range(-3..7));
            let non_negative = metric == Metric::Rmsle;
            let mut truth = Vec::new();
            let mut predicted = Vec::new();
            for _ in 0..columns {
                let mut actual_column = Vec::new();
                let mut guess_column = Vec::new();
                for _ in 0..count {
                    let actual = if non_negative {
                        if rng.gen_bool(0.1) {
                            0.0
                        } else {
                            rng.gen::<f64>() * scale
                        }
                    } else {
                        (rng.gen::<f64>() - 0.5) * scale
                    };
                    let noise = (rng.gen::<f64>() - 0.5) * scale * 0.3;
                    let guess = if rng.gen_bool(0.1) {
                        actual
                    } else if non_negative {
                        (actual + noise).abs()
                    } else {
                        actual + noise
                    };
                    actual_column.push(text(actual));
                    guess_column.push(text(guess));
                }
                truth.push(actual_column);
                predicted.push(guess_column);
            }
            cases.push(Case::new(
                metric,
                &format!("{columns} columns"),
                seed,
                truth,
                predicted,
            ));
        }
    }
    let truth = vec![vec!["1".to_string(), "2".to_string(), "3".to_string()]];
    let predicted = vec![vec![
        "1".to_string(),
        text(-rng.gen::<f64>().max(1e-3)),
        "3".to_string(),
    ]];
    cases.push(Case::new(Metric::Rmsle, "negative", seed, truth, predicted));
}

fn kappa_cases(seed: u64, rng: &mut StdRng, cases: &mut Vec<Case>) {
    // Labels with gaps: the weights follow the labels' positions, not their values.
    let label_sets: [&[i64]; 3] = [&[0, 1, 2, 3, 4, 5], &[1, 3, 7, 8], &[-2, 0, 10]];
    let labels = label_sets[rng.gen_range(0..label_sets.len())];
    let count = rows(rng);
    let mut truth = Vec::new();
    let mut predicted = Vec::new();
    for _ in 0..count {
        let actual = rng.gen_range(0..labels.len());
        let guess = if rng.gen_bool(0.5) {
            actual
        } else {
            rng.gen_range(0..labels.len())
        };
        truth.push(labels[actual].to_string());
        // Some predictions written as floats.
        predicted.push(if rng.gen_bool(0.2) {
            format!("{}.0", labels[guess])
        } else {
            labels[guess].to_string()
        });
    }
    cases.push(Case::new(
        Metric::QuadraticWeightedKappa,
        "random",
        seed,
        vec![truth],
        vec![predicted],
    ));
    let constant = vec![vec!["4".to_string(); 5]];
    cases.push(Case::new(
        Metric::QuadraticWeightedKappa,
        "one label",
        seed,
        constant.clone(),
        constant,
    ));
}

fn f1_cases(seed: u64, rng: &mut StdRng, cases: &mut Vec<Case>) {
    let count = rows(rng);
    let truth: Vec<bool> = (0..count).map(|_| rng.gen_bool(0.3)).collect();
    let predicted: Vec<bool> = truth
        .iter()
        .map(|&actual| {
            if rng.gen_bool(0.7) {
                actual
            } else {
                rng.gen_bool(0.5)
            }
        })
        .collect();
    cases.push(Case::new(
        Metric::F1(F1Average::Binary),
        "binary",
        seed,
        vec![zero_one(&truth)],
        vec![zero_one(&predicted)],
    ));
    let none = vec![zero_one(&[false; 4])];
    cases.push(Case::new(
        Metric::F1(F1Average::Binary),
        "no positives",
        seed,
        none.clone(),
        none,
    ));

    const TRUTH_POOL: [&str; 4] = ["ant", "bee", "cow", "doe"];
    const GUESS_POOL: [&str; 5] = ["ant", "bee", "cow", "doe", "elk"];
    for average in [F1Average::Micro, F1Average::Macro] {
        let count = rows(rng);
        let truth: Vec<String> = (0..count)
            .map(|_| pick(rng, &TRUTH_POOL).to_string())
            .collect();
        let predicted = truth
            .iter()
            .map(|label| {
                if rng.gen_bool(0.6) {
                    label.clone()
                } else {
                    pick(rng, &GUESS_POOL).to_string()
                }
            })
            .collect();
        cases.push(Case::new(
            Metric::F1(average),
            "labels",
            seed,
            vec![truth],
            vec![predicted],
        ));
    }
}

fn map_at_k_cases(seed: u64, rng: &mut StdRng, cases: &mut Vec<Case>) {
    let tokens: Vec<String> = (0..10).map(|token| format!("item{token}")).collect();
    for k in [1, 3, 5] {
        let count = rows(rng);
        let mut truth = Vec::new();
        let mut predicted = Vec::new();
        for _ in 0..count {
            let answers = rng.gen_range(1..=3);
            let actual: Vec<&str> = (0..answers).map(|_| pick(rng, &tokens).as_str()).collect();
            let guesses = rng.gen_range(1..=7);
            let guess: Vec<&str> = (0..guesses)
                .map(|_| {
                    if rng.gen_bool(0.3) {
                        *pick(rng, &actual)
                    } else {
                        pick(rng, &tokens).as_str()
                    }
                })
                .collect();
            truth.push(actual.join(" "));
            predicted.push(guess.join(" "));
        }
        cases.push(Case::new(
            Metric::MapAtK(k),
            "random",
            seed,
            vec![truth],
            vec![predicted],
        ));
    }
}

fn correlation_cases(seed: u64, rng: &mut StdRng, cases: &mut Vec<Case>) {
    for metric in [Metric::Pearson, Metric::Spearman] {
        for columns in [1, 2] {
            let count = rows(rng).max(3);
            let scale = 10f64.powi(rng.gen_range(-2..7));
            let strength = rng.gen_range(-1.0..1.0);
            // Values on a grid of 10 to 1000 steps, so that some repeat (ties for Spearman).
            let steps = 10f64.powi(rng.gen_range(1..4));
            let on_grid = |value: f64| (value * steps).round() / steps * scale;
            let mut truth = Vec::new();
            let mut predicted = Vec::new();
            for _ in 0..columns {
                let actual: Vec<f64> = (0..count).map(|_| rng.gen::<f64>()).collect();
                let guess: Vec<f64> = actual
                    .iter()
                    .map(|value| strength * value + rng.gen::<f64>())
                    .collect();
                truth.push(actual.iter().map(|&value| text(on_grid(value))).collect());
                predicted.push(guess.iter().map(|&value| text(on_grid(value))).collect());
            }
            cases.push(Case::new(
                metric,
                &format!("{columns} columns"),
                seed,
                truth,
                predicted,
            ));
        }
        let truth = vec![(0..5).map(|row| row.to_string()).collect()];
        let predicted = vec![vec!["2.5".to_string(); 5]];
        cases.push(Case::new(metric, "constant", seed, truth, predicted));
        let pair = vec![vec!["1".to_string(), "2".to_string()]];
        let reversed = vec![vec!["7".to_string(), "-3".to_string()]];
        cases.push(Case::new(metric, "two rows", seed, pair, reversed));
    }
}

fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for seed in 0..CASES_PER_VARIANT {
        let mut rng = StdRng::seed_from_u64(seed);
        accuracy_cases(seed, &mut rng, &mut cases);
        roc_auc_cases(seed, &mut rng, &mut cases);
        log_loss_cases(seed, &mut rng, &mut cases);
        regression_cases(seed, &mut rng, &mut cases);
        kappa_cases(seed, &mut rng, &mut cases);
        f1_cases(seed, &mut rng, &mut cases);
        map_at_k_cases(seed, &mut rng, &mut cases);
        correlation_cases(seed, &mut rng, &mut cases);
    }
    cases
}

/// Scores every case in one Python process.
fn reference_scores(cases: &[Case], directory: &Path) -> BTreeMap<String, Reference> {
    let python = PythonEnvironment::resolve(None, Profile::Base)
        .and_then(|environment| environment.require_python())
        .unwrap_or_else(|error| {
            panic!(
                "the metric cross-check needs a Python interpreter with numpy, scipy and \
                 scikit-learn (ML_MASTER_PYTHON or the managed environment): {error}"
            )
        });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("metrics_reference.py");
    let cases_path = directory.join("cases.json");
    let results_path = directory.join("results.json");
    let json = serde_json::to_vec(cases)
        .unwrap_or_else(|error| panic!("cannot serialize the cases: {error}"));
    std::fs::write(&cases_path, json)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", cases_path.display()));
    let request = ProcessRequest::new(&python, directory).args([
        script.into_os_string(),
        cases_path.into_os_string(),
        results_path.clone().into_os_string(),
    ]);
    let mut output = Vec::new();
    let outcome = run_process(&request, &mut |line: OutputLine| output.push(line.text))
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", python.display()));
    assert!(
        outcome.success(),
        "{} metrics_reference.py failed ({}):\n{}",
        python.display(),
        outcome.status,
        output.join("\n")
    );
    let results = std::fs::read(&results_path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", results_path.display()));
    serde_json::from_slice(&results).unwrap_or_else(|error| {
        panic!(
            "{} is not the expected JSON: {error}",
            results_path.display()
        )
    })
}

fn agree(ours: f64, reference: f64) -> bool {
    (ours - reference).abs() <= TOLERANCE * reference.abs().max(1.0)
}

#[test]
fn every_metric_matches_scikit_learn_and_scipy() {
    let cases = all_cases();
    let directory = tempfile::tempdir().unwrap();
    let references = reference_scores(&cases, directory.path());

    let mut failures = Vec::new();
    let mut refused = 0;
    for case in &cases {
        let Some(reference) = references.get(&case.id) else {
            failures.push(format!("{}: no reference result", case.id));
            continue;
        };
        match (case.compute(), reference.value, &reference.error) {
            (Ok(ours), Some(theirs), _) if agree(ours, theirs) => {}
            (Ok(ours), Some(theirs), _) => failures.push(format!(
                "{}: ours {ours:.17e}, reference {theirs:.17e}, difference {:.3e}",
                case.id,
                (ours - theirs).abs()
            )),
            (Err(_), None, Some(_)) => refused += 1,
            (Ok(ours), None, error) => failures.push(format!(
                "{}: ours {ours}, reference refused: {error:?}",
                case.id
            )),
            (Err(ours), Some(theirs), _) => failures.push(format!(
                "{}: ours refused ({ours}), reference {theirs}",
                case.id
            )),
            (Err(ours), None, None) => failures.push(format!(
                "{}: ours refused ({ours}), reference gave nothing",
                case.id
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // Every metric and variant was exercised, including the inputs that cannot be scored.
    let metrics: std::collections::BTreeSet<&str> =
        cases.iter().map(|case| case.metric.as_str()).collect();
    for name in Metric::known_names() {
        let name = name.replace('K', "3");
        assert!(metrics.contains(name.as_str()), "no case for {name}");
    }
    assert!(
        refused >= 6 * CASES_PER_VARIANT as usize,
        "only {refused} refused cases"
    );
}
