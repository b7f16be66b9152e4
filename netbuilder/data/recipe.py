"""A trained model's data contract: how raw data becomes its input and its outputs become names.

The loaders read raw samples and fit a `Recipe` once, on the training data (an image size and
value scale, a scaler and its statistics, a vocabulary), and training stores it beside the
weights. Everything that feeds the model goes through `model_inputs` with that recipe: the
training and validation tensors themselves (`base.RawDataset.build`), evaluation, `predict`, the
drawing canvas, the personal set, fine-tuning and exports. So new data is read exactly as the
training data was and is never refitted: an unknown word becomes the unknown token, a skewed test
file keeps the training scaler, a test file lacking a class keeps the class indices.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from netbuilder.common.contracts import INPUT_KINDS, TASKS
from netbuilder.common.fields import FieldError, Kind, read_field, is_count
from netbuilder.common.text import format_shape, shown

from .base import DataError
from .preprocess import (DIGIT_BOX, DIGIT_SMOOTHING, IMAGE_SIZE, deslant_digits, normalize_digits, resize_image,
                         smooth_digits)
from .strokes import Drawing, ink_polyline

RECIPE_FORMAT = "netbuilder-recipe"
RECIPE_VERSION = 1

PADDING, UNKNOWN = "<pad>", "<unk>"  # token ids 0 and 1
_PADDING_ID, _UNKNOWN_ID = 0, 1
_WORD = re.compile(r"\w+(?:'\w+)*")
# A digit image whose border is mostly brighter than this is dark ink on light paper.
_LIGHT_BACKGROUND = 127
# Every image recipe scales pixels as MNIST was scaled, so that a model trained on one source of
# 28×28 grey images (MNIST, the built-in digits, a folder, the canvas) reads the others.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
# What a blank (black) pixel becomes; augmentation pads with it.
MNIST_BACKGROUND = -MNIST_MEAN / MNIST_STD
# Transparent parts of an image become black, the blank pixel of every image here, unless what is
# drawn is itself darker than this (black ink drawn through transparency): then white, so it shows.
_DARK_INK = 0.5
# How an image reaches the recipe's height×width (cv2 interpolations): "area" averages when shrinking
# (no aliasing) and is linear when enlarging, "linear" and "nearest" are what they say.
RESIZE_METHODS = ("area", "linear", "nearest")
# A stack of images is read this many at a time: each step's arrays (1.6 MB for 28×28 grey) then stay in
# the processor's cache, where the whole of MNIST at once (220 MB) made every step a trip through memory.
_STACK_CHUNK = 512
# A drawing is read at one size and one pen: its strokes' box fitted to this many pixels on its
# longer side, inked with a pen this share of it (6 pixels, 1.5 of the model's 20-pixel digit box).
# Thinner than the canvas's own proportion (a tenth): a thin line keeps small loops and near
# strokes apart, and models trained on the built-in digits read pen handwriting better with it
# (docs/decisions.md, "A thinner pen"). 4 pixels of box per pixel of the model's digit box leave
# the shrinking to normalize_digit's anti-aliasing, as with any image.
_DRAWING_BOX = 80
_DRAWING_PEN_SHARE = 0.075
# The widest blur a recipe may soften digits by, in pixels: a wider one smears a 20-pixel digit into a blob.
_MOST_SMOOTHING = 3.0


class RecipeError(ValueError):
    """A recipe document is missing a field or holds a value that cannot be right; says which."""


def tokenize(text: str) -> list[str]:
    """Lower-case words; an apostrophe inside a word keeps it whole ("don't")."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class ImageRecipe:
    """Images become (channels, height, width) values: pixel / 255, then (value - mean) / std."""

    height: int
    width: int
    channels: int  # 1: grey, 3: RGB
    mean: float = MNIST_MEAN
    std: float = MNIST_STD
    # MNIST-style: crop to the ink, fit 20×20 keeping the aspect, centre of mass at the centre
    # of 28×28 (white ink on black; dark ink on a light background is inverted first)
    digits: bool = False
    resize: str = "area"  # one of RESIZE_METHODS
    # digits only: each digit stood upright (`deslant_digits`) after it is fitted and centred
    deslant: bool = False
    # digits only: the deviation, in pixels, of the Gaussian blur that softens each digit last
    # (`smooth_digits`); 0: none
    smooth: float = 0.0


@dataclass(frozen=True)
class TableRecipe:
    """Rows of numeric columns become (value - offset) / spread, column by column."""

    columns: tuple[str, ...]  # the feature columns, in the model's order
    label_column: str
    scaling: str  # "standard", "minmax" or "none": how offset and spread were fitted
    offset: tuple[float, ...]
    spread: tuple[float, ...]


@dataclass(frozen=True)
class TextRecipe:
    """Texts become token ids: lower-case words (`tokenize`), the first `sequence_length` of
    them looked up in `vocabulary` (unknown words: id 1), padded with id 0 in front."""

    vocabulary: tuple[str, ...]  # token id -> word; 0 is padding, 1 the unknown word
    sequence_length: int
    text_column: str
    label_column: str
    tokenizer: str = "words"
    padding: str = "front"


@dataclass(frozen=True)
class Recipe:
    input_kind: str  # the Input layer's kind (contracts.INPUT_KINDS)
    input_shape: tuple[int, ...]  # the Input layer's shape, without the batch
    task: str  # the Output layer's task (contracts.TASKS)
    class_names: tuple[str, ...]  # in the model's class index order; empty for regression
    image: ImageRecipe | None = None
    table: TableRecipe | None = None
    text: TextRecipe | None = None

    @property
    def source_kind(self) -> str:
        """What raw samples look like: "image", "table" or "text"."""
        return "image" if self.image else "table" if self.table else "text"

    def for_input(self, input_kind: str, input_shape: Sequence[int]) -> Recipe:
        """The same recipe feeding an Input of this kind and shape (e.g. images read as vectors)."""
        return replace(self, input_kind=input_kind, input_shape=tuple(int(size) for size in input_shape))

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"format": RECIPE_FORMAT, "version": RECIPE_VERSION,
                                    "input_kind": self.input_kind, "input_shape": list(self.input_shape),
                                    "task": self.task, "class_names": list(self.class_names)}
        if self.image:
            document["image"] = {"height": self.image.height, "width": self.image.width,
                                 "channels": self.image.channels, "mean": self.image.mean,
                                 "std": self.image.std, "digits": self.image.digits, "resize": self.image.resize,
                                 "deslant": self.image.deslant, "smooth": self.image.smooth}
        if self.table:
            document["table"] = {"columns": list(self.table.columns), "label_column": self.table.label_column,
                                 "scaling": self.table.scaling, "offset": list(self.table.offset),
                                 "spread": list(self.table.spread)}
        if self.text:
            document["text"] = {"tokenizer": self.text.tokenizer, "padding": self.text.padding,
                                "sequence_length": self.text.sequence_length,
                                "text_column": self.text.text_column, "label_column": self.text.label_column,
                                "vocabulary": list(self.text.vocabulary)}
        return document

    @classmethod
    def from_dict(cls, document: Any) -> Recipe:
        """The recipe a `to_dict` document describes; RecipeError says what is wrong with it."""
        if not isinstance(document, Mapping):
            raise RecipeError("the recipe is not a JSON object")
        if document.get("format") != RECIPE_FORMAT:
            raise RecipeError(f'the recipe lacks "format": "{RECIPE_FORMAT}"')
        if document.get("version") != RECIPE_VERSION:
            raise RecipeError(f"the recipe has version {shown(repr(document.get('version')), 30)}; this netbuilder "
                              f"reads version {RECIPE_VERSION}")
        reader = _Reader(document, "recipe")
        recipe = cls(input_kind=reader.choice("input_kind", INPUT_KINDS),
                     input_shape=reader.sizes("input_shape"),
                     task=reader.choice("task", TASKS),
                     class_names=reader.strings("class_names"),
                     image=_image_from(reader.part("image")),
                     table=_table_from(reader.part("table")),
                     text=_text_from(reader.part("text")))
        problem = _inconsistency(recipe)
        if problem:
            raise RecipeError(problem)
        return recipe


def image_recipe(class_names: Sequence[str], height: int, width: int, channels: int = 1, *,
                 digits: bool = False, resize: str = "area", deslant: bool = False,
                 smooth: float = 0.0) -> Recipe:
    """The recipe of a classification image dataset as its loader reads it."""
    if resize not in RESIZE_METHODS:
        raise DataError(f'Images are resized by one of {", ".join(RESIZE_METHODS)}, not "{shown(resize)}".')
    return Recipe("image", (channels, height, width), "classification", tuple(class_names),
                  image=ImageRecipe(height, width, channels, digits=digits, resize=resize, deslant=deslant,
                                    smooth=smooth))


def digit_recipe(class_names: Sequence[str]) -> Recipe:
    """MNIST, the built-in digits and anything made like them: 28×28 grey, digit-normalised, stood
    upright and softened (models read real handwriting better that way: docs/decisions.md, "Digits
    stood upright" and "Digits softened")."""
    return image_recipe(class_names, IMAGE_SIZE, IMAGE_SIZE, digits=True, deslant=True, smooth=DIGIT_SMOOTHING)


# --- the one way in --------------------------------------------------------------------------------------

def model_inputs(recipe: Recipe, samples: Sequence) -> torch.Tensor:
    """Raw samples -> the batch the model takes: float32 (N, *input_shape), or int64 token ids.

    This is the only way raw data becomes model input: the loaders build their training and
    validation tensors with it, and evaluation, `predict`, the canvas and fine-tuning read new
    samples with it. Images: arrays (H, W) grey, (H, W, 3) RGB, (H, W, 2) grey+alpha or
    (H, W, 4) RGBA of any size, 8- or 16-bit (float arrays are read as 0-1); a stack of equal
    images (N, H, W[, C]) is read as its N images. Tables: rows of the feature columns' values,
    as sequences in the recipe's column order or mappings from column name. Text: strings.
    Raises DataError naming the bad sample.
    """
    if recipe.image:
        batch = _image_inputs(recipe.image, samples)
    elif recipe.table:
        batch = _table_inputs(recipe.table, samples)
    else:
        return _text_inputs(recipe.text, samples)
    return batch.reshape(-1, *recipe.input_shape)


def input_pictures(recipe: Recipe, inputs: torch.Tensor) -> np.ndarray:
    """The inverse of `model_inputs` for images, to show what a model sees: float32 (N, H, W) grey
    or (N, H, W, 3) colour in [0, 1]."""
    image = recipe.image
    values = inputs.detach().cpu().reshape(-1, image.channels, image.height, image.width).numpy()
    pictures = np.clip(values * image.std + image.mean, 0.0, 1.0).astype(np.float32)
    return pictures[:, 0] if image.channels == 1 else pictures.transpose(0, 2, 3, 1)


def drawing_inputs(recipe: Recipe, drawings: Sequence[Drawing], pen_factor: float = 1.0) -> torch.Tensor:
    """Drawings -> the batch the model takes, read as the digits it was taught: each drawing's
    strokes are fitted to one box and inked with one pen in proportion to it (`drawing_picture`),
    then read as any image is. So where a digit was drawn on the canvas, how large, and with how
    wide a pen do not change what the model sees: only the shape of the strokes does.
    `pen_factor` widens or narrows that pen, for training on one drawing at several pens."""
    return model_inputs(recipe, [drawing_picture(drawing, pen_factor) for drawing in drawings])


def drawing_steps(image: ImageRecipe) -> str:
    """In words, what `drawing_inputs` does to a drawing for a model with this image recipe."""
    if not image.digits:
        return f"the drawing resized to {image.width}×{image.height}"
    steps = (f"the drawing cropped, fitted into {DIGIT_BOX}×{DIGIT_BOX} and centred by its centre of mass in "
             f"{IMAGE_SIZE}×{IMAGE_SIZE}")
    if image.deslant:
        steps += ", then stood upright (its slant taken away)"
    if image.smooth:
        steps += f", then softened (a blur of {image.smooth:g} pixels)"
    return steps


def drawing_picture(drawing: Drawing, pen_factor: float = 1.0) -> np.ndarray:
    """The strokes as a uint8 image, white ink on black, their bounding box scaled to
    _DRAWING_BOX pixels on its longer side and centred, the pen pen_factor × _DRAWING_PEN_SHARE
    of that. A drawing of one point (a tap) is a dot of the pen's size."""
    pen = _DRAWING_BOX * _DRAWING_PEN_SHARE * pen_factor
    side = _DRAWING_BOX + 2 * math.ceil(pen)
    image = np.zeros((side, side), np.uint8)
    if drawing.is_empty:
        return image
    points = np.concatenate([np.asarray(stroke, np.float64) for stroke in drawing.strokes])
    low, high = points.min(axis=0), points.max(axis=0)
    scale = _DRAWING_BOX / max(float((high - low).max()), drawing.pen_width)
    offset = side / 2 - (low + high) / 2 * scale - 0.5  # OpenCV puts pixel centres at whole numbers
    for stroke in drawing.strokes:
        ink_polyline(image, np.asarray(stroke, np.float64) * scale + offset, pen)
    return image


def stored_pixels(image: ImageRecipe, samples: Sequence) -> np.ndarray:
    """Images -> uint8 (N, height, width, channels): transparency composited, converted to the
    recipe's channels, resized by its method and rounded to 8 bits, as an image file stores them.

    Every image a non-digit recipe reads passes through here before its values are scaled (in
    `model_inputs`), and the streamed datasets' caches hold exactly these pixels: so a batch read
    from a cache, a folder read into memory and a file given to `predict` become the same values.
    A stack already in this form (uint8, the recipe's size and channels) is returned as it is.
    """
    shape = (image.height, image.width, image.channels)
    if isinstance(samples, np.ndarray) and samples.dtype == np.uint8 and len(samples) and \
            (samples.shape[1:] == shape or (image.channels == 1 and samples.shape[1:] == shape[:2])):
        return samples.reshape(len(samples), *shape)
    stored = np.empty((len(samples), *shape), np.uint8)
    for start, group in _groups(samples):
        pixels = _opaque(_unit_pixels(group, start))
        pictures = _grey(pixels)[..., None] if image.channels == 1 else _colour(pixels)
        for index, picture in enumerate(pictures):
            resized = resize_image(picture, image.height, image.width, image.resize).reshape(shape)
            stored[start + index] = np.rint(np.clip(resized * np.float32(255), 0, 255))
    return stored


def _groups(samples: Sequence) -> list[tuple[int, np.ndarray]]:
    """(index of the first, images (N, H, W[, C])): a loader's stack of equal images a chunk at a
    time, anything else image by image; the same image-by-image steps follow either way, so both
    give the same values."""
    if isinstance(samples, np.ndarray) and samples.ndim in (3, 4) and len(samples) > 0:
        return [(start, samples[start:start + _STACK_CHUNK]) for start in range(0, len(samples), _STACK_CHUNK)]
    return [(index, np.asarray(sample)[None]) for index, sample in enumerate(samples)]


def _image_inputs(image: ImageRecipe, samples: Sequence) -> torch.Tensor:
    if not image.digits:
        pixels = torch.from_numpy(np.ascontiguousarray(stored_pixels(image, samples).transpose(0, 3, 1, 2)))
        return pixels.to(torch.float32).div_(255).sub_(image.mean).div_(image.std)
    batch = np.empty((len(samples), 1, image.height, image.width), np.float32)
    for start, group in _groups(samples):
        pixels = _opaque(_unit_pixels(group, start))
        digits = normalize_digits(_ink_on_black(_grey(pixels)))
        if image.deslant:
            digits = deslant_digits(digits)
        batch[start:start + len(group), 0] = smooth_digits(digits, image.smooth)
    return torch.from_numpy(batch).sub_(image.mean).div_(image.std)


def _unit_pixels(group: np.ndarray, index: int) -> np.ndarray:
    """Images (N, H, W[, C]) as float32 in [0, 1]; `index` is the first one's, for messages."""
    shape = group.shape[1:]
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 2, 3, 4)) or group.size == 0:
        raise DataError(f"Image {index + 1} is a {format_shape(shape)} array; an image is height×width "
                        "(grey) or height×width×3 (colour), with or without transparency.")
    if group.dtype.kind == "u":
        return group.astype(np.float32) / np.float32(np.iinfo(group.dtype).max)
    pixels = np.nan_to_num(group.astype(np.float32), nan=0.0)
    return np.clip(pixels, 0.0, 1.0)


def _opaque(pixels: np.ndarray) -> np.ndarray:
    """Images whose last axis ends with an alpha channel (2: grey+alpha, 4: RGBA) composited onto
    their background, before anything else reads them: a drawing program's black ink on a
    transparent background has all its shape in the alpha channel and none in its colours."""
    if pixels.ndim != 4 or pixels.shape[3] not in (2, 4):
        return pixels
    colour, alpha = pixels[..., :-1], pixels[..., -1:]
    weight = alpha.sum(axis=(1, 2, 3))
    ink = (colour * alpha).sum(axis=(1, 2, 3)) / np.maximum(weight * colour.shape[3], 1e-12)
    background = np.where((weight > 0) & (ink < _DARK_INK), 1.0, 0.0).astype(np.float32)
    return colour * alpha + background[:, None, None, None] * (1.0 - alpha)


def _grey(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 3:
        return pixels
    if pixels.shape[3] == 1:
        return pixels[..., 0]
    # ITU-R 601, as OpenCV; element by element, so a stack and a single image give the same values
    return pixels[..., 0] * np.float32(0.299) + pixels[..., 1] * np.float32(0.587) + pixels[..., 2] * np.float32(0.114)


def _colour(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 3 or pixels.shape[3] == 1:
        return np.repeat(pixels.reshape(*pixels.shape[:3], 1), 3, axis=3)
    return pixels[..., :3]


def _ink_on_black(grey: np.ndarray) -> np.ndarray:
    """Digits are learnt as white ink on black; a photo or scan of dark ink on paper is inverted."""
    border = np.concatenate([grey[:, 0], grey[:, -1], grey[:, :, 0], grey[:, :, -1]], axis=1)
    # A median is at most the largest value, so only borders with a light pixel need one (a partial sort).
    light = border.max(axis=1) * 255 > _LIGHT_BACKGROUND
    light[light] = np.median(border[light], axis=1) * 255 > _LIGHT_BACKGROUND
    return np.where(light[:, None, None], 1.0 - grey, grey) if light.any() else grey


def _table_inputs(table: TableRecipe, samples: Sequence) -> torch.Tensor:
    if isinstance(samples, np.ndarray) and samples.dtype.kind in "fiu" and samples.ndim == 2 and \
            samples.shape[1] == len(table.columns) and np.isfinite(samples).all():
        values = samples.astype(np.float64)  # already numbers, as a loader has read them
    else:
        values = _parsed_rows(table, samples)
    scaled = (values - np.asarray(table.offset)) / np.asarray(table.spread)
    return torch.from_numpy(scaled.astype(np.float32))


def _parsed_rows(table: TableRecipe, samples: Sequence) -> np.ndarray:
    values = np.empty((len(samples), len(table.columns)), np.float64)
    for index, row in enumerate(samples):
        if isinstance(row, Mapping):
            missing = [column for column in table.columns if column not in row]
            if missing:
                raise DataError(f"Row {index + 1} has no column {', '.join(missing)}; the model reads the "
                                f"columns {', '.join(table.columns)}.")
            row = [row[column] for column in table.columns]
        elif len(row) != len(table.columns):
            raise DataError(f"Row {index + 1} has {len(row)} values; the model reads {len(table.columns)} "
                            f"columns ({', '.join(table.columns)}).")
        for column, value in enumerate(row):
            values[index, column] = _number(value, index, table.columns[column])
    return values


def _number(value: Any, row: int, column: str) -> float:
    if isinstance(value, str) and "." not in value:
        value = value.replace(",", ".")  # a decimal comma, as many spreadsheets write numbers
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise DataError(f"Row {row + 1}: {value!r} in column {column} is not a number.")
    return number


def _text_inputs(text: TextRecipe, samples: Sequence[str]) -> torch.Tensor:
    token_ids = {word: index for index, word in enumerate(text.vocabulary)}
    encoded = np.full((len(samples), text.sequence_length), _PADDING_ID, dtype=np.int64)
    for row, sample in enumerate(samples):
        ids = [token_ids.get(word, _UNKNOWN_ID) for word in tokenize(str(sample))[:text.sequence_length]]
        if ids:
            encoded[row, text.sequence_length - len(ids):] = ids
    return torch.from_numpy(encoded)


# --- the way out ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prediction:
    """What the model says about each sample, in the recipe's terms."""

    task: str
    class_names: tuple[str, ...]
    probabilities: np.ndarray | None  # float (N, classes) for classification, else None
    # regression: the outputs (N, outputs); classification: the predicted class (N,); reconstruction:
    # the images given back (N, C, H, W), as pixel values in [0, 1] where the inputs are images
    values: np.ndarray
    errors: np.ndarray | None = None  # reconstruction: each sample's mean squared error against its input

    def __len__(self) -> int:
        return len(self.values)

    def top(self, sample: int, count: int = 3) -> list[tuple[str, float]]:
        """The `count` most probable classes of one sample with their probabilities, most probable first."""
        probabilities = self.probabilities[sample]
        order = np.argsort(-probabilities, kind="stable")[:count]
        return [(self.class_names[index], float(probabilities[index])) for index in order]

    @property
    def names(self) -> list[str]:
        """The predicted class name of each sample (classification only)."""
        return [self.class_names[index] for index in self.values]


def predictions(recipe: Recipe, outputs: torch.Tensor, inputs: torch.Tensor | None = None) -> Prediction:
    """The model's raw outputs (N, ...) read as the Output's task says (softmax for classification;
    for reconstruction the images, and with the `inputs` each one's error)."""
    scores = outputs.detach().float().cpu()
    if TASKS[recipe.task].target_is_input:
        errors = None if inputs is None else \
            (scores - inputs.float().cpu().view_as(scores)).square().flatten(1).mean(dim=1).numpy()
        if recipe.image:  # back from the normalised values the model works in to pixels
            scores = (scores * recipe.image.std + recipe.image.mean).clamp(0.0, 1.0)
        return Prediction(recipe.task, (), None, scores.numpy(), errors)
    if TASKS[recipe.task].probabilities == "softmax":
        # A network may give spare scores beyond its classes (training allows it: they are never
        # right); they share the softmax as in training, but name no class, so they are left out.
        probabilities = torch.softmax(scores.reshape(len(scores), -1), dim=1)[:, :len(recipe.class_names)].numpy()
        return Prediction(recipe.task, recipe.class_names, probabilities, probabilities.argmax(axis=1))
    return Prediction(recipe.task, recipe.class_names, None, scores.reshape(len(scores), -1).numpy())


def class_indices(recipe: Recipe, labels: Sequence[str]) -> np.ndarray:
    """Label names -> the model's class indices (int64), -1 for a label the model does not know.
    By name, so a file lacking some classes keeps every other class's index."""
    index_of = {name: index for index, name in enumerate(recipe.class_names)}
    return np.array([index_of.get(label, -1) for label in labels], dtype=np.int64)


# --- validation -----------------------------------------------------------------------------------------

class _Reader:
    """Typed access to one JSON object of the recipe, with messages naming the field."""

    def __init__(self, document: Mapping, where: str):
        self.document, self.where = document, where

    def _field(self, name: str, kind: Kind, wanted: str | None = None) -> Any:
        try:
            return read_field(self.document, name, kind)
        except FieldError as error:
            if error.missing:
                raise RecipeError(f"the {self.where} has no {name}") from None
            raise self._bad(name, wanted or error.wanted) from None

    def _bad(self, name: str, wanted: str) -> RecipeError:
        return RecipeError(f"the {self.where}'s {name} must be {wanted}, not {shown(repr(self.document[name]), 60)}")

    def part(self, name: str) -> _Reader | None:
        value = self.document.get(name)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._bad(name, "an object")
        return _Reader(value, f"recipe's {name} part")

    def choice(self, name: str, choices) -> str:
        wanted = "one of " + ", ".join(choices)
        value = self._field(name, "text", wanted)
        if value not in choices:
            raise self._bad(name, wanted)
        return value

    def integer(self, name: str, minimum: int = 1) -> int:
        wanted = f"a whole number of at least {minimum}"
        value = self._field(name, "count", wanted)
        if value < minimum:
            raise self._bad(name, wanted)
        return value

    def number(self, name: str, positive: bool = False) -> float:
        wanted = "a positive number" if positive else "a number"
        value = self._field(name, "number", wanted)
        if positive and value <= 0:
            raise self._bad(name, wanted)
        return float(value)

    def flag(self, name: str) -> bool:
        return self._field(name, "flag")

    def text(self, name: str) -> str:
        return self._field(name, "text")

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self._field(name, "texts"))

    def sizes(self, name: str) -> tuple[int, ...]:
        wanted = "a list of positive whole numbers"
        value = self._field(name, "list", wanted)
        if not value or not all(is_count(size) and size >= 1 for size in value):
            raise self._bad(name, wanted)
        return tuple(value)

    def numbers(self, name: str, positive: bool = False) -> tuple[float, ...]:
        wanted = "a list of positive numbers" if positive else "a list of numbers"
        value = self._field(name, "numbers", wanted)
        if positive and not all(item > 0 for item in value):
            raise self._bad(name, wanted)
        return tuple(float(item) for item in value)


def _image_from(reader: _Reader | None) -> ImageRecipe | None:
    if reader is None:
        return None
    channels = reader.integer("channels")
    if channels not in (1, 3):
        raise RecipeError(f"the recipe's image part has {channels} channels; images have 1 (grey) or 3 (colour)")
    # recipes saved before the resize method was a setting were all read by "area", and before
    # digits were stood upright or softened, not: a model reads as it was taught
    resize = reader.choice("resize", RESIZE_METHODS) if "resize" in reader.document else "area"
    deslant = reader.flag("deslant") if "deslant" in reader.document else False
    smooth = reader.number("smooth") if "smooth" in reader.document else 0.0
    return ImageRecipe(reader.integer("height"), reader.integer("width"), channels, reader.number("mean"),
                       reader.number("std", positive=True), reader.flag("digits"), resize, deslant, smooth)


def _table_from(reader: _Reader | None) -> TableRecipe | None:
    if reader is None:
        return None
    return TableRecipe(reader.strings("columns"), reader.text("label_column"),
                       reader.choice("scaling", ("standard", "minmax", "none")),
                       reader.numbers("offset"), reader.numbers("spread", positive=True))


def _text_from(reader: _Reader | None) -> TextRecipe | None:
    if reader is None:
        return None
    return TextRecipe(reader.strings("vocabulary"), reader.integer("sequence_length"), reader.text("text_column"),
                      reader.text("label_column"), reader.choice("tokenizer", ("words",)),
                      reader.choice("padding", ("front",)))


def _image_inconsistency(image: ImageRecipe, input_shape: tuple[int, ...]) -> str | None:
    """What makes a well-typed image part unusable for this input, or None."""
    if image.height * image.width * image.channels != math.prod(input_shape):
        return (f"the recipe's {image.channels}×{image.height}×{image.width} images do not fill its "
                f"{format_shape(input_shape)} input")
    if image.digits and (image.channels, image.height, image.width) != (1, IMAGE_SIZE, IMAGE_SIZE):
        return f"digit normalisation makes 1×{IMAGE_SIZE}×{IMAGE_SIZE} images"
    if image.deslant and not image.digits:
        return "only digits are stood upright: the recipe's image part has deslant without digits"
    if image.smooth and not image.digits:
        return "only digits are softened: the recipe's image part has smooth without digits"
    if not 0 <= image.smooth <= _MOST_SMOOTHING:
        return (f"the recipe softens digits by a blur of {image.smooth:g} pixels; a blur is 0 to "
                f"{_MOST_SMOOTHING:g} pixels")
    return None


def _inconsistency(recipe: Recipe) -> str | None:
    """What makes a well-typed recipe unusable, or None."""
    parts = [part for part in (recipe.image, recipe.table, recipe.text) if part is not None]
    if len(parts) != 1:
        return f"the recipe must describe one kind of data (image, table or text), not {len(parts)}"
    kind = INPUT_KINDS[recipe.input_kind]
    if len(recipe.input_shape) != kind.rank:
        return (f"the recipe's {recipe.input_kind} input has {len(recipe.input_shape)} sizes; it needs "
                f"{kind.rank} ({kind.layout})")
    if TASKS[recipe.task].has_classes and \
            (len(recipe.class_names) < 2 or len(set(recipe.class_names)) != len(recipe.class_names)):
        return "the recipe's class names must be at least two, each once"
    values = math.prod(recipe.input_shape)
    if recipe.text:
        if not kind.token_ids or recipe.input_shape != (recipe.text.sequence_length,):
            return "the recipe's text part must feed a tokens input of its sequence length"
        if recipe.text.vocabulary[:2] != (PADDING, UNKNOWN):
            return f"the recipe's vocabulary must start with {PADDING} and {UNKNOWN}"
        return None
    if kind.token_ids:
        return "only text feeds a tokens input"
    if recipe.image:
        return _image_inconsistency(recipe.image, recipe.input_shape)
    table = recipe.table
    if not len(table.columns) == len(table.offset) == len(table.spread) == values:
        return (f"the recipe's table has {len(table.columns)} columns, {len(table.offset)} offsets and "
                f"{len(table.spread)} spreads for an input of {values} values")
    return None
