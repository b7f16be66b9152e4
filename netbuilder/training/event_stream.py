"""Training events as JSON lines, so that a run in another process (torchrun) feeds the same views.

Rank 0 of `netbuilder train --events-jsonl PATH` writes one event per line; `read_event` turns a
line back into the event dataclass, numpy arrays included. Started.validation and the per-sample
predictions that refer to it are left out: they can be megabytes per epoch, and only the sample
gallery of a run in the window uses them.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np

from . import events

_TYPES = {cls.__name__: cls for cls in (events.Preparing, events.Started, events.BatchEnded, events.EpochEnded,
                                        events.SettingsChanged, events.ThreadsChosen, events.HealthReport,
                                        events.LayerHealth, events.Finished)}
_LEFT_OUT = {"validation", "val_predictions", "val_probabilities"}


def event_line(event: events.TrainingEvent) -> str:
    """One line of JSON (no newline) holding `event`."""
    return json.dumps(_encode(event), separators=(",", ":"))


def read_event(line: str) -> events.TrainingEvent:
    """The event written by event_line. Raises ValueError on a line that holds none."""
    decoded = _decode(json.loads(line))
    if not isinstance(decoded, tuple(_TYPES.values())):
        raise ValueError(f"not a training event: {line[:80]!r}")
    return decoded


def _encode(value):
    if dataclasses.is_dataclass(value):
        fields = {field.name: _encode(getattr(value, field.name))
                  for field in dataclasses.fields(value) if field.name not in _LEFT_OUT}
        return {"event": type(value).__name__, "fields": fields}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(item) for item in value]}
    if isinstance(value, dict):  # ThreadsChosen's speeds, keyed by int: JSON keys would turn into text
        return {"pairs": [[_encode(key), _encode(item)] for key, item in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value):
    if not isinstance(value, dict):
        return value
    if "event" in value:
        cls = _TYPES.get(value["event"])
        if cls is None:
            raise ValueError(f"unknown training event {value['event']!r}")
        return cls(**{name: _decode(item) for name, item in value["fields"].items()})
    if "array" in value:
        return np.array(value["array"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    if "tuple" in value:
        return tuple(_decode(item) for item in value["tuple"])
    return {_decode(key): _decode(item) for key, item in value["pairs"]}
