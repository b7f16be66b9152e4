"""Built-in handwriting digits: the data the app trains on when no MNIST files are at hand.

Each digit is written, not typeset: a pen follows one of several shapes people use for that
digit (open and closed 4, 7 with and without a bar, 1 with and without a flag, looped and plain
2, ...) through jittered control points that drift smoothly along each stroke, with the writer's
own slant, proportions, pen width and pressure, overshooting or stopping short at the stroke ends.
The trace is then elastically distorted (Simard et al. 2003) and normalised exactly as MNIST was
(`normalize_digit`). How much each of these varies is set in one place, `_Variation`.

Generation is seeded and deterministic: work is cut into fixed chunks whose seeds come from the
dataset seed and the chunk number, so the result does not depend on how many processes share it.
"""
from __future__ import annotations

import atexit
import contextlib
import io
import math
import multiprocessing
import signal
import threading
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from netbuilder.common.app_dirs import cache_dir
from netbuilder.data.base import Dataset, DataError, RawDataset
from netbuilder.data.preprocess import IMAGE_SIZE, normalize_digit
from netbuilder.data.recipe import digit_recipe
from netbuilder.data.strokes import Drawing, ink_polyline
from netbuilder.common.contracts import DIGITS_FRESH_EPOCHS, DIGITS_PER_EPOCH, DIGITS_VALIDATION
from netbuilder.common.files import write_atomic
from netbuilder.common.machine import usable_cores

# Bump whenever the pictures change, so caches of older versions are not reused.
GENERATOR_VERSION = 15
CLASS_NAMES = [str(digit) for digit in range(10)]

Progress = Callable[[int, int], None]  # (samples done, samples in all)

_CHUNK_SIZE = 500
_CANVAS = 64  # render size; normalize_digit shrinks it to MNIST's 20×20 box with anti-aliasing
_DIGIT_HEIGHT = 44  # nominal pen-trajectory height on the canvas
_SAMPLES_PER_SEGMENT = 6  # points of the smooth curve between two control points
# Random displacement vectors per side of the canvas: a coarse grid bends whole parts of a digit (a
# loop grows, a stem sways) the way writers differ, where a fine one crinkles strokes into shapes
# no one writes (measured on real digits: 3×3 at strength 6 beats 5×5 at strength 4 by 0.2 points).
_ELASTIC_GRID = 3
# OpenCV's anti-aliased lines, binarised as the generator does, come out this much wider (in
# pixels) than the thickness asked for: a drawing of a pen trace with its pen this much wider
# has the same ink (measured on 300 digits rendered at 280×280).
_BINARISED_LINE_GROWTH = 1.5
# Pressure thins a stroke to no less than this many canvas pixels. At 1 a light stretch of a thin
# pen shrinks to a tenth of a 28×28 pixel, fades below half ink, and the digit falls apart: 5.1% of
# version 12's digits broke into pieces so, against 0.6% of MNIST's (1.4% since version 13).
_THINNEST_STROKE = 2

Stroke = list[tuple[float, float]]


@dataclass(frozen=True)
class _Variation:
    """How much writers differ: the spread of each random choice made while drawing a digit.
    Lengths are in units of the digit's height, angles in degrees, pen widths in 28×28 pixels."""

    jitter: tuple[float, float] = (0.005, 0.015)  # control-point noise: range of its deviation
    stroke_shift: float = 0.025  # deviation of a whole stroke's offset from the others
    waist: float = 0.15  # deviation of the log of the exponent that moves the waist up or down
    width: float = 0.15  # deviation of the log of the width
    bend: float = 0.12  # deviation of the bending terms
    slant: tuple[float, float] = (1.0, 13.0)  # mean and deviation
    # Added to the mean slant of each digit, 0 to 9: people lean some digits more than others
    # (0s and 5s lean right, 3s and 6s a little left), as the class averages of real MNIST digits do.
    class_slant: tuple[float, ...] = (7.0, 5.0, -3.5, -7.0, 2.0, 4.5, -6.0, -4.5, 1.0, 0.0)
    rotation: float = 10.0  # deviation
    overshoot: tuple[float, float] = (0.12, 0.15)  # mean and deviation, as a share of the end segment
    # Median and deviation of its log, and the thinnest and boldest pen: real digits run from
    # hairlines to bold strokes, with a long tail of bold ones. (Version 14 drew no pen thinner than
    # 1.1 pixels: over ten sets it read MNIST alike and a writer never tuned on worse, so version 15
    # draws hairlines again; docs/decisions.md, "Generator v15".)
    pen_width: tuple[float, float] = (1.3, 0.42)
    pen_width_range: tuple[float, float] = (0.8, 6.0)
    pressure: float = 0.35  # largest relative swing of the pen width along a stroke
    elastic: float = 6.0  # largest deviation of the elastic displacement, in canvas pixels
    wander: float = 0.07  # deviation of the smooth drift along each stroke
    # A pen on a tablet is sampled in time, so a fast stroke is a polyline of few, far-apart
    # points: this share of digits is drawn that way, the mean distance between samples drawn
    # from this range (speed peaks mid-stroke, so there they are twice as far apart).
    sampled_in_time: float = 0.5
    sample_spacing: tuple[float, float] = (0.03, 0.1)


_VARIATION = _Variation()


def _arc(centre_x: float, centre_y: float, radius_x: float, radius_y: float,
         start_degrees: float, end_degrees: float, points: int) -> Stroke:
    """Control points along an elliptic arc; angles run clockwise on screen from 3 o'clock."""
    angles = np.radians(np.linspace(start_degrees, end_degrees, points))
    return [(centre_x + radius_x * math.cos(a), centre_y + radius_y * math.sin(a)) for a in angles]


def _looped_two(size: float, base_end: tuple[float, float] = (0.4, 0.98)) -> list[Stroke]:
    """A 2 whose diagonal ends in a loop at the bottom left instead of a corner: from the end of
    the diagonal the pen turns left, up and right again across the diagonal, down to a base that
    ends at `base_end` (a short base leaves the loop standing out)."""
    bottom_x, bottom_y = -0.28, 0.96
    loop = [(-0.6, -0.5), (-0.2, -1.0), (0.8, -0.6), (0.7, 0.15)]  # left, top, right, down (× size)
    return [[(-0.3, 0.2), (-0.12, 0.02), (0.14, 0.0), (0.32, 0.16), (0.27, 0.4), (0.0, 0.65),
             (-0.18, 0.83), (bottom_x, bottom_y)]
            + [(bottom_x + dx * size, bottom_y + dy * size) for dx, dy in loop]
            + [base_end]]


# Control points per allograph, in units of the digit's height: x to the right, y downwards from
# the top (0) to the baseline (1). A point written twice is a corner (the pen turns sharply).
# Each allograph is (how common it is among writers of that digit, in percent; its strokes). The
# shares are our first guesses moved halfway towards how often each shape is the nearest one to
# the first 2,500 real MNIST digits of bench/real_digits.py (bench/digit_errors.py measures it).
_ALLOGRAPHS: dict[int, list[tuple[int, list[Stroke]]]] = {
    0: [
        (33, [_arc(0.0, 0.5, 0.4, 0.5, -80, -80 - 375, 12)]),  # anticlockwise, closing with overlap
        (25, [_arc(0.0, 0.5, 0.4, 0.5, -100, -100 + 370, 12)]),  # clockwise
        (21, [_arc(0.0, 0.5, 0.42, 0.5, -65, -65 - 340, 11)]),  # left a little open at the top
        (21, [_arc(0.0, 0.5, 0.3, 0.5, -80, -80 - 365, 12)]),  # narrow
    ],
    1: [
        (55, [[(0.0, 0.0), (0.0, 1.0)]]),
        (26, [[(0.0, 0.0), (0.02, 0.5), (0.0, 1.0)]]),  # slightly bent
        (13, [[(-0.13, 0.2), (0.0, 0.0), (0.0, 0.0), (0.0, 0.5), (0.0, 1.0)]]),  # flag
        (6, [[(-0.13, 0.2), (0.0, 0.0), (0.0, 0.0), (0.0, 0.5), (0.0, 1.0)],
             [(-0.2, 1.0), (0.2, 1.0)]]),  # flag and base
        (12, [[(-0.3, 0.3), (-0.14, 0.14), (0.0, 0.0), (0.0, 0.0), (0.0, 0.5), (0.0, 1.0)]]),  # long flag
        (8, [[(-0.4, 0.22), (-0.2, 0.1), (0.0, 0.0), (0.0, 0.0), (0.0, 0.5), (0.0, 1.0)]]),  # longer, flatter flag
        (10, [[(-0.3, 0.3), (-0.14, 0.14), (0.0, 0.0), (0.0, 0.0), (0.0, 0.5), (0.0, 1.0)],
              [(-0.26, 1.0), (0.26, 1.0)]]),  # long flag and a foot
        (6, [[(-0.26, 0.42), (-0.12, 0.16), (0.02, 0.0), (0.02, 0.0), (0.0, 0.5), (-0.02, 1.0)]]),  # long upstroke
        (6, [[(-0.34, 0.5), (-0.16, 0.24), (0.02, 0.0), (0.02, 0.0), (0.0, 0.5), (-0.02, 1.0)]]),  # upstroke to mid-height
    ],
    2: [
        (15, [[(-0.32, 0.22), (-0.15, 0.03), (0.1, 0.0), (0.32, 0.15), (0.3, 0.38), (0.04, 0.66),
               (-0.34, 1.0), (-0.34, 1.0), (0.0, 0.97), (0.4, 1.0)]]),
        (11, [[(-0.34, 0.3), (-0.26, 0.08), (0.0, 0.0), (0.28, 0.07), (0.37, 0.27), (0.2, 0.52),
               (-0.1, 0.77), (-0.4, 1.0), (-0.4, 1.0), (0.02, 0.97), (0.5, 1.0)]]),  # wide, long diagonal
        (4, [[(-0.18, 0.32), (-0.32, 0.24), (-0.26, 0.06), (0.02, 0.0), (0.28, 0.1), (0.3, 0.36),
              (0.04, 0.66), (-0.34, 1.0), (-0.34, 1.0), (0.02, 0.96), (0.42, 1.0)]]),  # curled start
        (13, _looped_two(0.3)),
        (9, _looped_two(0.45)),
        (4, _looped_two(0.6, base_end=(0.22, 0.92))),  # big loop, short base
        (12, [[(-0.3, 0.2), (-0.12, 0.02), (0.14, 0.0), (0.32, 0.16), (0.27, 0.4), (0.02, 0.64)]
              + _arc(-0.12, 0.86, 0.2, 0.14, 200, -200, 11) + [(0.1, 1.0), (0.42, 0.98)]]),  # loop on the base
        (6, [[(-0.26, 0.22), (-0.1, 0.04), (0.12, 0.02), (0.26, 0.16), (0.2, 0.36), (0.02, 0.52)]
             + _arc(-0.08, 0.77, 0.24, 0.22, 215, -190, 12) + [(0.12, 1.0), (0.4, 0.98)]]),  # ∂-like, big loop
        (5, [[(-0.16, 0.12), (0.0, 0.0), (0.13, 0.1), (0.06, 0.36), (-0.1, 0.7), (-0.2, 1.0), (-0.2, 1.0),
              (0.14, 0.98), (0.45, 0.97)]]),  # L-like: small hook, steep stem, long base
        (10, [[(-0.3, 0.15), (-0.06, 0.0), (0.24, 0.05), (0.3, 0.3), (0.06, 0.62), (-0.3, 0.95),
               (-0.12, 0.9), (0.12, 0.96), (0.38, 0.92)]]),  # round bottom, wavy base
        (7, [[(-0.3, 0.28), (-0.2, 0.05), (0.06, 0.0), (0.28, 0.12), (0.3, 0.35), (0.12, 0.62),
              (-0.28, 1.0), (-0.28, 1.0), (0.05, 1.0), (0.36, 0.96)]]),  # tall round top
        (4, [[(-0.3, 0.04), (0.3, 0.02), (0.3, 0.02), (-0.32, 1.0), (-0.32, 1.0), (0.36, 1.0)]]),  # Z-like
    ],
    3: [
        (41, [[(-0.25, 0.14), (-0.03, 0.0), (0.2, 0.06), (0.22, 0.26), (0.02, 0.44), (-0.09, 0.47),
               (-0.09, 0.47), (0.14, 0.52), (0.27, 0.72), (0.18, 0.94), (-0.05, 1.0), (-0.28, 0.88)]]),
        (41, [[(-0.25, 0.14), (-0.03, 0.0), (0.2, 0.06), (0.2, 0.27), (-0.02, 0.46), (0.2, 0.56),
               (0.27, 0.76), (0.15, 0.95), (-0.07, 1.0), (-0.28, 0.87)]]),  # smooth waist
        (18, [[(-0.25, 0.02), (0.22, 0.02), (0.22, 0.02), (-0.02, 0.4), (0.2, 0.53), (0.26, 0.78),
               (0.1, 0.97), (-0.1, 1.0), (-0.28, 0.88)]]),  # flat top
    ],
    4: [
        (37, [[(-0.3, 0.04), (-0.32, 0.34), (-0.33, 0.62), (-0.33, 0.62), (0.02, 0.62), (0.3, 0.6)],
              [(0.16, 0.0), (0.15, 0.5), (0.13, 1.0)]]),  # open, upright arm
        (35, [[(-0.1, 0.06), (-0.22, 0.34), (-0.36, 0.64), (-0.36, 0.64), (0.0, 0.64), (0.3, 0.62)],
              [(0.18, 0.0), (0.17, 0.55), (0.15, 1.0)]]),  # open, leaning arm
        (8, [[(0.14, 0.0), (-0.1, 0.3), (-0.34, 0.64), (-0.34, 0.64), (0.0, 0.64), (0.36, 0.63)],
             [(0.14, 0.0), (0.14, 0.5), (0.14, 1.0)]]),  # closed
        (20, [[(-0.28, 0.04), (-0.31, 0.32), (-0.2, 0.56), (0.06, 0.62), (0.38, 0.55)],
              [(0.18, 0.0), (0.17, 0.5), (0.14, 1.0)]]),  # rounded cup
        (8, [[(-0.22, 0.0), (-0.3, 0.3), (-0.34, 0.6), (-0.34, 0.6), (0.0, 0.6), (0.2, 0.58), (0.2, 0.58),
              (0.2, 0.3), (0.22, 0.0), (0.22, 0.0), (0.2, 0.5), (0.17, 1.0)]]),  # open, one stroke: up the stem and down
        (3, [[(-0.24, 0.0), (-0.28, 0.36), (-0.1, 0.56), (0.14, 0.54), (0.24, 0.44), (0.25, 0.0), (0.25, 0.0),
              (0.23, 0.5), (0.2, 1.0)]]),  # open, one stroke, round cup (rarer since v11: its U pulled upright 6s)
        (8, [[(-0.16, 0.0), (-0.18, 0.3), (-0.12, 0.52), (0.04, 0.56), (0.16, 0.5)],
             [(0.17, 0.0), (0.16, 0.5), (0.14, 1.0)]]),  # narrow cup, the bar not past the stem
        (8, [[(-0.16, 0.0), (-0.18, 0.3), (-0.12, 0.52), (0.04, 0.56), (0.15, 0.46), (0.17, 0.0), (0.17, 0.0),
              (0.16, 0.5), (0.14, 1.0)]]),  # narrow cup, one stroke
        (3, [[(-0.14, 0.0), (-0.16, 0.36), (-0.13, 0.62), (0.0, 0.7), (0.12, 0.62), (0.15, 0.42), (0.15, 0.42),
              (0.13, 0.7), (0.1, 1.0)]]),  # one stroke: a long arm, a small cup, the stem begun low (as above)
    ],
    5: [
        (26, [[(-0.16, 0.02), (-0.22, 0.45), (-0.22, 0.45), (0.06, 0.38), (0.28, 0.5), (0.3, 0.75),
               (0.11, 0.97), (-0.11, 1.0), (-0.31, 0.88)],
              [(-0.16, 0.02), (0.3, 0.0)]]),  # bar added last
        (18, [[(0.3, 0.0), (-0.16, 0.02), (-0.16, 0.02), (-0.22, 0.45), (-0.22, 0.45), (0.06, 0.38),
               (0.28, 0.5), (0.3, 0.75), (0.11, 0.97), (-0.11, 1.0), (-0.31, 0.88)]]),  # one stroke
        (24, [[(-0.16, 0.02), (-0.22, 0.42), (0.06, 0.4), (0.27, 0.55), (0.25, 0.82), (0.02, 1.0),
               (-0.28, 0.93)],
              [(-0.16, 0.02), (0.28, 0.02)]]),  # rounded waist
        (15, [[(-0.11, 0.0), (-0.18, 0.4), (-0.18, 0.4), (0.11, 0.42), (0.3, 0.62), (0.22, 0.88),
               (0.0, 1.0), (-0.22, 0.95), (-0.31, 0.85)],
              [(-0.11, 0.0), (0.34, 0.04)]]),  # deep bowl
        (17, [[(-0.14, 0.04), (-0.2, 0.38), (-0.2, 0.38), (0.05, 0.33), (0.3, 0.5), (0.32, 0.76),
               (0.12, 0.97), (-0.12, 1.0), (-0.3, 0.88)],
              [(-0.06, 0.02), (0.26, 0.0)]]),  # short bar apart from a big round belly
        (14, [[(0.28, 0.02), (0.04, 0.0), (-0.13, 0.06), (-0.19, 0.22), (-0.15, 0.4), (0.07, 0.39), (0.26, 0.52),
               (0.3, 0.75), (0.13, 0.96), (-0.1, 1.0), (-0.3, 0.9)]]),  # one stroke, an S under a flat top
        (10, [[(0.3, 0.0), (-0.14, 0.02), (-0.14, 0.02), (-0.2, 0.24), (-0.16, 0.42), (0.08, 0.38), (0.27, 0.5),
               (0.3, 0.74), (0.12, 0.96), (-0.12, 1.0), (-0.31, 0.88)]]),  # one stroke, a round waist
    ],
    6: [
        (14, [[(0.26, 0.0), (0.04, 0.08), (-0.17, 0.3), (-0.3, 0.6), (-0.25, 0.88), (-0.04, 1.0),
               (0.2, 0.95), (0.31, 0.76), (0.18, 0.55), (-0.05, 0.5), (-0.22, 0.6), (-0.29, 0.72)]]),  # big loop
        (16, [[(0.1, 0.0), (-0.08, 0.25), (-0.22, 0.55), (-0.26, 0.8), (-0.1, 1.0), (0.15, 0.98),
               (0.3, 0.8), (0.2, 0.58), (-0.05, 0.55), (-0.24, 0.68)]]),  # straight stem
        (10, [[(0.26, 0.0), (0.04, 0.08), (-0.17, 0.3), (-0.3, 0.6), (-0.25, 0.88), (-0.04, 1.0),
               (0.2, 0.95), (0.31, 0.76), (0.2, 0.58), (0.0, 0.52)]]),  # loop left open
        (7, [[(0.3, 0.06), (0.08, 0.0), (-0.2, 0.18), (-0.34, 0.52), (-0.28, 0.86), (0.0, 1.0),
              (0.27, 0.9), (0.31, 0.68), (0.12, 0.54), (-0.15, 0.6), (-0.3, 0.74)]]),  # C-like, round
        (16, [[(0.18, 0.0), (-0.04, 0.2), (-0.18, 0.5), (-0.22, 0.8), (-0.1, 0.98), (0.1, 1.0),
               (0.26, 0.84), (0.22, 0.62), (0.02, 0.56), (-0.16, 0.64), (-0.22, 0.76)]]),  # narrow
        (13, [[(0.3, 0.0), (0.1, 0.2), (-0.1, 0.42), (-0.26, 0.66), (-0.26, 0.88), (-0.06, 1.0),
               (0.2, 0.94), (0.28, 0.76), (0.12, 0.6), (-0.1, 0.6), (-0.25, 0.7)]]),  # straight diagonal stem
        (14, [[(0.25, 0.0), (0.05, 0.25), (-0.12, 0.55), (-0.22, 0.8), (-0.12, 0.98), (0.08, 1.0),
               (0.2, 0.88), (0.15, 0.72), (-0.02, 0.68), (-0.18, 0.76)]]),  # long stem, small low loop
        (10, [[(0.14, 0.0), (-0.08, 0.12), (-0.2, 0.35), (-0.24, 0.62), (-0.2, 0.88), (-0.02, 1.0),
               (0.2, 0.94), (0.3, 0.76), (0.18, 0.58), (-0.06, 0.56), (-0.28, 0.62),
               (-0.38, 0.68)]]),  # upright stem, the loop closing across it
    ],
    7: [
        (23, [[(-0.36, 0.02), (0.36, 0.0), (0.36, 0.0), (0.14, 0.45), (-0.04, 1.0)]]),
        (18, [[(-0.36, 0.02), (0.36, 0.0), (0.36, 0.0), (0.14, 0.45), (-0.04, 1.0)],
              [(-0.06, 0.5), (0.34, 0.47)]]),  # barred
        (12, [[(-0.36, 0.16), (-0.34, 0.02), (-0.34, 0.02), (0.34, 0.0), (0.34, 0.0), (0.08, 0.5),
               (-0.06, 1.0)]]),  # hooked start
        (8, [[(-0.34, 0.02), (0.34, 0.0), (0.34, 0.0), (0.08, 0.4), (0.0, 0.7), (0.0, 1.0)]]),  # curved stem
        (11, [[(-0.22, 0.04), (0.22, 0.0), (0.22, 0.0), (0.15, 0.5), (0.1, 1.0)]]),  # short bar, steep stem
        (12, [[(-0.3, 0.02), (0.3, 0.0), (0.3, 0.0), (0.05, 0.5), (-0.15, 1.0)]]),  # long diagonal stem
        (16, [[(-0.28, 0.08), (0.0, 0.0), (0.28, 0.02), (0.22, 0.3), (0.08, 0.65), (0.04, 1.0)]]),  # round top
        (10, [[(-0.34, 0.18), (-0.32, 0.02), (-0.32, 0.02), (0.32, 0.0), (0.32, 0.0), (0.1, 0.5), (-0.06, 1.0)],
              [(-0.14, 0.52), (0.3, 0.5)]]),  # hooked start and a bar
        (8, [[(-0.34, 0.1), (-0.16, 0.0), (0.04, 0.06), (0.34, 0.0), (0.34, 0.0), (0.12, 0.5), (-0.04, 1.0)],
             [(-0.1, 0.54), (0.3, 0.52)]]),  # wavy top and a bar
        (8, [[(-0.34, 0.12), (-0.16, 0.0), (0.04, 0.06), (0.34, 0.0), (0.34, 0.0), (0.12, 0.5), (-0.04, 1.0)]]),  # wavy top
        (6, [[(-0.32, 0.12), (-0.08, 0.0), (0.22, 0.0), (0.32, 0.06), (0.18, 0.4), (0.04, 1.0)],
             [(-0.12, 0.52), (0.3, 0.5)]]),  # arched top and a bar
        (6, [[(-0.34, 0.02), (0.34, 0.0), (0.34, 0.0), (0.12, 0.4), (0.04, 0.7), (0.02, 1.0)],
             [(-0.04, 0.62), (0.4, 0.6)]]),  # curved stem, a long bar low across it
    ],
    8: [
        (42, [[(0.2, 0.08), (0.0, 0.0), (-0.2, 0.1), (-0.18, 0.3), (0.0, 0.45), (0.2, 0.62),
               (0.22, 0.85), (0.0, 1.0), (-0.22, 0.88), (-0.2, 0.65), (0.0, 0.48), (0.18, 0.3),
               (0.2, 0.1), (0.02, 0.0)]]),
        (15, [[(0.2, 0.08), (0.0, 0.0), (-0.2, 0.1), (-0.18, 0.3), (0.0, 0.45), (0.2, 0.62),
               (0.22, 0.85), (0.0, 1.0), (-0.22, 0.88), (-0.2, 0.65), (0.0, 0.48), (0.16, 0.32)]]),  # top left open
        (24, [[(-0.2, 0.08), (0.0, 0.0), (0.2, 0.1), (0.18, 0.3), (0.0, 0.45), (-0.2, 0.62),
               (-0.22, 0.85), (0.0, 1.0), (0.22, 0.88), (0.2, 0.65), (0.0, 0.48), (-0.18, 0.3),
               (-0.2, 0.1), (-0.02, 0.0)]]),  # mirrored
        (19, [_arc(0.0, 0.24, 0.18, 0.24, -90, -90 - 370, 9),
              _arc(0.0, 0.73, 0.23, 0.27, -90, -90 + 370, 9)]),  # two rings
        (8, [[(0.2, 0.08), (0.0, 0.0), (-0.2, 0.1), (-0.16, 0.3), (0.0, 0.46), (0.18, 0.62), (0.2, 0.85),
              (0.0, 1.0), (-0.2, 0.9)],
             [(-0.2, 0.9), (0.0, 0.5), (0.2, 0.08)]]),  # an S, closed by a straight stroke back up
        (6, [[(-0.12, 0.34), (-0.06, 0.1), (0.1, 0.0), (0.22, 0.08), (0.18, 0.3), (0.0, 0.55), (-0.18, 0.84),
              (-0.1, 1.0), (0.1, 0.94), (0.2, 0.74), (0.06, 0.52), (-0.14, 0.42), (-0.34, 0.4)]]),  # begun inside
              # the top loop, closed by a stroke out to the left across the waist
        (6, [[(-0.24, 0.0), (-0.1, 0.3), (0.14, 0.62), (0.2, 0.84), (0.0, 1.0), (-0.2, 0.86), (-0.14, 0.64),
              (0.1, 0.32), (0.24, 0.02)]]),  # as a γ: the top open as a V, a loop at the bottom
    ],
    9: [
        (40, [[(0.22, 0.15), (0.0, 0.0), (-0.22, 0.12), (-0.25, 0.35), (-0.02, 0.5), (0.2, 0.38),
               (0.24, 0.05), (0.24, 0.05), (0.22, 0.55), (0.16, 1.0)]]),
        (26, [[(0.22, 0.15), (0.0, 0.0), (-0.22, 0.12), (-0.25, 0.35), (-0.02, 0.5), (0.22, 0.35),
               (0.22, 0.6), (0.15, 1.0)]]),  # stem flows out of the loop
        (13, [[(0.22, 0.15), (0.0, 0.0), (-0.22, 0.12), (-0.25, 0.35), (-0.02, 0.5), (0.2, 0.38),
               (0.24, 0.05), (0.24, 0.05), (0.2, 0.5), (0.12, 0.85), (-0.05, 1.0), (-0.2, 0.92)]]),  # tail
        (21, [_arc(0.0, 0.26, 0.23, 0.26, 0, -370, 10),
              [(0.23, 0.08), (0.22, 0.55), (0.16, 1.0)]]),  # ring and stem
        (10, [[(0.2, 0.08), (0.02, 0.0), (-0.18, 0.08), (-0.2, 0.24), (-0.02, 0.34), (0.18, 0.26),
               (0.21, 0.04), (0.21, 0.04), (0.2, 0.5), (0.14, 1.0)]]),  # small loop, long tail
        (10, [[(0.2, 0.08), (0.02, 0.0), (-0.18, 0.08), (-0.2, 0.24), (-0.02, 0.34), (0.18, 0.26),
               (0.21, 0.04), (0.21, 0.04), (0.2, 0.45), (0.12, 0.8), (-0.04, 0.98), (-0.22, 0.92)]]),  # small loop, tail curling left
        (8, [[(0.2, 0.08), (0.02, 0.0), (-0.18, 0.08), (-0.2, 0.24), (-0.02, 0.34), (0.2, 0.22),
              (0.22, 0.5), (0.08, 0.85), (-0.16, 1.0)]]),  # small loop flowing into a curved tail
        (6, [[(0.16, 0.2), (0.14, 0.04), (-0.04, 0.0), (-0.2, 0.1), (-0.18, 0.28), (0.0, 0.34), (0.18, 0.3),
              (0.22, 0.55), (0.12, 0.84), (-0.1, 1.0), (-0.3, 0.94)]]),  # loop begun mid-side, long curling tail
        (8, [[(0.12, 0.07), (-0.04, 0.0), (-0.17, 0.09), (-0.15, 0.25), (0.0, 0.3), (0.12, 0.2), (0.12, 0.02),
              (0.12, 0.02), (0.22, 0.38), (0.28, 0.64), (0.16, 0.88), (-0.06, 1.0), (-0.28, 0.9)]]),  # small loop on a
              # tail that bows right and hooks back far to the left, as a J
    ],
}


@dataclass(frozen=True)
class _Shape:
    """One allograph as arrays: all control points, where each stroke starts, and which noise
    each point takes (the two copies of a corner point move together)."""

    points: np.ndarray  # (P, 2) float64
    stroke_bounds: tuple[tuple[int, int], ...]
    noise_index: np.ndarray  # (P,) int
    noise_count: int


def _compile_shape(strokes: list[Stroke]) -> _Shape:
    points, bounds, noise_index = [], [], []
    for stroke in strokes:
        start = len(points)
        for i, point in enumerate(stroke):
            corner_copy = i > 0 and point == stroke[i - 1]
            noise_index.append(noise_index[-1] if corner_copy else (noise_index[-1] + 1 if noise_index else 0))
            points.append(point)
        bounds.append((start, len(points)))
    return _Shape(np.array(points, np.float64), tuple(bounds), np.array(noise_index), noise_index[-1] + 1)


_SHAPES = {digit: [_compile_shape(strokes) for _, strokes in variants] for digit, variants in _ALLOGRAPHS.items()}
_SHAPE_WEIGHTS = {digit: np.array([weight for weight, _ in variants]) / sum(weight for weight, _ in variants)
                  for digit, variants in _ALLOGRAPHS.items()}


def _catmull_rom_basis(samples: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    return 0.5 * np.hstack([-t**3 + 2 * t**2 - t, 3 * t**3 - 5 * t**2 + 2, -3 * t**3 + 4 * t**2 + t, t**3 - t**2])


_BASIS = _catmull_rom_basis(_SAMPLES_PER_SEGMENT)  # (S, 4)


def _smooth_curve(control: np.ndarray) -> np.ndarray:
    """A Catmull-Rom curve through the control points (n, 2) -> dense points."""
    padded = np.vstack([2 * control[0] - control[1], control, 2 * control[-1] - control[-2]])
    windows = np.stack([padded[:-3], padded[1:-2], padded[2:-1], padded[3:]], axis=1)  # (n-1, 4, 2)
    curve = np.einsum("sk,nkd->nsd", _BASIS, windows).reshape(-1, 2)
    return np.vstack([curve, control[-1:]])


def _sampled_in_time(curve: np.ndarray, spacing: float) -> np.ndarray:
    """The points a tablet records of a pen following `curve` (n, 2) at a steady rhythm: the pen
    starts and stops at rest and is fastest mid-stroke (velocity ∝ 1 - cos 2πt, as in quick
    aimed movements), so the samples lie `spacing` apart on average, twice that mid-stroke."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    count = max(2, math.ceil(arc[-1] / spacing) + 1)
    time = np.linspace(0.0, 1.0, count)
    along = arc[-1] * (time - np.sin(2 * math.pi * time) / (2 * math.pi))
    return np.stack([np.interp(along, arc, curve[:, 0]), np.interp(along, arc, curve[:, 1])], axis=1)


def allograph_count(digit: int) -> int:
    """How many shapes the generator knows for `digit`."""
    return len(_SHAPES[digit])


def allograph_shares(digit: int) -> list[float]:
    """How common each shape of `digit` is among the generated digits, in percent."""
    return [100.0 * share for share in _SHAPE_WEIGHTS[digit]]


def draw_allograph(digit: int, allograph: int, count: int, seed: int = 0) -> np.ndarray:
    """`count` uint8 28×28 images of one shape of `digit`, with all the usual variation (for
    looking at a shape on its own, e.g. which shapes lie nearest to a misread real digit)."""
    rng = np.random.default_rng(seed)
    return np.stack([_render_digit(digit, rng, _SHAPES[digit][allograph]) for _ in range(count)])


def _render_digit(digit: int, rng: np.random.Generator, shape: _Shape | None = None) -> np.ndarray:
    """One handwritten digit as a uint8 28×28 image, in a shape drawn by its weight unless given."""
    curves, thickness = _pen_trace(digit, rng, shape)
    canvas = _ink(curves, thickness, rng)
    # MNIST's digits were black-and-white scans whose grey levels come only from shrinking them:
    # the pen trace is made binary so that normalize_digit gives the same sharp, thin fringe.
    canvas = np.where(_elastic(canvas, rng) > 127, 255, 0).astype(np.uint8)
    return np.round(normalize_digit(canvas) * 255.0).astype(np.uint8)


def _pen_trace(digit: int, rng: np.random.Generator, shape: _Shape | None = None) -> tuple[list[np.ndarray], int]:
    """Where the pen goes: one dense curve (n, 2) per stroke in canvas pixels, and the pen width."""
    if shape is None:
        shape = _SHAPES[digit][rng.choice(len(_SHAPES[digit]), p=_SHAPE_WEIGHTS[digit])]
    vary = _VARIATION
    jitter = rng.uniform(*vary.jitter)
    points = shape.points + rng.normal(0.0, jitter, (shape.noise_count, 2))[shape.noise_index]
    for start, end in shape.stroke_bounds:  # strokes written one after another do not quite meet
        points[start:end] += rng.normal(0.0, vary.stroke_shift, 2)
        # The hand drifts smoothly along a stroke: neighbouring points move together, so a loop
        # grows or shrinks and a bar tilts as a whole instead of wobbling point by point.
        along = np.linspace(0.0, math.pi, end - start)[:, None]
        amplitude, phase = rng.normal(0.0, vary.wander, (2, 2)), rng.uniform(0.0, math.pi, (2, 2))
        points[start:end] += np.sin(along + phase[0]) * amplitude[0] + np.sin(2 * along + phase[1]) * amplitude[1]

    # The writer's proportions: where the waist sits (y**gamma moves it), how wide they write, and
    # smooth bends of the whole figure (a bowed spine, a sagging side).
    x, y = points[:, 0], np.clip(points[:, 1], 0.0, None) ** math.exp(rng.normal(0.0, vary.waist))
    bend = rng.normal(0.0, vary.bend, 3)
    points[:, 0] = x * math.exp(rng.normal(0.0, vary.width)) + bend[0] * (y - 0.5) ** 2 + bend[1] * (y - 0.5) ** 3
    points[:, 1] = y + bend[2] * x**2
    slant_mean, slant_spread = vary.slant
    slant = math.tan(math.radians(rng.normal(slant_mean + vary.class_slant[digit], slant_spread)))
    angle = math.radians(rng.normal(0.0, vary.rotation))
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    transform = np.array([[cos_a, -sin_a], [sin_a, cos_a]]) @ np.array([[1.0, -slant], [0.0, 1.0]])
    points = points @ transform.T

    curves = []
    for start, end in shape.stroke_bounds:
        control = points[start:end].copy()
        # Pens overshoot or stop short of where the writer aimed at both ends of a stroke.
        for tip, inner in ((0, 1), (-1, -2)):
            direction = control[tip] - control[inner]
            control[tip] += direction * rng.normal(*vary.overshoot)
        curves.append(_smooth_curve(control))
    if rng.uniform() < vary.sampled_in_time:
        spacing = rng.uniform(*vary.sample_spacing)
        curves = [_sampled_in_time(curve, spacing) for curve in curves]

    everything = np.vstack(curves)
    low, high = everything.min(axis=0), everything.max(axis=0)
    extent = np.maximum(high - low, 1e-3)
    pen_median, pen_spread = vary.pen_width
    pen_width = float(np.clip(rng.lognormal(math.log(pen_median), pen_spread), *vary.pen_width_range))
    thickness = max(1, round(pen_width * _DIGIT_HEIGHT / 20))
    margin = 8 + thickness
    scale = min(thickness * 20 / pen_width / extent[1], (_CANVAS - 2 * margin) / extent[0],
                (_CANVAS - 2 * margin) / extent[1])
    offset = (_CANVAS - (high - low) * scale) / 2 - low * scale
    return [curve * scale + offset for curve in curves], thickness


def _ink(curves: list[np.ndarray], thickness: int, rng: np.random.Generator) -> np.ndarray:
    """The pen trace on a uint8 canvas, the pen pressing harder and lighter along each stroke."""
    canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
    pressure_swing = rng.uniform(0.0, _VARIATION.pressure)
    for curve in curves:
        pieces = max(1, (len(curve) - 1) // 4)
        phase, cycles = rng.uniform(0.0, 2 * math.pi), rng.uniform(0.5, 2.0)
        bounds = np.linspace(0, len(curve) - 1, pieces + 1).astype(int)
        for i in range(pieces):
            pressure = 1.0 + pressure_swing * math.sin(phase + 2 * math.pi * cycles * i / pieces)
            ink_polyline(canvas, curve[bounds[i]:bounds[i + 1] + 1], max(_THINNEST_STROKE, round(thickness * pressure)))
    return canvas


def pen_traces(count: int, seed: int = 0) -> tuple[list[Drawing], np.ndarray, np.ndarray]:
    """`count` digits as the pen wrote them, for checking the drawing canvas against the generator:
    their pen traces as drawings on the generator's 64×64 canvas, their labels (0-9 in turn), and
    the generator's own uint8 28×28 renderings of exactly those traces (inked and binarised as it
    does, at constant pressure since a mouse has none, without the elastic distortion, which
    moves pixels rather than the pen)."""
    rng = np.random.default_rng(seed)
    drawings, labels, images = [], np.arange(count, dtype=np.int64) % 10, []
    for label in labels:
        curves, thickness = _pen_trace(int(label), rng)
        canvas = np.zeros((_CANVAS, _CANVAS), np.uint8)
        for curve in curves:
            ink_polyline(canvas, curve, thickness)
        images.append(np.round(normalize_digit(np.where(canvas > 127, 255, 0).astype(np.uint8)) * 255.0)
                      .astype(np.uint8))
        strokes = tuple(tuple(map(tuple, np.clip(curve + 0.5, 0, _CANVAS))) for curve in curves)  # pixel areas
        drawings.append(Drawing((_CANVAS, _CANVAS), thickness + _BINARISED_LINE_GROWTH, strokes))
    return drawings, labels, np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)


def _elastic(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Simard-style elastic distortion: a smooth random displacement field (random vectors on a
    coarse grid, interpolated) moves the ink by a few pixels, differently in each region."""
    # Most digits are warped clearly and a few barely (strength ∝ √uniform): measured on real
    # digits, this beats spreading the strength evenly.
    strength = _VARIATION.elastic * math.sqrt(rng.uniform())
    vectors = rng.normal(0.0, strength, (_ELASTIC_GRID, _ELASTIC_GRID, 2)).astype(np.float32)
    field = cv2.resize(vectors, (_CANVAS, _CANVAS), interpolation=cv2.INTER_CUBIC)
    grid = np.indices((_CANVAS, _CANVAS), dtype=np.float32)
    return cv2.remap(image, grid[1] + field[..., 0], grid[0] + field[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT)


_STOP_POLL_SECONDS = 0.1  # how often the generation asks its progress callback whether to stop
_EXIT_WAIT_SECONDS = 60.0  # the longest a process's exit waits for a stopped generation's workers to end
_pools = threading.Condition()  # guards _pools_running and _exiting
_pools_running = 0
_exiting = False  # the process is exiting: no pool starts any more


def _wait_for_pools_at_exit() -> None:
    """A process that is exiting while a generation on another thread is stopping (the user
    stopped the run; the thread is starting the pool's workers) waits for its workers to end:
    workers started after the exit would find their parent's queues gone and print tracebacks.
    A generation whose thread gets to start its pool only now draws in this process instead."""
    global _exiting
    with _pools:
        _exiting = True
        _pools.wait_for(lambda: _pools_running == 0, _EXIT_WAIT_SECONDS)


atexit.register(_wait_for_pools_at_exit)
_stop_event = None  # a worker process's view of its pool's stop flag (set by _start_worker)


def _start_worker(stop) -> None:
    """Each pool worker: the parent stops the generation, so Ctrl+C, which the terminal sends to
    every process of the group, leaves workers alone (no traceback of theirs on the terminal)."""
    global _stop_event
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_event = stop


def _render_chunk(seed: int, chunk: int, labels: np.ndarray) -> np.ndarray | None:
    """The chunk's digits; None when the pool was told to stop (checked after every digit)."""
    cv2.setNumThreads(1)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk + 1,)))
    rendered = []
    for label in labels:
        if _stop_event is not None and _stop_event.is_set():
            return None
        rendered.append(_render_digit(int(label), rng))
    return np.stack(rendered)


def generate_digits(count: int, seed: int = 0, progress: Progress | None = None,
                    workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`count` handwritten digits: uint8 images (count, 28, 28) and int64 labels (count,).

    Every class gets count // 10 samples or one more, in shuffled order. The same `count` and
    `seed` always give the same bytes, whatever `workers` (processes; default: one per usable core).
    `progress(done, count)` is also called every _STOP_POLL_SECONDS while the workers draw: when
    it raises (the user stopped), the workers stop within a digit and have exited when this raises.
    """
    if count < 0:
        raise ValueError(f"count must be at least 0, not {count}")
    label_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    labels = label_rng.permutation(np.arange(count, dtype=np.int64) % 10)
    chunks = [labels[start:start + _CHUNK_SIZE] for start in range(0, count, _CHUNK_SIZE)]
    images = np.zeros((count, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    workers = min(workers or usable_cores(), len(chunks))
    done = 0

    def store(index: int, rendered: np.ndarray) -> None:
        nonlocal done
        images[index * _CHUNK_SIZE:index * _CHUNK_SIZE + len(rendered)] = rendered
        done += len(rendered)
        if progress is not None:
            progress(done, count)

    def check_stop() -> None:  # the progress callback raises on a stop
        if progress is not None:
            progress(done, count)

    stored = 0  # chunks 0..stored-1 are in `images`
    if workers > 1:
        with _counted_pool() as allowed:
            if allowed:
                stored = _draw_on_pool(workers, seed, chunks, store, check_stop)
    for index in range(stored, len(chunks)):
        store(index, _render_chunk(seed, index, chunks[index]))
    return images, labels


def _draw_on_pool(workers: int, seed: int, chunks: list[np.ndarray], store: Callable[[int, np.ndarray], None],
                  check_stop: Callable[[], None]) -> int:
    """Chunks drawn by worker processes and stored in order; how many were stored. `check_stop`
    (which raises on a stop) is called every _STOP_POLL_SECONDS while the workers draw."""
    context = _worker_context()
    stop = context.Event()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(stop,))
    stored = 0
    try:
        futures = [pool.submit(_render_chunk, seed, index, chunk_labels) for index, chunk_labels in enumerate(chunks)]
        for index, future in enumerate(futures):
            while not wait((future,), timeout=_STOP_POLL_SECONDS).done:
                check_stop()
            store(index, future.result())
            stored += 1
    except BrokenProcessPool:
        # Workers re-run the main script on start; one without an `if __name__ == "__main__":`
        # guard kills them. Such a script still gets its digits, drawn here, just slower.
        pass
    finally:
        # After a stop the chunks being drawn end at their next digit and those not yet started
        # are dropped; the workers have exited when this returns or raises.
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return stored


@contextlib.contextmanager
def _counted_pool():
    """A generation's pool, counted while it runs, for _wait_for_pools_at_exit; False (and no
    pool) once the process is exiting."""
    global _pools_running
    with _pools:
        if _exiting:
            yield False
            return
        _pools_running += 1
    try:
        yield True
    finally:
        with _pools:
            _pools_running -= 1
            _pools.notify_all()


def _worker_context() -> multiprocessing.context.BaseContext:
    """Worker processes that are safe to start from an app with threads (Qt's, a training thread).

    fork would copy a process whose other threads may hold locks (Qt, OpenMP, the allocator),
    and a child can hang on them. A fork server is a fresh process, started once, that has
    imported this module (numpy, OpenCV) and forks each worker from that clean state, so workers
    start in milliseconds after the first; where there is none (Windows), spawn.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def load_digits(train_size: int = DIGITS_PER_EPOCH, val_size: int = DIGITS_VALIDATION, seed: int = 0,
                progress: Progress | None = None, fresh_epochs: int = DIGITS_FRESH_EPOCHS) -> Dataset:
    """The built-in digits as tensors (N, 1, 28, 28), read through the digit recipe."""
    return read_digits(train_size, val_size, seed, progress, fresh_epochs).build()


def read_digits(train_size: int = DIGITS_PER_EPOCH, val_size: int = DIGITS_VALIDATION, seed: int = 0,
                progress: Progress | None = None, fresh_epochs: int = DIGITS_FRESH_EPOCHS) -> RawDataset:
    """The built-in digits as uint8 28×28 images, generated once and then read from the cache.

    `train_size` digits make an epoch, and the training set holds `fresh_epochs` epochs of them,
    each epoch training on the next (`Dataset.samples_per_epoch`), so that many epochs see no digit
    twice. The training set uses seed 2·seed and the validation set 2·seed + 1, so they never share
    a sample.
    """
    if train_size < 1 or val_size < 0 or fresh_epochs < 1:
        raise DataError(f"The built-in digits need at least 1 training sample, at least 1 epoch of them and no "
                        f"negative validation size, not {train_size}, {fresh_epochs} and {val_size}.")
    if seed < 0:
        raise DataError(f"The seed of the built-in digits must be 0 or more, not {seed}.")
    held = train_size * fresh_epochs
    path = cache_dir() / f"digits-v{GENERATOR_VERSION}-{held}-{val_size}-seed{seed}.npz"
    arrays = _read_cache(path, held, val_size)
    notes = []
    if arrays is None:
        def report(done: int, _total: int, before: int = 0) -> None:
            if progress is not None:
                progress(before + done, held + val_size)

        train_images, train_labels = generate_digits(held, 2 * seed, progress=report)
        val_images, val_labels = generate_digits(
            val_size, 2 * seed + 1, progress=lambda done, total: report(done, total, held))
        arrays = {"train_images": train_images, "train_labels": train_labels,
                  "val_images": val_images, "val_labels": val_labels}
        try:
            _write_cache(path, arrays)
            _remove_older_versions(path.parent)
        except OSError as error:
            notes.append(f"The generated digits could not be kept in {path} ({error.strerror or error}); "
                         "they will be generated again next time.")
    if fresh_epochs > 1:
        notes.append(f"Each epoch trains on {train_size:,} new built-in digits, the next of the {held:,} generated: "
                     f"the first {fresh_epochs} epochs see no digit twice.")
    return RawDataset("digits", digit_recipe(CLASS_NAMES), arrays["train_images"], arrays["train_labels"],
                      arrays["val_images"], arrays["val_labels"],
                      source=f"built-in handwriting digits (generator version {GENERATOR_VERSION}, seed {seed})",
                      notes=notes, samples_per_epoch=train_size if fresh_epochs > 1 else 0)


def _read_cache(path: Path, train_size: int, val_size: int) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the file is missing, damaged or not what was asked for
    (then the digits are simply generated again)."""
    expected = {"train_images": (np.uint8, (train_size, IMAGE_SIZE, IMAGE_SIZE)),
                "train_labels": (np.int64, (train_size,)),
                "val_images": (np.uint8, (val_size, IMAGE_SIZE, IMAGE_SIZE)),
                "val_labels": (np.int64, (val_size,))}
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in expected}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    for name, (dtype, shape) in expected.items():
        if arrays[name].dtype != dtype or arrays[name].shape != shape:
            return None
    for labels in (arrays["train_labels"], arrays["val_labels"]):
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            return None
    return arrays


def _remove_older_versions(directory: Path) -> None:
    """Delete digits cached by earlier generator versions: they are never read again, and each
    default-sized set takes 55 MB."""
    current = f"digits-v{GENERATOR_VERSION}-"
    for stale in directory.glob("digits-v*-*.npz"):
        if not stale.name.startswith(current):
            stale.unlink(missing_ok=True)


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write all arrays to `path` atomically: a reader sees the old file or the whole new one."""
    packed = io.BytesIO()
    np.savez(packed, **arrays)
    write_atomic(path, packed.getvalue())
