"""The personal handwriting set: digits the user drew on the canvas, kept as strokes.

Each drawing is a small JSON file (`strokes.Drawing`) in `<app data>/handwriting/<digit>/`, so
adding or deleting one never rewrites the others and a damaged file costs only itself. Because
the set keeps strokes rather than pixels, training reads each drawing at several pen widths
(augmentation that a set of pictures could not offer), through the recipe's one function for
drawings, as the canvas does.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from netbuilder.common.app_dirs import app_data_dir

from .base import DataError, Dataset, RawDataset, train_val_split
from .strokes import Drawing, StrokesError, load_drawing

if TYPE_CHECKING:
    import torch

    from .recipe import Recipe

# The set's folders are the digits' class indices; kept torch-free (unlike .digits) because the
# draw panel lists the set when the window opens, before anything is trained.
DIGIT_CLASSES = 10
# Training reads each drawing again with the pen this many times as wide as the recipe's (which
# is in proportion to the digit's size): people press harder or lighter, and other pens and
# screens draw thicker or thinner lines.
AUGMENT_PEN_FACTORS = (0.6, 1.0, 1.6)
DEFAULT_VAL_FRACTION = 0.25
# Said instead of a validation figure when no drawing can be held out.
NO_HONEST_VALIDATION = ("No digit of your handwriting set is drawn twice, so no drawing can be held out: this run "
                        "has no honest validation figure (the other pen widths of a drawing it trains on would "
                        "only measure what it learnt). Draw each digit at least twice to measure it.")
# Built-in digits mixed in with the personal set: enough to keep the model reading other hands.
MIX_DIGITS = 6000


def default_handwriting_dir() -> Path:
    return app_data_dir() / "handwriting"


@dataclass(frozen=True)
class HandwrittenDigit:
    """One drawing of the set with its label; `key` names it for deleting."""

    key: str
    label: int
    drawing: Drawing


class HandwritingSet:
    """The personal set on disk. Reading skips files it cannot use and says so in `notes`."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else default_handwriting_dir()
        self.notes: list[str] = []

    def samples(self) -> list[HandwrittenDigit]:
        """Every readable drawing, by label and then in the order they were added."""
        self.notes = []
        found = []
        for label in range(DIGIT_CLASSES):
            for path in sorted((self.folder / str(label)).glob("*.json")):  # names start with the time added
                try:
                    found.append(HandwrittenDigit(f"{label}/{path.stem}", label, load_drawing(path)))
                except StrokesError as error:
                    self.notes.append(f"Skipped a drawing of the personal set: {error}")
        return found

    def counts(self) -> list[int]:
        """How many drawings of each digit the set holds."""
        return [sum(1 for _ in (self.folder / str(label)).glob("*.json")) for label in range(DIGIT_CLASSES)]

    def add(self, drawing: Drawing, label: int) -> HandwrittenDigit:
        """Keep `drawing` as an example of `label`; raises DataError if it is empty or cannot be written."""
        if not 0 <= label < DIGIT_CLASSES:
            raise DataError(f"The personal set holds the digits 0 to 9, not {label}.")
        if drawing.is_empty:
            raise DataError("The drawing is empty: draw a digit first.")
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        try:
            (self.folder / str(label)).mkdir(parents=True, exist_ok=True)
            drawing.save(self.folder / str(label) / f"{name}.json")
        except OSError as error:
            raise DataError(f"Cannot keep the drawing in {self.folder}: {error.strerror or error}") from None
        return HandwrittenDigit(f"{label}/{name}", label, drawing)

    def remove(self, key: str) -> None:
        """Delete one drawing (a key from `samples`); an unknown key is ignored."""
        label, _, name = key.partition("/")
        if label.isdigit() and name and "/" not in name and "\\" not in name and ".." not in name:
            (self.folder / label / f"{name}.json").unlink(missing_ok=True)


def handwriting_recipe() -> Recipe:
    """How the set's drawings are read: the built-in digits' recipe (28×28 grey digits 0-9, centred as MNIST's)."""
    from .digits import CLASS_NAMES  # torch and the recipe load only when drawings are read
    from .recipe import digit_recipe

    return digit_recipe(CLASS_NAMES)



def drawing_inputs(drawings: list[Drawing], pen_factor: float = 1.0) -> torch.Tensor:
    """Drawings as the digit models' input (N, 1, 28, 28), read through the digit recipe exactly
    as the canvas's drawing is (with the pen `pen_factor` times as wide)."""
    from . import recipe  # torch and the recipe load only when drawings are read

    return recipe.drawing_inputs(handwriting_recipe(), drawings, pen_factor)


def load_handwriting(**options) -> Dataset:
    """The personal set as tensors, read through the digit recipe (options: see `read_handwriting`)."""
    return read_handwriting(**options).build()


def read_handwriting(*, mix_with_digits: bool = False, val_fraction: float = DEFAULT_VAL_FRACTION,
                     seed: int = 0, folder: Path | None = None, digits_size: int | None = None) -> RawDataset:
    """The personal set as pictures of its drawings (read at the recipe's size and pen), alone or mixed with `digits_size` built-in digits (MIX_DIGITS).

    The drawings are split before any is augmented: a held-out part of the personal set (each
    digit split on its own) is the validation set in both cases, so accuracy always says how well
    the model reads *your* handwriting, and only training drawings are read again at each pen
    width of AUGMENT_PEN_FACTORS. With no digit drawn twice nothing can be held out; then the
    dataset says so (`no_validation`) rather than let training measure copies of what it learnt.
    """
    from .digits import read_digits
    from .recipe import drawing_picture  # torch loads only when drawings are read

    handwriting = HandwritingSet(folder)
    samples = handwriting.samples()
    if not samples:
        raise DataError("The personal handwriting set is empty: draw digits in the Draw panel and press a digit "
                        "key to add each one.")
    labels = np.array([sample.label for sample in samples], np.int64)
    train_index, val_index = train_val_split(len(samples), val_fraction, seed, groups=labels)
    train_samples = [drawing_picture(samples[i].drawing, factor) for factor in AUGMENT_PEN_FACTORS for i in train_index]
    train_labels = np.tile(labels[train_index], len(AUGMENT_PEN_FACTORS))
    notes = list(handwriting.notes)
    source = f"your handwriting ({len(samples)} drawings, {len(val_index)} held out)"
    if mix_with_digits:
        digits_size = digits_size or MIX_DIGITS
        digits = read_digits(train_size=digits_size, val_size=0, seed=seed, fresh_epochs=1)
        train_samples = [*digits.train_samples, *train_samples]
        train_labels = np.concatenate([digits.train_y, train_labels])
        source += f" mixed with {digits_size:,} built-in digits"
        notes += digits.notes
    no_validation = "" if len(val_index) else NO_HONEST_VALIDATION
    return RawDataset("my handwriting + digits" if mix_with_digits else "my handwriting", handwriting_recipe(),
                      train_samples, train_labels, [drawing_picture(samples[i].drawing) for i in val_index], labels[val_index],
                      source=source, notes=notes, no_validation=no_validation)
