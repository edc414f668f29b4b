"""Majority-class baseline for the `digit-images` competition.

Usage: python baseline.py OUT_DIR   (a directory written by prepare.py)
Writes OUT_DIR/baseline_submission.csv and prints its accuracy against prepared/private/answers.csv.
"""

import sys
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score

ID, TARGET = "id", "label"

out = Path(sys.argv[1])
train = pd.read_csv(out / "prepared/public/train.csv")
test = pd.read_csv(out / "prepared/public/test.csv")
majority = int(train[TARGET].mode().iloc[0])
submission = pd.DataFrame({ID: test[ID], TARGET: majority})
submission.to_csv(out / "baseline_submission.csv", index=False, lineterminator="\n")

answers = pd.read_csv(out / "prepared/private/answers.csv")
merged = answers.merge(submission, on=ID, suffixes=("_true", "_pred"), validate="1:1")
score = accuracy_score(merged[f"{TARGET}_true"], merged[f"{TARGET}_pred"])
print(f"digit-images baseline (majority class {majority}): accuracy = {score:.4f}")
