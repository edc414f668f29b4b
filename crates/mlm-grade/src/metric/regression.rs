//! Number metrics: RMSE (also MCRMSE), RMSLE and MAE as the mean of per-column errors (scikit-learn's
//! `multioutput="uniform_average"`), and the Pearson and Spearman correlations as scipy computes them,
//! averaged over columns.

use super::cells::{mean, mean_over_columns, quote, Cells, Side};
use super::ranking::average_ranks;

/// Mean over columns of sqrt(mean((truth - predicted)²)).
pub(super) fn root_mean_squared_error(cells: &Cells<'_>) -> Result<f64, String> {
    mean_over_columns(cells, |column| {
        let (truth, predicted) = numbers(cells, column)?;
        Ok(column_root_mean_squared_error(&truth, &predicted))
    })
}

/// Mean over columns of sqrt(mean((log1p(predicted) - log1p(truth))²)); negative values are refused.
pub(super) fn root_mean_squared_log_error(cells: &Cells<'_>) -> Result<f64, String> {
    mean_over_columns(cells, |column| {
        let (truth, predicted) = numbers(cells, column)?;
        for (side, values) in [(Side::Answers, &truth), (Side::Submission, &predicted)] {
            if let Some(row) = values.iter().position(|value| *value < 0.0) {
                let cell = cells
                    .column(side, column)
                    .get(row)
                    .copied()
                    .unwrap_or_default();
                return Err(format!(
                    "{}: rmsle needs values of at least 0, got {}",
                    cells.location(side, column, row),
                    quote(cell)
                ));
            }
        }
        let truth: Vec<f64> = truth.iter().map(|value| value.ln_1p()).collect();
        let predicted: Vec<f64> = predicted.iter().map(|value| value.ln_1p()).collect();
        Ok(column_root_mean_squared_error(&truth, &predicted))
    })
}

/// Mean over columns of mean(|truth - predicted|).
pub(super) fn mean_absolute_error(cells: &Cells<'_>) -> Result<f64, String> {
    mean_over_columns(cells, |column| {
        let (truth, predicted) = numbers(cells, column)?;
        Ok(mean(
            truth
                .iter()
                .zip(&predicted)
                .map(|(actual, guess)| (actual - guess).abs()),
        ))
    })
}

/// scipy's `pearsonr` statistic, averaged over columns.
pub(super) fn pearson(cells: &Cells<'_>) -> Result<f64, String> {
    mean_over_columns(cells, |column| {
        let (truth, predicted) = numbers(cells, column)?;
        check_correlation_inputs(cells, column, &truth, &predicted)?;
        Ok(correlation(&truth, &predicted))
    })
}

/// scipy's `spearmanr` statistic (Pearson correlation of average ranks), averaged over columns.
pub(super) fn spearman(cells: &Cells<'_>) -> Result<f64, String> {
    mean_over_columns(cells, |column| {
        let (truth, predicted) = numbers(cells, column)?;
        check_correlation_inputs(cells, column, &truth, &predicted)?;
        Ok(correlation(
            &average_ranks(&truth),
            &average_ranks(&predicted),
        ))
    })
}

fn numbers(cells: &Cells<'_>, column: usize) -> Result<(Vec<f64>, Vec<f64>), String> {
    Ok((
        cells.numbers(Side::Answers, column)?,
        cells.numbers(Side::Submission, column)?,
    ))
}

fn column_root_mean_squared_error(truth: &[f64], predicted: &[f64]) -> f64 {
    mean(
        truth
            .iter()
            .zip(predicted)
            .map(|(actual, guess)| (actual - guess).powi(2)),
    )
    .sqrt()
}

/// A correlation needs two rows and neither side constant (scipy returns NaN with a warning).
fn check_correlation_inputs(
    cells: &Cells<'_>,
    column: usize,
    truth: &[f64],
    predicted: &[f64],
) -> Result<(), String> {
    if truth.len() < 2 {
        return Err(format!(
            "column `{}`: a correlation needs at least 2 rows, got {}",
            cells.column_name(column),
            truth.len()
        ));
    }
    for (side, values) in [(Side::Submission, predicted), (Side::Answers, truth)] {
        if values.iter().all(|value| Some(value) == values.first()) {
            return Err(format!(
                "{} is constant, correlation is undefined",
                cells.column_label(side, column)
            ));
        }
    }
    Ok(())
}

/// Pearson's r as scipy computes it: centred values scaled by their largest magnitude before the norm
/// (no premature overflow), clipped to [-1, 1], and exactly ±1 for two rows.
fn correlation(left: &[f64], right: &[f64]) -> f64 {
    let normalized = |values: &[f64]| -> Vec<f64> {
        let center = mean(values.iter().copied());
        let centered: Vec<f64> = values.iter().map(|value| value - center).collect();
        let largest = centered
            .iter()
            .fold(0.0f64, |largest, value| largest.max(value.abs()));
        let norm = largest
            * centered
                .iter()
                .map(|value| (value / largest).powi(2))
                .sum::<f64>()
                .sqrt();
        centered.iter().map(|value| value / norm).collect()
    };
    let r = normalized(left)
        .iter()
        .zip(normalized(right))
        .map(|(left, right)| left * right)
        .sum::<f64>()
        .clamp(-1.0, 1.0);
    if left.len() == 2 {
        r.round()
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use crate::metric::test_support::{close, score};
    use crate::metric::Metric;

    #[test]
    fn errors_by_hand() {
        assert!(close(
            score(Metric::Rmse, &["1", "2", "3"], &["1", "2", "6"]).unwrap(),
            3.0f64.sqrt()
        ));
        assert!(close(
            score(Metric::Mae, &["1", "2", "3"], &["2", "2", "6"]).unwrap(),
            4.0 / 3.0
        ));
        let rmsle = score(Metric::Rmsle, &["0", "3"], &["1", "3"]).unwrap();
        assert!(close(rmsle, (2.0f64.ln().powi(2) / 2.0).sqrt()));
    }

    #[test]
    fn several_columns_average_the_per_column_errors() {
        let columns = ["a".to_string(), "b".to_string()];
        let truth = [vec!["0", "0"], vec!["0", "0"]];
        let predicted = [vec!["3", "4"], vec!["1", "1"]];
        let per_column = ((9.0f64 + 16.0) / 2.0).sqrt();
        assert!(close(
            Metric::Mcrmse
                .compute(&columns, &truth, &predicted)
                .unwrap(),
            (per_column + 1.0) / 2.0
        ));
        assert!(close(
            Metric::Rmse.compute(&columns, &truth, &predicted).unwrap(),
            (per_column + 1.0) / 2.0
        ));
        assert!(close(
            Metric::Mae.compute(&columns, &truth, &predicted).unwrap(),
            (3.5 + 1.0) / 2.0
        ));
    }

    #[test]
    fn rmsle_refuses_negative_values() {
        let error = score(Metric::Rmsle, &["1", "2"], &["1", "-0.5"]).unwrap_err();
        assert_eq!(
            error,
            "column `target`, row 2: rmsle needs values of at least 0, got `-0.5`"
        );
        let error = score(Metric::Rmsle, &["-1", "2"], &["1", "0.5"]).unwrap_err();
        assert!(
            error.starts_with("answers column `target`, row 1"),
            "{error}"
        );
    }

    #[test]
    fn correlations_by_hand() {
        assert!(close(
            score(Metric::Pearson, &["1", "2", "3"], &["2", "4", "6"]).unwrap(),
            1.0
        ));
        assert!(close(
            score(Metric::Pearson, &["1", "2", "3"], &["3", "2", "1"]).unwrap(),
            -1.0
        ));
        // Ranks 1, 2, 3 against 1, 3, 2: r = 0.5.
        assert!(close(
            score(Metric::Spearman, &["1", "2", "3"], &["10", "30", "20"]).unwrap(),
            0.5
        ));
        assert!(close(
            score(Metric::Spearman, &["1", "2"], &["5", "1"]).unwrap(),
            -1.0
        ));
    }

    #[test]
    fn constant_inputs_and_single_rows_are_errors() {
        let error = score(Metric::Pearson, &["1", "2", "3"], &["4", "4", "4"]).unwrap_err();
        assert_eq!(
            error,
            "column `target` is constant, correlation is undefined"
        );
        let error = score(Metric::Spearman, &["1", "1"], &["4", "5"]).unwrap_err();
        assert_eq!(
            error,
            "answers column `target` is constant, correlation is undefined"
        );
        let error = score(Metric::Pearson, &["1"], &["4"]).unwrap_err();
        assert!(error.contains("at least 2 rows"), "{error}");
    }
}
