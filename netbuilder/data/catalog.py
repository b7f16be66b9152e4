"""One entry point for every dataset: a built-in name, a folder or a CSV file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from netbuilder.common.contracts import TASKS
from netbuilder.common.text import shown

from . import cifar
from .base import DataError, Dataset, Progress, RawDataset
from .builtin import BUILTIN_DATASETS
from .folders import load_image_folder, read_labelled_images
from .mnist import COLLECTIONS, find_idx_files, read_idx_folder, read_mnist
from .recipe import Recipe, class_indices, model_inputs
from .tables import load_csv, load_text_csv, looks_like_text_csv, read_feature_rows, read_texts, regression_targets

CSV_SUFFIXES = (".csv", ".tsv", ".txt")


def load_dataset(spec: str, *, progress: Progress | None = None, **options) -> Dataset:
    """The dataset `spec` names: "digits", "mnist", "fashion-mnist", "cifar-10", a folder or a CSV file.

    A folder holds the four MNIST-style IDX files, CIFAR-10's batch files, or one image subfolder per class.
    A CSV file is read as text (columns text and label) when a column holds free text, else as
    numbers; `kind="text"` or `kind="numeric"` decides instead. `task` (the Output's) says whether
    a numeric CSV's labels are classes or quantities; images and texts are classes. Other options
    go to the loader (e.g. `val_fraction`, `size`, `label_column`, `mirrors`).

    `input_shape` (the Input's, C×H×W for an image Input) sets an image folder's size and channels;
    image data whose float tensors would exceed `in_memory_limit` bytes is streamed (`stream.py`).
    """
    task = options.pop("task", None)
    input_shape = options.pop("input_shape", None)
    in_memory_limit = options.pop("in_memory_limit", None)
    stored = read_stored_images(spec, progress=progress, **options)
    if stored is not None:
        return stored.build(stream=in_memory_limit is not None and stored.float_bytes > in_memory_limit)
    path = _dataset_path(spec)
    if path.is_dir():
        return load_image_folder(path, progress=progress, in_memory_limit=in_memory_limit,
                                 **_image_settings(input_shape), **options)
    if path.exists() and path.suffix.lower() in CSV_SUFFIXES:  # the reader refuses a FIFO or device itself
        kind = options.pop("kind", None)
        if kind not in (None, "text", "numeric"):
            raise DataError(f'A CSV file is read as "text" or "numeric", not "{shown(kind)}".')
        if kind == "text" or (kind is None and looks_like_text_csv(path)):
            return load_text_csv(path, **options)
        return load_csv(path, task=task, **options)
    raise _unreadable(spec, path)


def read_stored_images(spec: str, *, progress: Progress | None = None, **options) -> RawDataset | None:
    """The raw images of a built-in dataset or an IDX folder named by `spec`, or None for any other spec."""
    name = spec.strip().lower()
    if name == "digits":
        return _read_digits(progress, options)
    if name in ("my-handwriting", "my-handwriting+digits"):
        from .handwriting import read_handwriting

        return read_handwriting(mix_with_digits=name.endswith("+digits"), **options)
    if name in COLLECTIONS:
        return read_mnist(name, progress=progress, **options)
    if name == cifar.NAME:
        return cifar.read_cifar10(progress=progress, **options)
    path = _dataset_path(spec)
    if path.is_dir() and find_idx_files(path):
        return read_idx_folder(path, progress=progress, **options)
    if path.is_dir() and cifar.holds_cifar(path):
        return cifar.read_cifar10(path, download=False, progress=progress, **options)
    return None


def _image_settings(input_shape) -> dict:
    """An image Input's size and channels, as an image folder's options; nothing for other Inputs."""
    if input_shape is None or len(input_shape) != 3 or input_shape[0] not in (1, 3):
        return {}
    return {"size": (int(input_shape[1]), int(input_shape[2])), "color": input_shape[0] == 3}


def _dataset_path(spec: str) -> Path:
    """The path `spec` names, once the system accepts it as one: for a name too long every later
    question about it (is it a folder? does it exist?) would raise rather than answer no."""
    path = Path(spec.strip()).expanduser()
    try:
        path.exists()
    except OSError as error:
        raise DataError(f'Cannot read the dataset "{shown(spec)}": {error.strerror or error}.') from None
    return path


def _unreadable(spec: str, path: Path) -> DataError:
    """Why `spec` names no dataset netbuilder reads."""
    if path.exists():
        return DataError(f"{shown(path.name)}: netbuilder reads CSV files ({', '.join(CSV_SUFFIXES)}), folders with "
                         f"one image subfolder per class, and folders with the four MNIST-style IDX files or "
                         f"CIFAR-10's batch files.")
    builtin = ", ".join(f'"{builtin_name}"' for builtin_name, _ in BUILTIN_DATASETS)
    return DataError(f'There is no dataset "{shown(spec)}": it is not a built-in one ({builtin}) and there is no '
                     f"file or folder {shown(str(path))}.")


def _read_digits(progress: Progress | None, options: dict) -> RawDataset:
    from .digits import read_digits  # generating pulls in multiprocessing; only when asked for

    if progress is None:
        return read_digits(**options)
    return read_digits(progress=lambda done, total: progress(done, total, "Generating the built-in digits"),
                       **options)


@dataclass
class LabelledSamples:
    """Data read for a trained model: its inputs, the targets in the model's terms, and what they are."""

    inputs: torch.Tensor
    targets: torch.Tensor  # class indices of the model's classes, regression targets, or the inputs (reconstruction)
    description: str  # e.g. "200 samples of test.csv"
    notes: list[str] = field(default_factory=list)  # e.g. rows left out, and why


def load_for_model(spec: str, recipe: Recipe, *, trained_on: bool = False,
                   progress: Progress | None = None) -> LabelledSamples:
    """The samples of `spec` read exactly as the model's training data was (never refitted).

    A CSV file or image folder gives every row or image; a built-in dataset or IDX folder its
    validation (test) part. With `trained_on` (`spec` is the model's training data) it gives the
    validation part the training held out, as long as the data still reads as the recipe says.
    Labels become the model's class indices by name, so a file lacking a class changes nothing;
    rows whose label the model does not know are left out and named in the notes. Raises
    DataError when the data does not suit the model.
    """
    if trained_on:
        held_out = _held_out_of_training(spec, recipe, progress)
        if held_out is not None:
            return held_out
    name = spec.strip().lower()
    path = _dataset_path(spec)
    if name in (builtin for builtin, _ in BUILTIN_DATASETS) or \
            (path.is_dir() and (find_idx_files(path) or cifar.holds_cifar(path))):
        inputs, labels, where = _held_out_images(spec, recipe, progress)
    elif path.is_dir():
        _expect(recipe, "image", spec)
        images, labels, where = read_labelled_images(path)
        inputs = model_inputs(recipe, images)
        where = f"{len(images):,} images of {path.name}"
    elif path.exists() and path.suffix.lower() in CSV_SUFFIXES:
        if recipe.text:
            texts, labels, _ = read_texts(path, recipe.text, with_labels=True)
            inputs = model_inputs(recipe, texts)
        else:
            _expect(recipe, "table", spec)
            features, labels, _ = read_feature_rows(path, recipe.table, with_labels=True)
            inputs = model_inputs(recipe, features)
        where = f"{len(labels):,} samples of {path.name}"
    else:
        raise _unreadable(spec, path)
    if TASKS[recipe.task].target_is_input:
        return LabelledSamples(inputs, inputs, where)
    if not TASKS[recipe.task].has_classes:
        return LabelledSamples(inputs, regression_targets(labels, spec), where)
    indices = class_indices(recipe, labels)
    known = indices >= 0
    if known.all():
        return LabelledSamples(inputs, torch.from_numpy(indices), where)
    unknown = sorted({label for label, ok in zip(labels, known) if not ok})
    if not known.any():
        raise DataError(f"None of the labels of {shown(spec)} is a class the model knows "
                        f"({shown(', '.join(unknown[:5]))}); it knows {shown(', '.join(recipe.class_names))}.")
    left_out = len(labels) - int(known.sum())
    note = (f"left out {left_out} sample{'s' * (left_out > 1)} with labels the model was not trained on: "
            + shown(", ".join(f'"{label}"' for label in unknown[:5])) + (" …" if len(unknown) > 5 else ""))
    keep = torch.from_numpy(np.flatnonzero(known))
    return LabelledSamples(inputs[keep], torch.from_numpy(indices[known]),
                           f"{int(known.sum()):,} of the {where}", [note])


def _held_out_of_training(spec: str, recipe: Recipe, progress: Progress | None) -> LabelledSamples | None:
    """The validation part of the training data, if loading it again gives exactly the model's recipe."""
    from .fit import fit_to_input, targets_for_task

    try:
        loaded = load_dataset(spec, progress=progress, task=recipe.task,
                              input_shape=recipe.input_shape if recipe.image else None)
        dataset = targets_for_task(fit_to_input(loaded,
                                                recipe.input_shape, token_ids=recipe.input_kind == "tokens"),
                                   recipe.task)
    except DataError:
        return None  # it changed too much to load as before: read it through the recipe instead
    if dataset.recipe != recipe:
        return None
    if len(dataset.val_x):
        return LabelledSamples(dataset.val_x, dataset.val_y, f"{len(dataset.val_x):,} validation samples of {spec}")
    return LabelledSamples(dataset.train_x, dataset.train_y,
                           f"{len(dataset.train_x):,} training samples of {spec} (it has no validation set)")


def _held_out_images(spec: str, recipe: Recipe, progress: Progress | None) -> tuple[torch.Tensor, list[str], str]:
    _expect(recipe, "image", spec)
    stored = read_stored_images(spec, progress=progress)
    images, y, which = (stored.val_samples, stored.val_y, "validation") if len(stored.val_y) else \
        (stored.train_samples, stored.train_y, "training")
    labels = [stored.recipe.class_names[index] for index in y.tolist()]
    return model_inputs(recipe, images), labels, f"{len(y):,} {which} samples of {stored.name}"


def _expect(recipe: Recipe, kind: str, spec: str) -> None:
    if recipe.source_kind != kind:
        raise DataError(f'The model was trained on {recipe.source_kind} data, but "{shown(spec)}" holds '
                        f"{'images' if kind == 'image' else 'a table'}.")
