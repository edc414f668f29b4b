"""Build the `digits` competition from scikit-learn's bundled 8x8 handwritten digits (load_digits).

Usage: ml-master prepare tasks/digits [--out OUT_DIR]

Source: sklearn.datasets.load_digits() (bundled with scikit-learn, no download): 1,797 images of 8x8
pixels with intensities 0..16, flattened row by row to pixel0..pixel63. Random 80/20 split, stratified
on the label, with a fixed seed; `id` is assigned after shuffling.
"""

import argparse
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ml_master_recipe import write_competition

SEED = 42
HERE = Path(__file__).resolve().parent
ID = "id"
TARGET = "label"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="competition directory to write")
    out = parser.parse_args().out

    digits = load_digits()
    pixels = digits.data.astype(int)
    assert (pixels == digits.data).all()
    data = pd.DataFrame(pixels, columns=[f"pixel{i}" for i in range(pixels.shape[1])])
    data[TARGET] = digits.target.astype(int)

    train, test = train_test_split(data, test_size=0.2, random_state=SEED, stratify=data[TARGET])
    train = train.reset_index(drop=True)
    test = test.reset_index(drop=True)
    train.insert(0, ID, range(1, len(train) + 1))
    test.insert(0, ID, range(len(train) + 1, len(train) + len(test) + 1))

    majority = int(train[TARGET].mode().iloc[0])
    answers = test[[ID, TARGET]].copy()
    sample = answers.assign(**{TARGET: majority})
    public_test = test.drop(columns=[TARGET])
    write_competition(out, HERE, train, public_test, sample, answers, id_column=ID, target=TARGET)
    print(f"digits: train {len(train)} rows, test {len(test)} rows -> {out}")


if __name__ == "__main__":
    main()
