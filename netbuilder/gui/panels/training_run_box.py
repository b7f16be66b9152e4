"""The training panel's run controls: the buttons, progress, messages and log of a run, and the
changes a paused run takes."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QApplication, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget, QProgressBar,
                               QPushButton, QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from ...core.layers import ParamError
from ...core.settings import SETTING_LIMITS
from ...training.control import CHANGEABLE_WHILE_PAUSED
from ...training.events import BatchEnded
from ...training.run_text import progress_text
from .. import style
from .param_fields import ParamField, make_param_field

PROGRESS_STEPS = 1000
ERROR_STYLE = f"color: {style.ERROR.name()};"
WARNING_STYLE = f"color: {style.WARNING.name()};"


class RunBox(QGroupBox):
    """Train, pause and stop (the panel's actions), the processes to train on, the run's progress,
    its message (with the details of a failure to copy), the note that the canvas has changed since
    the run started, and the run's log."""

    def __init__(self, actions: tuple[QAction, ...], parent: QWidget | None = None):
        super().__init__("Run", parent)
        self.failure_details = ""
        buttons = QHBoxLayout()
        for action in actions:
            button = QToolButton()
            button.setDefaultAction(action)  # text, tooltip and enabled state follow the action
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            buttons.addWidget(button)
        self.progress = QProgressBar()  # the whole run
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setFormat("run %p%")
        self.epoch_progress = QProgressBar()  # the current epoch's batches
        self.epoch_progress.setFormat("epoch: batch %v of %m")
        self.epoch_progress.setMaximumHeight(16)
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_details = QPushButton("Copy error details")
        self.copy_details.setToolTip("Copy the technical details of the error, for a bug report")
        self.copy_details.clicked.connect(lambda: QApplication.clipboard().setText(self.failure_details))
        self.copy_details.hide()
        self.snapshot_note = QLabel()
        self.snapshot_note.setWordWrap(True)
        self.snapshot_note.setStyleSheet(WARNING_STYLE)
        self.snapshot_note.hide()
        self.run_log = QListWidget()
        self.run_log.setToolTip("What happened in this run, including settings changed while paused")
        self.run_log.setMinimumHeight(90)
        self.run_log.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self._processes_row())
        for widget in (self.progress, self.epoch_progress, self.stats, self.message, self.copy_details,
                       self.snapshot_note, QLabel("Run history"), self.run_log):
            layout.addWidget(widget)

    def _processes_row(self) -> QWidget:
        self.processes = QSpinBox()
        self.processes.setRange(1, 1)
        self.processes.setToolTip("Train on several processes at once, one per GPU (torchrun with DistributedData"
                                  "Parallel). Pausing and changing settings during the run are not offered then.")
        self.processes_row = QWidget()
        processes_layout = QHBoxLayout(self.processes_row)
        processes_layout.setContentsMargins(0, 0, 0, 0)
        processes_layout.addWidget(QLabel("Processes"))
        processes_layout.addWidget(self.processes, 1)
        self.processes_row.hide()
        return self.processes_row

    def offer_processes(self, maximum: int) -> None:
        """Offer runs on up to `maximum` processes (one per GPU; see docs/decisions.md for CPUs)."""
        self.processes.setRange(1, max(1, maximum))
        self.processes_row.setVisible(maximum > 1)

    def process_count(self) -> int:
        return self.processes.value() if not self.processes_row.isHidden() else 1

    def log(self, text: str) -> None:
        self.run_log.addItem(text)
        self.run_log.scrollToBottom()

    def show_message(self, text: str, text_style: str = "") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(text_style)

    def show_failure(self, text: str, bad: bool, details: str) -> None:
        """A run's last message, with its technical details to copy when there are any."""
        self.show_message(text, ERROR_STYLE if bad else "")
        self.failure_details = details
        self.copy_details.setVisible(bool(details))

    def show_batch(self, event: BatchEnded, paused: bool) -> None:
        self.progress.setValue(int(round(PROGRESS_STEPS * event.progress)))
        self.epoch_progress.setRange(0, event.batches)
        self.epoch_progress.setValue(event.batch)
        self.stats.setText(progress_text(event) + (" · paused" if paused else ""))

    def show_preparing(self, done: int, total: int, message: str) -> None:
        if total:
            self.progress.setValue(int(PROGRESS_STEPS * done / total))
        self.stats.setText(message)

    def reset(self, stats: str = "") -> None:
        """Nothing of a run shown: before a new one, or for another project."""
        self.run_log.clear()
        self.show_failure("", False, "")
        self.stats.setText(stats)
        self.progress.setValue(0)
        self.epoch_progress.reset()


class PausedChanges(QGroupBox):
    """What a paused run may change (this run only), and "Apply and resume"."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Change while paused (this run only)", parent)
        form = QFormLayout(self)
        self.fields: dict[str, ParamField] = {}
        self.values: dict[str, Any] = {}
        for name in CHANGEABLE_WHILE_PAUSED:
            param = SETTING_LIMITS[name]
            field = make_param_field(param, lambda value, name=name: self._edit(name, value))
            self.fields[name] = field
            form.addRow(param.label, field.widget)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setEnabled(False)
        form.addRow(self.note)
        self.apply_changes = QPushButton("Apply and resume")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        form.addRow(self.error)
        form.addRow(self.apply_changes)
        self.hide()

    def show_values(self, values: dict[str, Any], note: str) -> None:
        """The run's current values (the schedule's rate, not its base) and what a change does."""
        self.values = {}
        self.error.clear()
        for name, field in self.fields.items():
            field.show(values[name])
        self.note.setText(note)

    def _edit(self, name: str, raw: Any) -> None:
        try:
            self.values[name] = SETTING_LIMITS[name].coerce(raw)
            self.error.clear()
        except ParamError as refusal:
            self.error.setText(str(refusal))
