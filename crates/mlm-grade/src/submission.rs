//! Submission validation with MLE-bench's rules: the columns of the sample submission, one row per test
//! id, no duplicate or unknown ids, and every target cell readable as the metric expects. Each verdict
//! says what is wrong and where (row, id, column), because a debugging agent acts on the message.
//!
//! A submission is read as a stream, one record at a time, and reading stops at the first fault, so memory
//! follows the size of the answers, never the size of what was uploaded: a submission longer than the test
//! set is refused at its first surplus row, which must repeat an id or name an unknown one, and a record
//! longer than [`LONGEST_RECORD_BYTES`] is refused before it is held whole. Messages quote cells shortened.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::metric::{parse_boolean, parse_number, quote, ValueKind};

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

/// How the cells of one target column must read: fixed by the metric and, for labels, by the answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellRule {
    /// A finite number.
    Number,
    /// A finite number in [0, 1].
    Probability,
    /// A label in a column whose answers are all numbers: a finite number too.
    NumberLabel,
    /// A label in a column whose answers are all True or False: True or False too.
    BooleanLabel,
    /// Any non-empty text: labels of a column whose answers are text, and map@K's lists of labels.
    Text,
}

impl CellRule {
    /// The rule for a target column scored by a metric reading `kind`, whose answers are `truth`.
    pub(crate) fn for_column(kind: ValueKind, truth: &[String]) -> CellRule {
        match kind {
            ValueKind::Number => CellRule::Number,
            ValueKind::Probability => CellRule::Probability,
            ValueKind::LabelList => CellRule::Text,
            ValueKind::Label if truth.iter().all(|cell| parse_number(cell).is_some()) => {
                CellRule::NumberLabel
            }
            ValueKind::Label if truth.iter().all(|cell| parse_boolean(cell).is_some()) => {
                CellRule::BooleanLabel
            }
            ValueKind::Label => CellRule::Text,
        }
    }
}

/// What a valid submission looks like, derived once from the answers and the sample submission.
#[derive(Debug, Clone)]
pub(crate) struct Expectation {
    pub id_column: String,
    pub target_columns: Vec<String>,
    /// The test ids in the answers' order, which the submission's rows are aligned to.
    pub answer_ids: Vec<String>,
    /// Answer row of every test id.
    pub answer_row_of_id: HashMap<String, usize>,
    /// The answers' target cells, column-major, in `target_columns` order.
    pub truth: Vec<Vec<String>>,
    /// How each target column's cells must read, in `target_columns` order.
    pub cell_rules: Vec<CellRule>,
}

/// How many missing ids a message lists before counting the rest.
const LISTED_MISSING_IDS: usize = 3;

/// The longest record a submission may hold. Far above any real prediction row (run-length-encoded masks
/// included), far below what would let one record fill memory.
pub const LONGEST_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// Passes CSV bytes through, failing once a record grows past [`LONGEST_RECORD_BYTES`]. A newline ends a
/// record unless it is inside quotes; with CSV's doubled-quote escape, flipping on every quote tracks that.
struct RecordLengthGuard<R> {
    inner: R,
    in_quotes: bool,
    record_bytes: usize,
}

impl<R: Read> Read for RecordLengthGuard<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let length = self.inner.read(buffer)?;
        for &byte in &buffer[..length] {
            match byte {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.record_bytes = 0,
                _ => {}
            }
            self.record_bytes += 1;
            if self.record_bytes > LONGEST_RECORD_BYTES {
                return Err(std::io::Error::other(format!(
                    "a record is longer than {} MiB; a submission holds one short row per test id",
                    LONGEST_RECORD_BYTES / (1024 * 1024)
                )));
            }
        }
        Ok(length)
    }
}

/// Reads the submission CSV from `csv` (`path` names it in messages) and returns its target cells,
/// column-major and aligned row by row with the answers, or the first fault found.
pub(crate) fn read_predictions(
    expectation: &Expectation,
    path: &Path,
    csv: impl Read,
) -> Result<Vec<Vec<String>>, InvalidSubmission> {
    let unreadable = |source: csv::Error| {
        InvalidSubmission::new(
            mlm_task::Error::Csv {
                path: path.to_path_buf(),
                source,
            }
            .to_string(),
        )
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(RecordLengthGuard {
            inner: csv,
            in_quotes: false,
            record_bytes: 0,
        });
    let headers: Vec<String> = reader
        .headers()
        .map_err(unreadable)?
        .iter()
        .map(|header| header.trim_start_matches('\u{feff}').to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(InvalidSubmission::new(format!(
            "{}: the file is empty or has no header row; write the sample submission's header, then one line per test id",
            path.display()
        )));
    }
    let column_indexes = check_columns(expectation, &headers)?;
    let id_index = column_indexes[0];
    let expected_rows = expectation.answer_ids.len();
    let mut submission_row_of_answer: Vec<Option<usize>> = vec![None; expected_rows];
    let mut predicted = vec![vec![String::new(); expected_rows]; expectation.target_columns.len()];
    let mut record = csv::StringRecord::new();
    let mut rows = 0;
    while reader.read_record(&mut record).map_err(unreadable)? {
        let row = rows;
        rows += 1;
        let id = record.get(id_index).unwrap_or("");
        let Some(&answer_row) = expectation.answer_row_of_id.get(id) else {
            return Err(InvalidSubmission::new(format!(
                "row {} has id {}, which is not in the test set",
                row + 1,
                quote(id)
            )));
        };
        if let Some(first) = submission_row_of_answer[answer_row] {
            return Err(InvalidSubmission::new(format!(
                "duplicate id {} on rows {} and {}",
                quote(id),
                first + 1,
                row + 1
            )));
        }
        submission_row_of_answer[answer_row] = Some(row);
        for (target, (name, &column)) in expectation
            .target_columns
            .iter()
            .zip(&column_indexes[1..])
            .enumerate()
        {
            let value = record.get(column).unwrap_or("");
            check_cell(value, expectation.cell_rules[target]).map_err(|problem| {
                InvalidSubmission::new(format!(
                    "row {} (id {}), column `{name}`: {problem}",
                    row + 1,
                    quote(id)
                ))
            })?;
            predicted[target][answer_row] = value.to_string();
        }
    }
    if rows < expected_rows {
        let missing: Vec<String> = expectation
            .answer_ids
            .iter()
            .zip(&submission_row_of_answer)
            .filter(|(_, row)| row.is_none())
            .map(|(id, _)| format!("id `{id}` has no row"))
            .collect();
        let listed = missing[..missing.len().min(LISTED_MISSING_IDS)].join(", ");
        let more = match missing.len().saturating_sub(LISTED_MISSING_IDS) {
            0 => String::new(),
            more => format!(" (and {more} more missing ids)"),
        };
        return Err(InvalidSubmission::new(format!(
            "the submission has {rows} rows, expected {expected_rows} (one per test id); {listed}{more}"
        )));
    }
    Ok(predicted)
}

/// The submission's column index of the id column followed by each target column.
fn check_columns(
    expectation: &Expectation,
    headers: &[String],
) -> Result<Vec<usize>, InvalidSubmission> {
    let expected: Vec<&String> = std::iter::once(&expectation.id_column)
        .chain(&expectation.target_columns)
        .collect();
    let mut seen = HashMap::new();
    for header in headers {
        if seen.insert(header.as_str(), ()).is_some() {
            return Err(InvalidSubmission::new(format!(
                "column {} appears more than once",
                quote(header)
            )));
        }
    }
    let missing: Vec<&str> = expected
        .iter()
        .filter(|name| !seen.contains_key(name.as_str()))
        .map(|name| name.as_str())
        .collect();
    let extra: Vec<&str> = headers
        .iter()
        .filter(|header| !expected.contains(header))
        .map(String::as_str)
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(expected
            .iter()
            .filter_map(|name| headers.iter().position(|header| header == *name))
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

fn check_cell(value: &str, rule: CellRule) -> Result<(), String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("nan") {
        return Err("missing value (empty or NaN)".to_string());
    }
    match rule {
        CellRule::Text => Ok(()),
        CellRule::BooleanLabel => match parse_boolean(trimmed) {
            Some(_) => Ok(()),
            None => Err(format!(
                "{} is not True or False, as every label in the answers is",
                quote(value)
            )),
        },
        CellRule::NumberLabel => match parse_number(trimmed) {
            Some(_) => Ok(()),
            None => Err(format!(
                "{} is not a number, as every label in the answers is",
                quote(value)
            )),
        },
        CellRule::Number | CellRule::Probability => {
            let number: f64 = trimmed
                .parse()
                .map_err(|_| format!("{} is not a number", quote(value)))?;
            if !number.is_finite() {
                return Err(format!("{} is not a finite number", quote(value)));
            }
            match rule {
                CellRule::Probability if !(0.0..=1.0).contains(&number) => {
                    Err(format!("{} is not a probability in [0, 1]", quote(value)))
                }
                CellRule::Number
                | CellRule::Probability
                | CellRule::NumberLabel
                | CellRule::BooleanLabel
                | CellRule::Text => Ok(()),
            }
        }
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| quote(name))
        .collect::<Vec<_>>()
        .join(", ")
}
