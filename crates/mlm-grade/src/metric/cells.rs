//! The grid of target cells a metric reads: shape checks, and parsing a column as numbers,
//! probabilities, 0/1 labels, integer labels or comparable labels, with messages that name the column
//! and the 1-based row at fault.

use std::collections::BTreeMap;

/// Which table a cell comes from; messages about the answers say so, since the submission is not at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Answers,
    Submission,
}

/// Target cells of the answers and the submission, column-major, aligned row by row.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cells<'a> {
    columns: &'a [String],
    truth: &'a [Vec<&'a str>],
    predicted: &'a [Vec<&'a str>],
    rows: usize,
}

impl<'a> Cells<'a> {
    /// Checks that there is at least one column and one row, and that every column has the same length.
    pub(super) fn new(
        columns: &'a [String],
        truth: &'a [Vec<&'a str>],
        predicted: &'a [Vec<&'a str>],
    ) -> Result<Cells<'a>, String> {
        if columns.is_empty() {
            return Err("no target columns to score".to_string());
        }
        if truth.len() != columns.len() || predicted.len() != columns.len() {
            return Err(format!(
                "expected {} target columns, got {} in the answers and {} in the submission",
                columns.len(),
                truth.len(),
                predicted.len()
            ));
        }
        let rows = truth.first().map_or(0, Vec::len);
        for (column, name) in columns.iter().enumerate() {
            let truth_rows = truth.get(column).map_or(0, Vec::len);
            let predicted_rows = predicted.get(column).map_or(0, Vec::len);
            if truth_rows != rows || predicted_rows != rows {
                return Err(format!(
                    "column `{name}` has {predicted_rows} rows in the submission and {truth_rows} in the answers, expected {rows}"
                ));
            }
        }
        if rows == 0 {
            return Err("no rows to score".to_string());
        }
        Ok(Cells {
            columns,
            truth,
            predicted,
            rows,
        })
    }

    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    pub(super) fn column_count(&self) -> usize {
        self.columns.len()
    }

    pub(super) fn column_name(&self, column: usize) -> &str {
        self.columns.get(column).map_or("?", String::as_str)
    }

    /// The cells of one column on one side (empty for a column that does not exist).
    pub(super) fn column(&self, side: Side, column: usize) -> &'a [&'a str] {
        let table = match side {
            Side::Answers => self.truth,
            Side::Submission => self.predicted,
        };
        table.get(column).map_or(&[], Vec::as_slice)
    }

    /// The only column's index, or an error naming the columns when there are several.
    pub(super) fn single_column(&self, metric: &str) -> Result<usize, String> {
        if self.columns.len() == 1 {
            Ok(0)
        } else {
            Err(format!(
                "{metric} scores exactly one target column, but there are {}: {}",
                self.columns.len(),
                self.columns.join(", ")
            ))
        }
    }

    /// "column `x`, row 3" for the submission, "answers column `x`, row 3" for the answers.
    pub(super) fn location(&self, side: Side, column: usize, row: usize) -> String {
        let prefix = match side {
            Side::Answers => "answers column",
            Side::Submission => "column",
        };
        format!("{prefix} `{}`, row {}", self.column_name(column), row + 1)
    }

    /// "column `x`" for the submission, "answers column `x`" for the answers.
    pub(super) fn column_label(&self, side: Side, column: usize) -> String {
        let prefix = match side {
            Side::Answers => "answers column",
            Side::Submission => "column",
        };
        format!("{prefix} `{}`", self.column_name(column))
    }

    /// Parses every cell of a column with `parse`, or names the first cell it refuses.
    fn parse_column<T>(
        &self,
        side: Side,
        column: usize,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, String> {
        self.column(side, column)
            .iter()
            .enumerate()
            .map(|(row, cell)| {
                parse(cell).ok_or_else(|| {
                    format!(
                        "{}: expected {expected}, got {}",
                        self.location(side, column, row),
                        quote(cell)
                    )
                })
            })
            .collect()
    }

    /// Finite numbers.
    pub(super) fn numbers(&self, side: Side, column: usize) -> Result<Vec<f64>, String> {
        self.parse_column(side, column, "a finite number", parse_number)
    }

    /// Finite numbers in [0, 1].
    pub(super) fn probabilities(&self, side: Side, column: usize) -> Result<Vec<f64>, String> {
        self.parse_column(side, column, "a probability in [0, 1]", |cell| {
            parse_number(cell).filter(|value| (0.0..=1.0).contains(value))
        })
    }

    /// 0 or 1 (also `1.0`, `true`, `false`): true for the positive class.
    pub(super) fn binary(&self, side: Side, column: usize) -> Result<Vec<bool>, String> {
        self.parse_column(side, column, "0 or 1", parse_binary)
    }

    /// Integers, written as `3` or `3.0`.
    pub(super) fn integers(&self, side: Side, column: usize) -> Result<Vec<i64>, String> {
        self.parse_column(side, column, "an integer label", parse_integer)
    }

    /// Labels compared as [`LabelKey`]s.
    pub(super) fn labels(&self, side: Side, column: usize) -> Vec<LabelKey<'a>> {
        self.column(side, column)
            .iter()
            .map(|cell| label_key(cell))
            .collect()
    }
}

/// A finite number, surrounding whitespace allowed.
pub(crate) fn parse_number(cell: &str) -> Option<f64> {
    cell.trim()
        .parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
}

fn parse_binary(cell: &str) -> Option<bool> {
    match parse_number(cell) {
        Some(0.0) => Some(false),
        Some(1.0) => Some(true),
        Some(_) => None,
        None => parse_boolean(cell),
    }
}

/// `true` or `false` in any case, surrounding whitespace allowed.
pub(crate) fn parse_boolean(cell: &str) -> Option<bool> {
    let trimmed = cell.trim();
    if trimmed.eq_ignore_ascii_case("true") {
        Some(true)
    } else if trimmed.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Integers up to 2^53 in magnitude, where every integer is exact in an f64.
fn parse_integer(cell: &str) -> Option<i64> {
    const LARGEST_EXACT: f64 = 9_007_199_254_740_992.0;
    parse_number(cell)
        .filter(|value| value.fract() == 0.0 && value.abs() <= LARGEST_EXACT)
        .map(|value| value as i64)
}

/// A label as compared by accuracy and F1: numbers by value (`1` equals `1.0`), booleans regardless of
/// case (`True` equals `true`), anything else as exact text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum LabelKey<'a> {
    /// The bits of the value, with -0 read as 0.
    Number(u64),
    Boolean(bool),
    Text(&'a str),
}

pub(super) fn label_key(cell: &str) -> LabelKey<'_> {
    if let Some(value) = parse_number(cell) {
        return LabelKey::Number((value + 0.0).to_bits());
    }
    match parse_boolean(cell) {
        Some(value) => LabelKey::Boolean(value),
        None => LabelKey::Text(cell),
    }
}

/// For each distinct label, in a fixed order: (true positives, count in the answers, count in the submission).
pub(super) fn label_counts<'a>(
    truth: &[LabelKey<'a>],
    predicted: &[LabelKey<'a>],
) -> BTreeMap<LabelKey<'a>, (u64, u64, u64)> {
    let mut counts: BTreeMap<LabelKey<'a>, (u64, u64, u64)> = BTreeMap::new();
    for (truth_label, predicted_label) in truth.iter().zip(predicted) {
        let truth_entry = counts.entry(*truth_label).or_default();
        truth_entry.1 += 1;
        if truth_label == predicted_label {
            truth_entry.0 += 1;
        }
        counts.entry(*predicted_label).or_default().2 += 1;
    }
    counts
}

/// The arithmetic mean; NaN for no values (callers never pass none).
pub(super) fn mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0usize), |(sum, count), value| {
            (sum + value, count + 1)
        });
    sum / count as f64
}

/// The mean over columns of a per-column score.
pub(super) fn mean_over_columns(
    cells: &Cells<'_>,
    score: impl Fn(usize) -> Result<f64, String>,
) -> Result<f64, String> {
    let scores = (0..cells.column_count())
        .map(score)
        .collect::<Result<Vec<f64>, String>>()?;
    Ok(mean(scores))
}

/// A cell for a message: in backticks, shortened when long.
pub(crate) fn quote(cell: &str) -> String {
    const LONGEST: usize = 40;
    if cell.chars().count() > LONGEST {
        let prefix: String = cell.chars().take(LONGEST).collect();
        format!("`{prefix}…`")
    } else {
        format!("`{cell}`")
    }
}

/// A number for a message: at most 8 decimals, trailing zeros removed.
pub(super) fn short(value: f64) -> String {
    let text = format!("{value:.8}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_with_whitespace_and_refuse_non_finite() {
        assert_eq!(parse_number(" 1.5 "), Some(1.5));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("abc"), None);
    }

    #[test]
    fn binary_and_integer_cells() {
        assert_eq!(parse_binary("1.0"), Some(true));
        assert_eq!(parse_binary("0"), Some(false));
        assert_eq!(parse_binary("TRUE"), Some(true));
        assert_eq!(parse_binary("2"), None);
        assert_eq!(parse_integer("3.0"), Some(3));
        assert_eq!(parse_integer("-2"), Some(-2));
        assert_eq!(parse_integer("2.5"), None);
        assert_eq!(parse_integer("1e300"), None);
    }

    #[test]
    fn label_keys_compare_numbers_by_value_and_booleans_by_case() {
        assert_eq!(label_key("1"), label_key("1.0"));
        assert_eq!(label_key("-0"), label_key("0"));
        assert_eq!(label_key("True"), label_key("true"));
        assert_ne!(label_key("cat"), label_key("Cat"));
        assert_ne!(label_key("1"), label_key("true"));
    }

    #[test]
    fn messages_name_the_side_column_and_row() {
        let columns = vec!["target".to_string()];
        let truth = [vec!["1", "x"]];
        let predicted = [vec!["1", "y"]];
        let cells = Cells::new(&columns, &truth, &predicted).unwrap();
        assert_eq!(
            cells.numbers(Side::Answers, 0).unwrap_err(),
            "answers column `target`, row 2: expected a finite number, got `x`"
        );
        assert_eq!(
            cells.numbers(Side::Submission, 0).unwrap_err(),
            "column `target`, row 2: expected a finite number, got `y`"
        );
    }

    #[test]
    fn short_numbers_and_long_cells() {
        assert_eq!(short(0.93), "0.93");
        assert_eq!(short(1.0), "1");
        assert_eq!(short(1.000_02), "1.00002");
        assert_eq!(quote(&"a".repeat(50)), format!("`{}…`", "a".repeat(40)));
    }
}
