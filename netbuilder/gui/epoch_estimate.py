"""The status bar's estimate of an epoch's training time, kept up to date as the network changes.

Timing needs torch, which takes seconds to import, and a few training steps: both run on a
worker thread, a while after the last edit, and each network is timed once, or again up to
estimate.MAX_TIMINGS times while its times disagree (they are pooled, cached by its structure,
parameters and training settings), so editing never waits for it. An unsure figure is a range.
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.compile import NotEnoughMemory
from ..core.graph import Graph
from ..core.settings import TrainingSettings
from ..training.estimate import TimingPool, duration_text, epoch_seconds  # torch-free: batch_times imports torch
from .document import Document

SETTLE_MS = 800  # time the network a moment after the last edit, not after each keystroke
# Instead of a time, for a network whose training would not fit (the Summary panel gives the figures).
TOO_LARGE = "Too large to train in the memory free"


def network_key(graph: Graph, settings: TrainingSettings) -> str:
    """What the timing depends on: layers, their parameters and wiring, and the training settings."""
    layers = [(node.id, node.type_id, sorted(node.params.items())) for node in graph.nodes.values()]
    return repr((layers, graph.edges, settings))


class EpochEstimate(QObject):
    """Emits `text_changed` with e.g. "≈ 14 s per epoch on digits" or "10–16 s per epoch on digits"
    (or per batch, for data of unknown size; TOO_LARGE for a network whose training would not fit in
    memory; empty while the network has problems or has not been timed yet)."""

    text_changed = Signal(str)
    # key, step times (None: could not be timed; TOO_LARGE: refused before timing), from the worker
    _timed = Signal(str, object)

    def __init__(self, document: Document, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.text = ""
        self._cache: dict[str, TimingPool | str | None] = {}
        self._busy = False
        self._closed = False
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.update_now)
        self._timed.connect(self._store)
        document.analysis_changed.connect(self._changed)
        document.project_replaced.connect(self._changed)
        self._changed()

    def shutdown(self) -> None:
        """The window closed: time nothing more. A timing started after this, by an edit's timer or
        a finished timing asking for another, would still be inside torch when Python exits, and a
        daemon thread there aborts the process ("terminate called without an active exception")."""
        self._closed = True
        self._settle.stop()

    def update_now(self) -> None:
        """Show the estimate of the current network, timing it first (off this thread) if needed."""
        if self._closed:
            return
        project = self.document.project
        if not self.document.analysis.ok:
            self._show("")
            return
        key = network_key(project.graph, project.training)
        known = self._cache.get(key)
        if key in self._cache:
            self._show(self._describe(known))
        if (key not in self._cache or (isinstance(known, TimingPool) and known.wants_another_timing)) \
                and not self._busy:
            self._busy = True
            # the worker gets its own copy: the user goes on editing this one
            graph = Graph({node_id: replace(node, params=dict(node.params)) for node_id, node in project.graph.nodes.items()},
                          list(project.graph.edges))
            worker = threading.Thread(target=self._time, args=(graph, project.training, key),
                                      name="epoch-estimate", daemon=True)
            worker.start()

    def _time(self, graph: Graph, settings: TrainingSettings, key: str) -> None:
        from ..training.estimate import batch_times  # torch: on this thread, never the GUI's

        try:
            times = batch_times(graph, settings)
        except NotEnoughMemory:
            times = TOO_LARGE
        except Exception:  # a network that trains in no way this can time: no estimate, no message
            times = None
        with contextlib.suppress(RuntimeError):  # the window closed while timing
            self._timed.emit(key, times)

    def _store(self, key: str, times: list[float] | str | None) -> None:
        self._busy = False
        if isinstance(times, list):
            self._cache.setdefault(key, TimingPool()).add(times)
        else:
            self._cache[key] = times
        self.update_now()  # the network may have changed meanwhile, or wants another timing

    def _describe(self, timing: TimingPool | str | None) -> str:
        if timing is None or timing == TOO_LARGE:
            return timing or ""
        project = self.document.project
        batch_size = project.training.batch_size
        seconds = timing.figure()
        epochs = [epoch_seconds(project.dataset, batch_size, batch) for batch in seconds]
        if epochs[0] is None:
            return f"{duration_text(*seconds, timing.sure)} per batch of {batch_size}"
        return f"{duration_text(*epochs, timing.sure)} per epoch on {project.dataset}"

    def _changed(self) -> None:
        self._settle.start()

    def _show(self, text: str) -> None:
        if text != self.text:
            self.text = text
            self.text_changed.emit(text)

