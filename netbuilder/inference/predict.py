"""A trained model on new files: files -> raw samples -> `model_inputs` -> model -> `predictions`.

Each kind of raw input is one reader, a function from files to raw samples with a name for each;
`netbuilder predict` picks the reader for the kind of data the model was trained on, and a new
kind of input (such as drawings saved as strokes) is one more reader.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from netbuilder.core.memory import FLOAT_BYTES, available_memory
from netbuilder.data.base import DataError
from netbuilder.data.certainty import EMPTY_IMAGE, close_call, close_call_text, has_no_ink
from netbuilder.data.folders import IMAGE_SUFFIXES, read_image
from netbuilder.data.recipe import Prediction, Recipe, model_inputs, predictions
from netbuilder.data.tables import MAX_TABLE_BYTES, read_feature_rows, read_texts
from netbuilder.common.files import FileReadError, read_bounded
from netbuilder.common.text import SHOWN_NAME_CHARACTERS, byte_size, shown

from netbuilder.model.checkpoint import TrainedModel

_BATCH = 256
_TABLE_SUFFIXES = (".csv", ".tsv")


@dataclass(frozen=True)
class RawSamples:
    samples: list  # what model_inputs takes for the recipe: images, rows or texts
    names: list[str]  # how each is shown: "cat.png", "flowers.csv row 3", "notes.txt line 2"
    # why a sample holds nothing to read ("the image is empty"), or None; by sample, for images and drawings
    nothing_to_read: list[str | None] = field(default_factory=list)


Reader = Callable[[Recipe, Sequence[Path]], RawSamples]


def read_image_files(recipe: Recipe, files: Sequence[Path]) -> RawSamples:
    """Image files as decoded pixels, transparency included (`model_inputs` reads them as the model was trained)."""
    images = []
    for path in files:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{shown(path.name)}: the model reads images ({', '.join(IMAGE_SUFFIXES)}), not "
                            f"{shown(path.suffix) or 'files without a suffix'}.")
        image = read_image(path)
        if image is None:
            raise DataError(f"{shown(str(path))}: is not an image that can be read (damaged, or not really "
                            f"{shown(path.suffix.lower())}).")
        images.append(image)
    return RawSamples(images, [path.name for path in files],
                      [EMPTY_IMAGE if has_no_ink(image) else None for image in images])


def read_table_files(recipe: Recipe, files: Sequence[Path]) -> RawSamples:
    """Every row of CSV files, the model's feature columns found by name (a label column may be there)."""
    rows, names = [], []
    for path in files:
        features, _, where = read_feature_rows(path, recipe.table, with_labels=False)
        rows += list(features)
        names += where
    return RawSamples(rows, names)


def read_text_files(recipe: Recipe, files: Sequence[Path]) -> RawSamples:
    """Texts: each non-empty line of a text file, or the text column of a CSV file."""
    texts, names = [], []
    for path in files:
        if path.suffix.lower() in _TABLE_SUFFIXES:
            column, _, where = read_texts(path, recipe.text, with_labels=False)
            texts += column
            names += where
            continue
        try:
            lines = read_bounded(path, MAX_TABLE_BYTES, "text file").decode("utf-8-sig").splitlines()
        except FileReadError as error:
            raise DataError(str(error)) from None
        except UnicodeDecodeError:
            raise DataError(f"{shown(str(path))}: is not UTF-8 text.") from None
        for number, line in enumerate(lines, start=1):
            if line.strip():
                texts.append(line)
                names.append(f"{path.name} line {number}")
    return RawSamples(texts, names)


READERS: dict[str, Reader] = {"image": read_image_files, "table": read_table_files, "text": read_text_files}


@torch.no_grad()
def predict(trained: TrainedModel, samples: Sequence) -> Prediction:
    """The model's prediction for raw samples, read through its recipe."""
    inputs = model_inputs(trained.recipe, samples)
    trained.model.eval()
    outputs = [trained.model(inputs[:_BATCH])]
    _check_room(len(inputs), math.prod(outputs[0].shape[1:]))
    outputs += [trained.model(inputs[start:start + _BATCH]) for start in range(_BATCH, len(inputs), _BATCH)]
    return predictions(trained.recipe, torch.cat(outputs), inputs)


def _check_room(samples: int, scores: int) -> None:
    """Every sample's scores are kept, and their probabilities: refused before they outgrow the
    free memory (a model of 100,000 classes on a file of 100,000 rows would need 80 GB)."""
    needed = 2 * samples * scores * FLOAT_BYTES
    available = available_memory()
    if available is not None and needed > available:
        raise DataError(f"Predicting {samples:,} samples of {scores:,} scores each needs about {byte_size(needed)}; "
                        f"this computer has {byte_size(available)} free: predict fewer samples at a time.")


def predict_files(trained: TrainedModel, files: Sequence[str | Path],
                  reader: Reader | None = None) -> tuple[RawSamples, Prediction]:
    """Read `files` with `reader` (by default the one for the model's kind of data) and predict."""
    read = reader or READERS[trained.recipe.source_kind]
    raw = read(trained.recipe, [Path(file) for file in files])
    if not raw.samples:
        raise DataError(f"{shown(', '.join(Path(file).name for file in files))}: no samples to predict.")
    return raw, predict(trained, raw.samples)


def prediction_rows(raw: RawSamples, prediction: Prediction, top: int) -> list[dict]:
    """One JSON-ready record per sample: its name and top classes, or its predicted values.

    A classification record also says whether the sample held nothing to read ("nothing_to_read":
    why, and no classes in "top") and, when its two most probable classes are too close to choose
    between, which two they are ("close_call": [first, second]; else null).; an
    autoencoder's record holds its reconstruction error and the image given back (pixel values,
    channels × rows × columns)."""
    if prediction.errors is not None:
        return [{"sample": name, "error": float(error), "image": values.astype(float).round(4).tolist()}
                for name, error, values in zip(raw.names, prediction.errors, prediction.values)]
    if prediction.probabilities is None:
        return [{"sample": name, "values": [float(value) for value in values]}
                for name, values in zip(raw.names, prediction.values)]
    rows = []
    for index, name in enumerate(raw.names):
        empty = raw.nothing_to_read[index] if raw.nothing_to_read else None
        pair = None if empty else close_call(prediction.probabilities[index])
        rows.append({"sample": name, "nothing_to_read": empty,
                     "close_call": None if pair is None else [prediction.class_names[class_] for class_ in pair],
                     "top": [] if empty else [{"class": label, "probability": round(probability, 6)}
                                              for label, probability in prediction.top(index, top)]})
    return rows


def format_rows(rows: list[dict], as_json: bool) -> str:
    """The records as JSON for scripts, or as an aligned table for people (names short and printable)."""
    if as_json:  # ASCII: names that hold terminal escapes reach the terminal as JSON escapes
        return json.dumps(rows, indent=1, ensure_ascii=True).replace("\x7f", "\\u007f")
    if "error" in rows[0]:  # a reconstructed image is for --json (or the Draw panel), not a table
        header, cells = ["sample", "reconstruction error"], [[shown(row["sample"]), f"{row['error']:.4g}"]
                                                             for row in rows]
    elif "values" in rows[0]:
        header, cells = ["sample", "prediction"], [[shown(row["sample"]), ", ".join(f"{v:.4g}" for v in row["values"])]
                                                   for row in rows]
    else:
        header = ["sample", "prediction", "probability", "next"]
        cells = [[shown(row["sample"]), f"({row['nothing_to_read']})", "", ""] if row["nothing_to_read"] else
                 [shown(row["sample"]), _answer(row), f"{100 * row['top'][0]['probability']:.1f}%",
                  "  ".join(f"{shown(other['class'], SHOWN_NAME_CHARACTERS)} {100 * other['probability']:.1f}%"
                            for other in row["top"][1:])]
                 for row in rows]
    widths = [max(len(line[column]) for line in [header, *cells]) for column in range(len(header))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
                     for line in [header, *cells])


def _answer(row: dict) -> str:
    """The prediction cell: the top class, or the two top classes as a question ("7 or 2?") for a close call."""
    if row["close_call"]:
        return close_call_text([shown(name, SHOWN_NAME_CHARACTERS) for name in row["close_call"]], (0, 1))
    return shown(row["top"][0]["class"], SHOWN_NAME_CHARACTERS)
