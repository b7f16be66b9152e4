"""The control surface of a training run: one state machine that any thread may drive.

The run (the worker) and the user (pause, resume, stop, change settings from a GUI or another
thread) meet here under one lock, so every order of calls has one defined outcome:

    idle ──begin──▶ preparing ──training──▶ running ◀──pause/resume──▶ paused
      │                 │                      │                          │
      └─stop─▶ finished └──────stop──────▶ stopping ◀───────stop──────────┘ ──end──▶ finished

A pause asked for before training starts (idle or preparing) holds the run before its first
batch. A stop before the run starts ends it at once: the run then yields only Finished("stopped").
Calls after the end change nothing. A finished control can begin again (a second run), with a
fresh stop flag.
"""
from __future__ import annotations

import threading
import time
from typing import Literal

from netbuilder.core.layers import ParamError
from netbuilder.core.settings import SETTING_LIMITS

State = Literal["idle", "preparing", "running", "paused", "stopping", "finished"]
# What a paused run may change without starting again (the rest shapes data or the schedule).
CHANGEABLE_WHILE_PAUSED = ("learning_rate", "optimizer", "weight_decay")


class TrainingError(Exception):
    """Training cannot start or go on; the message says why and what to change."""


class StopRequested(Exception):
    """Raised inside the run (or a progress callback of its data loading) to abandon work at once."""


class RunControl:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._state: State = "idle"
        self._pause_pending = False  # asked for before training started
        self._stopped_before_start = False
        self._changes: dict[str, object] = {}  # setting -> new value, applied when the run resumes
        self._holding = False  # the run is waiting at a pause (its last batch done), not only asked to

    @property
    def state(self) -> State:
        return self._state

    @property
    def holding(self) -> bool:
        """Whether the run waits at a pause, its last batch finished (a pause asked for takes
        effect at the next batch boundary)."""
        return self._holding

    # --- the user's side -------------------------------------------------------------------

    def pause(self) -> None:
        with self._lock:
            if self._state == "running":
                self._state = "paused"
            elif self._state in ("idle", "preparing"):
                self._pause_pending = True

    def resume(self) -> None:
        with self._lock:
            if self._state == "paused":
                self._state = "running"
                self._lock.notify_all()
            elif self._state in ("idle", "preparing"):
                self._pause_pending = False

    def stop(self) -> None:
        with self._lock:
            if self._state == "idle":
                self._state, self._stopped_before_start = "finished", True
            elif self._state in ("preparing", "running", "paused"):
                self._state = "stopping"
                self._lock.notify_all()

    def change_settings(self, **changes) -> None:
        """Remember new values of CHANGEABLE_WHILE_PAUSED settings for when the run resumes.

        Raises TrainingError unless the run is paused, ParamError for a bad value or name.
        """
        checked = {}
        for name, value in changes.items():
            if name not in CHANGEABLE_WHILE_PAUSED:
                raise ParamError(f"{name.replace('_', ' ')} cannot change during a run; only "
                                 f"{', '.join(n.replace('_', ' ') for n in CHANGEABLE_WHILE_PAUSED)} can")
            checked[name] = SETTING_LIMITS[name].coerce(value)
        with self._lock:
            if self._state != "paused":
                raise TrainingError("Settings can change only while training is paused: pause it first.")
            self._changes.update(checked)

    # --- the run's side --------------------------------------------------------------------

    def begin(self) -> bool:
        """Enter preparation; False when a stop came before the run started (it then ends)."""
        with self._lock:
            if self._state == "finished":
                if self._stopped_before_start:
                    self._stopped_before_start = False
                    return False
                self._state = "idle"
            if self._state == "idle":
                self._state = "preparing"
            return True

    def training(self) -> None:
        """Preparation is done; training starts (held at once if a pause was asked for)."""
        with self._lock:
            if self._state == "stopping":
                raise StopRequested
            self._state = "paused" if self._pause_pending else "running"
            self._pause_pending = False

    def check_stop(self) -> None:
        """Raise StopRequested if a stop was asked for; for work that cannot hold (loading data)."""
        if self._state == "stopping":
            raise StopRequested

    def checkpoint(self) -> tuple[float, dict[str, object]]:
        """Between two batches: hold while paused, raise StopRequested on a stop.

        Returns the seconds spent paused and the settings changed meanwhile.
        """
        if self._state == "running" and not self._changes:  # the common case takes no lock
            return 0.0, {}
        started = time.perf_counter()
        with self._lock:
            while self._state == "paused":
                self._holding = True
                self._lock.wait()
            self._holding = False
            if self._state == "stopping":
                raise StopRequested
            changes, self._changes = self._changes, {}
        return time.perf_counter() - started, changes

    def end(self) -> None:
        with self._lock:
            self._state = "finished"
            self._pause_pending = False
            self._changes = {}
            self._lock.notify_all()
