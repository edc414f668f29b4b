//! Ranking metrics: ROC AUC (binary, or the mean over columns for multi-label) and mean average
//! precision at K, plus the average ranks that ROC AUC and Spearman share.

use super::cells::{mean, mean_over_columns, Cells, Side};

/// sklearn's `roc_auc_score`: per column, the Mann-Whitney statistic with average ranks for ties (equal
/// to the trapezoidal area under the ROC curve), averaged over columns.
pub(super) fn roc_auc(cells: &Cells<'_>) -> Result<f64, String> {
    mean_over_columns(cells, |column| {
        let truth = cells.binary(Side::Answers, column)?;
        let scores = cells.probabilities(Side::Submission, column)?;
        let positives = truth.iter().filter(|&&positive| positive).count();
        let negatives = truth.len() - positives;
        if positives == 0 || negatives == 0 {
            return Err(format!(
                "{} holds only one class ({}); ROC AUC is undefined",
                cells.column_label(Side::Answers, column),
                u8::from(positives > 0)
            ));
        }
        let ranks = average_ranks(&scores);
        let positive_rank_sum: f64 = ranks
            .iter()
            .zip(&truth)
            .filter(|(_, &positive)| positive)
            .map(|(rank, _)| rank)
            .sum();
        let positives = positives as f64;
        let negatives = negatives as f64;
        Ok((positive_rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
    })
}

/// 1-based ranks with ties given the mean of the ranks they span (scipy's `rankdata(method="average")`).
pub(super) fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&left, &right| values[left].total_cmp(&values[right]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let value = values[order[start]];
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == value {
            end += 1;
        }
        // Positions start..end hold ranks start + 1 ..= end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &index in &order[start..end] {
            ranks[index] = rank;
        }
        start = end;
    }
    ranks
}

/// Kaggle's `mapk`: per row, the answers are space-separated labels and the prediction space-separated
/// ranked labels of which the first K count; a repeated prediction counts once. The row's score is the
/// sum of precision at each hit divided by min(number of answers, K); the result is the mean over rows.
pub(super) fn mean_average_precision_at_k(cells: &Cells<'_>, k: usize) -> Result<f64, String> {
    let metric = super::Metric::MapAtK(k).name();
    let column = cells.single_column(&metric)?;
    if k == 0 {
        return Err("map@K needs K of at least 1".to_string());
    }
    let truth = cells.column(Side::Answers, column);
    let predicted = cells.column(Side::Submission, column);
    Ok(mean(truth.iter().zip(predicted).map(
        |(actual, guesses)| {
            let actual: Vec<&str> = actual.split_whitespace().collect();
            let guesses: Vec<&str> = guesses.split_whitespace().take(k).collect();
            average_precision(&actual, &guesses, k)
        },
    )))
}

/// Kaggle's `apk` with the predictions already cut to K.
fn average_precision(actual: &[&str], guesses: &[&str], k: usize) -> f64 {
    if actual.is_empty() {
        return 0.0;
    }
    let mut score = 0.0;
    let mut hits = 0.0;
    for (index, guess) in guesses.iter().enumerate() {
        let earlier = &guesses[..index];
        if actual.contains(guess) && !earlier.contains(guess) {
            hits += 1.0;
            score += hits / (index as f64 + 1.0);
        }
    }
    score / actual.len().min(k) as f64
}

#[cfg(test)]
mod tests {
    use super::average_ranks;
    use crate::metric::test_support::{close, score};
    use crate::metric::Metric;

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0, -0.0, 0.0]),
            vec![5.5, 3.0, 5.5, 4.0, 1.5, 1.5]
        );
    }

    #[test]
    fn roc_auc_by_hand() {
        // sklearn's docstring example: 0.75.
        assert!(close(
            score(
                Metric::RocAuc,
                &["0", "0", "1", "1"],
                &["0.1", "0.4", "0.35", "0.8"]
            )
            .unwrap(),
            0.75
        ));
        // A tie between a positive and a negative counts one half.
        assert!(close(
            score(Metric::RocAuc, &["0", "1"], &["0.5", "0.5"]).unwrap(),
            0.5
        ));
    }

    #[test]
    fn multi_label_roc_auc_is_the_mean_over_columns() {
        let columns = ["a".to_string(), "b".to_string()];
        let truth = [vec!["0", "1"], vec!["1", "0"]];
        let predicted = [vec!["0.2", "0.9"], vec!["0.2", "0.9"]];
        assert!(close(
            Metric::RocAuc
                .compute(&columns, &truth, &predicted)
                .unwrap(),
            0.5
        ));
    }

    #[test]
    fn roc_auc_with_one_class_names_the_column() {
        let error = score(Metric::RocAuc, &["1", "1"], &["0.1", "0.4"]).unwrap_err();
        assert_eq!(
            error,
            "answers column `target` holds only one class (1); ROC AUC is undefined"
        );
    }

    #[test]
    fn map_at_k_by_hand() {
        // Row 1: hit at 2 → 1/2. Row 2: hit at 1 → 1. Row 3: the duplicate does not count twice; the
        // hit at 4 is beyond K = 3 → 0.
        let truth = ["b", "a", "z"];
        let predicted = ["a b c", "a a b", "a a a z"];
        assert!(close(
            score(Metric::MapAtK(3), &truth, &predicted).unwrap(),
            1.5 / 3.0
        ));
        // Two answers, both found at 1 and 3: (1/1 + 2/3) / 2.
        assert!(close(
            score(Metric::MapAtK(3), &["x y"], &["x q y"]).unwrap(),
            (1.0 + 2.0 / 3.0) / 2.0
        ));
        // Repeated predictions count once: (1/1) / min(2, 3).
        assert!(close(
            score(Metric::MapAtK(3), &["x y"], &["x x x"]).unwrap(),
            0.5
        ));
    }

    #[test]
    fn map_at_k_errors() {
        let columns = ["a".to_string(), "b".to_string()];
        let cells = [vec!["x"], vec!["y"]];
        let error = Metric::MapAtK(3)
            .compute(&columns, &cells, &cells)
            .unwrap_err();
        assert!(
            error.starts_with("map@3 scores exactly one target column"),
            "{error}"
        );
        assert!(score(Metric::MapAtK(0), &["x"], &["x"]).is_err());
    }
}
