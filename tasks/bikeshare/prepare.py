"""Build the `bikeshare` competition from ISLP's Bikeshare data (Capital Bikeshare, Washington DC, 2011).

Usage: ml-master prepare tasks/bikeshare [--out OUT_DIR]

Source: ISLP/data/Bikeshare.csv, read with pandas (importing ISLP needs its dependencies, which the
managed environment leaves out). 8,645 hourly records of 2011. `casual` and `registered` are dropped
because they sum to the target `bikers`. The split is by time: the last 20% of the hours (in day, hour
order) are the test set. `id` numbers the hours in time order.
"""

import argparse
from pathlib import Path

import pandas as pd

from ml_master_recipe import package_file, write_competition

HERE = Path(__file__).resolve().parent
ID = "id"
TARGET = "bikers"
TEST_FRACTION = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="competition directory to write")
    out = parser.parse_args().out

    data = pd.read_csv(package_file("ISLP", "data", "Bikeshare.csv"))
    leaky = [c for c in ("casual", "registered") if c in data.columns]
    if len(leaky) == 2:
        assert (data["casual"] + data["registered"] == data[TARGET]).all()
    data = data.drop(columns=leaky)
    data = data.sort_values(["day", "hr"], kind="stable").reset_index(drop=True)
    data.insert(0, ID, range(1, len(data) + 1))

    n_test = round(len(data) * TEST_FRACTION)
    train = data.iloc[: len(data) - n_test].reset_index(drop=True)
    test = data.iloc[len(data) - n_test :].reset_index(drop=True)

    answers = test[[ID, TARGET]].copy()
    sample = answers.assign(**{TARGET: round(float(train[TARGET].mean()))})
    public_test = test.drop(columns=[TARGET])
    write_competition(out, HERE, train, public_test, sample, answers, id_column=ID, target=TARGET)
    first, last = test.iloc[0], test.iloc[-1]
    print(
        f"bikeshare: train {len(train)} rows, test {len(test)} rows "
        f"(test from day {first['day']} hr {first['hr']} to day {last['day']} hr {last['hr']}) -> {out}"
    )


if __name__ == "__main__":
    main()
