"""Where should "7 or 2?" replace a confident answer? Calibrating `data.certainty.CLOSE_CALL_MARGIN`.

The CNN template trained 3 epochs on the built-in digits (bench/pen_setup.py) reads every
../shared/data/pen-dev drawing through the canvas path (as `predict --strokes` and the Draw
panel). For each margin, a close call is an answer whose two most probable classes are within it;
the table gives the share of wrong answers flagged (to be high) and of right answers flagged (to be
low), on writers 1-15 (where the margin is chosen) and 16-30 (to confirm it holds on writers it was
not chosen on).

    python bench/close_calls.py --weights /tmp/cnn.pt

Ends with the line `close_call_margin=<m> flagged_errors=<x>% flagged_correct=<y>%` for the
product's margin on writers 16-30.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("NETBUILDER_DATA_DIR", tempfile.mkdtemp(prefix="netbuilder-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pen_setup import pen_digits, trained_cnn  # noqa: E402

from netbuilder.data import certainty  # noqa: E402
from netbuilder.inference.live import DrawingReader  # noqa: E402

MARGINS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8)
TUNING_WRITERS = range(1, 16)


def flagged_shares(probabilities: np.ndarray, labels: np.ndarray, margin: float) -> tuple[float, float]:
    """(share of the wrong answers flagged, share of the right answers flagged) at this margin."""
    saved = certainty.CLOSE_CALL_MARGIN
    certainty.CLOSE_CALL_MARGIN = margin
    try:
        flagged = np.array([certainty.close_call(row) is not None for row in probabilities])
    finally:
        certainty.CLOSE_CALL_MARGIN = saved
    wrong = probabilities.argmax(axis=1) != labels
    return float(flagged[wrong].mean()) if wrong.any() else 0.0, float(flagged[~wrong].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, help="keep the trained CNN's weights in this file, and reuse them")
    parser.add_argument("--train", type=int, help="train on the first N built-in digits only (smoke runs)")
    args = parser.parse_args()
    trained = trained_cnn(args.weights, args.train)
    digits = pen_digits()
    probabilities = DrawingReader(trained.model, trained.recipe).classify([d.drawing for d in digits]).probabilities
    labels = np.array([digit.label for digit in digits])
    tuning = np.isin([digit.writer for digit in digits], TUNING_WRITERS)
    groups = {"writers 1-15": tuning, "writers 16-30": ~tuning}
    for name, rows in groups.items():
        print(f"{name}: {rows.sum():,} drawings, {np.mean(probabilities[rows].argmax(1) == labels[rows]):.2%} read right")
    print(f"{'margin':>6}  " + "  ".join(f"{name + ': errors / right flagged':>38}" for name in groups))
    for margin in sorted({*MARGINS, certainty.CLOSE_CALL_MARGIN}):
        shares = [flagged_shares(probabilities[rows], labels[rows], margin) for rows in groups.values()]
        mark = "  <- the product's" if margin == certainty.CLOSE_CALL_MARGIN else ""
        print(f"{margin:>6.2f}  " + "  ".join(f"{errors:>27.1%} / {right:>7.1%}" for errors, right in shares) + mark)
    errors, right = flagged_shares(probabilities[~tuning], labels[~tuning], certainty.CLOSE_CALL_MARGIN)
    print(f"close_call_margin={certainty.CLOSE_CALL_MARGIN:g} flagged_errors={100 * errors:.1f}% "
          f"flagged_correct={100 * right:.1f}%")


if __name__ == "__main__":
    main()
