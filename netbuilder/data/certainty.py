"""When a model's answer is not one class: nothing to read, or two classes too close to choose.

Both are decided here, once, Qt-free, for the drawing panel and `netbuilder predict` alike:

- `has_no_ink`: a raw image (or the image of a drawing) with no ink on it, a blank page, a uniform
  grey or a faint even noise, is nothing to read, and a class for it would only be the model's
  guess at nothing. Ink is a pixel that differs from the image's background (its median) by more
  than INK_CONTRAST of the full range, in any channel, alpha included; an image needs
  MIN_INK_PIXELS of them. A one-pixel line of a few pixels is ink; scanner grain is not.
- `close_call`: when the two most probable classes are within CLOSE_CALL_MARGIN of each other, the
  answer is "7 or 2?" rather than a confident 7. The margin was calibrated on real pen-drawn digits
  (bench/close_calls.py, figures in docs/decisions.md): it flags most of the answers that are
  wrong and few of those that are right.
"""
from __future__ import annotations

import numpy as np

INK_CONTRAST = 0.25  # of the full range (64 of 255)
MIN_INK_PIXELS = 3
CLOSE_CALL_MARGIN = 0.5  # calibrated on pen-dev: see docs/decisions.md
NOTHING_DRAWN = "nothing drawn"
EMPTY_IMAGE = "the image is empty"


def has_no_ink(image: np.ndarray) -> bool:
    """Whether a raw image, (H, W) or (H, W, C) uint8 (0-255) or float (0-1), holds no ink."""
    pixels = np.asarray(image)
    if pixels.size == 0:
        return True
    pixels = pixels.reshape(*pixels.shape[:2], -1)
    unit = pixels.astype(np.float32) / 255.0 if pixels.dtype == np.uint8 else \
        np.clip(np.nan_to_num(pixels.astype(np.float32)), 0.0, 1.0)
    background = np.median(unit.reshape(-1, unit.shape[2]), axis=0)
    ink = (np.abs(unit - background) > INK_CONTRAST).any(axis=2)
    return int(np.count_nonzero(ink)) < MIN_INK_PIXELS


def close_call(probabilities: np.ndarray) -> tuple[int, int] | None:
    """The two most probable classes (most probable first) when they are too close to choose
    between, else None. `probabilities`: one sample's class probabilities."""
    values = np.asarray(probabilities, np.float64)
    if values.size < 2:
        return None
    first, second = np.argsort(-values, kind="stable")[:2]  # ties in class order, as Prediction.top
    return (int(first), int(second)) if values[first] - values[second] < CLOSE_CALL_MARGIN else None


def close_call_text(class_names, pair: tuple[int, int]) -> str:
    """How a close call is said: "7 or 2?"."""
    return f"{class_names[pair[0]]} or {class_names[pair[1]]}?"
