//! The run's ensemble: the valid nodes' out-of-fold predictions blended by greedy ensemble selection
//! ([`selection`]), scored in Rust with the task's metric, without retraining; the blend's test
//! predictions become `<run>/ensemble/submission.csv`, checked as every node's submission is.
//!
//! A node takes part when it left `oof.csv` and `test_pred.csv` in the run's prediction format (see the
//! README's script contract) with the same prediction columns as the best node, predictions for every
//! row the best node validated, the same true values there, and a prediction for every test id the best
//! node predicted. Anything else leaves that node out, never the run.

pub mod selection;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::Utc;
use mlm_grade::{F1Average, Grader, Metric as GradeMetric, ValueKind};
use mlm_journal::{EnsembleMember, EnsembleRecord, Journal, NodeEntry};
use mlm_search::{Direction, Metric};
use serde::Serialize;

use crate::error::{Error, Result};
use selection::{blend, select, Predictions};

/// Additions after the first member: enough for weights in steps of a twentieth.
const ROUNDS: u32 = 20;
/// The best nodes considered; the selection's cost grows with their number times the rounds.
const MOST_CANDIDATES: usize = 20;
/// The prefix of a true-value column in `oof.csv`.
const TRUTH_PREFIX: &str = "truth:";

/// Whether the run blends its nodes at the end (`[search] ensemble`, on by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensembling {
    On,
    Off,
}

/// An ensemble that was built, with its submission checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ensemble {
    /// Its row in the journal's `ensembles` table.
    pub id: u32,
    pub members: Vec<EnsembleMember>,
    /// The blend's out-of-fold score on the rows the best node validated.
    pub validation_metric: f64,
    /// `<run>/ensemble/submission.csv`.
    #[serde(skip)]
    pub submission: PathBuf,
}

/// How a node's prediction columns become submission cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The prediction columns are the submission's target columns.
    SubmissionColumns,
    /// One probability column per class (named by the class) for a submission of one label column.
    ClassProbabilities,
}

/// One node's predictions as its files hold them.
struct NodePredictions {
    node: NodeEntry,
    columns: Vec<String>,
    rows: Vec<u64>,
    out_of_fold: Predictions,
    /// The true values in the submission's format, one column per target column.
    truth: Vec<Vec<String>>,
    test_ids: Vec<String>,
    test: Predictions,
}

/// Blends the journal's valid nodes when at least two of them can be blended and the blend chooses
/// more than one; records the ensemble in the journal and writes its submission. `None` otherwise.
pub fn build_ensemble(
    run_root: &Path,
    grader: &Grader,
    journal: &Journal,
) -> Result<Option<Ensemble>> {
    let direction = Direction::from_lower_is_better(grader.metric.lower_is_better());
    let mut nodes: Vec<NodeEntry> = journal
        .nodes()?
        .into_iter()
        .filter(|node| node.oof_path.is_some() && node.test_predictions_path.is_some())
        .filter(|node| node.outcome.valid_metric().is_some())
        .collect();
    nodes.sort_by(|left, right| {
        let (Some(left), Some(right)) = (left.outcome.valid_metric(), right.outcome.valid_metric())
        else {
            return std::cmp::Ordering::Equal;
        };
        match (left.is_better_than(&right), right.is_better_than(&left)) {
            (true, _) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) => std::cmp::Ordering::Equal,
        }
    });
    let mut read: Vec<NodePredictions> = Vec::new();
    for node in nodes {
        if read.len() == MOST_CANDIDATES {
            break;
        }
        match read_node(run_root, grader, node) {
            Ok(predictions) => read.push(predictions),
            Err(problem) => tracing::warn!("left out of the ensemble: {problem}"),
        }
    }
    let Some(best) = read.first() else {
        return Ok(None);
    };
    let Some(shape) = shape_of(grader, &best.columns) else {
        tracing::warn!(
            "no ensemble: the best node's prediction columns {:?} are neither the submission's columns nor one per class",
            best.columns
        );
        return Ok(None);
    };
    let aligned = align(&read);
    if aligned.len() < 2 {
        return Ok(None);
    }
    let best = &read[0];
    let truth = borrowed(&best.truth);
    let score = |blend: &Predictions| -> Option<f64> {
        let cells = submission_cells(grader, shape, &best.columns, blend);
        grader
            .metric
            .compute(grader.target_columns(), &truth, &borrowed(&cells))
            .ok()
    };
    let candidates: Vec<Predictions> = aligned
        .iter()
        .map(|(_, out_of_fold, _)| out_of_fold.clone())
        .collect();
    let Some(chosen) = select(&candidates, ROUNDS, direction, score) else {
        return Ok(None);
    };
    let weights = chosen.weights();
    if weights.len() < 2 {
        return Ok(None);
    }
    let members: Vec<EnsembleMember> = weights
        .iter()
        .map(|(index, weight)| EnsembleMember {
            node: read[aligned[*index].0].node.id,
            weight: *weight,
        })
        .collect();
    let test = blend(
        &weights
            .iter()
            .map(|(index, weight)| (&aligned[*index].2, *weight))
            .collect::<Vec<_>>(),
    );
    let directory = run_root.join("ensemble");
    std::fs::create_dir_all(&directory).map_err(Error::io(
        &directory,
        "cannot create the ensemble's directory",
    ))?;
    let submission = directory.join("submission.csv");
    write_submission(
        &submission,
        grader,
        &best.test_ids,
        &submission_cells(grader, shape, &best.columns, &test),
    )?;
    let validation_message = grader
        .validate_file(&submission)
        .err()
        .map(|invalid| invalid.reason);
    let record = EnsembleRecord {
        id: 0,
        created_at: Utc::now(),
        members: members.clone(),
        metric: Metric::new(chosen.score, direction),
        submission_path: Some("ensemble/submission.csv".to_string()),
        validation_message: validation_message.clone(),
        test_score: None,
    };
    let id = journal.record_ensemble(&record)?;
    if let Some(reason) = validation_message {
        tracing::warn!("the ensemble's submission was refused: {reason}");
        return Ok(None);
    }
    Ok(Some(Ensemble {
        id,
        members,
        validation_metric: chosen.score,
        submission,
    }))
}

/// Which shape the prediction columns `columns` have for this grader's submission.
fn shape_of(grader: &Grader, columns: &[String]) -> Option<Shape> {
    if columns == grader.target_columns() {
        return Some(Shape::SubmissionColumns);
    }
    (grader.target_columns().len() == 1 && columns.len() >= 2).then_some(Shape::ClassProbabilities)
}

/// The submission's cells (column-major, in the target columns' order) for blended predictions.
fn submission_cells(
    grader: &Grader,
    shape: Shape,
    columns: &[String],
    blend: &Predictions,
) -> Vec<Vec<String>> {
    let rows = blend.first().map_or(0, Vec::len);
    match shape {
        Shape::SubmissionColumns => {
            // Metrics that read whole labels or grades get a blend rounded to them.
            let whole = matches!(grader.metric.value_kind(), ValueKind::Label)
                || matches!(
                    grader.metric,
                    GradeMetric::QuadraticWeightedKappa | GradeMetric::F1(F1Average::Binary)
                );
            blend
                .iter()
                .map(|column| {
                    column
                        .iter()
                        .map(|value| match whole {
                            true => format!("{}", value.round() as i64),
                            false => format!("{value}"),
                        })
                        .collect()
                })
                .collect()
        }
        Shape::ClassProbabilities => vec![(0..rows)
            .map(|row| {
                let mut most = 0;
                for (index, column) in blend.iter().enumerate() {
                    if column[row] > blend[most][row] {
                        most = index;
                    }
                }
                columns[most].clone()
            })
            .collect()],
    }
}

/// The candidates that can be blended with the best one (`read[0]`), each as its index in `read`, its
/// out-of-fold predictions on the best node's rows and its test predictions on the best node's ids.
fn align(read: &[NodePredictions]) -> Vec<(usize, Predictions, Predictions)> {
    let Some(best) = read.first() else {
        return Vec::new();
    };
    let mut aligned = Vec::new();
    for (index, candidate) in read.iter().enumerate() {
        if candidate.columns != best.columns {
            tracing::warn!(
                "node {} is left out of the ensemble: its prediction columns differ from node {}'s",
                candidate.node.id,
                best.node.id
            );
            continue;
        }
        let row_of: HashMap<u64, usize> = candidate
            .rows
            .iter()
            .enumerate()
            .map(|(position, row)| (*row, position))
            .collect();
        let Some(positions) = best
            .rows
            .iter()
            .map(|row| row_of.get(row).copied())
            .collect::<Option<Vec<usize>>>()
        else {
            tracing::warn!(
                "node {} is left out of the ensemble: it has no out-of-fold prediction for some rows node {} validated",
                candidate.node.id,
                best.node.id
            );
            continue;
        };
        let same_truth = best
            .truth
            .iter()
            .zip(&candidate.truth)
            .all(|(mine, theirs)| {
                mine.iter()
                    .zip(&positions)
                    .all(|(cell, position)| same_cell(cell, &theirs[*position]))
            });
        if !same_truth {
            tracing::warn!(
                "node {} is left out of the ensemble: its true values differ from node {}'s",
                candidate.node.id,
                best.node.id
            );
            continue;
        }
        let id_of: HashMap<&str, usize> = candidate
            .test_ids
            .iter()
            .enumerate()
            .map(|(position, id)| (id.as_str(), position))
            .collect();
        let Some(test_positions) = best
            .test_ids
            .iter()
            .map(|id| id_of.get(id.as_str()).copied())
            .collect::<Option<Vec<usize>>>()
        else {
            tracing::warn!(
                "node {} is left out of the ensemble: it has no test prediction for some ids",
                candidate.node.id
            );
            continue;
        };
        let pick = |columns: &Predictions, positions: &[usize]| -> Predictions {
            columns
                .iter()
                .map(|column| positions.iter().map(|position| column[*position]).collect())
                .collect()
        };
        aligned.push((
            index,
            pick(&candidate.out_of_fold, &positions),
            pick(&candidate.test, &test_positions),
        ));
    }
    aligned
}

/// Cells that spell the same value: equal text, or equal numbers (`1` and `1.0`).
fn same_cell(left: &str, right: &str) -> bool {
    left == right
        || matches!(
            (left.trim().parse::<f64>(), right.trim().parse::<f64>()),
            (Ok(left), Ok(right)) if left == right
        )
}

fn borrowed(columns: &[Vec<String>]) -> Vec<Vec<&str>> {
    columns
        .iter()
        .map(|column| column.iter().map(String::as_str).collect())
        .collect()
}

/// Reads `node`'s `oof.csv` and `test_pred.csv`; the error says which file and why.
fn read_node(run_root: &Path, grader: &Grader, node: NodeEntry) -> Result<NodePredictions, String> {
    let (Some(oof_path), Some(test_path)) = (&node.oof_path, &node.test_predictions_path) else {
        return Err(format!("node {} wrote no predictions", node.id));
    };
    let oof_path = run_root.join(oof_path);
    let test_path = run_root.join(test_path);
    let (headers, cells) = read_table(&oof_path)?;
    let problem = |what: String| format!("{}: {what}", oof_path.display());
    if headers.first().map(String::as_str) != Some("row") {
        return Err(problem("the first column is not `row`".to_string()));
    }
    let columns: Vec<String> = headers[1..]
        .iter()
        .filter(|name| !name.starts_with(TRUTH_PREFIX))
        .cloned()
        .collect();
    let mut truth = Vec::new();
    for target in grader.target_columns() {
        let name = format!("{TRUTH_PREFIX}{target}");
        let index = headers
            .iter()
            .position(|header| *header == name)
            .ok_or_else(|| problem(format!("no column `{name}`")))?;
        truth.push(cells[index].clone());
    }
    let rows = cells[0]
        .iter()
        .map(|cell| cell.trim().parse::<u64>())
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|error| problem(format!("a `row` that is not a row number: {error}")))?;
    let out_of_fold = numbers(&headers, &cells, &columns).map_err(problem)?;
    let (test_headers, test_cells) = read_table(&test_path)?;
    if test_headers.first().map(String::as_str) != Some(grader.id_column())
        || test_headers[1..] != columns[..]
    {
        return Err(format!(
            "{}: the columns are {test_headers:?}, not `{}` and the prediction columns of oof.csv",
            test_path.display(),
            grader.id_column()
        ));
    }
    let test = numbers(&test_headers, &test_cells, &columns)
        .map_err(|what| format!("{}: {what}", test_path.display()))?;
    Ok(NodePredictions {
        node,
        columns,
        rows,
        out_of_fold,
        truth,
        test_ids: test_cells[0].clone(),
        test,
    })
}

/// A CSV file's header and its cells, column-major.
fn read_table(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let failed = |error: csv::Error| format!("{}: {error}", path.display());
    let mut reader = csv::Reader::from_path(path).map_err(failed)?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(failed)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut cells = vec![Vec::new(); headers.len()];
    for record in reader.records() {
        let record = record.map_err(failed)?;
        for (column, cell) in cells.iter_mut().zip(record.iter()) {
            column.push(cell.to_string());
        }
    }
    Ok((headers, cells))
}

/// The named columns as finite numbers.
fn numbers(
    headers: &[String],
    cells: &[Vec<String>],
    columns: &[String],
) -> Result<Predictions, String> {
    columns
        .iter()
        .map(|name| {
            let index = headers
                .iter()
                .position(|header| header == name)
                .ok_or_else(|| format!("no column `{name}`"))?;
            cells[index]
                .iter()
                .map(|cell| {
                    cell.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|value| value.is_finite())
                        .ok_or_else(|| format!("`{cell}` in `{name}` is not a finite number"))
                })
                .collect()
        })
        .collect()
}

fn write_submission(
    path: &Path,
    grader: &Grader,
    ids: &[String],
    cells: &[Vec<String>],
) -> Result<()> {
    let failed = |error: csv::Error| Error::Failed(format!("{}: {error}", path.display()));
    let mut writer = csv::Writer::from_path(path).map_err(failed)?;
    let mut header = vec![grader.id_column().to_string()];
    header.extend(grader.target_columns().iter().cloned());
    writer.write_record(&header).map_err(failed)?;
    for (row, id) in ids.iter().enumerate() {
        let mut record = vec![id.clone()];
        record.extend(cells.iter().map(|column| column[row].clone()));
        writer.write_record(&record).map_err(failed)?;
    }
    writer
        .flush()
        .map_err(Error::io(path, "cannot write the ensemble's submission"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlm_search::Outcome;
    use mlm_test_support::journal_rows::{node_entry, run_record};

    /// A competition of six rows scored by `metric` over `targets`, with these answers.
    fn grader(root: &Path, metric: &str, targets: &str, answers: &str) -> Grader {
        let public = root.join("task/prepared/public");
        let private = root.join("task/prepared/private");
        std::fs::create_dir_all(&public).unwrap();
        std::fs::create_dir_all(&private).unwrap();
        std::fs::write(
            root.join("task/task.toml"),
            format!("id = \"toy\"\n[grading]\nmetric = \"{metric}\"\nanswers = \"prepared/private/answers.csv\"\nsample_submission = \"prepared/public/sample_submission.csv\"\nid_column = \"id\"\n"),
        )
        .unwrap();
        std::fs::write(public.join("description.md"), "# toy\n").unwrap();
        let placeholder = targets
            .split(',')
            .map(|_| "0")
            .collect::<Vec<_>>()
            .join(",");
        let sample: String = (1..=6).map(|id| format!("{id},{placeholder}\n")).collect();
        std::fs::write(
            public.join("sample_submission.csv"),
            format!("id,{targets}\n{sample}"),
        )
        .unwrap();
        std::fs::write(
            private.join("answers.csv"),
            format!("id,{targets}\n{answers}"),
        )
        .unwrap();
        Grader::for_task(&mlm_task::Task::load(&root.join("task"), None).unwrap()).unwrap()
    }

    /// Node `id` with validation score `metric` (higher is better) and these prediction files.
    fn node_with(root: &Path, journal: &mut Journal, id: u32, metric: f64, oof: &str, test: &str) {
        let directory = root.join(format!("nodes/{id}"));
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("oof.csv"), oof).unwrap();
        std::fs::write(directory.join("test_pred.csv"), test).unwrap();
        let node = NodeEntry {
            oof_path: Some(format!("nodes/{id}/oof.csv")),
            test_predictions_path: Some(format!("nodes/{id}/test_pred.csv")),
            ..node_entry(
                id,
                None,
                Outcome::Valid {
                    metric: Metric::new(metric, Direction::HigherIsBetter),
                },
            )
        };
        journal.record_node(&node, &[]).unwrap();
    }

    fn journal(root: &Path) -> Journal {
        Journal::create(&root.join("journal.sqlite"), &run_record()).unwrap()
    }

    /// Class probabilities over the classes `no` and `yes` for six rows, as oof.csv and test_pred.csv.
    fn class_files(yes: [f64; 6], with_truth: [&str; 6]) -> (String, String) {
        let mut oof = "row,no,yes,truth:label\n".to_string();
        let mut test = "id,no,yes\n".to_string();
        for row in 0..6 {
            oof.push_str(&format!(
                "{row},{},{},{}\n",
                1.0 - yes[row],
                yes[row],
                with_truth[row]
            ));
            test.push_str(&format!("{},{},{}\n", row + 1, 1.0 - yes[row], yes[row]));
        }
        (oof, test)
    }

    const TRUTH: [&str; 6] = ["yes", "yes", "yes", "no", "no", "no"];

    #[test]
    fn label_submissions_blend_class_probabilities_into_labels_that_beat_each_member() {
        let root = tempfile::tempdir().unwrap();
        let answers = "1,yes\n2,yes\n3,yes\n4,no\n5,no\n6,no\n";
        let grader = grader(root.path(), "accuracy", "label", answers);
        let mut journal = journal(root.path());
        // Each member is wrong on a different row, confidently; their mean is right on every row.
        let members = [
            [0.9, 0.2, 0.8, 0.3, 0.1, 0.2],
            [0.4, 0.9, 0.8, 0.2, 0.3, 0.1],
            [0.8, 0.7, 0.9, 0.4, 0.2, 0.8],
        ];
        for (id, yes) in members.iter().enumerate() {
            let (oof, test) = class_files(*yes, TRUTH);
            node_with(root.path(), &mut journal, id as u32, 5.0 / 6.0, &oof, &test);
        }
        let ensemble = build_ensemble(root.path(), &grader, &journal)
            .unwrap()
            .unwrap();
        assert_eq!(ensemble.validation_metric, 1.0);
        assert!(ensemble.members.len() >= 2, "{ensemble:?}");
        let submission = std::fs::read_to_string(&ensemble.submission).unwrap();
        assert_eq!(submission, format!("id,label\n{answers}"));
        assert_eq!(grader.grade_file(&ensemble.submission).score, Some(1.0));
        let recorded = journal.ensembles().unwrap();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].members, ensemble.members);
    }

    #[test]
    fn a_node_that_disagrees_on_the_truth_or_lacks_rows_is_left_out() {
        let root = tempfile::tempdir().unwrap();
        let answers = "1,yes\n2,yes\n3,yes\n4,no\n5,no\n6,no\n";
        let grader = grader(root.path(), "accuracy", "label", answers);
        let mut journal = journal(root.path());
        let (oof, test) = class_files([0.9, 0.2, 0.8, 0.3, 0.1, 0.2], TRUTH);
        node_with(root.path(), &mut journal, 0, 0.9, &oof, &test);
        // Perfect, but on other truth: it would win every blend if it were let in.
        let (oof, test) = class_files(
            [1.0, 1.0, 1.0, 1.0, 0.0, 0.0],
            ["yes", "yes", "yes", "yes", "no", "no"],
        );
        node_with(root.path(), &mut journal, 1, 0.8, &oof, &test);
        // Perfect on the rows it has, but it lacks row 5.
        let (oof, test) = class_files([1.0, 1.0, 1.0, 0.0, 0.0, 0.0], TRUTH);
        let oof: String = oof
            .lines()
            .take(6)
            .map(|line| format!("{line}\n"))
            .collect();
        node_with(root.path(), &mut journal, 2, 0.7, &oof, &test);
        assert_eq!(
            build_ensemble(root.path(), &grader, &journal).unwrap(),
            None
        );
        assert!(journal.ensembles().unwrap().is_empty());
    }

    #[test]
    fn grades_are_blended_and_rounded_to_whole_grades() {
        let root = tempfile::tempdir().unwrap();
        let answers = "1,0\n2,1\n3,2\n4,3\n5,4\n6,2\n";
        let grader = grader(root.path(), "quadratic_weighted_kappa", "grade", answers);
        let mut journal = journal(root.path());
        let truth = [0.0, 1.0, 2.0, 3.0, 4.0, 2.0];
        for (id, shift) in [(0u32, 0.7), (1, -0.7)] {
            let mut oof = "row,grade,truth:grade\n".to_string();
            let mut test = "id,grade\n".to_string();
            for (row, value) in truth.iter().enumerate() {
                let predicted = value + if row % 2 == 0 { shift } else { -shift };
                oof.push_str(&format!("{row},{predicted},{value}\n"));
                test.push_str(&format!("{},{predicted}\n", row + 1));
            }
            node_with(root.path(), &mut journal, id, 0.8, &oof, &test);
        }
        let ensemble = build_ensemble(root.path(), &grader, &journal)
            .unwrap()
            .unwrap();
        assert_eq!(ensemble.validation_metric, 1.0);
        assert_eq!(
            std::fs::read_to_string(&ensemble.submission).unwrap(),
            format!("id,grade\n{answers}")
        );
    }
}
