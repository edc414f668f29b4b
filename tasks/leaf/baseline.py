"""Class-prior baseline for the `leaf` competition.

Usage: python baseline.py OUT_DIR   (a directory written by prepare.py)
Predicts every test leaf with the species frequencies of train.csv, writes OUT_DIR/baseline_submission.csv
and prints its multi-class log loss against prepared/private/answers.csv (and that of the uniform
sample submission, for comparison).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss

ID, TARGET = "id", "species"

out = Path(sys.argv[1])
train = pd.read_csv(out / "prepared/public/train.csv")
test = pd.read_csv(out / "prepared/public/test.csv")
sample = pd.read_csv(out / "prepared/public/sample_submission.csv")
classes = [c for c in sample.columns if c != ID]
prior = train[TARGET].value_counts(normalize=True).reindex(classes, fill_value=0.0)
submission = pd.DataFrame({ID: test[ID]})
for c in classes:
    submission[c] = prior[c]
submission.to_csv(out / "baseline_submission.csv", index=False, lineterminator="\n")

answers = pd.read_csv(out / "prepared/private/answers.csv")


def score(predictions: pd.DataFrame) -> float:
    pred = answers[[ID]].merge(predictions, on=ID, validate="1:1")[classes].to_numpy(dtype=float)
    pred = pred / pred.sum(axis=1, keepdims=True)
    truth = np.argmax(answers[classes].to_numpy(), axis=1)
    return log_loss(truth, pred, labels=list(range(len(classes))))


print(
    f"leaf baseline (train class priors): log_loss = {score(submission):.4f}; "
    f"uniform sample submission: log_loss = {score(sample):.4f}"
)
