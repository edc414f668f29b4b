"""AutoGluon Tabular as a baseline for `ml-master bench --baseline autogluon`.

Usage:
    python autogluon_tabular.py --public DIR --id-column COL --metric NAME --time-budget SECS
                                --n-jobs N --seed K --out FILE

Reads DIR/train.csv, DIR/test.csv and DIR/sample_submission.csv (MLE-bench's public layout), fits an
AutoGluon TabularPredictor for SECS seconds on N cores and no GPU, and writes a submission with the sample
submission's columns to FILE. It never reads the private answers: ml-master grades FILE. The models are
saved in a temporary folder beside FILE, removed once the predictions are written.

How the task is read (as the FLAML script reads it):
- target columns are the sample submission's columns minus the id column; when the only target column
  is in train.csv it is the label, otherwise (one probability column per class, as in `leaf`) the label is
  the one column train.csv has beyond test.csv and the id;
- the features are test.csv's columns minus the id; text columns stay text, since AutoGluon's feature
  generator turns them into n-gram features itself.

Preset: medium_quality. best_quality and high_quality bag every model over 8 folds and stack a second
layer, which needs far more than a bench budget (300 s on 2 cores fits about one bagged model on a
mid-sized task, and AutoGluon's own guidance for best_quality is hours); medium_quality fits each model
family once on a holdout and ensembles them, which is what fits the runs' budget. Its neural networks
(NN_TORCH, FASTAI) are left out: the autogluon profile holds no torch.

Seed: AutoGluon's models take their fixed default seed (0); --seed seeds numpy.

Metric mapping (ml-master name -> AutoGluon): accuracy, roc_auc, log_loss, f1, f1_micro, f1_macro as
themselves; rmse -> root_mean_squared_error, mae -> mean_absolute_error; rmsle -> root_mean_squared_error
on log1p(target), predictions expm1'd; quadratic_weighted_kappa -> quadratic_kappa (multiclass);
pearson -> pearsonr, spearman -> spearmanr. Anything else (mcrmse, map@K) exits with code 3 and says so.
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

import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# ml-master metric -> (AutoGluon metric, what the submission holds: class labels or probabilities).
CLASSIFICATION_METRICS = {
    "accuracy": ("accuracy", "label"),
    "roc_auc": ("roc_auc", "proba"),
    "log_loss": ("log_loss", "proba"),
    "f1": ("f1", "label"),
    "f1_micro": ("f1_micro", "label"),
    "f1_macro": ("f1_macro", "label"),
    "quadratic_weighted_kappa": ("quadratic_kappa", "label"),
}
REGRESSION_METRICS = {
    "rmse": "root_mean_squared_error",
    "mae": "mean_absolute_error",
    "rmsle": "root_mean_squared_error",
    "pearson": "pearsonr",
    "spearman": "spearmanr",
}
PRESET = "medium_quality"
# The profile holds no torch (its CUDA wheel is about 5 GB), so the preset's two neural networks are left
# out instead of failing to import in every fit.
NEURAL_NETWORKS = ["NN_TORCH", "FASTAI"]


def fail(message, code=3):
    print(f"autogluon_tabular: {message}", file=sys.stderr)
    sys.exit(code)


def parse_arguments():
    parser = argparse.ArgumentParser(description="AutoGluon Tabular baseline")
    parser.add_argument("--public", required=True)
    parser.add_argument("--id-column", required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--time-budget", type=float, required=True)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    return parser.parse_args()


def problem_type(metric, label):
    if metric in REGRESSION_METRICS:
        return "regression"
    if metric == "quadratic_weighted_kappa" or label.nunique() > 2:
        return "multiclass"
    return "binary"


def main():
    arguments = parse_arguments()
    metric = arguments.metric
    if metric not in CLASSIFICATION_METRICS and metric not in REGRESSION_METRICS:
        fail(f"metric `{metric}` has no AutoGluon counterpart here")
    try:
        from autogluon.tabular import TabularPredictor
    except ImportError:
        fail("AutoGluon is not installed; run `ml-master env setup --profile autogluon`", code=2)
    # Its GPU probe imports torch and logs an error at every model without it; no GPU is asked for.
    logging.getLogger("autogluon.common.utils.resource_utils").setLevel(logging.CRITICAL)
    np.random.seed(arguments.seed)
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
    names = [c for c in test.columns if c != id_column and c in train.columns]
    data = train[names + [label]].copy()
    if metric == "rmsle":
        data[label] = np.log1p(data[label].astype(float).clip(lower=0))
    x_test = test[names]

    kind = problem_type(metric, data[label])
    eval_metric = (
        CLASSIFICATION_METRICS[metric][0] if metric in CLASSIFICATION_METRICS else REGRESSION_METRICS[metric]
    )
    folder = os.path.dirname(os.path.abspath(arguments.out))
    models = tempfile.mkdtemp(prefix="autogluon-models-", dir=folder)
    try:
        predictor = TabularPredictor(
            label=label,
            eval_metric=eval_metric,
            problem_type=kind,
            path=os.path.join(models, "predictor"),
            verbosity=1,
        )
        predictor.fit(
            data,
            time_limit=arguments.time_budget,
            presets=PRESET,
            num_cpus=arguments.n_jobs,
            num_gpus=0,
            excluded_model_types=NEURAL_NETWORKS,
        )
        submission = pd.DataFrame({id_column: test[id_column]})
        if metric in CLASSIFICATION_METRICS and CLASSIFICATION_METRICS[metric][1] == "proba":
            probabilities = predictor.predict_proba(x_test, as_multiclass=True)
            probabilities.columns = [str(c) for c in probabilities.columns]
            if len(targets) == 1:
                # One column: the probability of the positive class (the larger label, as FLAML's).
                submission[targets[0]] = np.clip(
                    probabilities[str(predictor.positive_class)].to_numpy(), 1e-15, 1.0
                )
            else:
                matrix = np.stack(
                    [
                        probabilities[t].to_numpy() if t in probabilities else np.full(len(probabilities), 1e-15)
                        for t in targets
                    ],
                    axis=1,
                )
                matrix = np.clip(matrix, 1e-15, 1.0)
                matrix = matrix / matrix.sum(axis=1, keepdims=True)
                for index, target in enumerate(targets):
                    submission[target] = matrix[:, index]
        else:
            predictions = predictor.predict(x_test)
            if metric == "rmsle":
                predictions = np.clip(np.expm1(predictions.to_numpy(dtype=float)), 0, None)
            submission[targets[0]] = np.asarray(predictions)
        submission.to_csv(arguments.out, index=False, lineterminator="\n")
        leaderboard = predictor.leaderboard(silent=True)
        print(
            f"autogluon: preset {PRESET}, {len(leaderboard)} model(s), best {predictor.model_best} "
            f"(validation {eval_metric} {leaderboard['score_val'].max():.5f}, higher is better), "
            f"wrote {arguments.out}"
        )
    finally:
        shutil.rmtree(models, ignore_errors=True)


if __name__ == "__main__":
    main()
