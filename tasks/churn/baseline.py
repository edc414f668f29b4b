"""Logistic-regression baseline for the `churn` competition.

Usage: python baseline.py OUT_DIR   (a directory written by prepare.py)
One-hot encodes the text columns, standardizes the numeric ones, fits a logistic regression, writes
OUT_DIR/baseline_submission.csv (P(churn = 1)) and prints its ROC AUC against prepared/private/answers.csv.
"""

import sys
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

ID, TARGET = "id", "churn"

out = Path(sys.argv[1])
train = pd.read_csv(out / "prepared/public/train.csv")
test = pd.read_csv(out / "prepared/public/test.csv")
features = [c for c in test.columns if c != ID]
categorical = [c for c in features if not pd.api.types.is_numeric_dtype(train[c])]
numeric = [c for c in features if c not in categorical]
model = make_pipeline(
    ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
            ("num", StandardScaler(), numeric),
        ]
    ),
    LogisticRegression(max_iter=1000),
)
model.fit(train[features], train[TARGET])
submission = pd.DataFrame({ID: test[ID], TARGET: model.predict_proba(test[features])[:, 1]})
submission.to_csv(out / "baseline_submission.csv", index=False, lineterminator="\n")

answers = pd.read_csv(out / "prepared/private/answers.csv")
merged = answers.merge(submission, on=ID, suffixes=("_true", "_pred"), validate="1:1")
score = roc_auc_score(merged[f"{TARGET}_true"], merged[f"{TARGET}_pred"])
print(f"churn baseline (logistic regression): roc_auc = {score:.4f}")
