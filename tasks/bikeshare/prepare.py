"""Build the `bikeshare` competition from ISLP's Bikeshare data (Capital Bikeshare, Washington DC, 2011).

Usage: python prepare.py --out OUT_DIR

Source: ISLP/data/Bikeshare.csv, read with pandas (importing ISLP needs its dependencies, which the
managed environment leaves out). 8,645 hourly records of 2011. `casual` and `registered` are dropped
because they sum to the target `bikers`. The split is by time: the last 20% of the hours (in day, hour
order) are the test set. `id` numbers the hours in time order.
"""

import argparse
import importlib.util
import shutil
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ID = "id"
TARGET = "bikers"
TEST_FRACTION = 0.2


def package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {package!r} is not installed")
    for location in spec.submodule_search_locations:
        path = Path(location, *parts)
        if path.is_file():
            return path
    raise SystemExit(f"{'/'.join(parts)} not found in package {package!r}")


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
    write_competition(out, train, test.drop(columns=[TARGET]), sample, answers)
    first, last = test.iloc[0], test.iloc[-1]
    print(
        f"bikeshare: train {len(train)} rows, test {len(test)} rows "
        f"(test from day {first['day']} hr {first['hr']} to day {last['day']} hr {last['hr']}) -> {out}"
    )


if __name__ == "__main__":
    main()
