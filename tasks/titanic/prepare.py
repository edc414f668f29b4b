"""Build the `titanic` competition from bokeh_sampledata's Titanic passenger list.

Usage: ml-master prepare tasks/titanic [--out OUT_DIR]

Source: bokeh_sampledata/_data/titanic_all.csv (1,313 passengers: name, class, age, sex, survived).
Random stratified 80/20 split with a fixed seed; PassengerId is assigned after shuffling.
"""

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from ml_master_recipe import package_file, write_competition

SEED = 42
HERE = Path(__file__).resolve().parent
ID = "PassengerId"
TARGET = "Survived"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="competition directory to write")
    out = parser.parse_args().out

    raw = pd.read_csv(package_file("bokeh_sampledata", "_data", "titanic_all.csv"))
    data = raw.rename(
        columns={"name": "Name", "class": "Class", "age": "Age", "sex": "Sex", "survived": TARGET}
    )[["Name", "Class", "Age", "Sex", TARGET]]
    data[TARGET] = data[TARGET].astype(int)

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
    print(f"titanic: train {len(train)} rows, test {len(test)} rows -> {out}")


if __name__ == "__main__":
    main()
