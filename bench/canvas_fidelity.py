"""Does the drawing canvas give the model what training gave it?

(a) Pen trajectories of built-in digits are replayed as real mouse drags (press, moves, release)
    into the canvas widget at canvas scale; the model's predictions on the canvas's input must
    agree with its predictions on the generator's own 28×28 renderings of the same trajectories.
(b) The real MNIST digits of ../shared/data/mnist-dev are drawn into the canvas at its own scale
    (upsampled to the canvas size) and read through the canvas's path (the recipe's
    model_inputs); predictions must agree with those on the original 28×28 digits.
Target: >= 99% agreement for each. Also reports the model's accuracy on the canvas-rendered
digits. The CNN template is trained here as the app trains it (3 epochs of 60,000 new built-in
digits, its own settings), unless a trained one is given.

    QT_QPA_PLATFORM=offscreen python bench/canvas_fidelity.py            # trains as the app does, all tests
    QT_QPA_PLATFORM=offscreen python bench/canvas_fidelity.py --quick    # checks it runs (a weak model: agrees less)
    QT_QPA_PLATFORM=offscreen python bench/canvas_fidelity.py --project my.nbproj   # its saved weights

Ends with the line `agreement=<x>% canvas_accuracy=<y>%` (the lower agreement of the two).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from canvas_setup import drag_strokes, train_cnn  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from real_digits import shared_data  # noqa: E402

from netbuilder.data.digits import pen_traces  # noqa: E402
from netbuilder.data.idx import read_idx  # noqa: E402
from netbuilder.data.recipe import model_inputs  # noqa: E402
from netbuilder.gui.panels.draw import DrawPanel  # noqa: E402
from netbuilder.gui.panels.draw_canvas import CANVAS_SIDE  # noqa: E402

REAL_DIGITS = shared_data("mnist-dev")
BATCH = 500


def classify(model: torch.nn.Module, inputs: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return np.concatenate([model(inputs[start:start + BATCH]).argmax(dim=1).numpy()
                               for start in range(0, len(inputs), BATCH)])


def compare(what: str, seconds: float, on_canvas: np.ndarray, reference: np.ndarray, reference_name: str,
            labels: np.ndarray) -> tuple[float, float]:
    """Print and return (agreement with the reference, accuracy on the canvas), in percent."""
    agreement = 100 * float((on_canvas == reference).mean())
    accuracy = 100 * float((on_canvas == labels).mean())
    print(f"{what} in {seconds:.1f} s: agreement {agreement:.2f}% ({int((on_canvas != reference).sum())} differ); "
          f"accuracy on the canvas {accuracy:.2f}%, on {reference_name} {100 * float((reference == labels).mean()):.2f}%")
    return agreement, accuracy


def replayed_traces(panel: DrawPanel, model, recipe, count: int) -> tuple[float, float]:
    """(a): agreement between the canvas and the generator's renderings, and the canvas's accuracy."""
    drawings, labels, renderings = pen_traces(count, seed=12345)
    on_renderings = classify(model, model_inputs(recipe, renderings))
    on_canvas = np.zeros(count, np.int64)
    started = time.perf_counter()
    for index, drawing in enumerate(drawings):
        panel.canvas.clear()
        drag_strokes(panel.canvas, drawing)
        on_canvas[index] = panel.reading.prediction.values[0]
    return compare(f"(a) {count:,} pen traces replayed as mouse drags", time.perf_counter() - started,
                   on_canvas, on_renderings, "the generator's renderings", labels)


def real_digits_on_canvas(model, recipe, count: int) -> tuple[float, float]:
    """(b): agreement between MNIST digits drawn at canvas scale and the originals, and accuracy."""
    images = read_idx(REAL_DIGITS / "dev5k-images-idx3-ubyte.gz")[:count]
    labels = read_idx(REAL_DIGITS / "dev5k-labels-idx1-ubyte.gz")[:count].astype(np.int64)
    on_originals = classify(model, model_inputs(recipe, images))
    started = time.perf_counter()
    canvas_images = [cv2.resize(image, (CANVAS_SIDE, CANVAS_SIDE), interpolation=cv2.INTER_NEAREST)
                     for image in images]
    on_canvas = classify(model, model_inputs(recipe, canvas_images))
    return compare(f"(b) {count:,} real MNIST digits at canvas scale ({CANVAS_SIDE}×{CANVAS_SIDE})",
                   time.perf_counter() - started, on_canvas, on_originals, "the originals", labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 training digits, 1 epoch, 300 digits per test")
    parser.add_argument("--project", type=Path, help="use this project's saved weights instead of training")
    parser.add_argument("--traces", type=int, help="pen traces replayed in (a) (default 2,000)")
    parser.add_argument("--real", type=int, help="real digits in (b) (default all 5,000)")
    args = parser.parse_args()
    torch.manual_seed(0)
    app = QApplication.instance() or QApplication([])
    if args.project:
        from netbuilder.core.project import load_project
        from netbuilder.model.checkpoint import load_trained_model

        trained = load_trained_model(load_project(args.project), args.project)
        print(f"loaded the trained weights of {args.project}")
    else:
        trained = train_cnn(*((3000, 1) if args.quick else (60000, None)))
    traces = args.traces or (300 if args.quick else 2000)
    real = args.real or (300 if args.quick else 5000)

    panel = DrawPanel()
    panel.resize(900, 600)
    panel.show()
    app.processEvents()
    panel.reading_view.flow.setChecked(False)  # the answer only: no layer views to fill
    panel.set_trained_model(trained)
    print(f"canvas widget {panel.canvas.square().width():.0f} px square, {CANVAS_SIDE} canvas units")
    agreement_a, accuracy_a = replayed_traces(panel, trained.model, trained.recipe, traces)
    agreement_b, accuracy_b = real_digits_on_canvas(trained.model, trained.recipe, real)
    panel.close()
    print(f"lower agreement {min(agreement_a, agreement_b):.2f}% (target >= 99%); accuracy on canvas-rendered real "
          f"digits {accuracy_b:.2f}%")
    print(f"agreement={min(agreement_a, agreement_b):.2f}% canvas_accuracy={accuracy_b:.2f}%")


if __name__ == "__main__":
    main()
