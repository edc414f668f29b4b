//! Label metrics: accuracy, log loss (binary and multi-class), F1 (binary, micro, macro) and quadratic
//! weighted kappa, computed as scikit-learn computes them.

use std::collections::BTreeMap;

use super::cells::{label_counts, mean, short, Cells, LabelKey, Side};
use super::F1Average;

/// MLE-bench checks each row of multi-class probabilities with `numpy.isclose(sum, 1, atol=1e-6)`, which
/// also allows numpy's default relative tolerance of 1e-5.
const ROW_SUM_ABSOLUTE_TOLERANCE: f64 = 1e-6;
const ROW_SUM_RELATIVE_TOLERANCE: f64 = 1e-5;

/// Fraction of rows whose every target column matches.
pub(super) fn accuracy(cells: &Cells<'_>) -> Result<f64, String> {
    let columns: Vec<_> = (0..cells.column_count())
        .map(|column| {
            (
                cells.labels(Side::Answers, column),
                cells.labels(Side::Submission, column),
            )
        })
        .collect();
    let matches = (0..cells.rows())
        .filter(|&row| {
            columns
                .iter()
                .all(|(truth, predicted)| truth.get(row) == predicted.get(row))
        })
        .count();
    Ok(matches as f64 / cells.rows() as f64)
}

/// sklearn's `log_loss`: probabilities clipped to [eps, 1 - eps], natural logarithm, mean over rows.
/// One column is binary (the probability of class 1); several are one probability column per class,
/// with one-hot answers, and every row must sum to 1 first (MLE-bench's check).
pub(super) fn log_loss(cells: &Cells<'_>) -> Result<f64, String> {
    let clip = |probability: f64| probability.clamp(f64::EPSILON, 1.0 - f64::EPSILON);
    if cells.column_count() == 1 {
        let truth = cells.binary(Side::Answers, 0)?;
        let predicted = cells.probabilities(Side::Submission, 0)?;
        if let Some(only) = single_class(&truth) {
            return Err(format!(
                "{} holds only one class ({}); binary log loss needs both 0 and 1",
                cells.column_label(Side::Answers, 0),
                u8::from(only)
            ));
        }
        return Ok(mean(truth.iter().zip(&predicted).map(
            |(&positive, &probability)| {
                if positive {
                    -clip(probability).ln()
                } else {
                    -clip(1.0 - probability).ln()
                }
            },
        )));
    }
    let truth = (0..cells.column_count())
        .map(|column| cells.binary(Side::Answers, column))
        .collect::<Result<Vec<_>, String>>()?;
    let predicted = (0..cells.column_count())
        .map(|column| cells.probabilities(Side::Submission, column))
        .collect::<Result<Vec<_>, String>>()?;
    let mut losses = Vec::with_capacity(cells.rows());
    for row in 0..cells.rows() {
        let sum: f64 = predicted.iter().filter_map(|column| column.get(row)).sum();
        if (sum - 1.0).abs() > ROW_SUM_ABSOLUTE_TOLERANCE + ROW_SUM_RELATIVE_TOLERANCE {
            return Err(format!(
                "row {}: probabilities sum to {}, expected 1 (±1e-6)",
                row + 1,
                short(sum)
            ));
        }
        let loss: f64 = truth
            .iter()
            .zip(&predicted)
            .filter_map(|(truth_column, predicted_column)| {
                match (truth_column.get(row), predicted_column.get(row)) {
                    (Some(true), Some(&probability)) => Some(-clip(probability).ln()),
                    (Some(false), Some(_)) | (None, _) | (_, None) => None,
                }
            })
            .sum();
        losses.push(loss);
    }
    Ok(mean(losses))
}

/// The class of every row when the column holds only one.
fn single_class(labels: &[bool]) -> Option<bool> {
    let first = *labels.first()?;
    labels.iter().all(|&label| label == first).then_some(first)
}

/// sklearn's `f1_score` on one column; labels with no true or predicted positives contribute 0
/// (sklearn's default `zero_division`).
pub(super) fn f1(cells: &Cells<'_>, average: F1Average) -> Result<f64, String> {
    let metric = super::Metric::F1(average).name();
    let column = cells.single_column(&metric)?;
    match average {
        F1Average::Binary => {
            let truth = cells.binary(Side::Answers, column)?;
            let predicted = cells.binary(Side::Submission, column)?;
            let (mut true_positives, mut truth_positives, mut predicted_positives) =
                (0u64, 0u64, 0u64);
            for (&actual, &guess) in truth.iter().zip(&predicted) {
                true_positives += u64::from(actual && guess);
                truth_positives += u64::from(actual);
                predicted_positives += u64::from(guess);
            }
            Ok(f1_of_counts(
                true_positives,
                truth_positives,
                predicted_positives,
            ))
        }
        F1Average::Micro => {
            let counts = column_label_counts(cells, column);
            let (true_positives, truth_total, predicted_total) = counts.values().fold(
                (0, 0, 0),
                |(true_positives, truth_total, predicted_total),
                 (hits, truth_count, predicted_count)| {
                    (
                        true_positives + hits,
                        truth_total + truth_count,
                        predicted_total + predicted_count,
                    )
                },
            );
            Ok(f1_of_counts(true_positives, truth_total, predicted_total))
        }
        F1Average::Macro => {
            let counts = column_label_counts(cells, column);
            Ok(mean(counts.values().map(
                |&(true_positives, truth_count, predicted_count)| {
                    f1_of_counts(true_positives, truth_count, predicted_count)
                },
            )))
        }
    }
}

/// Per label over the answers and the submission: (true positives, count in the answers, count in the submission).
fn column_label_counts<'a>(
    cells: &Cells<'a>,
    column: usize,
) -> BTreeMap<LabelKey<'a>, (u64, u64, u64)> {
    label_counts(
        &cells.labels(Side::Answers, column),
        &cells.labels(Side::Submission, column),
    )
}

/// 2·TP / (|truth positives| + |predicted positives|), 0 when both are empty.
fn f1_of_counts(true_positives: u64, truth_positives: u64, predicted_positives: u64) -> f64 {
    let denominator = truth_positives + predicted_positives;
    if denominator == 0 {
        0.0
    } else {
        2.0 * true_positives as f64 / denominator as f64
    }
}

/// sklearn's `cohen_kappa_score(weights="quadratic")` on integer labels. The weight of a pair is the
/// squared distance between the labels' positions in the sorted union of labels (not their values),
/// as in sklearn. The expected-disagreement sum is computed from means and spreads of those positions,
/// which equals sklearn's double sum without building a labels × labels matrix.
pub(super) fn quadratic_weighted_kappa(cells: &Cells<'_>) -> Result<f64, String> {
    let column = cells.single_column("quadratic_weighted_kappa")?;
    let truth = cells.integers(Side::Answers, column)?;
    let predicted = cells.integers(Side::Submission, column)?;
    let mut labels: Vec<i64> = truth.iter().chain(&predicted).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    let position = |label: &i64| {
        labels
            .binary_search(label)
            .map_or(0.0, |index| index as f64)
    };
    let truth_positions: Vec<f64> = truth.iter().map(position).collect();
    let predicted_positions: Vec<f64> = predicted.iter().map(position).collect();
    let observed: f64 = truth_positions
        .iter()
        .zip(&predicted_positions)
        .map(|(actual, guess)| (actual - guess).powi(2))
        .sum();
    let rows = truth_positions.len() as f64;
    let truth_mean = mean(truth_positions.iter().copied());
    let predicted_mean = mean(predicted_positions.iter().copied());
    let spread = |positions: &[f64], center: f64| {
        positions
            .iter()
            .map(|value| (value - center).powi(2))
            .sum::<f64>()
    };
    let expected = spread(&truth_positions, truth_mean)
        + spread(&predicted_positions, predicted_mean)
        + rows * (truth_mean - predicted_mean).powi(2);
    if expected == 0.0 {
        let label = labels.first().copied().unwrap_or_default();
        return Err(format!(
            "quadratic weighted kappa is undefined: every row of the answers and the submission in column `{}` holds the same label ({label})",
            cells.column_name(column)
        ));
    }
    Ok(1.0 - observed / expected)
}

#[cfg(test)]
mod tests {
    use crate::metric::test_support::{close, score};
    use crate::metric::{F1Average, Metric};

    #[test]
    fn accuracy_compares_numbers_by_value_and_booleans_by_case() {
        let value = score(
            Metric::Accuracy,
            &["1", "cat", "True", "2"],
            &["1.0", "cat", "true", "3"],
        )
        .unwrap();
        assert!(close(value, 0.75));
    }

    #[test]
    fn accuracy_over_several_columns_needs_every_column() {
        let columns = ["a".to_string(), "b".to_string()];
        let truth = [vec!["x", "y"], vec!["1", "2"]];
        let predicted = [vec!["x", "y"], vec!["1", "3"]];
        assert!(close(
            Metric::Accuracy
                .compute(&columns, &truth, &predicted)
                .unwrap(),
            0.5
        ));
    }

    #[test]
    fn binary_log_loss_by_hand() {
        let value = score(Metric::LogLoss, &["1", "0"], &["0.8", "0.4"]).unwrap();
        assert!(close(value, -(0.8f64.ln() + 0.6f64.ln()) / 2.0));
        let clipped = score(Metric::LogLoss, &["1", "0"], &["0", "0"]).unwrap();
        assert!(close(clipped, -(f64::EPSILON.ln()) / 2.0));
    }

    #[test]
    fn binary_log_loss_needs_both_classes() {
        let error = score(Metric::LogLoss, &["1", "1"], &["0.8", "0.4"]).unwrap_err();
        assert!(
            error.contains("answers column `target`") && error.contains("only one class"),
            "{error}"
        );
        let error = score(Metric::LogLoss, &["1", "0"], &["0.8", "1.4"]).unwrap_err();
        assert_eq!(
            error,
            "column `target`, row 2: expected a probability in [0, 1], got `1.4`"
        );
        let error = score(Metric::LogLoss, &["1", "2"], &["0.8", "0.4"]).unwrap_err();
        assert_eq!(
            error,
            "answers column `target`, row 2: expected 0 or 1, got `2`"
        );
    }

    #[test]
    fn multi_class_log_loss_by_hand_and_row_sums() {
        let columns = ["a".to_string(), "b".to_string(), "c".to_string()];
        let truth = [vec!["1", "0"], vec!["0", "0"], vec!["0", "1"]];
        let predicted = [vec!["0.5", "0.1"], vec!["0.25", "0.2"], vec!["0.25", "0.7"]];
        let value = Metric::LogLoss
            .compute(&columns, &truth, &predicted)
            .unwrap();
        assert!(close(value, -(0.5f64.ln() + 0.7f64.ln()) / 2.0));
        let predicted = [
            vec!["0.5", "0.1"],
            vec!["0.25", "0.2"],
            vec!["0.25", "0.63"],
        ];
        let error = Metric::LogLoss
            .compute(&columns, &truth, &predicted)
            .unwrap_err();
        assert_eq!(
            error,
            "row 2: probabilities sum to 0.93, expected 1 (±1e-6)"
        );
    }

    #[test]
    fn binary_f1_by_hand() {
        // tp = 2, fn = 1, fp = 1: 2·2 / (3 + 3).
        let value = score(
            Metric::F1(F1Average::Binary),
            &["1", "1", "1", "0", "0"],
            &["1", "1", "0", "1", "0"],
        )
        .unwrap();
        assert!(close(value, 4.0 / 6.0));
        let nothing = score(Metric::F1(F1Average::Binary), &["0", "0"], &["0", "0"]).unwrap();
        assert!(close(nothing, 0.0));
        let error = score(Metric::F1(F1Average::Binary), &["0", "cat"], &["0", "1"]).unwrap_err();
        assert_eq!(
            error,
            "answers column `target`, row 2: expected 0 or 1, got `cat`"
        );
    }

    #[test]
    fn micro_and_macro_f1_by_hand() {
        // Labels a, b, c, d: f1(a) = 2/3, f1(b) = 0, f1(c) = 0, f1(d) = 0.
        let truth = ["a", "b", "c"];
        let predicted = ["a", "a", "d"];
        assert!(close(
            score(Metric::F1(F1Average::Macro), &truth, &predicted).unwrap(),
            (2.0 / 3.0) / 4.0
        ));
        assert!(close(
            score(Metric::F1(F1Average::Micro), &truth, &predicted).unwrap(),
            1.0 / 3.0
        ));
    }

    #[test]
    fn f1_needs_one_column() {
        let columns = ["a".to_string(), "b".to_string()];
        let cells = [vec!["1"], vec!["0"]];
        let error = Metric::F1(F1Average::Macro)
            .compute(&columns, &cells, &cells)
            .unwrap_err();
        assert_eq!(
            error,
            "f1_macro scores exactly one target column, but there are 2: a, b"
        );
    }

    #[test]
    fn quadratic_weighted_kappa_by_hand() {
        // sklearn: cohen_kappa_score([1, 3, 5, 3], [1, 3, 3, 5], weights="quadratic") == 0.5
        let value = score(
            Metric::QuadraticWeightedKappa,
            &["1", "3", "5", "3"],
            &["1", "3.0", "3", "5"],
        )
        .unwrap();
        assert!(close(value, 0.5));
        let perfect = score(Metric::QuadraticWeightedKappa, &["0", "2"], &["0", "2"]).unwrap();
        assert!(close(perfect, 1.0));
    }

    #[test]
    fn quadratic_weighted_kappa_errors() {
        let error = score(Metric::QuadraticWeightedKappa, &["1", "2"], &["1", "2.5"]).unwrap_err();
        assert_eq!(
            error,
            "column `target`, row 2: expected an integer label, got `2.5`"
        );
        let error = score(Metric::QuadraticWeightedKappa, &["4", "4"], &["4", "4"]).unwrap_err();
        assert!(
            error.contains("undefined") && error.contains("(4)"),
            "{error}"
        );
    }
}
