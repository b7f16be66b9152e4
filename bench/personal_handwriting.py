"""Does fine-tuning on 5 drawings per digit teach the model a writer's handwriting, and at what cost?

For each writer of ../shared/data/pen-dev, the first 5 drawings of each digit become that person's
handwriting set, written through `HandwritingSet.add` into a folder as the Draw panel writes them;
the model (the CNN template trained 3 epochs on the built-in digits, bench/pen_setup.py) is then
fine-tuned with `FineTuning`, exactly as the panel's "Fine-tune on my handwriting" runs it, and
measured on that writer's remaining drawings (through the canvas path, as `predict --strokes`)
before and after. The cost to the other writers is the fine-tuned model's accuracy on all their
drawings against the model's before.

    python bench/personal_handwriting.py --weights /tmp/cnn.pt                # all 30 writers
    python bench/personal_handwriting.py --weights /tmp/cnn.pt --writers 1,2,3 # a few, while trying things

Ends with the line `personal_before=<x>% personal_after=<y>% fine_tune_s=<t>` (means over the
writers; t: seconds per fine-tuning run on this machine).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("NETBUILDER_DATA_DIR", tempfile.mkdtemp(prefix="netbuilder-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pen_setup import CNN_TEMPLATE, pen_digits, trained_cnn  # noqa: E402

from netbuilder.core.project import load_template  # noqa: E402
from netbuilder.data.handwriting import HandwritingSet  # noqa: E402
from netbuilder.training import fine_tune  # noqa: E402
from netbuilder.training.events import Finished  # noqa: E402
from netbuilder.training.fine_tune import FineTuning  # noqa: E402
from netbuilder.inference.live import DrawingReader  # noqa: E402

PER_DIGIT = 5


def accuracy(model: torch.nn.Module, inputs: torch.Tensor, labels: np.ndarray) -> float:
    with torch.inference_mode():
        predicted = torch.cat([model(inputs[start:start + 512]).argmax(1) for start in range(0, len(inputs), 512)])
    return float((predicted.numpy() == labels).mean()) if len(labels) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, help="keep the trained CNN's weights in this file, and reuse them")
    parser.add_argument("--writers", help="comma-separated writer numbers (default: all)")
    parser.add_argument("--epochs", type=int, help="try another number of fine-tuning epochs (default: the panel's)")
    parser.add_argument("--lr-factor", type=float, help="try another learning-rate factor (default: the panel's)")
    parser.add_argument("--digits", type=int, help="try another number of built-in digits mixed in (default: the panel's)")
    parser.add_argument("--train", type=int, help="train on the first N built-in digits only (smoke runs)")
    args = parser.parse_args()
    trained = trained_cnn(args.weights, args.train)
    if args.lr_factor is not None:
        fine_tune.LEARNING_RATE_FACTOR = args.lr_factor
    epochs = args.epochs or fine_tune.FINE_TUNE_EPOCHS
    reader = DrawingReader(trained.model, trained.recipe)
    digits = pen_digits()
    writers = sorted({digit.writer for digit in digits})
    if args.writers:
        writers = [int(writer) for writer in args.writers.split(",")]
    started = time.perf_counter()
    inputs = reader.inputs([digit.drawing for digit in digits])
    labels = np.array([digit.label for digit in digits])
    writer_of = np.array([digit.writer for digit in digits])
    print(f"{len(digits):,} pen-dev drawings of {len(set(writer_of))} writers read in "
          f"{time.perf_counter() - started:.1f} s; fine-tuning: {epochs} epochs, lr x{fine_tune.LEARNING_RATE_FACTOR}, "
          f"{args.digits or fine_tune.FINE_TUNE_DIGITS} built-in digits mixed in")
    project = load_template(CNN_TEMPLATE)
    print(f"{'writer':>6} {'before':>7} {'after':>7} {'others before':>13} {'after':>7} {'held-out in set':>16} "
          f"{'seconds':>7}")
    results = []
    for writer in writers:
        mine = np.flatnonzero(writer_of == writer)
        chosen = np.concatenate([mine[labels[mine] == digit][:PER_DIGIT] for digit in range(10)])
        test = np.setdiff1d(mine, chosen)
        others = np.flatnonzero(writer_of != writer)
        with tempfile.TemporaryDirectory(prefix="handwriting-") as folder:
            handwriting = HandwritingSet(Path(folder))
            for index in chosen:
                handwriting.add(digits[index].drawing, int(labels[index]))
            run = FineTuning(trained.model, trained.recipe, project, folder=Path(folder), epochs=epochs,
                             digits_size=args.digits or fine_tune.FINE_TUNE_DIGITS)
            tuning_started = time.perf_counter()
            finished = [event for event in run.events() if isinstance(event, Finished)][-1]
            seconds = time.perf_counter() - tuning_started
        if run.result is None:
            raise SystemExit(f"writer {writer}: fine-tuning failed: {finished.message}")
        tuned = run.result.model.eval()
        result = (accuracy(trained.model, inputs[test], labels[test]), accuracy(tuned, inputs[test], labels[test]),
                  accuracy(trained.model, inputs[others], labels[others]),
                  accuracy(tuned, inputs[others], labels[others]), seconds)
        results.append(result)
        print(f"{writer:>6} {result[0]:>7.1%} {result[1]:>7.1%} {result[2]:>13.1%} {result[3]:>7.1%} "
              f"{f'{run.result.before:.0%} -> {run.result.after:.0%}':>16} {seconds:>7.1f}  {finished.message}",
              flush=True)
    before, after, others_before, others_after, seconds = np.mean(results, axis=0)
    print(f"mean over {len(results)} writers: own drawings {before:.2%} -> {after:.2%}; other writers "
          f"{others_before:.2%} -> {others_after:.2%} ({100 * (others_after - others_before):+.2f} points; "
          f"worst writer {100 * min(r[3] - r[2] for r in results):+.2f}); {seconds:.1f} s per fine-tuning")
    print(f"personal_before={100 * before:.1f}% personal_after={100 * after:.1f}% fine_tune_s={seconds:.1f}")


if __name__ == "__main__":
    main()
