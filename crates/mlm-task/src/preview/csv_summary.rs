//! The table part of a preview: a CSV or TSV file read once, streaming, into its row count and, for its
//! first columns, the statistics a coder needs before writing `pd.read_csv`: the dtype pandas would infer,
//! how many cells pandas would read as missing, and the range of numbers or a few example texts.
//!
//! State per column is bounded (a capped set of value hashes and four examples), and only the columns a
//! preview can show are tracked, so the size of the file costs time only.

use std::path::Path;

use super::{
    counted, one_line_name, open_data_file, shorten, widen, Detail, DistinctCounter, Examples,
    MAX_DETAILED_COLUMNS, MAX_VALUE_CHARACTERS,
};
use crate::error::{Error, Result};
use crate::table::MISSING_CELLS;

/// Cells that pandas reads as booleans by default.
const TRUE_SPELLINGS: [&[u8]; 3] = [b"True", b"TRUE", b"true"];
const FALSE_SPELLINGS: [&[u8]; 3] = [b"False", b"FALSE", b"false"];
/// Distinct values counted per column; past it the preview says "more than".
const DISTINCT_VALUE_CAP: usize = 1_000;
/// Example values kept per column, in order of first appearance.
const EXAMPLES_KEPT: usize = 4;
/// Column names listed when the rest of a wide table is only named.
const NAMES_LISTED: usize = 8;

/// What a preview says about one table.
#[derive(Debug)]
pub(super) struct CsvSummary {
    rows: u64,
    /// Every column's name as shown (pandas' `Unnamed: 3` for an empty one).
    column_names: Vec<String>,
    /// Statistics of the first [`MAX_DETAILED_COLUMNS`] columns.
    statistics: Vec<ColumnStatistics>,
}

/// Reads the table at `path` with a header row; a ragged row or an unreadable file is an error.
pub(super) fn summarise(path: &Path, delimiter: u8) -> Result<CsvSummary> {
    let csv_error = |source| Error::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(open_data_file(path)?);
    let column_names: Vec<String> = reader
        .byte_headers()
        .map_err(csv_error)?
        .iter()
        .enumerate()
        .map(|(index, name)| column_name(name, index))
        .collect();
    let mut statistics: Vec<ColumnStatistics> = (0..column_names.len().min(MAX_DETAILED_COLUMNS))
        .map(|_| ColumnStatistics::new())
        .collect();
    let mut rows = 0;
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        rows += 1;
        for (column, cell) in statistics.iter_mut().zip(record.iter()) {
            column.observe(cell);
        }
    }
    Ok(CsvSummary {
        rows,
        column_names,
        statistics,
    })
}

fn column_name(raw: &[u8], index: usize) -> String {
    let name = String::from_utf8_lossy(raw);
    let name = name.trim_start_matches('\u{feff}');
    if name.is_empty() {
        format!("Unnamed: {index}")
    } else {
        one_line_name(name)
    }
}

impl CsvSummary {
    /// `-> train.csv has 712 rows and 12 columns.`, then a line per column up to `detail.detailed_columns`,
    /// then the other columns' names on one line.
    pub(super) fn render(&self, name: &str, detail: Detail) -> String {
        if self.column_names.is_empty() {
            return format!("-> {name} is empty.");
        }
        let mut lines = vec![format!(
            "-> {name} has {} and {}.",
            counted(self.rows, "row", "rows"),
            counted(self.column_names.len() as u64, "column", "columns")
        )];
        let detailed = detail.detailed_columns.min(self.statistics.len());
        for (column, statistics) in self
            .column_names
            .iter()
            .zip(&self.statistics)
            .take(detailed)
        {
            lines.push(format!(
                "  {}",
                statistics.describe(column, detail.examples)
            ));
        }
        let others = self.column_names.get(detailed..).unwrap_or_default();
        if !others.is_empty() {
            let names = list_names(others);
            lines.push(if detailed == 0 {
                format!("  columns: {names}")
            } else {
                let more = counted(others.len() as u64, "more column", "more columns");
                format!("  … and {more}: {names}")
            });
        }
        lines.join("\n")
    }
}

/// `a, b, c` or, for many, `a, b, …, z`.
fn list_names(names: &[String]) -> String {
    match names.split_last() {
        Some((last, first)) if names.len() > NAMES_LISTED + 1 => {
            let mut listed: Vec<&str> = first
                .iter()
                .take(NAMES_LISTED)
                .map(String::as_str)
                .collect();
            listed.extend(["…", last.as_str()]);
            listed.join(", ")
        }
        Some(_) | None => names.join(", "),
    }
}

/// The dtypes that pandas `read_csv` infers, of those a preview tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    Int64,
    Float64,
    Bool,
    Object,
}

impl Dtype {
    fn name(self) -> &'static str {
        match self {
            Dtype::Int64 => "int64",
            Dtype::Float64 => "float64",
            Dtype::Bool => "bool",
            Dtype::Object => "object",
        }
    }
}

/// What one column's cells allow it to be, with the ranges and examples seen so far.
#[derive(Debug)]
struct ColumnStatistics {
    missing: u64,
    present: u64,
    /// Every present cell parses as an `i64`.
    all_integers: bool,
    /// Every present cell parses as an `f64`.
    all_floats: bool,
    /// Every present cell is one of pandas' boolean spellings.
    all_booleans: bool,
    true_count: u64,
    integer_range: Option<(i64, i64)>,
    /// Over the non-NaN numbers, while `all_floats` holds.
    float_range: Option<(f64, f64)>,
    /// Distinct cells by their text: `1` and `1.0` count twice, unlike pandas' `nunique`.
    distinct: DistinctCounter,
    examples: Vec<String>,
}

impl ColumnStatistics {
    fn new() -> Self {
        ColumnStatistics {
            missing: 0,
            present: 0,
            all_integers: true,
            all_floats: true,
            all_booleans: true,
            true_count: 0,
            integer_range: None,
            float_range: None,
            distinct: DistinctCounter::new(DISTINCT_VALUE_CAP),
            examples: Vec::new(),
        }
    }

    fn observe(&mut self, cell: &[u8]) {
        if MISSING_CELLS
            .iter()
            .any(|missing| missing.as_bytes() == cell)
        {
            self.missing += 1;
            return;
        }
        self.present += 1;
        if self.all_booleans {
            if TRUE_SPELLINGS.contains(&cell) {
                self.true_count += 1;
            } else if !FALSE_SPELLINGS.contains(&cell) {
                self.all_booleans = false;
            }
        }
        let text = String::from_utf8_lossy(cell);
        if self.all_integers || self.all_floats {
            let number = text.trim();
            match number.parse::<i64>() {
                Ok(integer) => {
                    widen(&mut self.integer_range, integer);
                    widen(&mut self.float_range, integer as f64);
                }
                Err(_) => {
                    self.all_integers = false;
                    match number.parse::<f64>() {
                        Ok(float) if float.is_nan() => {}
                        Ok(float) => widen(&mut self.float_range, float),
                        Err(_) => self.all_floats = false,
                    }
                }
            }
        }
        if self.distinct.insert(cell) && self.examples.len() < EXAMPLES_KEPT {
            self.examples.push(shorten(&text, MAX_VALUE_CHARACTERS));
        }
    }

    /// As pandas: integers with a missing cell are `float64`, booleans with one are `object`, a column with
    /// only missing cells is `float64`, and one with no rows at all is `object`.
    fn dtype(&self) -> Dtype {
        if self.present == 0 {
            if self.missing == 0 {
                Dtype::Object
            } else {
                Dtype::Float64
            }
        } else if self.all_booleans && self.missing == 0 {
            Dtype::Bool
        } else if self.all_integers && self.missing == 0 {
            Dtype::Int64
        } else if self.all_floats {
            Dtype::Float64
        } else {
            Dtype::Object
        }
    }

    /// `Age (float64): 177 missing, range 0.42 – 80, 88 unique values`.
    fn describe(&self, name: &str, examples: Examples) -> String {
        let dtype = self.dtype();
        let mut facts = Vec::new();
        if self.missing > 0 {
            facts.push(format!("{} missing", self.missing));
        }
        let unique = self.distinct.describe("unique value", "unique values");
        match dtype {
            Dtype::Bool => facts.push(format!(
                "{} True, {} False",
                self.true_count,
                self.present - self.true_count
            )),
            Dtype::Int64 => match self.integer_range {
                Some((lowest, highest)) if lowest == highest => {
                    facts.push(format!("always {lowest}"))
                }
                Some((lowest, highest)) => {
                    facts.extend([format!("range {lowest} – {highest}"), unique])
                }
                None => facts.push(unique),
            },
            Dtype::Float64 => match self.float_range {
                Some((lowest, highest)) if lowest == highest => {
                    facts.push(format!("always {}", format_number(lowest)));
                }
                Some((lowest, highest)) => facts.extend([
                    format!(
                        "range {} – {}",
                        format_number(lowest),
                        format_number(highest)
                    ),
                    unique,
                ]),
                None if self.present > 0 => facts.push(unique),
                None => {}
            },
            Dtype::Object if self.present == 0 => {}
            Dtype::Object => match examples {
                Examples::Shown => {
                    let listed: Vec<String> = self
                        .examples
                        .iter()
                        .map(|example| format!("{example:?}"))
                        .collect();
                    let listed = listed.join(", ");
                    if self.distinct.exact_count() == Some(self.examples.len()) {
                        facts.push(format!("{unique}: {listed}"));
                    } else {
                        facts.push(format!("{unique}, e.g. {listed}"));
                    }
                }
                Examples::Hidden => facts.push(unique),
            },
        }
        if facts.is_empty() {
            format!("{name} ({})", dtype.name())
        } else {
            format!("{name} ({}): {}", dtype.name(), facts.join(", "))
        }
    }
}

/// A number as a reader wants it: whole numbers without a fraction, two decimals from 1 up, four
/// significant digits below 1, and an exponent for the very large and very small.
fn format_number(value: f64) -> String {
    let magnitude = value.abs();
    if !value.is_finite() {
        value.to_string()
    } else if value == value.trunc() && magnitude < 1e15 {
        format!("{:.0}", value + 0.0)
    } else if !(1e-4..1e15).contains(&magnitude) {
        let formatted = format!("{value:.3e}");
        match formatted.split_once('e') {
            Some((mantissa, exponent)) => format!("{}e{exponent}", trim_fraction(mantissa)),
            None => formatted,
        }
    } else if magnitude >= 1.0 {
        trim_fraction(&format!("{value:.2}")).to_string()
    } else {
        let decimals = (3.0 - magnitude.log10().floor()).max(0.0) as usize;
        trim_fraction(&format!("{value:.decimals$}")).to_string()
    }
}

/// `1.500` → `1.5`, `2.000` → `2`.
fn trim_fraction(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(cells: &[&str]) -> ColumnStatistics {
        let mut statistics = ColumnStatistics::new();
        for cell in cells {
            statistics.observe(cell.as_bytes());
        }
        statistics
    }

    const FULL: Detail = Detail {
        examples: Examples::Shown,
        detailed_columns: 40,
        json_lines: 40,
    };

    #[test]
    fn integers_are_int64_with_their_range() {
        let statistics = column(&["3", "-7", " 12 ", "3"]);
        assert_eq!(statistics.dtype(), Dtype::Int64);
        assert_eq!(
            statistics.describe("count", Examples::Shown),
            "count (int64): range -7 – 12, 3 unique values"
        );
    }

    #[test]
    fn integers_with_a_missing_cell_are_float64_as_in_pandas() {
        let statistics = column(&["1", "", "512", "NA"]);
        assert_eq!(statistics.dtype(), Dtype::Float64);
        assert_eq!(statistics.missing, 2);
        assert_eq!(
            statistics.describe("age", Examples::Shown),
            "age (float64): 2 missing, range 1 – 512, 2 unique values"
        );
    }

    #[test]
    fn floats_are_float64_and_formatted_compactly() {
        let statistics = column(&["0.5", "512.3349", "1e-7", "inf"]);
        assert_eq!(statistics.dtype(), Dtype::Float64);
        assert_eq!(
            statistics.describe("fare", Examples::Shown),
            "fare (float64): range 1e-7 – inf, 4 unique values"
        );
    }

    #[test]
    fn true_and_false_are_bool_unless_a_cell_is_missing() {
        assert_eq!(
            column(&["True", "False", "TRUE", "false"]).dtype(),
            Dtype::Bool
        );
        assert_eq!(
            column(&["True", "False", "True"]).describe("flag", Examples::Shown),
            "flag (bool): 2 True, 1 False"
        );
        assert_eq!(column(&["True", "", "False"]).dtype(), Dtype::Object);
        assert_eq!(column(&["1", "0"]).dtype(), Dtype::Int64);
    }

    #[test]
    fn text_is_object_with_examples_in_order_of_first_appearance() {
        let statistics = column(&["male", "female", "male", "", "other", "x", "y"]);
        assert_eq!(statistics.dtype(), Dtype::Object);
        assert_eq!(
            statistics.describe("sex", Examples::Shown),
            r#"sex (object): 1 missing, 5 unique values, e.g. "male", "female", "other", "x""#
        );
        assert_eq!(
            statistics.describe("sex", Examples::Hidden),
            "sex (object): 1 missing, 5 unique values"
        );
        assert_eq!(
            column(&["a", "b", "a"]).describe("letter", Examples::Shown),
            r#"letter (object): 2 unique values: "a", "b""#
        );
    }

    #[test]
    fn long_examples_are_shortened_and_quoted() {
        let long = "a".repeat(100);
        let described = column(&[&long, "say \"hi\""]).describe("text", Examples::Shown);
        assert_eq!(
            described,
            format!(
                r#"text (object): 2 unique values: "{}…", "say \"hi\"""#,
                "a".repeat(40)
            )
        );
    }

    #[test]
    fn pandas_missing_spellings_count_as_missing() {
        let cells = [
            "", "NA", "NaN", "nan", "N/A", "null", "NULL", "None", "#N/A", "<NA>", "-nan",
        ];
        let statistics = column(&cells);
        assert_eq!(statistics.missing, cells.len() as u64);
        assert_eq!(statistics.present, 0);
        assert_eq!(statistics.dtype(), Dtype::Float64);
        assert_eq!(
            statistics.describe("empty", Examples::Shown),
            "empty (float64): 11 missing"
        );
        // Spellings pandas keeps as text.
        assert_eq!(column(&["na", "none", " NA"]).missing, 0);
    }

    #[test]
    fn many_distinct_values_are_capped() {
        let cells: Vec<String> = (0..1500).map(|index| format!("id_{index}")).collect();
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        assert_eq!(
            column(&cells).describe("id", Examples::Hidden),
            "id (object): more than 1000 unique values"
        );
    }

    #[test]
    fn numbers_are_formatted_compactly() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(80.0), "80");
        assert_eq!(format_number(512.3349), "512.33");
        assert_eq!(format_number(-3.5), "-3.5");
        assert_eq!(format_number(0.42), "0.42");
        assert_eq!(format_number(0.012_345_6), "0.01235");
        assert_eq!(format_number(0.000_012_34), "1.234e-5");
        assert_eq!(format_number(1.5e20), "1.5e20");
        assert_eq!(format_number(1e20), "1e20");
        assert_eq!(format_number(f64::NEG_INFINITY), "-inf");
    }

    fn summary_of(text: &str) -> CsvSummary {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("table.csv");
        std::fs::write(&path, text).unwrap();
        summarise(&path, b',').unwrap()
    }

    #[test]
    fn a_table_renders_its_counts_and_a_line_per_column() {
        let summary = summary_of("\u{feff}id,,score\n1,a,0.5\n2,b,\n\n3,\"c, d\",1.25\n");
        assert_eq!(
            summary.render("train.csv", FULL),
            "-> train.csv has 3 rows and 3 columns.\n  id (int64): range 1 – 3, 3 unique values\n  \
             Unnamed: 1 (object): 3 unique values: \"a\", \"b\", \"c, d\"\n  \
             score (float64): 1 missing, range 0.5 – 1.25, 2 unique values"
        );
    }

    #[test]
    fn a_wide_table_names_its_other_columns_compactly() {
        let header: Vec<String> = (0..64).map(|index| format!("pixel{index}")).collect();
        let row = vec!["0"; 64].join(",");
        let summary = summary_of(&format!("{}\n{row}\n", header.join(",")));
        let text = summary.render("digits.csv", FULL);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + 40 + 1);
        assert_eq!(lines[1], "  pixel0 (int64): always 0");
        assert_eq!(
            lines[41],
            "  … and 24 more columns: pixel40, pixel41, pixel42, pixel43, pixel44, pixel45, pixel46, pixel47, …, pixel63"
        );
        let brief = Detail {
            detailed_columns: 0,
            ..FULL
        };
        assert!(summary
            .render("digits.csv", brief)
            .ends_with("has 1 row and 64 columns.\n  columns: pixel0, pixel1, pixel2, pixel3, pixel4, pixel5, pixel6, pixel7, …, pixel63"));
    }

    #[test]
    fn an_empty_file_and_a_header_only_file() {
        assert_eq!(
            summary_of("").render("empty.csv", FULL),
            "-> empty.csv is empty."
        );
        assert_eq!(
            summary_of("a,b\n").render("header.csv", FULL),
            "-> header.csv has 0 rows and 2 columns.\n  a (object)\n  b (object)"
        );
    }

    #[test]
    fn a_tab_separated_file_uses_tabs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.tsv");
        std::fs::write(&path, "a\tb\n1\tx,y\n").unwrap();
        let summary = summarise(&path, b'\t').unwrap();
        assert_eq!(summary.column_names, ["a", "b"]);
        assert_eq!(summary.rows, 1);
    }

    #[test]
    fn a_ragged_row_is_a_csv_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ragged.csv");
        std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
        let error = summarise(&path, b',').unwrap_err();
        assert!(matches!(error, Error::Csv { .. }), "{error}");
    }
}
