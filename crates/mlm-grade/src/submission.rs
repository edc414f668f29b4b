//! Submission validation with MLE-bench's rules: the columns of the sample submission, one row per test
//! id, no duplicate or unknown ids, and every target cell readable as the metric expects. Each verdict
//! says what is wrong and where (row, id, column), because a debugging agent acts on the message.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use mlm_task::CsvTable;

use crate::metric::ValueKind;

/// Why a submission cannot be graded. Shown as `Submission invalid! <reason>`, as MLE-bench's validator does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidSubmission {
    pub reason: String,
}

impl InvalidSubmission {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        InvalidSubmission {
            reason: reason.into(),
        }
    }
}

/// What a valid submission looks like, derived once from the answers and the sample submission.
#[derive(Debug, Clone)]
pub(crate) struct Expectation {
    pub id_column: String,
    pub target_columns: Vec<String>,
    /// The answers file, whose rows the submission's rows are aligned to.
    pub answers: CsvTable,
    /// The answers' column index of the id column.
    pub answer_id_index: usize,
    /// The answers' column index of each target column, in `target_columns` order.
    pub answer_target_indexes: Vec<usize>,
    /// Answer row of every test id.
    pub answer_row_of_id: HashMap<String, usize>,
}

/// Target cells of answers and submission, column-major, aligned row by row in answers order.
pub(crate) struct Aligned<'a> {
    pub truth: Vec<Vec<&'a str>>,
    pub predicted: Vec<Vec<&'a str>>,
}

/// How many individual problems of one kind a message lists before summarising the rest.
const LISTED_PROBLEMS: usize = 3;

pub(crate) fn align<'a>(
    expectation: &'a Expectation,
    value_kind: ValueKind,
    submission: &'a CsvTable,
) -> Result<Aligned<'a>, InvalidSubmission> {
    let column_indexes = check_columns(expectation, submission)?;
    let id_index = column_indexes[0];
    let expected_rows = expectation.answers.rows.len();

    let mut first_row_of_id: HashMap<&str, usize> = HashMap::with_capacity(submission.rows.len());
    let mut duplicates = Vec::new();
    let mut unknown = Vec::new();
    for (row_index, row) in submission.rows.iter().enumerate() {
        let id = cell(row, id_index);
        match first_row_of_id.entry(id) {
            Entry::Occupied(first) => {
                duplicates.push(format!(
                    "id `{id}` appears on rows {} and {}",
                    first.get() + 1,
                    row_index + 1
                ));
            }
            Entry::Vacant(slot) => {
                slot.insert(row_index);
                if !expectation.answer_row_of_id.contains_key(id) {
                    unknown.push(format!(
                        "row {} has id `{id}`, which is not in the test set",
                        row_index + 1
                    ));
                }
            }
        }
    }
    let missing: Vec<String> = expectation
        .answers
        .column(expectation.answer_id_index)
        .filter(|id| !first_row_of_id.contains_key(id))
        .map(|id| format!("id `{id}` has no row"))
        .collect();

    let mut problems = Vec::new();
    if submission.rows.len() != expected_rows {
        problems.push(format!(
            "the submission has {} rows, expected {expected_rows} (one per test id)",
            submission.rows.len()
        ));
    }
    for (kind, list) in [
        ("duplicate", &duplicates),
        ("unknown", &unknown),
        ("missing", &missing),
    ] {
        if !list.is_empty() {
            problems.push(summarise(kind, list));
        }
    }
    if !problems.is_empty() {
        return Err(InvalidSubmission::new(problems.join("; ")));
    }

    let mut truth = Vec::with_capacity(expectation.target_columns.len());
    let mut predicted = Vec::with_capacity(expectation.target_columns.len());
    let mut cell_problems = Vec::new();
    for (target_position, name) in expectation.target_columns.iter().enumerate() {
        let submission_index = column_indexes[target_position + 1];
        let answer_index = expectation.answer_target_indexes[target_position];
        let mut truth_column = vec![""; expected_rows];
        let mut predicted_column = vec![""; expected_rows];
        for (row_index, row) in submission.rows.iter().enumerate() {
            let id = cell(row, id_index);
            let value = cell(row, submission_index);
            if let Err(problem) = check_cell(value, value_kind) {
                cell_problems.push(format!(
                    "row {} (id `{id}`), column `{name}`: {problem}",
                    row_index + 1
                ));
            }
            if let Some(&answer_row) = expectation.answer_row_of_id.get(id) {
                predicted_column[answer_row] = value;
                truth_column[answer_row] =
                    cell(&expectation.answers.rows[answer_row], answer_index);
            }
        }
        truth.push(truth_column);
        predicted.push(predicted_column);
    }
    if !cell_problems.is_empty() {
        return Err(InvalidSubmission::new(summarise(
            "bad value",
            &cell_problems,
        )));
    }
    Ok(Aligned { truth, predicted })
}

/// The submission's column index of the id column followed by each target column.
fn check_columns(
    expectation: &Expectation,
    submission: &CsvTable,
) -> Result<Vec<usize>, InvalidSubmission> {
    let expected: Vec<&String> = std::iter::once(&expectation.id_column)
        .chain(&expectation.target_columns)
        .collect();
    let mut seen = HashMap::new();
    for header in &submission.headers {
        if seen.insert(header.as_str(), ()).is_some() {
            return Err(InvalidSubmission::new(format!(
                "column `{header}` appears more than once"
            )));
        }
    }
    let missing: Vec<&str> = expected
        .iter()
        .filter(|name| !seen.contains_key(name.as_str()))
        .map(|name| name.as_str())
        .collect();
    let extra: Vec<&str> = submission
        .headers
        .iter()
        .filter(|header| !expected.contains(header))
        .map(String::as_str)
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(expected
            .iter()
            .filter_map(|name| submission.column_index(name))
            .collect());
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing column(s) {}", quoted(&missing)));
    }
    if !extra.is_empty() {
        parts.push(format!("unexpected column(s) {}", quoted(&extra)));
    }
    let expected_list: Vec<&str> = expected.iter().map(|name| name.as_str()).collect();
    Err(InvalidSubmission::new(format!(
        "{}; the columns must be exactly those of the sample submission: {}",
        parts.join(" and "),
        quoted(&expected_list)
    )))
}

fn check_cell(value: &str, kind: ValueKind) -> Result<(), String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("nan") {
        return Err("missing value (empty or NaN)".to_string());
    }
    match kind {
        ValueKind::Label => Ok(()),
        ValueKind::Number | ValueKind::Probability => {
            let number: f64 = trimmed
                .parse()
                .map_err(|_| format!("`{value}` is not a number"))?;
            if !number.is_finite() {
                return Err(format!("`{value}` is not a finite number"));
            }
            match kind {
                ValueKind::Probability if !(0.0..=1.0).contains(&number) => {
                    Err(format!("{value} is not a probability in [0, 1]"))
                }
                ValueKind::Label | ValueKind::Number | ValueKind::Probability => Ok(()),
            }
        }
    }
}

fn cell(row: &[String], index: usize) -> &str {
    row.get(index).map_or("", String::as_str)
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn summarise(kind: &str, problems: &[String]) -> String {
    let listed = problems[..problems.len().min(LISTED_PROBLEMS)].join(", ");
    match problems.len().saturating_sub(LISTED_PROBLEMS) {
        0 => listed,
        more => format!("{listed} (and {more} more {kind} problems)"),
    }
}
