"""Do models trained on the built-in digits read real handwriting?

Trains the CNN, MLP and Row-LSTM templates exactly as the app would (netbuilder's trainer with
each template's own settings: Adam on a cosine schedule, batch 64, 3 epochs, no augmentation; lr
1e-3, except the CNN's 3e-3 with label smoothing 0.1) on the built-in handwriting digits only,
then measures accuracy on their own validation set and on 5,000 real MNIST test digits that
nothing here is fitted to (../shared/data/mnist-dev). The real digits are reported whole and as
two halves (the first 2,500 and the last 2,500): the generator was tuned looking only at the
first half, so a gap between the halves would show overfitting. Also times the generator and
can draw the preview grid of the README.

    python bench/real_digits.py                  # full run: 3 epochs, each on 60,000 new training digits
    python bench/real_digits.py --quick          # smoke run: 5,000 training digits, 1 epoch
    python bench/real_digits.py --seeds 0,1,2    # the same on three sets of built-in digits, and the mean
    python bench/real_digits.py --preview docs/digits-preview.png --models ""
    git show b86fda8:netbuilder/data/digits.py > /tmp/digits_v8.py
    python bench/real_digits.py --models "" --compare-with /tmp/digits_v8.py   # generator speed, side by side
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netbuilder.core.project import load_template  # noqa: E402
from netbuilder.data.base import Dataset  # noqa: E402
from netbuilder.data.digits import CLASS_NAMES, generate_digits, load_digits  # noqa: E402
from netbuilder.data.fit import fit_to_input  # noqa: E402
from netbuilder.data.idx import read_idx  # noqa: E402
from netbuilder.data.recipe import digit_recipe, input_pictures, model_inputs  # noqa: E402
from netbuilder.training.events import Finished  # noqa: E402
from netbuilder.training.metrics import evaluate  # noqa: E402
from netbuilder.training.trainer import Trainer, prepare  # noqa: E402



def shared_data(name: str) -> Path:
    """../shared/data/<name> beside the checkout (a main checkout or a worktree one level deeper)."""
    for folder in Path(__file__).resolve().parents[1:]:
        if (folder / "shared" / "data" / name).exists():
            return folder / "shared" / "data" / name
    raise SystemExit(f"shared/data/{name} is not beside this checkout")


REAL_DIGITS = shared_data("mnist-dev")
TEMPLATES = {"cnn": "2-cnn", "mlp": "1-mlp", "lstm": "4-row-lstm"}
TIMED_SAMPLES = 20000


def real_digits() -> Dataset:
    """The 5,000 real MNIST test digits, read through the digit recipe as MNIST is (all in val_x)."""
    images = read_idx(REAL_DIGITS / "dev5k-images-idx3-ubyte.gz")
    labels = read_idx(REAL_DIGITS / "dev5k-labels-idx1-ubyte.gz")
    x = model_inputs(digit_recipe(CLASS_NAMES), images)
    y = torch.from_numpy(labels.astype(np.int64))
    return Dataset(name="mnist-dev", kind="image", train_x=x[:0], train_y=y[:0], val_x=x, val_y=y,
                   class_names=list(CLASS_NAMES))


def train_template(template: str, train_size: int | None, val_size: int | None,
                   epochs: int | None, digits: Dataset | None = None):
    """(trained model, the digits it saw shaped for its Input, task, training seconds, epochs).

    The project, model and data come from netbuilder's own `prepare`, as in `netbuilder train`;
    smaller sizes take the first samples of the default sets, and `digits` replaces them entirely.
    """
    project = load_template(template)
    if epochs is not None:
        project.training = project.training.replace(epochs=epochs)
    model, dataset, task = prepare(project, "digits", dataset=digits)
    dataset = replace(dataset, train_x=dataset.train_x[:train_size], train_y=dataset.train_y[:train_size],
                      val_x=dataset.val_x[:val_size], val_y=dataset.val_y[:val_size])
    started = time.perf_counter()
    for event in Trainer(model, dataset, project.training, task).run():
        if isinstance(event, Finished) and event.reason != "completed":
            raise SystemExit(f"{template}: training ended early ({event.reason}): {event.message}")
    seconds = time.perf_counter() - started
    return model, dataset, task, seconds, project.training.epochs


def score(model, dataset: Dataset, real: Dataset, task) -> dict[str, float]:
    """Accuracy on the model's own validation digits and on the real ones (all, first and second half)."""
    real = fit_to_input(real, dataset.sample_shape, token_ids=False)
    predictions = evaluate(model, real.val_x, real.val_y, task).predictions
    correct = predictions == real.val_y.numpy()
    half = len(correct) // 2
    return {"own": evaluate(model, dataset.val_x, dataset.val_y, task).accuracy,
            "real": correct.mean(), "real_a": correct[:half].mean(), "real_b": correct[half:].mean()}


def picture_sheet(rows: list[np.ndarray], columns: int, zoom: int = 3) -> np.ndarray:
    """Rows of up to `columns` 28×28 pictures (white ink on black), drawn as dark ink on paper with
    each pixel zoom×zoom."""
    gap, side = 4, 28 * zoom
    sheet = np.full((len(rows) * (side + gap) + gap, columns * (side + gap) + gap), 255, np.uint8)
    for row, pictures in enumerate(rows):
        for column, picture in enumerate(pictures[:columns]):
            top, left = gap + row * (side + gap), gap + column * (side + gap)
            sheet[top:top + side, left:left + side] = cv2.resize(255 - picture, (side, side),
                                                                 interpolation=cv2.INTER_NEAREST)
    return sheet


def preview_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 16) -> np.ndarray:
    """Rows 0-9 of `per_class` digits each."""
    return picture_sheet([images[labels == digit] for digit in range(10)], per_class)


def upright_rows(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Two digits of each class as the generator drew them (top row), and below each the same digit
    as the digit recipe hands it to a model, stood upright and softened."""
    chosen = np.concatenate([np.flatnonzero(labels == digit)[:2] for digit in range(10)])
    recipe = digit_recipe(CLASS_NAMES)
    read = np.round(input_pictures(recipe, model_inputs(recipe, images[chosen])) * 255).astype(np.uint8)
    return picture_sheet([images[chosen], read], len(chosen))


def write_png(path: Path, image: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise SystemExit(f"{path}: the preview could not be encoded as PNG")
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False)
    with handle:
        handle.write(encoded.tobytes())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)


def compare_generators(older: Path, rounds: int = 5, count: int = 1000) -> None:
    """CPU seconds of this generator and of an older copy of digits.py drawing the same number of
    digits in one process, in turns (so a busy machine slows both alike); the best round of each."""
    from netbuilder.data import digits

    spec = importlib.util.spec_from_file_location("older_digits", older)
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old  # dataclasses look their module up while the file runs
    spec.loader.exec_module(old)
    best = {}
    for _ in range(rounds):
        for name, module in (("older", old), ("this", digits)):
            rng = np.random.default_rng(0)
            started = time.process_time()
            for index in range(count):
                module._render_digit(index % 10, rng)
            best[name] = min(best.get(name, math.inf), time.process_time() - started)
    print(f"generator CPU time for {count:,} digits, best of {rounds}: older {best['older']:.2f} s, this "
          f"{best['this']:.2f} s, ratio {best['this'] / best['older']:.2f}")


def row(result: dict[str, float]) -> str:
    """The accuracy columns of one line of the table."""
    return f"{result['own']:>8.2%} {result['real']:>8.2%} {result['real_a']:>7.2%} {result['real_b']:>7.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 training digits and 1 epoch, for smoke runs")
    parser.add_argument("--train", type=int, help="use only the first N training digits")
    parser.add_argument("--val", type=int, help="use only the first N validation digits")
    parser.add_argument("--epochs", type=int, help="epochs (default: the template's, 3; quick 1)")
    parser.add_argument("--models", default="cnn,mlp,lstm", help="comma-separated: cnn, mlp, lstm (or none)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds of the built-in digits (default 0, "
                        "the app's); figures move by a few tenths of a point between seeds, so compare means")
    parser.add_argument("--preview", type=Path, metavar="PNG", help="also draw 10 rows × 16 digits into this file")
    parser.add_argument("--upright", type=Path, metavar="PNG", help="also draw 20 digits as drawn and as a model "
                        "reads them, stood upright and softened, into this file")
    parser.add_argument("--compare-with", type=Path, metavar="DIGITS_PY",
                        help="also time an older copy of netbuilder/data/digits.py against this one")
    args = parser.parse_args()
    train_size = args.train or (5000 if args.quick else None)
    val_size = args.val or (1000 if args.quick else None)
    epochs = args.epochs or (1 if args.quick else None)

    started = time.perf_counter()
    images, labels = generate_digits(TIMED_SAMPLES, seed=12345)
    generation_s = time.perf_counter() - started
    print(f"generator: {TIMED_SAMPLES:,} digits in {generation_s:.2f} s on {os.cpu_count()} CPUs "
          f"({TIMED_SAMPLES / generation_s:,.0f} digits/s)")
    if args.compare_with:
        compare_generators(args.compare_with)
    if args.preview:
        write_png(args.preview, preview_grid(images, labels))
        print(f"preview: {args.preview}")
    if args.upright:
        write_png(args.upright, upright_rows(images, labels))
        print(f"upright: {args.upright}")

    real = real_digits()
    keys = [key for key in args.models.split(",") if key]
    if keys:
        print(f"{'model':20} {'params':>8} {'epoch of':>8} {'epochs':>6} {'train s':>8} {'own val':>8} "
              f"{'real 5k':>8} {'first':>7} {'second':>7}")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    for key in keys:
        results = []
        for seed in seeds:
            digits = load_digits(seed=seed)
            model, dataset, task, seconds, trained_epochs = train_template(TEMPLATES[key], train_size, val_size,
                                                                           epochs, digits)
            results.append(score(model, dataset, real, task))
            params = sum(parameter.numel() for parameter in model.parameters())
            name = load_template(TEMPLATES[key]).name + (f", seed {seed}" if len(seeds) > 1 else "")
            print(f"{name:20} {params:>8,} {dataset.epoch_size():>8} {trained_epochs:>6} {seconds:>8.0f} "
                  + row(results[-1]), flush=True)
        if len(seeds) > 1:
            mean = {name: float(np.mean([result[name] for result in results])) for name in results[0]}
            print(f"{'  mean':20} {'':>8} {'':>8} {'':>6} {'':>8} " + row(mean), flush=True)


if __name__ == "__main__":
    main()
