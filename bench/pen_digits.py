"""Does a model trained on the built-in digits read real pen handwriting through the canvas?

Trains the CNN template exactly as the app does (its own settings, 3 epochs, each on 60,000 built-in
digits no earlier epoch saw; `real_digits.train_template`), then reads every drawing of ../shared/data/pen-dev (7,494
digits drawn with a pen on a tablet by 30 people, in the app's drawing format) through the
canvas's own path, `DrawingReader.classify`: the code behind the Draw panel and `netbuilder
predict --strokes`. Prints accuracy overall, per writer and per digit, the ten most common
confusions, writers 1-15 (the ones the generator was tuned looking at) against 16-30 (only
confirmed on), and the same model on the 5,000 real MNIST digits of ../shared/data/mnist-dev.

Pen-dev: "Pen-Based Recognition of Handwritten Digits", E. Alpaydin and F. Alimoglu (Bogazici
University), UCI Machine Learning Repository, CC BY 4.0.

    python bench/pen_digits.py                         # the app's digits (cached): 3 epochs of 60,000 new digits
    python bench/pen_digits.py --fresh-epochs 1        # as before generator v13's round: 3 epochs of the same 60,000
    python bench/pen_digits.py --picture misread.png   # and a contact sheet of the misread drawings
    python bench/pen_digits.py --fresh --train 20000 --epochs 2 --seeds 0,1   # quick A/B of a generator change
    python bench/pen_digits.py --seeds 0,1 --weights /tmp/cnn.pt   # and keep seed 0's model for the other benches

The contact sheet shows only writers 1-15: the held-out writers' drawings are never looked at.
`--fresh` generates the digits from the current code into a temporary cache (the app's cache
is keyed by the generator's version only, so it would hand back digits of an older edit).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from real_digits import TEMPLATES, real_digits, score, shared_data, train_template, write_png  # noqa: E402

from netbuilder.common.contracts import DIGITS_FRESH_EPOCHS, DIGITS_PER_EPOCH  # noqa: E402
from netbuilder.data.digits import load_digits  # noqa: E402
from netbuilder.data.strokes import Drawing, render  # noqa: E402
from netbuilder.inference.live import DrawingReader  # noqa: E402

PEN_DEV = shared_data("pen-dev") / "pen-dev.jsonl.gz"
TUNED_WRITERS = range(1, 16)  # the generator was tuned looking at these; 16-30 only confirm


def pen_dev() -> tuple[list[Drawing], np.ndarray, np.ndarray]:
    """The drawings, their digits and their writers."""
    drawings, labels, writers = [], [], []
    with gzip.open(PEN_DEV, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            drawings.append(Drawing.from_dict(record["drawing"], f"pen-dev line {len(drawings) + 1}"))
            labels.append(int(record["label"]))
            writers.append(int(record["writer"]))
    return drawings, np.array(labels), np.array(writers)


def contact_sheet(drawings: list[Drawing], labels: np.ndarray, read: np.ndarray, columns: int = 24,
                  cell: int = 64) -> np.ndarray:
    """Each misread drawing as it was drawn (dark ink on paper), its digit → what was read below it."""
    label_height, gap = 14, 4
    rows = max(1, -(-len(drawings) // columns))
    sheet = np.full((rows * (cell + label_height + gap) + gap, columns * (cell + gap) + gap), 255, np.uint8)
    for index, (drawing, truth, answer) in enumerate(zip(drawings, labels, read)):
        top = gap + (index // columns) * (cell + label_height + gap)
        left = gap + (index % columns) * (cell + gap)
        sheet[top:top + cell, left:left + cell] = 255 - render(drawing, (cell, cell))
        cv2.putText(sheet, f"{truth}>{answer}", (left + 12, top + cell + 11), cv2.FONT_HERSHEY_PLAIN, 0.9, 0, 1,
                    cv2.LINE_AA)
    return sheet


def report(labels: np.ndarray, writers: np.ndarray, read: np.ndarray) -> dict[str, float]:
    """Print the tables; return the overall, held-out and worst writer's accuracy."""
    correct = read == labels
    print(f"pen-dev: {correct.mean():.2%} of {len(labels):,} drawings read right")
    by_writer = {writer: correct[writers == writer].mean() for writer in sorted(set(writers.tolist()))}
    print("per writer: " + "  ".join(f"{writer}:{accuracy:.1%}" for writer, accuracy in by_writer.items()))
    print("per digit:  " + "  ".join(f"{digit}:{correct[labels == digit].mean():.1%}" for digit in range(10)))
    confusions = Counter(zip(labels[~correct].tolist(), read[~correct].tolist())).most_common(10)
    print("most common confusions (true → read: count): "
          + ", ".join(f"{truth}→{answer}: {count}" for (truth, answer), count in confusions))
    tuned = np.isin(writers, list(TUNED_WRITERS))
    print(f"writers 1-15 (tuned on): {correct[tuned].mean():.2%}   writers 16-30 (held out): "
          f"{correct[~tuned].mean():.2%}")
    return {"all": correct.mean(), "tuned": correct[tuned].mean(), "held_out": correct[~tuned].mean(),
            "worst": min(by_writer.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=DIGITS_PER_EPOCH,
                        help="built-in digits an epoch trains on (default: %(default)s, the app's)")
    parser.add_argument("--fresh-epochs", type=int, default=DIGITS_FRESH_EPOCHS,
                        help="epochs of digits generated, each epoch training on new ones (default: %(default)s, "
                        "the app's; 1: every epoch on the same digits)")
    parser.add_argument("--epochs", type=int, help="epochs (default: the template's, 3)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds of the built-in digits (default 0, "
                        "the app's); with several, each is reported and the last line has their means")
    parser.add_argument("--fresh", action="store_true", help="generate the digits from the current code "
                        "instead of reading the app's cache")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--picture", type=Path, metavar="PNG", help="contact sheet of the misread drawings "
                        "of writers 1-15 (of the last seed; 16-30 stay unseen)")
    parser.add_argument("--weights", type=Path, help="keep the first seed's trained weights in this file, for "
                        "close_calls.py and personal_handwriting.py --weights (they read the app's digit cache: "
                        "with a generator change, run this without --fresh)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="pen-digits-") as fresh_cache:
        if args.fresh:
            os.environ["NETBUILDER_CACHE_DIR"] = fresh_cache
        run(args)


def run(args: argparse.Namespace) -> None:
    drawings, labels, writers = pen_dev()
    mnist = real_digits()
    totals = []
    for seed in (int(seed) for seed in args.seeds.split(",")):
        started = time.perf_counter()
        digits = load_digits(train_size=args.train, val_size=min(10000, args.train // 5), seed=seed,
                             fresh_epochs=args.fresh_epochs)
        print(f"seed {seed}: {len(digits.train_x):,} built-in digits ({args.fresh_epochs} epoch(s) of {args.train:,}) "
              f"in {time.perf_counter() - started:.1f} s")
        model, dataset, task, seconds, epochs = train_template(TEMPLATES["cnn"], None, None, args.epochs, digits)
        print(f"trained the CNN template, {epochs} epoch(s), in {seconds:.0f} s")
        if args.weights and not totals:
            torch.save(model.state_dict(), args.weights)
        read = DrawingReader(model, dataset.recipe).classify(drawings).values
        figures = report(labels, writers, read)
        figures["mnist"] = score(model, dataset, mnist, task)["real"]
        print(f"real MNIST (mnist-dev, 5,000): {figures['mnist']:.2%}", flush=True)
        totals.append(figures)
    if args.picture:
        wrong = np.flatnonzero((read != labels) & np.isin(writers, list(TUNED_WRITERS)))
        write_png(args.picture, contact_sheet([drawings[i] for i in wrong], labels[wrong], read[wrong]))
        print(f"misread drawings: {args.picture}")
    mean = {name: float(np.mean([figures[name] for figures in totals])) for name in totals[0]}
    print(f"pen_dev_accuracy={100 * mean['all']:.2f}% worst_writer={100 * mean['worst']:.2f}% "
          f"mnist_dev={100 * mean['mnist']:.2f}%")


if __name__ == "__main__":
    main()
