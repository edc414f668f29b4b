"""Reference scores for the metric cross-check in metrics.rs, computed with scikit-learn and scipy.

Usage: python metrics_reference.py CASES.json RESULTS.json

CASES.json is a list of {"id", "metric", "columns", "truth", "predicted"} where truth and predicted are
column-major lists of cell strings. RESULTS.json gets {id: {"value": float} or {"error": str}}; an
exception or a non-finite score is an error, as it is for the Rust metric.
"""

import json
import math
import sys
import warnings

import numpy as np
from scipy import stats
from sklearn import metrics

# MLE-bench's multi-class log-loss check (leaf-classification).
ROW_SUM_TOLERANCE = 1e-6


def numbers(columns):
    """Column-major cells -> (rows, columns) float array."""
    return np.array([[float(cell) for cell in column] for column in columns], dtype=np.float64).T


def integers(columns):
    return [[int(float(cell)) for cell in column] for column in columns]


def apk(actual, predicted, k):
    """Kaggle's average precision at k (ml_metrics.apk)."""
    if len(predicted) > k:
        predicted = predicted[:k]
    score = 0.0
    num_hits = 0.0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            num_hits += 1.0
            score += num_hits / (i + 1.0)
    if not actual:
        return 0.0
    return score / min(len(actual), k)


def single(columns):
    if len(columns) != 1:
        raise ValueError("exactly one target column expected")
    return columns[0]


def score(metric, truth, predicted):
    if metric == "accuracy":
        if len(truth) == 1:
            return metrics.accuracy_score(truth[0], predicted[0])
        rows = len(truth[0])
        return float(np.mean([all(t[r] == p[r] for t, p in zip(truth, predicted)) for r in range(rows)]))
    if metric == "roc_auc":
        y_true = numbers(truth).astype(int)
        y_score = numbers(predicted)
        if y_true.shape[1] == 1:
            return metrics.roc_auc_score(y_true[:, 0], y_score[:, 0])
        return metrics.roc_auc_score(y_true, y_score)
    if metric == "log_loss":
        y_true = numbers(truth).astype(int)
        y_proba = numbers(predicted)
        if y_true.shape[1] == 1:
            return metrics.log_loss(y_true[:, 0], y_proba[:, 0])
        if not np.all(np.isclose(y_proba.sum(axis=1), 1, atol=ROW_SUM_TOLERANCE)):
            raise ValueError("Each row in submission should sum to one, as probabilities.")
        return metrics.log_loss(y_true, y_proba)
    if metric == "rmse":
        return metrics.root_mean_squared_error(numbers(truth), numbers(predicted))
    if metric == "rmsle":
        y_true, y_pred = numbers(truth), numbers(predicted)
        # scikit-learn < 1.6 (MLE-bench's minimum is 1.5) refused negative values; 1.6+ only <= -1.
        if (y_true < 0).any() or (y_pred < 0).any():
            raise ValueError("negative values")
        return metrics.root_mean_squared_log_error(y_true, y_pred)
    if metric == "mae":
        return metrics.mean_absolute_error(numbers(truth), numbers(predicted))
    if metric == "mcrmse":
        y_true, y_pred = numbers(truth), numbers(predicted)
        return float(
            np.mean(
                [metrics.root_mean_squared_error(y_true[:, c], y_pred[:, c]) for c in range(y_true.shape[1])]
            )
        )
    if metric == "quadratic_weighted_kappa":
        return metrics.cohen_kappa_score(
            single(integers(truth)), single(integers(predicted)), weights="quadratic"
        )
    if metric == "f1":
        return metrics.f1_score(single(integers(truth)), single(integers(predicted)))
    if metric in ("f1_micro", "f1_macro"):
        average = metric.removeprefix("f1_")
        return metrics.f1_score(single(truth), single(predicted), average=average)
    if metric.startswith("map@"):
        k = int(metric.removeprefix("map@"))
        pairs = zip(single(truth), single(predicted))
        return float(np.mean([apk(actual.split(), guess.split(), k) for actual, guess in pairs]))
    if metric in ("pearson", "spearman"):
        y_true, y_pred = numbers(truth), numbers(predicted)
        correlate = stats.pearsonr if metric == "pearson" else stats.spearmanr
        values = [correlate(y_true[:, c], y_pred[:, c]).statistic for c in range(y_true.shape[1])]
        return float(np.mean(values))
    raise ValueError(f"unknown metric {metric}")


def main():
    warnings.filterwarnings("ignore")
    cases_path, results_path = sys.argv[1], sys.argv[2]
    with open(cases_path) as handle:
        cases = json.load(handle)
    results = {}
    for case in cases:
        try:
            value = float(score(case["metric"], case["truth"], case["predicted"]))
            results[case["id"]] = {"value": value} if math.isfinite(value) else {"error": f"not finite: {value}"}
        except Exception as error:  # noqa: BLE001 - every failure is an expected "cannot score"
            results[case["id"]] = {"error": f"{type(error).__name__}: {error}"}
    with open(results_path, "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
