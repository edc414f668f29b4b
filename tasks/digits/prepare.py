"""Build the `digits` competition from scikit-learn's bundled 8x8 handwritten digits (load_digits).

Usage: python prepare.py --out OUT_DIR

Source: sklearn.datasets.load_digits() (bundled with scikit-learn, no download): 1,797 images of 8x8
pixels with intensities 0..16, flattened row by row to pixel0..pixel63. Random 80/20 split, stratified
on the label, with a fixed seed; `id` is assigned after shuffling.
"""

import argparse
import shutil
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 42
HERE = Path(__file__).resolve().parent
ID = "id"
TARGET = "label"


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def write_competition(out: Path, train, test, sample, answers) -> None:
    """Write the MLE-bench layout under `out`, replacing what an earlier run wrote."""
    assert TARGET not in test.columns
    assert list(sample.columns) == list(answers.columns)
    assert test[ID].tolist() == sample[ID].tolist() == answers[ID].tolist()
    assert not set(train[ID]) & set(test[ID])
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "prepared", ignore_errors=True)
    public, private = out / "prepared" / "public", out / "prepared" / "private"
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    for name in ("task.toml", "baseline.py"):
        if (out / name).resolve() != HERE / name:
            shutil.copyfile(HERE / name, out / name)
    shutil.copyfile(HERE / "description.md", public / "description.md")
    write_csv(train, public / "train.csv")
    write_csv(test, public / "test.csv")
    write_csv(sample, public / "sample_submission.csv")
    write_csv(answers, private / "answers.csv")


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
    write_competition(out, train, test.drop(columns=[TARGET]), sample, answers)
    print(f"digits: train {len(train)} rows, test {len(test)} rows -> {out}")


if __name__ == "__main__":
    main()
