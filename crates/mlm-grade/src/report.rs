//! Grading a submission file into MLE-bench's per-competition report, and the batch form that grades a
//! JSONL list of submissions into MLE-bench's aggregate report.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local};
use mlm_task::{CsvTable, Task};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::leaderboard::{Leaderboard, Ranking};
use crate::metric::Metric;
use crate::submission::{read_predictions, CellRule, Expectation, InvalidSubmission};

/// Scores submissions for one competition; built once, used for any number of submissions.
#[derive(Debug, Clone)]
pub struct Grader {
    pub competition_id: String,
    pub metric: Metric,
    expectation: Expectation,
    medals: Medals,
}

/// Whether medals can be computed, and why not when they cannot.
#[derive(Debug, Clone)]
enum Medals {
    Available(Leaderboard),
    Unavailable { reason: String },
}

impl Grader {
    /// Reads the task's answers, sample submission and leaderboard. An unknown metric, or answers that do
    /// not match the sample submission, is an error naming the file.
    pub fn for_task(task: &Task) -> Result<Grader> {
        let grading = &task.grading;
        let metric = Metric::from_name(&grading.metric).ok_or_else(|| Error::UnknownMetric {
            path: grading.declared_in.clone(),
            name: grading.metric.clone(),
            known: Metric::known_names().join(", "),
        })?;
        let sample = CsvTable::read(&grading.sample_submission)?;
        let answers = CsvTable::read(&grading.answers)?;
        let id_column = grading
            .id_column
            .clone()
            .unwrap_or_else(|| sample.headers[0].clone());
        let sample_id_index =
            sample
                .column_index(&id_column)
                .ok_or_else(|| Error::InvalidInput {
                    path: grading.sample_submission.clone(),
                    problem: format!(
                        "no id column `{id_column}` (columns: {})",
                        sample.headers.join(", ")
                    ),
                    hint: format!(
                        "set grading.id_column in {} to one of the sample submission's columns",
                        grading.declared_in.display()
                    ),
                })?;
        let target_columns: Vec<String> = sample
            .headers
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != sample_id_index)
            .map(|(_, name)| name.clone())
            .collect();
        if target_columns.is_empty() {
            return Err(Error::InvalidInput {
                path: grading.sample_submission.clone(),
                problem: "the sample submission has no column besides the id".to_string(),
                hint: "a sample submission holds the id column and one column per predicted value"
                    .to_string(),
            });
        }
        let answers_problem = |problem: String| Error::InvalidInput {
            path: grading.answers.clone(),
            problem,
            hint: "the answers must have the sample submission's columns: the id and every target"
                .to_string(),
        };
        let answer_column = |name: &str| {
            answers.column_index(name).ok_or_else(|| {
                answers_problem(format!(
                    "no column `{name}` (columns: {})",
                    answers.headers.join(", ")
                ))
            })
        };
        let answer_id_index = answer_column(&id_column)?;
        let answer_target_indexes = target_columns
            .iter()
            .map(|name| answer_column(name))
            .collect::<Result<Vec<usize>>>()?;
        let answer_ids: Vec<String> = answers
            .column(answer_id_index)
            .map(str::to_string)
            .collect();
        let mut answer_row_of_id = HashMap::with_capacity(answer_ids.len());
        for (row, id) in answer_ids.iter().enumerate() {
            if answer_row_of_id.insert(id.clone(), row).is_some() {
                return Err(answers_problem(format!("id `{id}` appears more than once")));
            }
        }
        let truth: Vec<Vec<String>> = answer_target_indexes
            .iter()
            .map(|&index| answers.column(index).map(str::to_string).collect())
            .collect();
        let cell_rules = truth
            .iter()
            .map(|column| CellRule::for_column(metric.value_kind(), column))
            .collect();
        let medals = match &task.leaderboard {
            Some(path) => Medals::Available(Leaderboard::read(path)?),
            None => Medals::Unavailable {
                reason: format!(
                    "no leaderboard.csv for `{}`, so no medals can be awarded",
                    task.id
                ),
            },
        };
        Ok(Grader {
            competition_id: task.id.clone(),
            metric,
            expectation: Expectation {
                id_column,
                target_columns,
                answer_ids,
                answer_row_of_id,
                truth,
                cell_rules,
            },
            medals,
        })
    }

    /// The column that identifies rows.
    pub fn id_column(&self) -> &str {
        &self.expectation.id_column
    }

    /// The sample submission's columns besides the id, in order.
    pub fn target_columns(&self) -> &[String] {
        &self.expectation.target_columns
    }

    /// The score of the submission CSV read from `csv` (named `submission` in messages), rounded to 5
    /// decimals as MLE-bench does, or why it cannot be graded. Reading stops at the first fault.
    fn score(&self, submission: &Path, csv: impl Read) -> Result<f64, InvalidSubmission> {
        let predicted = read_predictions(&self.expectation, submission, csv)?;
        let score = self
            .metric
            .compute(
                &self.expectation.target_columns,
                &borrowed(&self.expectation.truth),
                &borrowed(&predicted),
            )
            .map_err(InvalidSubmission::new)?;
        if !score.is_finite() {
            return Err(InvalidSubmission::new(format!(
                "the {} score is not a finite number",
                self.metric.name()
            )));
        }
        Ok(round_to_5_decimals(score))
    }

    /// Checks the submission CSV read from `csv` (named `submission` in messages) without revealing its
    /// score: what the `/validate` endpoint answers. Reading stops at the first fault.
    pub fn validate(&self, submission: &Path, csv: impl Read) -> Result<(), InvalidSubmission> {
        self.score(submission, csv).map(|_| ())
    }

    /// [`Grader::validate`] for the file at `path`.
    pub fn validate_file(&self, path: &Path) -> Result<(), InvalidSubmission> {
        self.validate(path, open_submission(path)?)
    }

    /// Grades the CSV file at `path` into MLE-bench's report. Never fails: a missing or unreadable file is
    /// a report with `submission_exists` or `valid_submission` false and the reason in `invalid_reason`.
    pub fn grade_file(&self, path: &Path) -> CompetitionReport {
        let is_csv = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"));
        let submission_exists = path.is_file() && is_csv;
        let outcome = if submission_exists {
            open_submission(path).and_then(|file| self.score(path, file))
        } else {
            Err(InvalidSubmission::new(format!(
                "{}: no such CSV file; the submission must be a .csv file",
                path.display()
            )))
        };
        self.report(path, submission_exists, outcome)
    }

    fn report(
        &self,
        path: &Path,
        submission_exists: bool,
        outcome: Result<f64, InvalidSubmission>,
    ) -> CompetitionReport {
        let (score, invalid_reason) = match outcome {
            Ok(score) => (Some(score), None),
            Err(invalid) => (None, Some(invalid.reason)),
        };
        let (ranking, is_lower_better, medals_note) = match &self.medals {
            Medals::Available(leaderboard) => (
                Some(leaderboard.rank(score)),
                leaderboard.is_lower_better(),
                None,
            ),
            Medals::Unavailable { reason } => {
                (None, self.metric.lower_is_better(), Some(reason.clone()))
            }
        };
        let thresholds = ranking.map(|ranking: Ranking| ranking.thresholds);
        CompetitionReport {
            competition_id: self.competition_id.clone(),
            score,
            gold_threshold: thresholds.map(|thresholds| thresholds.gold),
            silver_threshold: thresholds.map(|thresholds| thresholds.silver),
            bronze_threshold: thresholds.map(|thresholds| thresholds.bronze),
            median_threshold: thresholds.map(|thresholds| thresholds.median),
            any_medal: ranking.map(|ranking| ranking.any_medal()),
            gold_medal: ranking.map(|ranking| ranking.gold_medal),
            silver_medal: ranking.map(|ranking| ranking.silver_medal),
            bronze_medal: ranking.map(|ranking| ranking.bronze_medal),
            above_median: ranking.map(|ranking| ranking.above_median),
            submission_exists,
            valid_submission: score.is_some(),
            is_lower_better,
            created_at: Local::now(),
            submission_path: path.display().to_string(),
            metric: self.metric.name(),
            invalid_reason,
            medals_note,
        }
    }
}

/// MLE-bench's per-competition report, field for field, plus three fields of ours at the end.
/// Medal fields are `null` when the competition has no leaderboard; `medals_note` says so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompetitionReport {
    pub competition_id: String,
    pub score: Option<f64>,
    pub gold_threshold: Option<f64>,
    pub silver_threshold: Option<f64>,
    pub bronze_threshold: Option<f64>,
    pub median_threshold: Option<f64>,
    pub any_medal: Option<bool>,
    pub gold_medal: Option<bool>,
    pub silver_medal: Option<bool>,
    pub bronze_medal: Option<bool>,
    pub above_median: Option<bool>,
    pub submission_exists: bool,
    pub valid_submission: bool,
    pub is_lower_better: bool,
    pub created_at: DateTime<Local>,
    pub submission_path: String,
    /// Our metric name for the score.
    pub metric: String,
    /// Why the submission could not be graded, when it could not.
    pub invalid_reason: Option<String>,
    /// Why the medal fields are null, when they are.
    pub medals_note: Option<String>,
}

/// One line of MLE-bench's batch input.
#[derive(Debug, Clone, Deserialize)]
struct BatchEntry {
    competition_id: String,
    submission_path: PathBuf,
}

/// MLE-bench's aggregate report over a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    pub total_runs: usize,
    pub total_runs_with_submissions: usize,
    pub total_valid_submissions: usize,
    pub total_medals: usize,
    pub total_gold_medals: usize,
    pub total_silver_medals: usize,
    pub total_bronze_medals: usize,
    pub total_above_median: usize,
    pub competition_reports: Vec<CompetitionReport>,
}

/// Grades every submission listed in `jsonl` (lines of `{"competition_id", "submission_path"}`; lines
/// starting with `#` are skipped, as MLE-bench does). `find_task` loads a competition by id.
pub fn grade_batch(
    jsonl: &Path,
    find_task: &dyn Fn(&str) -> mlm_task::Result<Task>,
) -> Result<BatchReport> {
    let text = std::fs::read_to_string(jsonl).map_err(|source| mlm_task::Error::Io {
        path: jsonl.to_path_buf(),
        source,
    })?;
    let mut graders: HashMap<String, Grader> = HashMap::new();
    let mut reports = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry: BatchEntry =
            serde_json::from_str(line).map_err(|error| Error::InvalidInput {
                path: jsonl.to_path_buf(),
                problem: format!("line {}: {error}", line_index + 1),
                hint: r#"each line is {"competition_id": "...", "submission_path": "..."}"#
                    .to_string(),
            })?;
        let grader = match graders.entry(entry.competition_id.clone()) {
            std::collections::hash_map::Entry::Occupied(existing) => existing.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Grader::for_task(&find_task(&entry.competition_id)?)?)
            }
        };
        reports.push(grader.grade_file(&entry.submission_path));
    }
    let count = |predicate: &dyn Fn(&CompetitionReport) -> bool| {
        reports.iter().filter(|report| predicate(report)).count()
    };
    let total_gold_medals = count(&|report| report.gold_medal == Some(true));
    let total_silver_medals = count(&|report| report.silver_medal == Some(true));
    let total_bronze_medals = count(&|report| report.bronze_medal == Some(true));
    Ok(BatchReport {
        total_runs: reports.len(),
        total_runs_with_submissions: count(&|report| report.submission_exists),
        total_valid_submissions: count(&|report| report.valid_submission),
        total_medals: total_gold_medals + total_silver_medals + total_bronze_medals,
        total_gold_medals,
        total_silver_medals,
        total_bronze_medals,
        total_above_median: count(&|report| report.above_median == Some(true)),
        competition_reports: reports,
    })
}

/// Column-major cells as the metrics read them.
fn borrowed(columns: &[Vec<String>]) -> Vec<Vec<&str>> {
    columns
        .iter()
        .map(|column| column.iter().map(String::as_str).collect())
        .collect()
}

fn open_submission(path: &Path) -> Result<std::fs::File, InvalidSubmission> {
    std::fs::File::open(path).map_err(|error| {
        InvalidSubmission::new(format!("{}: cannot read file: {error}", path.display()))
    })
}

/// Python's `round(score, 5)`: the decimal closest to the exact binary value, ties to even.
fn round_to_5_decimals(score: f64) -> f64 {
    format!("{score:.5}").parse().unwrap_or(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_python() {
        assert_eq!(round_to_5_decimals(0.123456789), 0.12346);
        assert_eq!(round_to_5_decimals(0.999995), 0.99999); // 0.999995 is stored just below the tie
        assert_eq!(round_to_5_decimals(-1.234565), -1.23456);
        assert_eq!(round_to_5_decimals(42.0), 42.0);
    }
}
