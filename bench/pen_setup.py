"""What the pen-dev benchmarks share: the CNN template trained as the app trains it, and the pen digits.

The model is the CNN template trained 3 epochs on the built-in digits (each epoch on new ones) with
`real_digits.train_template` (the app's own trainer and settings). Training takes minutes on a small machine, so `--weights FILE`
keeps the trained weights: a later run with the same file loads them instead of training (a file this
benchmark wrote itself; delete it after the digits or the template change).
"""
from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from real_digits import train_template  # noqa: E402

from netbuilder.core.project import load_template  # noqa: E402
from netbuilder.data.strokes import Drawing  # noqa: E402
from netbuilder.model.checkpoint import TrainedModel  # noqa: E402
from netbuilder.training.trainer import prepare  # noqa: E402

# ../shared beside the checkout (a worktree's checkout may sit a level deeper)
SHARED = next((folder / "shared" for folder in Path(__file__).resolve().parents if (folder / "shared" / "data").is_dir()),
              Path(__file__).resolve().parents[2] / "shared")
PEN_DEV = SHARED / "data" / "pen-dev" / "pen-dev.jsonl.gz"
CNN_TEMPLATE = "2-cnn"


@dataclass(frozen=True)
class PenDigit:
    drawing: Drawing
    label: int
    writer: int


def pen_digits(writers: Sequence[int] | None = None) -> list[PenDigit]:
    """The pen-dev drawings (of the given writers, or all), in file order."""
    digits = []
    with gzip.open(PEN_DEV, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if writers is None or record["writer"] in writers:
                digits.append(PenDigit(Drawing.from_dict(record["drawing"]), int(record["label"]), record["writer"]))
    return digits


def trained_cnn(weights: Path | None = None, train_size: int | None = None, epochs: int = 3) -> TrainedModel:
    """The CNN template trained `epochs` on the built-in digits (the first `train_size`, or all), or
    its weights from `weights`."""
    if weights is not None and weights.exists():
        project = load_template(CNN_TEMPLATE)
        model, dataset, _ = prepare(project, "digits")
        model.load_state_dict(torch.load(weights, weights_only=True))
        print(f"CNN template: weights from {weights}")
    else:
        model, dataset, _, seconds, trained_epochs = train_template(CNN_TEMPLATE, train_size, 1000, epochs)
        print(f"CNN template trained {trained_epochs} epochs of {dataset.epoch_size():,} built-in digits "
              f"in {seconds:.0f} s")
        if weights is not None:
            torch.save(model.state_dict(), weights)
    return TrainedModel(model.eval(), dataset.recipe, None)
