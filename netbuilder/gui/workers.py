"""Long work off the GUI thread: a training run and the loading of a dataset for its preview.

The threads touch no widget. They re-emit what the Qt-free code reports as plain data (the
training event dataclasses, a Dataset, a message), and the receiving widgets live on the GUI
thread, so Qt queues every signal to it.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Protocol

from PySide6.QtCore import QObject, QProcess, QThread, QTimer, Signal

from ..core.project import project_from_dict, project_to_dict
from ..training.events import BatchEnded, Finished, TrainingEvent
from ..common.text import shown

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
            pending.append(Finished("failed", f"Training stopped on an unexpected error: {shown(error)}",
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


def threads_still_running() -> bool:
    """Whether a thread handed to the keeper, or a daemon thread (the epoch estimate timing a
    network), has still not ended: Python's exit must not run while one does."""
    return any(thread.isRunning() for thread in _still_running) or \
        any(thread.daemon and thread.is_alive() for thread in threading.enumerate())


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
        from ..core.memory import in_memory_limit
        from ..data.base import DataError
        from ..data.catalog import load_dataset  # pulls in torch and every loader: only when loading

        try:
            dataset = load_dataset(self.spec, progress=self._report, in_memory_limit=in_memory_limit())
        except _Cancelled:
            return
        except DataError as error:
            self.failed.emit(str(error))
            return
        except Exception as error:  # any loader bug becomes a message, never a dialog with a traceback
            self.failed.emit(f"Cannot load the dataset: {shown(error)}")
            return
        if not self._cancelled:
            self.loaded.emit(dataset)


class ExportWriter(QThread):
    """Writes one export (netbuilder.export.exporting.export_project) on its own thread: tracing a
    network for ONNX or torch.export takes seconds, an LSTM's tens of them.

    Emits `written(ExportResult)` or `failed(message)`.
    """

    written = Signal(object)
    failed = Signal(str)

    def __init__(self, project, project_path, format_name: str, out, parent: QObject | None = None):
        super().__init__(parent)
        # copied here, on the GUI thread: the window goes on taking edits of `project` while this writes
        snapshot = project_from_dict(project_to_dict(project), project.name)  # without the window's listeners
        self._arguments = (snapshot, project_path, format_name, out)

    def run(self) -> None:
        from ..core.compile import CompileError
        from ..export.exporting import ExportError, export_project  # imports torch: only when exporting

        try:
            result = export_project(*self._arguments)
        except (ExportError, CompileError) as error:
            self.failed.emit(str(error))
        except Exception as error:  # an exporter's bug becomes a message, never a dialog with a traceback
            self.failed.emit(f"The export failed: {shown(error)}")
        else:
            self.written.emit(result)


class DistributedTrainingWorker(QObject):
    """A run on several processes: torchrun, started as a QProcess, trains a saved project file, and
    its rank 0 writes the run's events as JSON lines (netbuilder.training.event_stream) to a file
    this worker reads as they come.

    Emits the same `events_ready(list)` as TrainingWorker, and `finished()` after the process ended.
    Finished is sent once the process has ended (the weights are in `out` by then), with
    torchrun's last error line as the message when it failed without saying why itself.
    """

    events_ready = Signal(list)
    finished = Signal()
    POLL_MS = 100
    STOP_GRACE_MS = 3000  # after this, a process that ignored the stop signal is killed

    def __init__(self, project_file, out, processes: int, parent: QObject | None = None):
        super().__init__(parent)
        self.project_file, self.out, self.processes = project_file, out, processes
        self.events_file = out / "events.jsonl"
        self._read_position = 0
        self._partial = ""
        self._finished_event: Finished | None = None
        self._stopping = False
        self._process = QProcess(self)
        self._process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self._process.finished.connect(self._process_ended)
        self._process.errorOccurred.connect(self._process_error)
        self._poll = QTimer(self)
        self._poll.setInterval(self.POLL_MS)
        self._poll.timeout.connect(self._read_events)
        self._kill_timer = QTimer(self)  # a process that ignored the stop signal is killed when it fires
        self._kill_timer.setSingleShot(True)
        self._kill_timer.setInterval(self.STOP_GRACE_MS)
        self._kill_timer.timeout.connect(self._process.kill)

    def start(self) -> None:
        self.events_file.write_text("", encoding="utf-8")
        self._process.start(sys.executable, [
            "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(self.processes),
            "-m", "netbuilder", "train", str(self.project_file), "--out", str(self.out),
            "--events-jsonl", str(self.events_file)])
        self._poll.start()

    def is_running(self) -> bool:
        return self._process.state() != QProcess.ProcessState.NotRunning

    @property
    def state(self) -> str:
        """As a RunControl's states: running, or stopping once asked to stop."""
        return "stopping" if self._stopping else "running"

    def stop(self) -> None:
        """End the run: torchrun passes SIGTERM on to every rank, and a rank that outlives the
        grace time is killed with its launcher, so that no process stays behind."""
        if not self.is_running():
            return
        self._stopping = True
        self._process.terminate()
        self._kill_timer.start()

    def stop_and_wait(self, timeout_seconds: float = 2.0) -> bool:
        self.stop()
        if not self._process.waitForFinished(int(timeout_seconds * 1000)):
            self._process.kill()
            return self._process.waitForFinished(1000)
        return True

    def _read_events(self) -> None:
        from ..training.event_stream import read_event

        try:
            with open(self.events_file, encoding="utf-8") as stream:
                stream.seek(self._read_position)
                text = stream.read()
                self._read_position = stream.tell()
        except OSError:
            return
        *lines, self._partial = (self._partial + text).split("\n")
        events = []
        for line in lines:
            event = read_event(line)
            if isinstance(event, Finished):  # sent when the process has ended and the weights are saved
                self._finished_event = event
            else:
                events.append(event)
        if events:
            self.events_ready.emit(events)

    def _process_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._end(Finished("failed", f"Could not start the training processes: {self._process.errorString()}"))

    def _process_ended(self, exit_code: int, _status) -> None:
        self._read_events()
        told = self._finished_event
        if self._stopping:
            ending = Finished("stopped", "Stopped. A run on several processes ends at once and keeps no weights.")
        elif told is not None and (exit_code == 0 or told.reason != "completed"):
            ending = told
        else:  # the run failed before it could say why (or after, saving): torchrun's stderr tells
            errors = bytes(self._process.readAllStandardError()).decode(errors="replace")
            ours = [line.removeprefix("netbuilder: ") for line in errors.splitlines()
                    if line.startswith("netbuilder: ")]
            ending = Finished("failed", ours[-1] if ours else f"The training processes ended with status {exit_code}.",
                              errors[-5000:])
        self._end(ending)

    def _end(self, ending: Finished) -> None:
        self._poll.stop()
        self._kill_timer.stop()
        self.events_ready.emit([ending])
        self.finished.emit()

