"""Trained weights and their history, kept beside the project file.

`digits.nbproj` -> `digits.safetensors` (the weights) and `digits.history.json` (per-epoch
figures, class names, task). Both are written atomically; loading never unpickles anything.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from netbuilder.core.layers import format_shape
from netbuilder.core.project import write_atomic

import numpy as np

from .events import EpochEnded, SettingsChanged
from .trainer import TrainingError

HISTORY_FORMAT = "netbuilder-history"
HISTORY_VERSION = 1


class CheckpointError(TrainingError):
    """Saved weights are missing, damaged or do not fit the network; the message says which."""


@dataclass
class History:
    class_names: list[str]
    task: str
    dataset: str = ""  # the dataset it was trained on, as the user named it
    epochs: list[EpochEnded] = field(default_factory=list)
    # (position in epochs, training loss) per reported batch, so a reopened project redraws its curves
    batch_losses: list[tuple[float, float]] = field(default_factory=list)
    changes: list[SettingsChanged] = field(default_factory=list)  # settings changed while paused


# Per-sample arrays stay out of the history file; the confusion matrix and per-class accuracy stay in.
_EPOCH_ARRAYS_NOT_SAVED = ("val_predictions", "val_probabilities")


def _epoch_to_json(epoch: EpochEnded) -> dict:
    document = {name: value for name, value in asdict(epoch).items() if name not in _EPOCH_ARRAYS_NOT_SAVED}
    if epoch.confusion is not None:
        document["confusion"] = epoch.confusion.tolist()
    if epoch.per_class_accuracy is not None:  # NaN (a class without samples) is written as null
        document["per_class_accuracy"] = [None if np.isnan(v) else float(v) for v in epoch.per_class_accuracy]
    return document


def _epoch_from_json(document: dict) -> EpochEnded:
    values = dict(document)
    if values.get("confusion") is not None:
        values["confusion"] = np.asarray(values["confusion"], dtype=np.int64)
    if values.get("per_class_accuracy") is not None:
        values["per_class_accuracy"] = np.asarray([np.nan if v is None else v for v in values["per_class_accuracy"]],
                                                  dtype=np.float64)
    return EpochEnded(**values)


def checkpoint_paths(project_path: str | os.PathLike, folder: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(weights, history) for a project file; `folder` puts them elsewhere under the same names."""
    project_path = Path(project_path)
    base = (Path(folder) if folder is not None else project_path.parent) / project_path.stem
    return base.with_name(base.name + ".safetensors"), base.with_name(base.name + ".history.json")


def save_checkpoint(model: torch.nn.Module, history: History, project_path: str | os.PathLike,
                    folder: str | os.PathLike | None = None) -> Path:
    """Write the weights and the history; returns the weights' path."""
    weights_path, history_path = checkpoint_paths(project_path, folder)
    tensors = {name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()}
    write_atomic(weights_path, save_safetensors(tensors, metadata={"format": "netbuilder-weights"}))
    document = {"format": HISTORY_FORMAT, "version": HISTORY_VERSION, "dataset": history.dataset,
                "task": history.task, "class_names": history.class_names,
                "epochs": [_epoch_to_json(epoch) for epoch in history.epochs],
                "batch_losses": [list(pair) for pair in history.batch_losses],
                "changes": [{"position": c.position, "epoch": c.epoch, "samples_seen": c.samples_seen,
                             "changes": [list(change) for change in c.changes]} for c in history.changes]}
    write_atomic(history_path, (json.dumps(document, indent=1) + "\n").encode("utf-8"))
    return weights_path


def load_checkpoint(model: torch.nn.Module, project_path: str | os.PathLike,
                    folder: str | os.PathLike | None = None) -> History:
    """Load the saved weights into `model` and return the history saved with them."""
    weights_path, history_path = checkpoint_paths(project_path, folder)
    history = _read_history(history_path)
    try:
        tensors = load_safetensors(weights_path.read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"There are no trained weights for {Path(project_path).name} "
                              f"({weights_path.name} is missing): train the model first.") from None
    except OSError as error:
        raise CheckpointError(f"Cannot read {weights_path.name}: {error.strerror or error}") from None
    except SafetensorError:
        raise CheckpointError(f"{weights_path.name} is damaged (not a safetensors file): train again.") from None
    problem = _mismatch(model.state_dict(), tensors)
    if problem:
        raise CheckpointError(f"{weights_path.name} does not fit the network: {problem}. The network changed "
                              "since it was trained: train it again.")
    model.load_state_dict(tensors)
    return history


def _mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str | None:
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


def _read_history(path: Path) -> History:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"There are no trained weights yet ({path.name} is missing): train the model first.") from None
    except OSError as error:
        raise CheckpointError(f"Cannot read {path.name}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path.name} is damaged (not JSON text): train again.") from None
    if not isinstance(document, dict) or document.get("format") != HISTORY_FORMAT:
        raise CheckpointError(f'{path.name} is not a netbuilder training history (no "format": "{HISTORY_FORMAT}").')
    if document.get("version") != HISTORY_VERSION:
        raise CheckpointError(f"{path.name} has format version {document.get('version')!r}; this netbuilder "
                              f"reads version {HISTORY_VERSION}.")
    try:
        return History(class_names=[str(name) for name in document["class_names"]], task=str(document["task"]),
                       dataset=str(document.get("dataset", "")),
                       epochs=[_epoch_from_json(epoch) for epoch in document["epochs"]],
                       batch_losses=[(float(position), float(loss))
                                     for position, loss in document.get("batch_losses", [])],
                       changes=[SettingsChanged(float(c["position"]), int(c["epoch"]), int(c["samples_seen"]),
                                                tuple(tuple(change) for change in c["changes"]))
                                for c in document.get("changes", [])])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path.name} is damaged ({error}): train again.") from None
