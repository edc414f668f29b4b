//! The run's cross-validation folds, drawn once per run from its seed and handed to every script as
//! `input/folds.csv` (`row,fold`: the 0-based row of train.csv and its fold, 0 to 9), so that every
//! node's validation score and out-of-fold predictions are measured on the same rows.
//!
//! Ten folds are drawn so that a script's own choice still lands on shared rows: ten-fold validation
//! uses them as they are, five-fold joins them in pairs (`fold // 2`), a hold-out split validates on
//! the first pair. Drawn in Rust rather than by scikit-learn: the split is a pure function of
//! train.csv, the design and the seed, testable without Python, and no score depends on matching
//! scikit-learn's own shuffling.

use std::collections::BTreeMap;
use std::path::Path;

use mlm_coder::FoldDesign;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// How many folds the file holds.
pub const FOLD_COUNT: u32 = 10;
/// The file's name, in the run directory and in each script's `input/`.
pub const FOLDS_FILE: &str = "folds.csv";

/// The fold of each row of `train_csv`, in the file's order.
pub fn draw_folds(train_csv: &Path, design: &FoldDesign, seed: u64) -> Result<Vec<u32>> {
    let column = match design {
        FoldDesign::Stratified { label_column } => Some(label_column.as_str()),
        FoldDesign::Grouped { group_column } => Some(group_column.as_str()),
        FoldDesign::TimeOrdered { order_column } => Some(order_column.as_str()),
        FoldDesign::Plain => None,
    };
    let keys = read_column(train_csv, column)?;
    let mut random = ChaCha8Rng::seed_from_u64(seed);
    Ok(match design {
        FoldDesign::Stratified { .. } => stratified(&keys, &mut random),
        FoldDesign::Grouped { .. } => grouped(&keys, &mut random),
        FoldDesign::TimeOrdered { .. } => time_blocks(&keys),
        FoldDesign::Plain => {
            let mut rows: Vec<usize> = (0..keys.len()).collect();
            rows.shuffle(&mut random);
            dealt(&rows, keys.len())
        }
    })
}

/// Writes `folds` as `row,fold` lines.
pub fn write_folds(path: &Path, folds: &[u32]) -> Result<()> {
    let mut text = String::with_capacity(folds.len() * 8 + 9);
    text.push_str("row,fold\n");
    for (row, fold) in folds.iter().enumerate() {
        text.push_str(&format!("{row},{fold}\n"));
    }
    std::fs::write(path, text).map_err(Error::io(path, "cannot write the run's folds"))
}

/// One cell per row: `column`'s, or an empty one per row when no column is named.
fn read_column(train_csv: &Path, column: Option<&str>) -> Result<Vec<String>> {
    let unreadable = |error: csv::Error| {
        Error::Invalid(format!(
            "{}: cannot read the rows to draw the run's folds from: {error}\nhint: train.csv must be a CSV file with a header row",
            train_csv.display()
        ))
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(train_csv)
        .map_err(unreadable)?;
    let index = match column {
        Some(name) => Some(
            reader
                .headers()
                .map_err(unreadable)?
                .iter()
                .position(|header| header == name)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "{}: no column `{name}` to draw the run's folds by\nhint: the task's schema named it; check train.csv's header",
                        train_csv.display()
                    ))
                })?,
        ),
        None => None,
    };
    let mut cells = Vec::new();
    for record in reader.records() {
        let record = record.map_err(unreadable)?;
        cells.push(
            index
                .and_then(|index| record.get(index))
                .unwrap_or_default()
                .to_string(),
        );
    }
    Ok(cells)
}

/// Each class shuffled on its own, the classes laid end to end (in their sorted order) and dealt out
/// in turn: every fold gets each class's share to within one row, and the folds' sizes differ by at
/// most one.
fn stratified(labels: &[String], random: &mut ChaCha8Rng) -> Vec<u32> {
    let mut classes: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (row, label) in labels.iter().enumerate() {
        classes.entry(label.as_str()).or_default().push(row);
    }
    let mut order = Vec::with_capacity(labels.len());
    for rows in classes.values_mut() {
        rows.shuffle(random);
        order.extend_from_slice(rows);
    }
    dealt(&order, labels.len())
}

/// Whole groups, largest first (ties in a shuffled order), each to the fold holding the fewest rows so
/// far, as scikit-learn's `GroupKFold` does.
fn grouped(groups: &[String], random: &mut ChaCha8Rng) -> Vec<u32> {
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (row, group) in groups.iter().enumerate() {
        members.entry(group.as_str()).or_default().push(row);
    }
    let mut groups: Vec<Vec<usize>> = members.into_values().collect();
    groups.shuffle(random);
    groups.sort_by_key(|rows| std::cmp::Reverse(rows.len()));
    let mut sizes = [0usize; FOLD_COUNT as usize];
    let mut folds = vec![0; groups.iter().map(Vec::len).sum()];
    for rows in groups {
        let mut lightest = 0;
        for (fold, size) in sizes.iter().enumerate() {
            if *size < sizes[lightest] {
                lightest = fold;
            }
        }
        sizes[lightest] += rows.len();
        for row in rows {
            folds[row] = lightest as u32;
        }
    }
    folds
}

/// Consecutive blocks of rows in the order of `keys` (numbers as numbers, anything else as text, after
/// the numbers), the latest block fold 0: a hold-out split (folds 0 and 1) is the latest fifth of the
/// rows. Blocks differ in size by at most one row; equal keys keep the file's order.
fn time_blocks(keys: &[String]) -> Vec<u32> {
    // Parsed once, not in every comparison of the sort.
    let numbers: Vec<Option<f64>> = keys
        .iter()
        .map(|key| key.trim().parse::<f64>().ok())
        .collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&left, &right| match (numbers[left], numbers[right]) {
        (Some(left), Some(right)) => left.total_cmp(&right),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => keys[left].cmp(&keys[right]),
    });
    let mut folds = vec![0; keys.len()];
    let last = FOLD_COUNT as usize - 1;
    for (position, row) in order.iter().enumerate() {
        folds[*row] = (last - position * FOLD_COUNT as usize / keys.len()) as u32;
    }
    folds
}

/// Rows in `order` dealt to the folds in turn.
fn dealt(order: &[usize], rows: usize) -> Vec<u32> {
    let mut folds = vec![0; rows];
    for (position, row) in order.iter().enumerate() {
        folds[*row] = (position % FOLD_COUNT as usize) as u32;
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train_file(header: &str, rows: impl Iterator<Item = String>) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut text = format!("{header}\n");
        for row in rows {
            text.push_str(&row);
            text.push('\n');
        }
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn the_same_seed_draws_the_same_folds_and_another_seed_other_ones() {
        let train = train_file("id,x", (0..200).map(|row| format!("{row},{}", row * 3)));
        let first = draw_folds(train.path(), &FoldDesign::Plain, 7).unwrap();
        assert_eq!(
            first,
            draw_folds(train.path(), &FoldDesign::Plain, 7).unwrap()
        );
        assert_ne!(
            first,
            draw_folds(train.path(), &FoldDesign::Plain, 8).unwrap()
        );
        let mut sizes = [0; 10];
        for fold in &first {
            sizes[*fold as usize] += 1;
        }
        assert_eq!(sizes, [20; 10]);
    }

    /// A forecast's folds are blocks of time, the latest first, whatever the file's order and seed.
    #[test]
    fn time_ordered_folds_are_blocks_with_the_latest_rows_in_fold_zero() {
        // Day 1 to 100, the file's rows in a scrambled order.
        let days: Vec<u32> = (0..100).map(|row| (row * 37) % 100 + 1).collect();
        let train = train_file("id,day", days.iter().map(|day| format!("{day},{day}")));
        let design = FoldDesign::TimeOrdered {
            order_column: "day".to_string(),
        };
        let folds = draw_folds(train.path(), &design, 1).unwrap();
        assert_eq!(folds, draw_folds(train.path(), &design, 2).unwrap());
        for (row, day) in days.iter().enumerate() {
            assert_eq!(folds[row], 9 - (day - 1) / 10, "day {day}");
        }
    }

    #[test]
    fn stratified_folds_give_every_fold_its_share_of_a_rare_class() {
        // 20 rare rows among 300: each fold gets two of them.
        let train = train_file(
            "id,label",
            (0..300).map(|row| format!("{row},{}", if row % 15 == 0 { "rare" } else { "common" })),
        );
        let design = FoldDesign::Stratified {
            label_column: "label".to_string(),
        };
        let folds = draw_folds(train.path(), &design, 1).unwrap();
        for fold in 0..10 {
            let rare = (0..300)
                .filter(|row| row % 15 == 0 && folds[*row] == fold)
                .count();
            assert_eq!(rare, 2, "fold {fold}");
        }
        // Five-fold validation joins the folds in pairs and keeps the balance.
        for pair in 0..5 {
            let rows = folds.iter().filter(|fold| **fold / 2 == pair).count();
            assert_eq!(rows, 60);
        }
    }

    #[test]
    fn grouped_folds_keep_each_group_in_one_fold() {
        let train = train_file(
            "id,patient",
            (0..120).map(|row| format!("{row},p{}", row % 30)),
        );
        let design = FoldDesign::Grouped {
            group_column: "patient".to_string(),
        };
        let folds = draw_folds(train.path(), &design, 3).unwrap();
        for row in 0..120 {
            assert_eq!(folds[row], folds[row % 30], "row {row}");
        }
        let used: std::collections::BTreeSet<u32> = folds.iter().copied().collect();
        assert_eq!(used.len(), 10);
    }

    #[test]
    fn a_missing_column_is_named_with_a_hint() {
        let train = train_file("id,x", (0..5).map(|row| format!("{row},1")));
        let design = FoldDesign::Stratified {
            label_column: "Survived".to_string(),
        };
        let error = draw_folds(train.path(), &design, 0)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("Survived") && error.contains("hint:"),
            "{error}"
        );
    }

    #[test]
    fn the_file_names_each_row_and_its_fold() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(FOLDS_FILE);
        write_folds(&path, &[3, 0, 9]).unwrap();
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            "row,fold\n0,3\n1,0\n2,9\n"
        );
    }
}
