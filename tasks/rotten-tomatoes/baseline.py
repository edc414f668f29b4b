"""Logistic-regression baseline for the `rotten-tomatoes` competition.

Usage: python baseline.py OUT_DIR   (a directory written by prepare.py)
Fits a logistic regression on TF-IDF word unigrams and bigrams of `text`, writes
OUT_DIR/baseline_submission.csv (P(fresh = 1)) and prints its ROC AUC against prepared/private/answers.csv.
"""

import sys
from pathlib import Path

import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

ID, TARGET = "id", "fresh"

out = Path(sys.argv[1])
train = pd.read_csv(out / "prepared/public/train.csv")
test = pd.read_csv(out / "prepared/public/test.csv")
model = make_pipeline(
    TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
    LogisticRegression(max_iter=1000),
)
model.fit(train["text"], train[TARGET])
submission = pd.DataFrame({ID: test[ID], TARGET: model.predict_proba(test["text"])[:, 1]})
submission.to_csv(out / "baseline_submission.csv", index=False, lineterminator="\n")

answers = pd.read_csv(out / "prepared/private/answers.csv")
merged = answers.merge(submission, on=ID, suffixes=("_true", "_pred"), validate="1:1")
score = roc_auc_score(merged[f"{TARGET}_true"], merged[f"{TARGET}_pred"])
print(f"rotten-tomatoes baseline (TF-IDF + logistic regression): roc_auc = {score:.4f}")
