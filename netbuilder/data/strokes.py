"""Drawings as data: strokes of points, a pen width and a canvas size, and the one renderer.

A drawing made on the canvas is kept as what the hand did (strokes of points in canvas
coordinates), never as pixels. `render` turns it into a greyscale image as drawn, white ink on
black, anti-aliased with round caps and joins (thumbnails, pictures of drawings). What a model
reads is drawn by the recipe's `drawing_inputs` with the same primitive (`ink_polyline`), the
strokes fitted to one box and one pen: the drawing panel, `netbuilder predict --strokes` and the
personal handwriting set all go through it, and the built-in digit generator inks its pen trace
with `ink_polyline` too. So what is classified is exactly reproducible from the file.

The JSON form is `{"canvas": [w, h], "pen_width": p, "strokes": [[[x, y], ...], ...]}`. Files
come from outside, so reading them checks everything and bounds every size.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from netbuilder.common.fields import FieldError, read_field, is_number
from netbuilder.common.files import FileReadError, parse_json, read_bounded, write_atomic
from netbuilder.common.text import shown

from .base import DataError

Point = tuple[float, float]
Stroke = tuple[Point, ...]

MAX_CANVAS_SIDE = 4096
MAX_STROKES = 500
MAX_POINTS = 50_000  # in all strokes together: minutes of continuous drawing
MAX_FILE_BYTES = 8 * 1024 * 1024
# OpenCV draws with fixed-point coordinates: 4 fraction bits place a line to 1/16 pixel.
SUBPIXEL_BITS = 4
_SUBPIXEL_SCALE = 1 << SUBPIXEL_BITS


class StrokesError(DataError):
    """A drawing cannot be read or is not a valid drawing; the message says what and where."""


@dataclass(frozen=True)
class Drawing:
    """Strokes (each a tuple of (x, y) points, x to the right and y downwards from the top left
    corner of the canvas), the pen width and the canvas size (width, height), all in canvas units.
    Immutable: every edit returns a new drawing, so undo is keeping the old one."""

    canvas: tuple[int, int]
    pen_width: float
    strokes: tuple[Stroke, ...] = ()

    def __post_init__(self) -> None:
        _check_drawing(self.canvas, self.pen_width, self.strokes)

    @property
    def is_empty(self) -> bool:
        return not self.strokes

    @property
    def point_count(self) -> int:
        return sum(len(stroke) for stroke in self.strokes)

    def with_stroke(self, points: Iterable[Sequence[float]]) -> Drawing:
        return replace(self, strokes=self.strokes + (_as_stroke(points),))

    def without_last_stroke(self) -> Drawing:
        return replace(self, strokes=self.strokes[:-1])

    def cleared(self) -> Drawing:
        return replace(self, strokes=())

    def with_pen_width(self, pen_width: float) -> Drawing:
        return replace(self, pen_width=float(pen_width))

    def to_dict(self) -> dict:
        return {"canvas": list(self.canvas), "pen_width": self.pen_width,
                "strokes": [[list(point) for point in stroke] for stroke in self.strokes]}

    @classmethod
    def from_dict(cls, document: object, source: str = "the drawing") -> Drawing:
        """A drawing from its JSON form; anything malformed raises StrokesError naming `source`."""
        if not isinstance(document, dict):
            raise StrokesError(f'{source} is not a drawing: expected an object with "canvas", "pen_width" and '
                               f'"strokes".')
        missing = [key for key in ("canvas", "pen_width", "strokes") if key not in document]
        if missing:
            raise StrokesError(f"{source} lacks {', '.join(repr(key) for key in missing)}.")
        canvas = document["canvas"]
        if not (isinstance(canvas, list) and len(canvas) == 2 and all(_is_whole_number(side) for side in canvas)):
            raise StrokesError(f'{source}: "canvas" must be [width, height] in whole pixels, not {canvas!r:.60}.')
        try:
            pen_width = read_field(document, "pen_width", "number")
        except FieldError as error:
            raise StrokesError(f'{source}: "pen_width" must be a number, not {error.value!r:.60}.') from None
        try:
            strokes = read_field(document, "strokes", "list")
        except FieldError:
            raise StrokesError(f'{source}: "strokes" must be a list of strokes.') from None
        if len(strokes) > MAX_STROKES:
            raise StrokesError(f"{source} has {len(strokes):,} strokes; a drawing may have at most {MAX_STROKES}.")
        parsed = []
        for number, stroke in enumerate(strokes, 1):
            if not isinstance(stroke, list) or not stroke:
                raise StrokesError(f"{source}: stroke {number} must be a non-empty list of [x, y] points.")
            for point in stroke:
                if not (isinstance(point, list) and len(point) == 2 and all(is_number(v) for v in point)):
                    raise StrokesError(f"{source}: stroke {number} has a point {point!r:.60}; "
                                       f"each point must be [x, y] with two numbers.")
            parsed.append(tuple((float(x), float(y)) for x, y in stroke))
        try:
            return cls((int(canvas[0]), int(canvas[1])), float(pen_width), tuple(parsed))
        except StrokesError as error:
            raise StrokesError(f"{source}: {error}") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the drawing as JSON, atomically."""
        write_atomic(Path(path), (json.dumps(self.to_dict(), separators=(",", ":")) + "\n").encode("utf-8"))


def load_drawing(path: str | os.PathLike) -> Drawing:
    """Read a drawing saved as JSON; raises StrokesError with the file's name and the problem."""
    path = Path(path)
    try:
        document = parse_json(read_bounded(path, MAX_FILE_BYTES, "drawing file"), path.name)
    except FileReadError as error:
        raise StrokesError(str(error)) from None
    return Drawing.from_dict(document, shown(path.name))


def render(drawing: Drawing, size: tuple[int, int] | None = None) -> np.ndarray:
    """The drawing as a uint8 greyscale image (height, width), white ink on black.

    `size` (width, height) scales the canvas, pen included; by default the image has the
    canvas's own size. Strokes are anti-aliased polylines with round caps and joins; a stroke
    of one point is a dot as wide as the pen.
    """
    width, height = drawing.canvas if size is None else size
    scale_x, scale_y = width / drawing.canvas[0], height / drawing.canvas[1]
    image = np.zeros((height, width), np.uint8)
    pen = drawing.pen_width * math.sqrt(scale_x * scale_y)
    for stroke in drawing.strokes:
        # Canvas coordinates run over pixel areas (pixel 0 spans 0 to 1); OpenCV puts pixel
        # centres at whole numbers, so the ink moves half a pixel to stay where it was drawn.
        points = np.asarray(stroke, np.float64) * (scale_x, scale_y) - 0.5
        ink_polyline(image, points, pen)
    return image


def ink_polyline(image: np.ndarray, points: np.ndarray, pen_width: float) -> None:
    """Draw one stroke through `points` (n, 2), in pixel units, onto a uint8 image in place:
    white, anti-aliased, round caps and joins, to 1/16 pixel. The pen is at least 1 pixel wide."""
    pixels = np.round(np.asarray(points) * _SUBPIXEL_SCALE).astype(np.int32)
    if len(pixels) == 1:  # OpenCV inks nothing for a lone point, a zero-length line is a round dot
        pixels = np.vstack([pixels, pixels])
    cv2.polylines(image, [pixels], False, 255, max(1, round(pen_width)), cv2.LINE_AA, SUBPIXEL_BITS)


def _as_stroke(points: Iterable[Sequence[float]]) -> Stroke:
    return tuple((float(x), float(y)) for x, y in points)


def _check_drawing(canvas: tuple[int, int], pen_width: float, strokes: tuple[Stroke, ...]) -> None:
    width, height = canvas
    if not (1 <= width <= MAX_CANVAS_SIDE and 1 <= height <= MAX_CANVAS_SIDE):
        raise StrokesError(f"The canvas must be 1 to {MAX_CANVAS_SIDE} pixels on each side, not {width}×{height}.")
    if not (math.isfinite(pen_width) and 0 < pen_width <= max(width, height)):
        raise StrokesError(f"The pen width must be above 0 and at most the canvas size ({max(width, height)}), "
                           f"not {pen_width:g}.")
    if len(strokes) > MAX_STROKES:
        raise StrokesError(f"A drawing may have at most {MAX_STROKES} strokes, not {len(strokes):,}.")
    total = 0
    for number, stroke in enumerate(strokes, 1):
        if not stroke:
            raise StrokesError(f"Stroke {number} has no points.")
        total += len(stroke)
        if total > MAX_POINTS:
            raise StrokesError(f"A drawing may have at most {MAX_POINTS:,} points in all.")
        for x, y in stroke:
            if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= width and 0 <= y <= height):
                raise StrokesError(f"Stroke {number} has the point ({x:g}, {y:g}), outside the {width}×{height} "
                                   f"canvas.")


def _is_whole_number(value: object) -> bool:
    """A whole number that is exact as a float (1e308 is whole but no size)."""
    return is_number(value) and float(value).is_integer() and abs(value) <= 2**53
