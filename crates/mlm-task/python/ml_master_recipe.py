"""Helpers for task recipes: finding data shipped inside installed packages and writing a competition
directory in MLE-bench's prepared layout.

`ml-master prepare` (and `ml-master run --task <recipe>`) makes this module importable in a recipe's
`prepare.py`:

    from ml_master_recipe import package_file, write_competition

The module is part of every recipe's fingerprint: a change here prepares every recipe again.
"""

import importlib.util
import shutil
from pathlib import Path

import pandas as pd


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


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # One line ending on every platform, so that a recipe prepares the same bytes everywhere.
    frame.to_csv(path, index=False, lineterminator="\n")


def write_competition(
    out: Path,
    recipe_dir: Path,
    train: pd.DataFrame,
    test: pd.DataFrame,
    sample: pd.DataFrame,
    answers: pd.DataFrame,
    *,
    id_column: str,
    target: str,
) -> None:
    """Write the MLE-bench layout under `out`, replacing what an earlier run wrote.

    `out/prepared/public/` gets description.md (from the recipe), train.csv, test.csv and
    sample_submission.csv; `out/prepared/private/answers.csv` the answers; `out/` the recipe's task.toml
    and, when it has one, baseline.py. The tables are checked first: the test set must not hold the
    target, the sample submission and the answers must have the same columns and the test set's ids in
    the same order, and no id may be in both train and test.
    """
    if target in test.columns:
        raise SystemExit(f"the test set holds the target column {target!r}")
    if list(sample.columns) != list(answers.columns):
        raise SystemExit(
            f"the sample submission's columns {list(sample.columns)} differ from the answers' "
            f"{list(answers.columns)}"
        )
    if not test[id_column].tolist() == sample[id_column].tolist() == answers[id_column].tolist():
        raise SystemExit(
            f"test, sample submission and answers must list the same {id_column!r} values in order"
        )
    shared = set(train[id_column]) & set(test[id_column])
    if shared:
        raise SystemExit(
            f"{len(shared)} {id_column!r} values are in both train and test, e.g. {sorted(shared)[:5]}"
        )
    recipe_dir = Path(recipe_dir).resolve()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "prepared", ignore_errors=True)
    public, private = out / "prepared" / "public", out / "prepared" / "private"
    public.mkdir(parents=True)
    private.mkdir(parents=True)
    for name in ("task.toml", "baseline.py"):
        source = recipe_dir / name
        if source.is_file() and (out / name).resolve() != source:
            shutil.copyfile(source, out / name)
    shutil.copyfile(recipe_dir / "description.md", public / "description.md")
    _write_csv(train, public / "train.csv")
    _write_csv(test, public / "test.csv")
    _write_csv(sample, public / "sample_submission.csv")
    _write_csv(answers, private / "answers.csv")
