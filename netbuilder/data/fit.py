"""Shaping a dataset's samples the way the model's Input expects them, or saying why they do not fit."""
from __future__ import annotations

import math
from dataclasses import replace

from netbuilder.common.contracts import TASKS, value_kind_of_rank
from netbuilder.common.text import format_shape

from .base import DataError, Dataset, InputKind


def fit_to_input(dataset: Dataset, input_shape: tuple[int, ...], token_ids: bool) -> Dataset:
    """`dataset` with samples shaped `input_shape` (without the batch); the data is shared, not copied.

    Images feed image inputs of the same size, vector inputs flattened, and sequence inputs
    row by row (1×28×28 -> 28 steps × 28 features); vectors fill any input with as many values;
    token ids feed only a tokens input of the same length. The dataset's recipe follows, so new
    data is shaped the same way.
    """
    input_shape = tuple(int(size) for size in input_shape)
    input_kind = refuse_mismatch(dataset.name, dataset.kind, dataset.sample_shape, input_shape, token_ids)
    if token_ids:  # token ids of the Input's length, used as they are
        return dataset
    recipe = dataset.recipe.for_input(input_kind, input_shape) if dataset.recipe else None
    return replace(dataset, kind=input_kind, recipe=recipe,
                   train_x=dataset.train_x.reshape(-1, *input_shape),
                   val_x=dataset.val_x.reshape(-1, *input_shape))


def targets_for_task(dataset: Dataset, task: str) -> Dataset:
    """`dataset` with the targets the Output's task trains on: its own for most tasks; for a task
    whose target is the input (reconstruction) the samples themselves, shared, not copied, with the
    labels and class names set aside. Raises DataError for token ids, which have nothing to
    reconstruct by mean squared error."""
    if not TASKS[task].target_is_input:
        return dataset
    if dataset.kind == "tokens":
        raise DataError(f'A {task} Output learns to give back its input image, but "{dataset.name}" holds '
                        "texts: choose an image dataset, or set the Output's task to classification.")
    recipe = replace(dataset.recipe, task=task, class_names=()) if dataset.recipe else None
    return replace(dataset, train_y=dataset.train_x, val_y=dataset.val_x, class_names=[], task=task,
                   recipe=recipe)


def _reshapes(sample_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> bool:
    """Whether reading the samples in another shape keeps their meaning."""
    if math.prod(sample_shape) != math.prod(input_shape):
        return False
    if len(sample_shape) == 1 or len(input_shape) == 1:
        return True  # flattening, or filling an input from a flat row of values
    # A one-channel image is a sequence of its rows and back; other rearrangements scramble it.
    return _without_single_channel(sample_shape) == _without_single_channel(input_shape)


def _without_single_channel(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[1:] if len(shape) == 3 and shape[0] == 1 else shape


def refuse_mismatch(name: str, kind: InputKind, sample_shape: tuple[int, ...], input_shape: tuple[int, ...],
                    token_ids: bool) -> InputKind:
    """The kind of the Input of `input_shape`, once samples of `kind` and `sample_shape` (of the
    dataset `name`) can feed it; else a DataError saying how to set the Input. Also asked before a
    built-in dataset is loaded (its shape is known), so a wrong Input does not wait for its data."""
    input_shape = tuple(int(size) for size in input_shape)
    input_kind: InputKind = "tokens" if token_ids else value_kind_of_rank(len(input_shape))
    if token_ids or kind == "tokens":
        if token_ids and kind == "tokens" and input_shape == sample_shape:
            return input_kind
        raise _mismatch(name, kind, sample_shape, input_shape, input_kind)
    if input_shape != sample_shape and not _reshapes(sample_shape, input_shape):
        raise _mismatch(name, kind, sample_shape, input_shape, input_kind)
    return input_kind


def _mismatch(name: str, kind: InputKind, sample_shape: tuple[int, ...], input_shape: tuple[int, ...],
              input_kind: InputKind) -> DataError:
    expects = _describe(input_kind, input_shape)
    gives = _describe(kind, sample_shape)
    if kind == input_kind:
        fix = f"Set the Input's shape to {format_shape(sample_shape)}"
    else:
        fix = f"Set the Input's kind to {kind} and its shape to {format_shape(sample_shape)}"
    if kind == "image" and input_kind == "vector":
        fix += f" (or keep a vector Input, of {math.prod(sample_shape)} features)"
    return DataError(f'The Input expects {expects} but "{name}" gives {gives}. {fix}.')


def _describe(kind: str, shape: tuple[int, ...]) -> str:
    if kind == "tokens":
        return f"texts as {format_shape(shape)} token ids"
    if kind == "image" and len(shape) == 3:
        return f"{format_shape(shape)} images"
    if kind == "sequence" and len(shape) == 2:
        return f"sequences of {_count(shape[0], 'step')} × {_count(shape[1], 'feature')}"
    if len(shape) == 1:
        return _count(shape[0], "feature")
    return f"samples of {format_shape(shape)} values"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"
