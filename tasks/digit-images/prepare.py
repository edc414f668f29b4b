"""Build the `digit-images` competition: scikit-learn's bundled 8x8 handwritten digits (load_digits)
written as PNG files, the way MLE-bench's image competitions ship their data.

Usage: ml-master prepare tasks/digit-images [--out OUT_DIR]

Source: sklearn.datasets.load_digits() (bundled with scikit-learn, no download): 1,797 images of 8x8
pixels with intensities 0..16. Each is upscaled three times (24x24, bilinear) and pasted at a random
place on a black 32x32 canvas, as a photographed digit is rarely centred; intensities become 0..255.
Random 80/20 split, stratified on the label, with a fixed seed; `id` is assigned after shuffling and
names the file: `train/<id>.png`, `test/<id>.png`.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
import pandas as pd

from ml_master_recipe import write_competition

SEED = 42
HERE = Path(__file__).resolve().parent
ID = "id"
TARGET = "label"
DIGIT_SIDE = 24
CANVAS_SIDE = 32


def picture(pixels: np.ndarray, rng: np.random.Generator) -> Image.Image:
    digit = Image.fromarray((pixels.reshape(8, 8) * (255 / 16)).astype(np.uint8), mode="L")
    digit = digit.resize((DIGIT_SIDE, DIGIT_SIDE), Image.BILINEAR)
    canvas = Image.new("L", (CANVAS_SIDE, CANVAS_SIDE), 0)
    left, top = rng.integers(0, CANVAS_SIDE - DIGIT_SIDE + 1, size=2)
    canvas.paste(digit, (int(left), int(top)))
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="competition directory to write")
    out = parser.parse_args().out

    digits = load_digits()
    rng = np.random.default_rng(SEED)
    data = pd.DataFrame({TARGET: digits.target.astype(int), "row": range(len(digits.target))})
    train, test = train_test_split(data, test_size=0.2, random_state=SEED, stratify=data[TARGET])
    train = train.reset_index(drop=True)
    test = test.reset_index(drop=True)
    train.insert(0, ID, range(1, len(train) + 1))
    test.insert(0, ID, range(len(train) + 1, len(train) + len(test) + 1))

    majority = int(train[TARGET].mode().iloc[0])
    answers = test[[ID, TARGET]].copy()
    sample = answers.assign(**{TARGET: majority})
    write_competition(
        out, HERE, train[[ID, TARGET]], test[[ID]], sample, answers, id_column=ID, target=TARGET
    )
    public = out / "prepared" / "public"
    for split, frame in (("train", train), ("test", test)):
        folder = public / split
        folder.mkdir()
        for identifier, row in zip(frame[ID], frame["row"]):
            picture(digits.data[row], rng).save(folder / f"{identifier}.png", optimize=False)
    print(f"digit-images: train {len(train)} images, test {len(test)} images -> {out}")


if __name__ == "__main__":
    main()
