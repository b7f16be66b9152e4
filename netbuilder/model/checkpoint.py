"""A trained model as one file beside the project: weights, training history and data recipe.

`digits.nbproj` -> `digits.safetensors`, whose metadata holds the history and the recipe as JSON,
so the three can never come from different runs; the file is replaced atomically, and loading
never unpickles anything. Checkpoints of older versions (weights beside a separate
`.history.json`, no recipe) are refused with a message asking to train again.
"""
from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from netbuilder.common.contracts import TASKS
from netbuilder.common.fields import FieldError, Kind, read_field, is_count, is_number
from netbuilder.core.analysis import analyze
from netbuilder.core.compile import compile_graph, input_nodes, output_node
from netbuilder.core.layers import format_shape
from netbuilder.core.project import Project, write_atomic
from netbuilder.data.base import Dataset
from netbuilder.data.recipe import Recipe, RecipeError
from netbuilder.common.files import FileMissingError, FileReadError, parse_json, read_bounded
from netbuilder.common.text import shown

from .checkpoint_files import FileVersion, checkpoint_path, checkpoint_version
from .file_lock import locked
from .history import EpochEnded, History, Report, SettingsChanged

CHECKPOINT_FORMAT = "netbuilder-checkpoint"
CHECKPOINT_VERSION = 2
HISTORY_FORMAT = "netbuilder-history"
# Version 2 keeps each report's smoothed loss and learning rate beside its loss (version 1: the loss
# only, still read: its reports have no smoothed loss and the curves fall back to the rate per epoch).
HISTORY_VERSION = 2
_READ_HISTORY_VERSIONS = (1, 2)
_OLD_HISTORY_SUFFIX = ".history.json"  # version 1 kept the history in a second file
# Weights of a network a CPU trains in hours are megabytes; 8 GB is a billion float32 parameters.
MAX_CHECKPOINT_BYTES = 8 * 1024**3


class CheckpointError(Exception):
    """Saved weights are missing, damaged or do not fit the network; the message says which."""


# Per-sample arrays stay out of the history file; the confusion matrix and per-class accuracy stay in.
_EPOCH_ARRAYS_NOT_SAVED = ("val_predictions", "val_probabilities")


# The per-class figures of every epoch would outgrow the file's metadata (safetensors refuses a
# header above 100 MB, and the weights would not be saved): the newest epochs keep theirs up to
# this many numbers in all, older ones keep their scalar figures only.
SAVED_CLASS_FIGURES = 1_000_000
# Reports come every fraction of a second; a run of days keeps this many, evenly spread and the last
# one included (4 numbers each: about 8 MB of metadata at most).
SAVED_REPORTS = 100_000


def _reports_to_json(reports: list[Report]) -> list[list[float]]:
    if len(reports) > SAVED_REPORTS:
        step = (len(reports) - 1) / (SAVED_REPORTS - 1)
        reports = [reports[round(i * step)] for i in range(SAVED_REPORTS)]
    return [list(report) for report in reports]


def _reports_from_json(reports: list, version: int) -> list[Report]:
    width = 2 if version == 1 else len(Report._fields)
    if not all(isinstance(report, list) and len(report) == width and all(is_number(v, finite=False) for v in report)
               for report in reports):
        raise _Damaged(f"a report is not {width} numbers")
    return [Report(*(float(v) for v in report), *[math.nan] * (len(Report._fields) - width)) for report in reports]


def _epoch_to_json(epoch: EpochEnded, with_class_figures: bool) -> dict:
    document = {name: value for name, value in asdict(epoch).items()
                if name not in _EPOCH_ARRAYS_NOT_SAVED and name not in ("confusion", "per_class_accuracy")}
    if with_class_figures and epoch.confusion is not None:
        document["confusion"] = epoch.confusion.tolist()
    if with_class_figures and epoch.per_class_accuracy is not None:  # NaN (no samples) is written as null
        document["per_class_accuracy"] = [None if np.isnan(v) else float(v) for v in epoch.per_class_accuracy]
    return document


def _epochs_to_json(epochs: list[EpochEnded]) -> list[dict]:
    budget, documents = SAVED_CLASS_FIGURES, []
    for epoch in reversed(epochs):
        figures = sum(len(array.reshape(-1)) for array in (epoch.confusion, epoch.per_class_accuracy)
                      if array is not None)
        kept = figures <= budget
        documents.append(_epoch_to_json(epoch, kept))
        budget -= figures if kept else 0
    return documents[::-1]


class _Damaged(Exception):
    """Part of a saved history is not what was written; the message says which."""


def _epoch_from_json(document: object) -> EpochEnded:
    if not isinstance(document, dict):
        raise _Damaged("an epoch is not an object")
    saved = {entry.name for entry in fields(EpochEnded)} - set(_EPOCH_ARRAYS_NOT_SAVED)
    unknown = document.keys() - saved
    if unknown:
        raise _Damaged(f"an epoch has the unknown entry {shown(repr(sorted(unknown)[0]), 40)}")
    checked = {"epoch", "epochs", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate",
               "seconds", "confusion", "per_class_accuracy"}
    others = {name: document[name] for name in saved - checked if name in document}  # fields added later
    # One row and column per score the network outputs, which may be more than the data's classes
    confusion, accuracy = document.get("confusion"), document.get("per_class_accuracy")
    if confusion is not None and not (isinstance(confusion, list) and all(
            isinstance(row, list) and len(row) == len(confusion) and all(is_count(v) for v in row)
            for row in confusion)):
        raise _Damaged("a confusion matrix is not a square of counts")
    if accuracy is not None and not (isinstance(accuracy, list) and all(
            v is None or is_number(v, finite=False) for v in accuracy)):
        raise _Damaged("a per-class accuracy is not a list of numbers")
    return EpochEnded(
        epoch=_count(document, "epoch"), epochs=_count(document, "epochs"),
        train_loss=_number(document, "train_loss"), train_accuracy=_number(document, "train_accuracy", optional=True),
        val_loss=_number(document, "val_loss", optional=True),
        val_accuracy=_number(document, "val_accuracy", optional=True),
        learning_rate=_number(document, "learning_rate"), seconds=_number(document, "seconds"),
        confusion=None if confusion is None else np.asarray(confusion, dtype=np.int64),
        per_class_accuracy=None if accuracy is None else np.asarray(
            [np.nan if v is None else float(v) for v in accuracy], dtype=np.float64), **others)


def _number(document: dict, key: str, optional: bool = False) -> float | None:
    value = _field(document, key, "measured number", optional=optional)
    return None if value is None else float(value)


def _count(document: dict, key: str) -> int:
    return _field(document, key, "count")


def _field(document: dict, key: str, kind: Kind, **options) -> Any:
    try:
        return read_field(document, key, kind, **options)
    except FieldError as error:
        raise _Damaged(f"{key} is {shown(repr(error.value), 40)}, not {error.wanted}") from None


@dataclass
class TrainedModel:
    """A model ready for new data: its weights, how data must be read for it, and how it was trained."""

    model: torch.nn.Module  # CPU, eval mode
    recipe: Recipe
    history: History


class FinishedRun(Protocol):
    """What kept_run reads of a training session (training.session.TrainingSession, which the run service keeps), named here
    so that the model package needs nothing from training."""

    model: torch.nn.Module | None
    dataset: Dataset | None  # None before the data was read

    def history(self) -> History: ...


def kept_run(session: FinishedRun) -> TrainedModel | None:
    """What a finished run leaves to keep, however it ended: its model (the trainer has put back
    the best epoch's weights after a stop, a NaN loss or a failure), recipe and history; None when
    no epoch ended, so there is nothing worth saving. The window and the command line both keep
    exactly this."""
    history = session.history()
    if session.model is None or session.dataset is None or not history.epochs:
        return None
    return TrainedModel(session.model, session.dataset.recipe, history)


def save_checkpoint(model: torch.nn.Module, history: History, project_path: str | os.PathLike,
                    folder: str | os.PathLike | None = None, *, recipe: Recipe,
                    replaces: FileVersion | None | Literal["any"] = "any") -> Path:
    """Write weights, history and recipe as one file, atomically, under a lock that other runs
    saving the same checkpoint wait for; returns its path.

    `replaces`: the checkpoint_version() taken when the run started ("any": whatever is there).
    When the file has changed since (another run of the same project saved meanwhile), that
    run's checkpoint is kept and this one is written beside it as NAME-2.safetensors (or -3,
    ...): the returned path says where, and nothing is overwritten unseen.
    """
    path = checkpoint_path(project_path, folder)
    data = checkpoint_bytes(model, history, recipe=recipe)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        if replaces != "any" and checkpoint_version(project_path, folder) != replaces:
            path = _free_name(path)
        write_atomic(path, data)
    path.with_name(path.stem + _OLD_HISTORY_SUFFIX).unlink(missing_ok=True)  # it described older weights
    return path


def _free_name(path: Path) -> Path:
    number = 2
    while (candidate := path.with_name(f"{path.stem}-{number}{path.suffix}")).exists():
        number += 1
    return candidate


def checkpoint_bytes(model: torch.nn.Module, history: History, *, recipe: Recipe,
                     extra_metadata: dict[str, str] | None = None) -> bytes:
    """The checkpoint file's contents; `extra_metadata` adds entries that loading ignores (an
    export adds the project itself)."""
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    metadata = {**(extra_metadata or {}), "format": CHECKPOINT_FORMAT, "version": str(CHECKPOINT_VERSION),
                "history": json.dumps(_history_to_json(history)), "recipe": json.dumps(recipe.to_dict())}
    return save_safetensors(tensors, metadata=metadata)


def load_checkpoint(model: torch.nn.Module, project_path: str | os.PathLike,
                    folder: str | os.PathLike | None = None) -> History:
    """Load the saved weights into `model` and return the history saved with them."""
    path = checkpoint_path(project_path, folder)
    tensors, history, _ = _read_checkpoint(path, Path(project_path).name)
    _load_weights(model, tensors, path)
    return history


def load_history_and_recipe(project_path: str | os.PathLike,
                            folder: str | os.PathLike | None = None) -> tuple[History, Recipe]:
    """The history and recipe saved with a checkpoint, without a network to load its weights into
    (a kept run's curves; a run whose weights were pruned has these only). Raises CheckpointError."""
    _, history, recipe = _read_checkpoint(checkpoint_path(project_path, folder), Path(project_path).name)
    return history, recipe


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of the checkpoint file at `path`, by name, read as every checkpoint is (never
    unpickled), for a network that may have changed since (training.warm_start matches them).
    Raises CheckpointError."""
    tensors, _, _ = _read_checkpoint(path, path.stem)
    return tensors


def load_trained_model(project: Project, project_path: str | os.PathLike,
                       folder: str | os.PathLike | None = None) -> TrainedModel:
    """The project's network with its saved weights, recipe and history. Raises CheckpointError when
    there is no usable checkpoint or the network has changed since it was trained."""
    path = checkpoint_path(project_path, folder)
    tensors, history, recipe = _read_checkpoint(path, Path(project_path).name)
    graph = project.graph
    analysis = analyze(graph)
    if not analysis.ok:
        raise CheckpointError(f"The network has problems ({analysis.errors[0].message}): fix them, then "
                              "train again.")
    (input_id, *others) = input_nodes(graph, analysis)
    if others:
        raise CheckpointError("A trained model reads one Input layer, but this network has several.")
    input_shape, input_node = analysis.info[input_id].shape, graph.nodes[input_id]
    if (input_node.params["kind"], tuple(input_shape)) != (recipe.input_kind, recipe.input_shape):
        raise CheckpointError(f"{path.name} was trained for a {recipe.input_kind} input of "
                              f"{format_shape(recipe.input_shape)}, but the Input is now {input_node.params['kind']} "
                              f"{format_shape(tuple(input_shape))}: train again.")
    output_id = output_node(graph)
    task = graph.nodes[output_id].params["task"]
    if task != recipe.task:
        raise CheckpointError(f"{path.name} was trained for {recipe.task}, but the Output now says {task}: "
                              "train again.")
    outputs = math.prod(analysis.info[output_id].shape)
    if len(recipe.class_names) > outputs:  # each class has a score (spare scores are allowed: never right)
        raise CheckpointError(f"{shown(path.name)} is damaged (its recipe names {len(recipe.class_names):,} classes "
                              f"for a network of {outputs:,} scores): train again.")
    model = compile_graph(graph, analysis)
    _load_weights(model, tensors, path)
    return TrainedModel(model.eval(), recipe, history)


def _read_checkpoint(path: Path, project_name: str) -> tuple[dict[str, torch.Tensor], History, Recipe]:
    try:
        data = read_bounded(path, MAX_CHECKPOINT_BYTES, "checkpoint")
    except FileMissingError:
        raise CheckpointError(f"There are no trained weights for {shown(project_name)} ({shown(path.name)} is "
                              "missing): train the model first.") from None
    except FileReadError as error:
        raise CheckpointError(str(error)) from None
    name = shown(path.name)
    try:
        tensors = load_safetensors(data)
        (header_size,) = struct.unpack("<Q", data[:8])
        header = parse_json(data[8:8 + header_size], path.name)
        metadata = header.get("__metadata__") or {}
        if not isinstance(metadata, dict):
            raise ValueError("its metadata is not an object")
    except (SafetensorError, struct.error, ValueError, AttributeError, FileReadError):
        raise CheckpointError(f"{name} is damaged (not a safetensors file): train again.") from None
    if metadata.get("format") != CHECKPOINT_FORMAT or "recipe" not in metadata:
        raise CheckpointError(f"{name} was saved by an older netbuilder, without the recipe that says how "
                              "to read new data for it: train the model again.")
    if metadata.get("version") != str(CHECKPOINT_VERSION):
        raise CheckpointError(f"{name} has format version {shown(metadata.get('version'), 20)}; this netbuilder "
                              f"reads version {CHECKPOINT_VERSION}: train again or update netbuilder.")
    try:
        recipe = Recipe.from_dict(parse_json(str(metadata["recipe"]), f"the recipe in {path.name}"))
    except FileReadError:
        raise CheckpointError(f"{name} is damaged (its recipe is not JSON): train again.") from None
    except RecipeError as error:
        raise CheckpointError(f"{name} is damaged ({shown(error, 200)}): train again.") from None
    return tensors, _history_from_json(metadata.get("history"), path.name), recipe


def _load_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    problem = weights_mismatch(model.state_dict(), tensors)
    if problem:
        raise CheckpointError(f"{path.name} does not fit the network: {problem}. The network changed "
                              "since it was trained: train it again.")
    model.load_state_dict(tensors)


def weights_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str | None:
    """Why `found` cannot be loaded in place of `expected`, or None when it can."""
    for key, tensor in expected.items():
        layer, _, part = key.rpartition(".")
        if key not in found:
            return f'there is no {part} for layer "{layer}"'
        if tuple(found[key].shape) != tuple(tensor.shape):
            return (f'layer "{layer}" has a {part} of shape {format_shape(tuple(tensor.shape))}, but the saved '
                    f"one is {format_shape(tuple(found[key].shape))}")
    extra = sorted(found.keys() - expected.keys())
    if extra:
        return f'the saved weights include layer "{extra[0].rpartition(".")[0]}", which the network does not have'
    return None


def _history_to_json(history: History) -> dict:
    return {"format": HISTORY_FORMAT, "version": HISTORY_VERSION, "dataset": history.dataset,
            "task": history.task, "class_names": history.class_names,
            "epochs": _epochs_to_json(history.epochs),
            "reports": _reports_to_json(history.reports),
            "changes": [{"position": c.position, "epoch": c.epoch, "samples_seen": c.samples_seen,
                         "changes": [list(change) for change in c.changes]} for c in history.changes]}


def _history_from_json(text: object, file_name: str) -> History:
    name = shown(file_name)
    try:
        # A diverged epoch's loss is NaN and is kept as measured; nothing else in a history is.
        document = parse_json(str(text or ""), f"the history in {file_name}", allow_non_finite=True)
    except FileReadError:
        raise CheckpointError(f"{name} is damaged (its history is not JSON): train again.") from None
    if not isinstance(document, dict) or document.get("format") != HISTORY_FORMAT or \
            type(document.get("version")) is not int or document["version"] not in _READ_HISTORY_VERSIONS:
        raise CheckpointError(f"{name} is damaged (its history is not a netbuilder training history of "
                              f"version {' or '.join(map(str, _READ_HISTORY_VERSIONS))}): train again.")
    try:
        return _history(document)
    except _Damaged as error:
        raise CheckpointError(f"{name} is damaged (in its history, {error}): train again.") from None


def _history(document: dict) -> History:
    try:
        class_names = read_field(document, "class_names", "texts")
    except FieldError:
        raise _Damaged("the class names are not a list of names") from None
    try:
        task, dataset = read_field(document, "task", "text"), read_field(document, "dataset", "text", default="")
    except FieldError:
        raise _Damaged("the task or the dataset is not one netbuilder writes") from None
    if task not in TASKS:
        raise _Damaged("the task or the dataset is not one netbuilder writes")
    version = document["version"]
    reports_key = "batch_losses" if version == 1 else "reports"
    try:
        epochs, reports, changes = (read_field(document, key, "list", default=[])
                                    for key in ("epochs", reports_key, "changes"))
    except FieldError:
        raise _Damaged("the epochs, reports or changes are not lists") from None
    return History(class_names=class_names, task=task, dataset=dataset,
                   epochs=[_epoch_from_json(epoch) for epoch in epochs],
                   reports=_reports_from_json(reports, version),
                   changes=[_change_from_json(change) for change in changes])


def _change_from_json(document: object) -> SettingsChanged:
    if not isinstance(document, dict) or not isinstance(document.get("changes"), list):
        raise _Damaged("a change of settings is not an object with a list of changes")
    changes = document["changes"]
    if not all(isinstance(change, list) and len(change) == 3 and isinstance(change[0], str) for change in changes):
        raise _Damaged("a change of settings is not [setting, before, after]")
    return SettingsChanged(_number(document, "position"), _count(document, "epoch"),
                           _count(document, "samples_seen"), tuple(tuple(change) for change in changes))
