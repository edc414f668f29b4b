"""Training-mean baseline for the `bikeshare` competition.

Usage: python baseline.py OUT_DIR   (a directory written by prepare.py)
Predicts the mean of `bikers` over train.csv for every test hour, writes OUT_DIR/baseline_submission.csv
and prints its RMSLE against prepared/private/answers.csv.
"""

import sys
from pathlib import Path

import pandas as pd
from sklearn.metrics import root_mean_squared_log_error

ID, TARGET = "id", "bikers"

out = Path(sys.argv[1])
train = pd.read_csv(out / "prepared/public/train.csv")
test = pd.read_csv(out / "prepared/public/test.csv")
mean = float(train[TARGET].mean())
submission = pd.DataFrame({ID: test[ID], TARGET: mean})
submission.to_csv(out / "baseline_submission.csv", index=False, lineterminator="\n")

answers = pd.read_csv(out / "prepared/private/answers.csv")
merged = answers.merge(submission, on=ID, suffixes=("_true", "_pred"), validate="1:1")
score = root_mean_squared_log_error(merged[f"{TARGET}_true"], merged[f"{TARGET}_pred"])
print(f"bikeshare baseline (training mean {mean:.2f}): rmsle = {score:.4f}")
