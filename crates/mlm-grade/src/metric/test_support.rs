//! What the unit tests of every metric family share: scoring one target column, and comparing floats.

use crate::metric::Metric;

/// `metric` over one column named `target`.
pub(super) fn score(metric: Metric, truth: &[&str], predicted: &[&str]) -> Result<f64, String> {
    metric.compute(
        &["target".to_string()],
        &[truth.to_vec()],
        &[predicted.to_vec()],
    )
}

/// Equal up to rounding.
pub(super) fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-12
}
