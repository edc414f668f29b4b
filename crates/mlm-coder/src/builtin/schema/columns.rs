//! What one column holds, judged from a sample of its cells: numbers, categories, free text, dates,
//! an identifier, nothing useful, or something the built-in templates cannot turn into features.

use mlm_task::is_missing_cell;

/// File extensions of media a tabular script cannot read as a feature.
const MEDIA_EXTENSIONS: [&str; 14] = [
    ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".wav", ".mp3", ".flac",
    ".npy", ".dcm", ".mp4",
];

/// Free text: at least this many words per cell on average…
const TEXT_MINIMUM_MEAN_WORDS: f64 = 3.0;
/// …and at least this share of distinct values.
const TEXT_MINIMUM_DISTINCT_SHARE: f64 = 0.5;
/// A string column this distinct (and not text) names rows rather than describing them.
const IDENTIFIER_DISTINCT_SHARE: f64 = 0.95;
/// Below this many non-missing cells, distinctness says nothing.
const IDENTIFIER_MINIMUM_CELLS: usize = 20;

/// The kind of a feature column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    Numeric,
    Categorical,
    /// Long free text with many distinct values: TF-IDF features.
    Text,
    /// Date or timestamp strings: days since 1970, and optionally their parts.
    Date,
    /// Names the row (a counter, a code per row): dropped.
    Identifier,
    /// Empty or a single value: dropped.
    Constant,
    /// Categories that test.csv mostly does not share with train.csv (the split was made by this
    /// column): useless as a feature, but it groups the validation folds the same way.
    Grouping,
}

/// A column the templates cannot turn into features, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownColumn {
    pub(crate) problem: String,
}

pub(crate) fn parses_as_number(cell: &str) -> bool {
    cell.trim().parse::<f64>().is_ok()
}

/// Below this share of test cells whose category also occurs in train, a categorical column
/// describes how the split was made rather than the rows.
const MINIMUM_SHARED_CATEGORY_SHARE: f64 = 0.5;

/// Refines a categorical column with test.csv's cells: mostly unseen categories make it a grouping.
pub(crate) fn refine_with_test(kind: ColumnKind, train: &[&str], test: &[&str]) -> ColumnKind {
    if kind != ColumnKind::Categorical {
        return kind;
    }
    let seen: std::collections::HashSet<&str> = train
        .iter()
        .copied()
        .filter(|cell| !is_missing_cell(cell))
        .collect();
    let present: Vec<&str> = test
        .iter()
        .copied()
        .filter(|cell| !is_missing_cell(cell))
        .collect();
    if present.is_empty() {
        return kind;
    }
    let shared = present.iter().filter(|cell| seen.contains(*cell)).count();
    match (shared as f64) < MINIMUM_SHARED_CATEGORY_SHARE * present.len() as f64 {
        true => ColumnKind::Grouping,
        false => kind,
    }
}

/// Below this many distinct train values, a column that happens to run in order (a season, a year)
/// says nothing about how the split was made.
const MINIMUM_ORDER_VALUES: usize = 10;

/// Whether train.csv and test.csv were split by this column's order, as a forecast splits by time:
/// train.csv runs in the column's order, with many distinct values, and every test value comes at or
/// after its last one. Numbers compare as numbers, dates as ISO strings (`2011-10-20`); a missing cell
/// rules the column out.
pub(crate) fn orders_the_split(kind: ColumnKind, train: &[&str], test: &[&str]) -> bool {
    fn ordered<T: PartialOrd>(train: &[T], test: &[T]) -> bool {
        let Some(last) = train.last() else {
            return false;
        };
        train.windows(2).all(|pair| pair[0] <= pair[1]) && test.iter().all(|value| value >= last)
    }
    if train.iter().chain(test).any(|cell| is_missing_cell(cell)) {
        return false;
    }
    let mut distinct: Vec<&str> = train.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MINIMUM_ORDER_VALUES {
        return false;
    }
    let numbers = |cells: &[&str]| -> Vec<f64> {
        cells
            .iter()
            .filter_map(|cell| cell.trim().parse::<f64>().ok())
            .collect()
    };
    let iso_date = |cell: &&str| {
        cell.len() >= 10
            && cell.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && cell.as_bytes()[4] == b'-'
    };
    match kind {
        ColumnKind::Numeric => ordered(&numbers(train), &numbers(test)),
        ColumnKind::Date => train.iter().chain(test).all(iso_date) && ordered(train, test),
        ColumnKind::Categorical
        | ColumnKind::Text
        | ColumnKind::Identifier
        | ColumnKind::Constant
        | ColumnKind::Grouping => false,
    }
}

/// Classifies a column from its cells (missing cells included; they are skipped).
pub(crate) fn classify(cells: &[&str]) -> Result<ColumnKind, UnknownColumn> {
    let present: Vec<&str> = cells
        .iter()
        .copied()
        .filter(|cell| !is_missing_cell(cell))
        .collect();
    if present.is_empty() {
        return Ok(ColumnKind::Constant);
    }
    let mut distinct: Vec<&str> = present.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() == 1 {
        return Ok(ColumnKind::Constant);
    }
    let distinct_share = distinct.len() as f64 / present.len() as f64;
    if present.iter().all(|cell| parses_as_number(cell)) {
        return Ok(match looks_like_row_counter(&present) {
            true => ColumnKind::Identifier,
            false => ColumnKind::Numeric,
        });
    }
    let share = |predicate: &dyn Fn(&str) -> bool| {
        present.iter().filter(|cell| predicate(cell)).count() as f64 / present.len() as f64
    };
    let example = |predicate: &dyn Fn(&str) -> bool| {
        shorten(
            present
                .iter()
                .copied()
                .find(|cell| predicate(cell))
                .unwrap_or_default(),
        )
    };
    if share(&looks_structured) >= 0.5 {
        let example = example(&looks_structured);
        return Err(UnknownColumn {
            problem: format!(
                "it holds serialised lists or objects (e.g. `{example}`), which the built-in \
                 templates cannot turn into features"
            ),
        });
    }
    if share(&names_media_file) >= 0.5 {
        let example = example(&names_media_file);
        return Err(UnknownColumn {
            problem: format!(
                "it names media files (e.g. `{example}`); the built-in coder reads tabular \
                 columns only, not images or audio"
            ),
        });
    }
    if share(&looks_like_date) >= 0.9 {
        return Ok(ColumnKind::Date);
    }
    let mean_words = present
        .iter()
        .map(|cell| cell.split_whitespace().count() as f64)
        .sum::<f64>()
        / present.len() as f64;
    if mean_words >= TEXT_MINIMUM_MEAN_WORDS && distinct_share >= TEXT_MINIMUM_DISTINCT_SHARE {
        return Ok(ColumnKind::Text);
    }
    if distinct_share >= IDENTIFIER_DISTINCT_SHARE && present.len() >= IDENTIFIER_MINIMUM_CELLS {
        return Ok(ColumnKind::Identifier);
    }
    Ok(ColumnKind::Categorical)
}

/// Distinct integers that climb by one from row to row: a row number, not a measurement.
fn looks_like_row_counter(cells: &[&str]) -> bool {
    if cells.len() < IDENTIFIER_MINIMUM_CELLS {
        return false;
    }
    let values: Option<Vec<i64>> = cells
        .iter()
        .map(|cell| cell.trim().parse::<i64>().ok())
        .collect();
    values.is_some_and(|values| values.windows(2).all(|pair| pair[1] == pair[0] + 1))
}

fn looks_structured(cell: &str) -> bool {
    let trimmed = cell.trim();
    (trimmed.starts_with('[') && trimmed.ends_with(']'))
        || (trimmed.starts_with('{') && trimmed.ends_with('}'))
}

fn names_media_file(cell: &str) -> bool {
    let lowered = cell.trim().to_lowercase();
    MEDIA_EXTENSIONS
        .iter()
        .any(|extension| lowered.ends_with(extension))
}

/// `2021-03-04`, `2021-03-04 05:06:07`, `2021/03/04`, `04/03/2021` and ISO timestamps.
fn looks_like_date(cell: &str) -> bool {
    let bytes = cell.trim().as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let separator = |index: usize| matches!(bytes.get(index), Some(b'-' | b'/' | b'.'));
    let year_first = digits(0..4) && separator(4) && digits(5..7) && separator(7) && digits(8..10);
    let year_last = digits(0..2) && separator(2) && digits(3..5) && separator(5) && digits(6..10);
    (year_first || year_last) && (bytes.len() == 10 || matches!(bytes.get(10), Some(b' ' | b'T')))
}

fn shorten(cell: &str) -> String {
    let trimmed = cell.trim();
    match trimmed.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(cells: &[&str]) -> ColumnKind {
        classify(cells).unwrap()
    }

    #[test]
    fn numbers_with_gaps_are_numeric_and_row_counters_are_identifiers() {
        assert_eq!(kind(&["1.5", "", "3", "NaN", "-2e3"]), ColumnKind::Numeric);
        let counter: Vec<String> = (1..=30).map(|value| value.to_string()).collect();
        let counter: Vec<&str> = counter.iter().map(String::as_str).collect();
        assert_eq!(kind(&counter), ColumnKind::Identifier);
        let mut shuffled = counter.clone();
        shuffled.swap(3, 17);
        assert_eq!(kind(&shuffled), ColumnKind::Numeric);
    }

    #[test]
    fn strings_are_categories_text_dates_or_identifiers() {
        assert_eq!(
            kind(&["male", "female", "male", ""]),
            ColumnKind::Categorical
        );
        assert_eq!(
            kind(&[
                "a moving and beautifully acted film",
                "dull, long and far too loud",
                "the best thing this year"
            ]),
            ColumnKind::Text
        );
        assert_eq!(
            kind(&["2011-01-01 00:00:00", "2011-01-02", "2011/01/03"]),
            ColumnKind::Date
        );
        let codes: Vec<String> = (0..40).map(|value| format!("A{value:03}X")).collect();
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        assert_eq!(kind(&codes), ColumnKind::Identifier);
        assert_eq!(kind(&["same", "same", ""]), ColumnKind::Constant);
        assert_eq!(kind(&["", "NA"]), ColumnKind::Constant);
    }

    #[test]
    fn categories_test_does_not_share_with_train_group_the_rows() {
        let train = ["film_a", "film_a", "film_b", "film_b"];
        assert_eq!(
            refine_with_test(
                ColumnKind::Categorical,
                &train,
                &["film_c", "film_d", "film_a"]
            ),
            ColumnKind::Grouping
        );
        assert_eq!(
            refine_with_test(
                ColumnKind::Categorical,
                &train,
                &["film_a", "film_b", "film_c"]
            ),
            ColumnKind::Categorical
        );
        assert_eq!(
            refine_with_test(ColumnKind::Numeric, &["1", "2"], &["3", "4"]),
            ColumnKind::Numeric
        );
    }

    #[test]
    fn serialised_structures_and_media_files_are_unknown() {
        let lists = classify(&["[0.1, 0.2]", "[0.3, 0.4]"]).unwrap_err();
        assert!(
            lists.problem.contains("serialised lists"),
            "{}",
            lists.problem
        );
        let images = classify(&["images/a.jpg", "images/b.jpg"]).unwrap_err();
        assert!(images.problem.contains("media files"), "{}", images.problem);
    }
}
