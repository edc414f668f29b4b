"""FLAML AutoML as a baseline for `ml-master bench --baseline flaml`.

Usage:
    python flaml_automl.py --public DIR --id-column COL --metric NAME --time-budget SECS
                           --n-jobs N --seed K --out FILE

Reads DIR/train.csv, DIR/test.csv and DIR/sample_submission.csv (MLE-bench's public layout), fits FLAML
AutoML for SECS seconds with N threads, and writes a submission with the sample submission's columns to
FILE. It never reads the private answers: ml-master grades FILE.

How the task is read:
- target columns are the sample submission's columns minus the id column; when the only target column
  is in train.csv it is the label, otherwise (one probability column per class, as in `leaf`) the label is
  the one column train.csv has beyond test.csv and the id;
- the features are test.csv's columns minus the id;
- text columns (strings averaging over 40 characters) become TF-IDF features (word 1-2 grams), since
  FLAML cannot read raw text; with text, the estimators are those FLAML runs on sparse matrices.

Estimators: FLAML's default list without CatBoost. FLAML checks its budget between trials, and one CatBoost
trial is not bounded by it: on `leaf` (32 classes) a single one ran past 5 minutes of a 10-second budget.

Metric mapping (ml-master name -> FLAML): accuracy, roc_auc, log_loss, f1 (-> f1), f1_micro (-> micro_f1),
f1_macro (-> macro_f1), rmse, mae as themselves; rmsle -> rmse on log1p(target), predictions expm1'd;
quadratic_weighted_kappa, pearson, spearman -> regression on rmse / r2 (rounded to the label range for
kappa). Anything else (mcrmse, map@K) exits with code 3 and says so.
"""

import argparse
import os
import sys

# Thread counts before numpy, scikit-learn or the boosting libraries load.
_N_JOBS = "1"
for _i, _arg in enumerate(sys.argv):
    if _arg == "--n-jobs" and _i + 1 < len(sys.argv):
        _N_JOBS = sys.argv[_i + 1]
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = _N_JOBS
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import sparse  # noqa: E402

CLASSIFICATION_METRICS = {
    "accuracy": ("accuracy", "label"),
    "roc_auc": ("roc_auc", "proba"),
    "log_loss": ("log_loss", "proba"),
    "f1": ("f1", "label"),
    "f1_micro": ("micro_f1", "label"),
    "f1_macro": ("macro_f1", "label"),
}
REGRESSION_METRICS = {
    "rmse": "rmse",
    "mae": "mae",
    "rmsle": "rmse",
    "quadratic_weighted_kappa": "rmse",
    "pearson": "r2",
    "spearman": "r2",
}


def fail(message, code=3):
    print(f"flaml_automl: {message}", file=sys.stderr)
    sys.exit(code)


def parse_arguments():
    parser = argparse.ArgumentParser(description="FLAML AutoML baseline")
    parser.add_argument("--public", required=True)
    parser.add_argument("--id-column", required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--time-budget", type=float, required=True)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    return parser.parse_args()


def is_string(column):
    # pandas 3 reads text as its `str` dtype, older pandas as `object`.
    return column.dtype == object or pd.api.types.is_string_dtype(column)


def text_columns(frame):
    columns = []
    for name in frame.columns:
        if is_string(frame[name]):
            values = frame[name].dropna().astype(str)
            if len(values) and values.str.len().mean() > 40:
                columns.append(name)
    return columns


def features(train, test, id_column):
    names = [c for c in test.columns if c != id_column and c in train.columns]
    x_train, x_test = train[names].copy(), test[names].copy()
    texts = text_columns(x_train)
    if not texts:
        for name in names:
            if is_string(x_train[name]):
                categories = pd.Categorical(pd.concat([x_train[name], x_test[name]]).astype(str)).categories
                x_train[name] = pd.Categorical(x_train[name].astype(str), categories=categories)
                x_test[name] = pd.Categorical(x_test[name].astype(str), categories=categories)
        return x_train, x_test, False
    from sklearn.feature_extraction.text import TfidfVectorizer

    blocks_train, blocks_test = [], []
    for name in texts:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=50000, sublinear_tf=True)
        blocks_train.append(vectorizer.fit_transform(x_train[name].fillna("").astype(str)))
        blocks_test.append(vectorizer.transform(x_test[name].fillna("").astype(str)))
    numeric = [n for n in names if n not in texts and pd.api.types.is_numeric_dtype(x_train[n])]
    if numeric:
        blocks_train.append(sparse.csr_matrix(x_train[numeric].fillna(0).to_numpy(dtype=float)))
        blocks_test.append(sparse.csr_matrix(x_test[numeric].fillna(0).to_numpy(dtype=float)))
    return sparse.hstack(blocks_train).tocsr(), sparse.hstack(blocks_test).tocsr(), True


def main():
    arguments = parse_arguments()
    try:
        from flaml import AutoML
    except ImportError:
        fail("FLAML is not installed; run `ml-master env setup --profile automl`", code=2)
    public = arguments.public
    train = pd.read_csv(os.path.join(public, "train.csv"))
    test = pd.read_csv(os.path.join(public, "test.csv"))
    sample = pd.read_csv(os.path.join(public, "sample_submission.csv"))
    id_column = arguments.id_column
    targets = [c for c in sample.columns if c != id_column]
    if len(targets) == 1 and targets[0] in train.columns:
        label = targets[0]
    else:
        extra = [c for c in train.columns if c not in test.columns and c != id_column]
        if len(extra) != 1:
            fail(f"cannot tell the label column: train.csv has {extra} beyond test.csv")
        label = extra[0]
    y = train[label]
    x_train, x_test, is_sparse = features(train, test, id_column)

    metric = arguments.metric
    automl = AutoML()
    settings = dict(
        time_budget=arguments.time_budget,
        n_jobs=arguments.n_jobs,
        seed=arguments.seed,
        verbose=int(os.environ.get("FLAML_VERBOSE", "0")),
        log_file_name="",
    )
    submission = pd.DataFrame({id_column: test[id_column]})
    if metric in CLASSIFICATION_METRICS:
        flaml_metric, output = CLASSIFICATION_METRICS[metric]
        settings["estimator_list"] = (
            ["lrl2", "lrl1", "lgbm", "xgboost"]
            if is_sparse
            else ["lgbm", "rf", "xgboost", "extra_tree", "xgb_limitdepth", "lrl1"]
        )
        automl.fit(x_train, y, task="classification", metric=flaml_metric, **settings)
        if output == "label":
            submission[targets[0]] = automl.predict(x_test)
        else:
            probabilities = np.clip(automl.predict_proba(x_test), 1e-15, 1.0)
            classes = [str(c) for c in automl.classes_]
            if len(targets) == 1:
                # One column: the probability of the positive (largest) class.
                submission[targets[0]] = probabilities[:, -1]
            else:
                frame = pd.DataFrame(probabilities, columns=classes)
                matrix = np.stack(
                    [frame[t].to_numpy() if t in frame else np.full(len(frame), 1e-15) for t in targets],
                    axis=1,
                )
                matrix = matrix / matrix.sum(axis=1, keepdims=True)
                for index, target in enumerate(targets):
                    submission[target] = matrix[:, index]
    elif metric in REGRESSION_METRICS:
        settings["estimator_list"] = (
            ["lgbm", "xgboost"] if is_sparse else ["lgbm", "rf", "xgboost", "extra_tree", "xgb_limitdepth"]
        )
        target = y.astype(float)
        if metric == "rmsle":
            target = np.log1p(target.clip(lower=0))
        automl.fit(x_train, target, task="regression", metric=REGRESSION_METRICS[metric], **settings)
        predictions = np.asarray(automl.predict(x_test), dtype=float)
        if metric == "rmsle":
            predictions = np.clip(np.expm1(predictions), 0, None)
        if metric == "quadratic_weighted_kappa":
            predictions = np.clip(np.rint(predictions), y.min(), y.max()).astype(int)
        submission[targets[0]] = predictions
    else:
        fail(f"metric `{metric}` has no FLAML counterpart here")
    submission.to_csv(arguments.out, index=False, lineterminator="\n")
    print(
        f"flaml: best estimator {automl.best_estimator}, best validation loss {automl.best_loss:.5f}, "
        f"wrote {arguments.out}"
    )


if __name__ == "__main__":
    main()
