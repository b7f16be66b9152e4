"""Long work off the GUI thread: a training run and the loading of a dataset for its preview.

The threads touch no widget. They re-emit what the Qt-free code reports as plain data (the
training event dataclasses, a Dataset, a message), and the receiving widgets live on the GUI
thread, so Qt queues every signal to it.
"""
from __future__ import annotations

import time
import traceback
from typing import Protocol

from PySide6.QtCore import QObject, QThread, Signal

from ..training.events import BatchEnded, Finished, TrainingEvent

# Batch reports closer together than this reach the GUI together, in one signal: a run that reports
# every batch cannot flood the event loop, and no report is dropped (each is a point on a curve).
COALESCE_SECONDS = 0.05
# A worker still running when its window goes is kept alive here until it ends, because
# destroying a running QThread aborts the process.
_still_running: set[QThread] = set()


class Session(Protocol):
    """What the worker needs of netbuilder.training.session.TrainingSession."""

    def events(self): ...
    def stop(self) -> None: ...


class TrainingWorker(QThread):
    """Iterates a training session's events on its own thread.

    `events_ready` carries lists of events in order; every event other than BatchEnded is sent at
    once, together with the batch reports held back before it. Finished is always the last one,
    even if the session broke its promise never to raise.
    """

    events_ready = Signal(list)

    def __init__(self, session: Session, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session

    def run(self) -> None:
        pending: list[TrainingEvent] = []
        last_sent = 0.0
        try:
            for event in self.session.events():
                pending.append(event)
                now = time.monotonic()
                if not isinstance(event, BatchEnded) or now - last_sent >= COALESCE_SECONDS:
                    self.events_ready.emit(pending)
                    pending, last_sent = [], now
        except Exception as error:  # a bug in the session: the panel still gets a readable ending
            pending.append(Finished("failed", f"Training stopped on an unexpected error: {error}",
                                    traceback.format_exc()))
        if pending:
            self.events_ready.emit(pending)

    def stop_and_wait(self, timeout_seconds: float = 2.0) -> bool:
        """Ask the run to stop and wait for the thread; True when it ended within the time."""
        self.session.stop()
        return wait_or_keep(self, timeout_seconds)


def wait_or_keep(thread: QThread, timeout_seconds: float) -> bool:
    """Wait for a thread that was asked to end; True when it did within the time.

    A thread that did not end is handed to a keeper that holds it until it does, so that its
    owner (a closing window) can go now without destroying a running thread.
    """
    if thread.wait(int(timeout_seconds * 1000)):
        return True
    thread.setParent(None)
    _still_running.add(thread)
    thread.finished.connect(lambda: _still_running.discard(thread))
    return False


def wait_for_kept_threads(timeout_seconds: float = 10.0) -> None:
    """At quit: give the threads still ending (see wait_or_keep) time to end before Qt goes."""
    deadline = time.monotonic() + timeout_seconds
    for thread in list(_still_running):
        thread.wait(max(0, int((deadline - time.monotonic()) * 1000)))


class _Cancelled(Exception):
    """Raised inside a loader's progress callback to abandon the loading."""


class DatasetLoader(QThread):
    """Loads a dataset by its spec (netbuilder.data.catalog.load_dataset) on its own thread.

    Emits `progress(done, total, message)` while loading, then one of `loaded(Dataset)` or
    `failed(message)`; `cancel()` abandons the loading at its next progress report.
    """

    progress = Signal(int, int, str)
    loaded = Signal(object)
    failed = Signal(str)

    def __init__(self, spec: str, parent: QObject | None = None):
        super().__init__(parent)
        self.spec = spec
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    def _report(self, done: int, total: int, message: str) -> None:
        if self._cancelled:
            raise _Cancelled
        self.progress.emit(done, total, message)

    def run(self) -> None:
        from ..data.base import DataError
        from ..data.catalog import load_dataset  # pulls in torch and every loader: only when loading

        try:
            dataset = load_dataset(self.spec, progress=self._report)
        except _Cancelled:
            return
        except DataError as error:
            self.failed.emit(str(error))
            return
        except Exception as error:  # any loader bug becomes a message, never a dialog with a traceback
            self.failed.emit(f"Cannot load the dataset: {error}")
            return
        if not self._cancelled:
            self.loaded.emit(dataset)


class ExportWriter(QThread):
    """Writes one export (netbuilder.training.exports.export_project) on its own thread: tracing a
    network for ONNX or torch.export takes seconds, an LSTM's tens of them.

    Emits `written(ExportResult)` or `failed(message)`.
    """

    written = Signal(object)
    failed = Signal(str)

    def __init__(self, project, project_path, format_name: str, out, parent: QObject | None = None):
        super().__init__(parent)
        self._arguments = (project, project_path, format_name, out)

    def run(self) -> None:
        from ..core.compile import CompileError
        from ..training.exports import ExportError, export_project  # imports torch: only when exporting

        try:
            result = export_project(*self._arguments)
        except (ExportError, CompileError) as error:
            self.failed.emit(str(error))
        except Exception as error:  # an exporter's bug becomes a message, never a dialog with a traceback
            self.failed.emit(f"The export failed: {error}")
        else:
            self.written.emit(result)
