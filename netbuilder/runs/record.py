"""One kept run's record, `run.json`: what a table of runs shows, read and written here, and the rules
for a run's name and note. Torch-free and small, so that listing 200 runs reads 200 of these only.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from netbuilder.common.fields import FieldError, read_field
from netbuilder.common.files import FileMissingError, FileReadError, parse_json, read_bounded, write_atomic
from netbuilder.common.text import shown, shown_within
from netbuilder.model.checkpoint_files import checkpoint_path
from netbuilder.model.history import History

RUN_FILE = "run.json"
NETWORK_FILE = "network.nbproj"  # its checkpoint, by checkpoint_path's rule, is network.safetensors beside it
RUN_FORMAT = "netbuilder-run"
RUN_VERSION = 1
MAX_RUN_FILE_BYTES = 64 * 1024  # a name and a note of a few thousand characters, and a dozen figures
NAME_LIMIT = 80
NOTE_LIMIT = 4000


class RunError(Exception):
    """A run cannot be found, read, changed or used; the message says which and why."""


@dataclass(frozen=True)
class RunInfo:
    """One kept run as listed: what run.json holds. `id` is the folder's name (the start time)."""

    id: str
    folder: Path = field(repr=False)
    started: str  # ISO 8601 local time with its offset
    name: str = ""  # editable; empty: the run is shown by its id
    note: str = ""
    starred: bool = False
    dataset: str = ""
    task: str = "classification"
    epochs: int = 0  # epochs trained (the weights are the best epoch's)
    best_val_accuracy: float | None = None  # None: regression, or no validation data
    best_val_loss: float | None = None
    last_train_loss: float | None = None
    seconds: float = 0.0  # training and validation time, paused time excluded
    samples_per_second: float | None = None  # None: not measured (a run kept before runs were)
    ended: str = ""  # the Finished reason ("completed", "stopped", ...); "" when not known
    has_weights: bool = True  # False once pruned: the history and the network stay
    # What changed from the run kept before it, when it was kept (RunDiff.summary), so that a table
    # of runs reads no network; "" for the first run
    changes: str = ""
    compared_with: str = ""  # that run's id

    @property
    def title(self) -> str:
        """How the run is named to a person: its name, else its id."""
        return self.name or self.id

    @property
    def network_path(self) -> Path:
        """The run's network as trained; the checkpoint functions find its weights beside it."""
        return self.folder / NETWORK_FILE

    @property
    def weights_path(self) -> Path:
        return checkpoint_path(self.network_path)

    def to_dict(self) -> dict[str, Any]:
        """run.json's contents (also the command line's `runs --json`)."""
        document = asdict(self)
        del document["folder"]
        return {"format": RUN_FORMAT, "version": RUN_VERSION, **document}


def run_name_problem(name: str) -> str | None:
    """Why `name` cannot be a run's name (one line of printable text, at most NAME_LIMIT
    characters), or None. Names are only ever stored in run.json, never used as file names."""
    if not isinstance(name, str):
        return "A run's name must be text."
    if len(name) > NAME_LIMIT:
        return f"A run's name can have at most {NAME_LIMIT} characters, not {len(name):,}."
    if not name.isprintable():
        return f'"{shown_within(name, 40)}" holds a line break or a control character: a run\'s name is one line of text.'
    return None


def note_problem(note: str) -> str | None:
    if not isinstance(note, str):
        return "A run's note must be text."
    if len(note) > NOTE_LIMIT:
        return f"A run's note can have at most {NOTE_LIMIT:,} characters, not {len(note):,}."
    if not all(line.isprintable() for line in note.replace("\t", " ").split("\n")):
        return "A run's note holds a control character: only text, tabs and line breaks are kept."
    return None


def run_id_for(started: float) -> str:
    """A run's id: its start time, local, to the second ("20261206-094400"), sortable as text."""
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(started))


def run_summary(history: History, run_id: str, started: float, samples_per_second: float | None,
             ended: str) -> RunInfo:
    def measured(values) -> list[float]:
        return [value for value in values if value is not None and math.isfinite(value)]

    accuracies = measured(epoch.val_accuracy for epoch in history.epochs)
    losses = measured(epoch.val_loss for epoch in history.epochs)
    train_losses = measured(epoch.train_loss for epoch in history.epochs[-1:])
    return RunInfo(
        id=run_id, folder=Path(), started=datetime.fromtimestamp(started).astimezone().isoformat(timespec="seconds"),
        dataset=history.dataset, task=history.task, epochs=len(history.epochs),
        best_val_accuracy=max(accuracies) if accuracies else None, best_val_loss=min(losses) if losses else None,
        last_train_loss=train_losses[0] if train_losses else None,
        seconds=sum(epoch.seconds for epoch in history.epochs),
        samples_per_second=samples_per_second if samples_per_second and math.isfinite(samples_per_second) else None,
        ended=ended)


def write_run_file(run: RunInfo) -> None:
    write_atomic(run.folder / RUN_FILE, (json.dumps(run.to_dict(), indent=1, ensure_ascii=False) + "\n").encode())


_RUN_FIELDS = {"started": "text", "name": "text", "note": "text", "starred": "flag", "dataset": "text", "task": "text",
               "epochs": "count", "seconds": "number", "ended": "text", "has_weights": "flag", "changes": "text",
               "compared_with": "text"}
_OPTIONAL_FIGURES = ("best_val_accuracy", "best_val_loss", "last_train_loss", "samples_per_second")


def read_run(folder: Path) -> RunInfo:
    where = f"{shown(folder.parent.name)}/{shown(folder.name)}"
    try:
        document = parse_json(read_bounded(folder / RUN_FILE, MAX_RUN_FILE_BYTES, "run file"), RUN_FILE)
    except FileMissingError:
        raise RunError(f"{where} has no {RUN_FILE} (a run that did not finish saving, or changed by hand): "
                       "it is not listed; its files are kept.") from None
    except FileReadError as error:
        raise RunError(f"{where}: {error}; it is not listed, its files are kept.") from None
    if not isinstance(document, dict) or document.get("format") != RUN_FORMAT or document.get("version") != RUN_VERSION:
        raise RunError(f"{where}/{RUN_FILE} is not a netbuilder run of version {RUN_VERSION}: it is not listed; "
                       "its files are kept.")
    try:
        values = {name: read_field(document, name, kind) for name, kind in _RUN_FIELDS.items()}
        values.update({name: read_field(document, name, "number", optional=True) for name in _OPTIONAL_FIGURES})
    except FieldError as error:
        raise RunError(f"{where}/{RUN_FILE} is damaged ({error}): it is not listed; its files are kept.") from None
    return RunInfo(id=folder.name, folder=folder, **values)
