"""The training panel: choose the data, set the training settings, train, watch and evaluate.

A run trains a snapshot of the project taken when it starts (the canvas stays editable, and the
panel says when the network there differs from the one being trained). The run's events arrive
from a TrainingWorker thread as plain data; this panel only presents them. Settings edits are
undoable project edits (SetTraining); changes made while a run is paused apply to that run only
and are recorded in its history.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QIODevice, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QApplication, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QMenu, QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSpinBox,
                               QSplitter, QTabWidget, QToolButton, QVBoxLayout, QWidget)

from ...core import memory
from ...core.commands import SetTraining
from ...core.compile import CompileError
from ...core.layers import ParamError
from ...core.project import Project
from ...core.settings import SCHEDULE_HELP, SETTING_LIMITS, unused_settings
from ...data.builtin import BUILTIN_DATASETS
from ...files import write_atomic
from ...text import shown
from ...training.control import CHANGEABLE_WHILE_PAUSED
from ...training.events import (BatchEnded, EpochEnded, Finished, HealthReport, Preparing, SettingsChanged, Started,
                                ThreadsChosen)
from ...training.gpus import visible_gpu_count
from ...training.run_text import (change_text, graph_structure, is_news, progress_text, rate_change_text,
                                  saved_run_text, saved_texts, started_text, threads_text)
from .. import style
from ..document import Document
from ..workers import DatasetLoader, DistributedTrainingWorker, TrainingWorker, wait_or_keep
from .confusion import ConfusionMatrixView
from .inspector import ParamField, make_param_field
from .samples import DatasetPreview, SampleGallery, image_shape_of
from .training_plots import TrainingPlots

_PROGRESS_STEPS = 1000
_ERROR_STYLE = f"color: {style.ERROR.name()};"
_WARNING_STYLE = f"color: {style.WARNING.name()};"
_FOLDER_CHOICES = (
    ("Image folder (one subfolder per class)…", "folder"),
    ("IDX folder (MNIST-style files)…", "folder"),
    ("CSV file (numbers or a text column)…", "file"),
)


class TrainingPanel(QWidget):
    """Trains the document's project. `start_action`, `pause_action` and `stop_action` drive the run
    (the window's menu and toolbar show the same actions); `shutdown()` stops a run and any loading
    and waits up to two seconds for them, for closing windows and replacing projects."""

    model_trained = Signal(object)  # a TrainedModel: after a run with usable weights, or restored on open
    health_reported = Signal(object)  # HealthReport, for the canvas badges
    run_started = Signal()

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.report_interval = 0.25  # seconds between batch reports; tests lower it
        self.run = None  # the TrainingRun in this process, also once ended; None for a distributed run
        self.trained_structure: dict | None = None  # graph_structure of the project the last run trained
        self.worker: TrainingWorker | DistributedTrainingWorker | None = None
        self.run_folder = None  # a distributed run's TemporaryDirectory: its project file, weights and events
        self.loader: DatasetLoader | None = None
        self.dataset = None  # the loaded netbuilder.data.base.Dataset of `dataset_spec`, if any
        self.dataset_spec = ""
        self.run_image_shape: tuple[int, ...] | None = None  # of its validation samples, for the gallery
        self.started: Started | None = None
        self.threads_in_use: int | None = None  # torch threads the run uses, as last logged
        self.last_epoch: EpochEnded | None = None
        self.unsaved_run = None  # a finished run's TrainedModel whose weights wait for the project to get a file
        self.failure_details = ""
        self.galleries: list[SampleGallery] = []

        self.start_action = QAction("Train", self)
        self.pause_action = QAction("Pause", self)
        self.stop_action = QAction("Stop", self)
        self.start_action.triggered.connect(self.start_or_resume)
        self.pause_action.triggered.connect(self.pause)
        self.stop_action.triggered.connect(self.stop)

        self.plots = TrainingPlots()
        self.confusion = ConfusionMatrixView()
        self.confusion.cell_clicked.connect(self.open_gallery)
        self.preview = DatasetPreview()
        self.tabs = QTabWidget()
        self.tabs.addTab(self._curves_page(), "Curves")
        self.tabs.addTab(self.confusion, "Confusion matrix")
        self.tabs.addTab(self.preview, "Data")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._controls_column())
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([320, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        document.analysis_changed.connect(self.refresh)
        document.project_replaced.connect(self._project_replaced)
        self.refresh()

    # --- building ---------------------------------------------------------------------------------
    def _controls_column(self) -> QWidget:
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(self._data_box())
        column.addWidget(self._run_box())
        column.addWidget(self._settings_box())
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)
        # The changes made while paused sit below the scrolled column, so "Apply and resume" is in
        # view whatever the column's scroll position and the panel's height.
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addWidget(scroll, 1)
        left_column.addWidget(self._paused_box())
        return left

    def _curves_page(self) -> QWidget:
        save_png = QPushButton("Save plot as PNG…")
        save_png.clicked.connect(self.save_plot)
        save_csv = QPushButton("Export history as CSV…")
        save_csv.clicked.connect(self.export_history)
        self.plots.toolbar.addWidget(save_png)
        self.plots.toolbar.addWidget(save_csv)
        return self.plots

    def _data_box(self) -> QGroupBox:
        box = QGroupBox("Data")
        self.dataset_choice = QComboBox()
        self.dataset_choice.setToolTip("The dataset this project trains on")
        self.dataset_choice.activated.connect(lambda _index: self.choose_dataset(self.dataset_choice.currentData()))
        self.open_data = QToolButton()
        self.open_data.setText("Open…")
        self.open_data.setToolTip("Train on your own data: a folder or a CSV file")
        self.open_data.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.open_data)
        for text, kind in _FOLDER_CHOICES:
            menu.addAction(text).triggered.connect(lambda _checked=False, kind=kind, text=text: self._open_data(kind, text))
        self.open_data.setMenu(menu)
        self.show_samples = QPushButton("Show samples")
        self.show_samples.setToolTip("Load the dataset and show some samples with their labels in the Data tab")
        self.show_samples.clicked.connect(self.load_preview)
        self.data_progress = QProgressBar()
        self.data_progress.hide()
        self.dataset_description = QLabel()
        self.dataset_description.setWordWrap(True)
        self.dataset_description.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.dataset_choice, 1)
        row.addWidget(self.open_data)
        layout = QVBoxLayout(box)
        layout.addLayout(row)
        layout.addWidget(self.dataset_description)
        layout.addWidget(self.show_samples)
        layout.addWidget(self.data_progress)
        self._fill_dataset_choices()
        return box

    def _run_box(self) -> QGroupBox:
        box = QGroupBox("Run")
        buttons = QHBoxLayout()
        for action in (self.start_action, self.pause_action, self.stop_action):
            button = QToolButton()
            button.setDefaultAction(action)  # text, tooltip and enabled state follow the action
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            buttons.addWidget(button)
        self.progress = QProgressBar()  # the whole run
        self.progress.setRange(0, _PROGRESS_STEPS)
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
        self.snapshot_note.setStyleSheet(_WARNING_STYLE)
        self.snapshot_note.hide()
        self.run_log = QListWidget()
        self.run_log.setToolTip("What happened in this run, including settings changed while paused")
        self.run_log.setMinimumHeight(90)
        self.run_log.setWordWrap(True)
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
        self.offer_processes(visible_gpu_count())
        layout = QVBoxLayout(box)
        layout.addLayout(buttons)
        layout.addWidget(self.processes_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.epoch_progress)
        layout.addWidget(self.stats)
        layout.addWidget(self.message)
        layout.addWidget(self.copy_details)
        layout.addWidget(self.snapshot_note)
        layout.addWidget(QLabel("Run history"))
        layout.addWidget(self.run_log)
        return box

    def _paused_box(self) -> QGroupBox:
        box = QGroupBox("Change while paused (this run only)")
        form = QFormLayout(box)
        self.paused_fields: dict[str, ParamField] = {}
        self.paused_values: dict[str, Any] = {}
        for name in CHANGEABLE_WHILE_PAUSED:
            param = SETTING_LIMITS[name]
            field = make_param_field(param, lambda value, name=name: self._paused_edit(name, value))
            self.paused_fields[name] = field
            form.addRow(param.label, field.widget)
        self.paused_note = QLabel()
        self.paused_note.setWordWrap(True)
        self.paused_note.setEnabled(False)
        form.addRow(self.paused_note)
        self.apply_changes = QPushButton("Apply and resume")
        self.apply_changes.clicked.connect(self.resume)
        self.paused_error = QLabel()
        self.paused_error.setWordWrap(True)
        self.paused_error.setStyleSheet(_ERROR_STYLE)
        form.addRow(self.paused_error)
        form.addRow(self.apply_changes)
        self.paused_box = box
        box.hide()
        return box

    def _settings_box(self) -> QGroupBox:
        box = QGroupBox("Training settings (saved in the project)")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.setting_fields: dict[str, ParamField] = {}
        self.setting_errors: dict[str, QLabel] = {}
        for name, param in SETTING_LIMITS.items():
            field = make_param_field(param, lambda value, name=name: self.set_setting(name, value))
            error = QLabel()
            error.setWordWrap(True)
            error.setStyleSheet(_ERROR_STYLE)
            error.hide()
            holder = QWidget()
            holder_layout = QVBoxLayout(holder)
            holder_layout.setContentsMargins(0, 0, 0, 0)
            holder_layout.setSpacing(2)
            holder_layout.addWidget(field.widget)
            holder_layout.addWidget(error)
            form.addRow(param.label, holder)
            self.setting_fields[name] = field
            self.setting_errors[name] = error
        self.settings_box = box
        return box

    # --- data -------------------------------------------------------------------------------------
    def _fill_dataset_choices(self) -> None:
        """The built-in datasets and the project's own, with the chosen one's description below."""
        self.dataset_choice.clear()
        descriptions = dict(BUILTIN_DATASETS)
        current = self.document.project.dataset
        for spec, description in [*BUILTIN_DATASETS, *([(current, current)] if current not in descriptions else [])]:
            self.dataset_choice.addItem(Path(spec).name or spec, spec)
            self.dataset_choice.setItemData(self.dataset_choice.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.dataset_choice.setCurrentIndex(self.dataset_choice.findData(current))
        self.dataset_description.setText(descriptions.get(current, f"Your data: {current}"))

    def _open_data(self, kind: str, title: str) -> None:
        start = str(self.document.path.parent) if self.document.path else str(Path.home())
        title = title.rstrip("…")
        if kind == "folder":
            path = QFileDialog.getExistingDirectory(self, title, start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, title, start, "CSV files (*.csv *.tsv *.txt);;All files (*)")
        if path:
            self.choose_dataset(path)

    def choose_dataset(self, spec: str) -> None:
        """Train on `spec` from now on (an undoable project edit) and show some of its samples."""
        if spec != self.document.project.dataset:
            self.document.push(SetTraining(self.document.project, dataset=spec))
            self.load_preview()

    def use_dataset(self, dataset) -> None:
        """Train on this already loaded Dataset while the project's dataset stays what it is
        (a test's small subset, or the preview's data, so it is not loaded twice)."""
        self._cancel_loading()
        self.dataset, self.dataset_spec = dataset, self.document.project.dataset
        self.preview.show_dataset(dataset)

    def load_preview(self) -> None:
        """Load the project's dataset off the GUI thread and show some of its samples."""
        spec = self.document.project.dataset
        if self.dataset is not None and self.dataset_spec == spec:
            self.tabs.setCurrentWidget(self.preview)
            return
        self._cancel_loading()
        self.dataset = None
        self.loader = DatasetLoader(spec, self)
        self.loader.progress.connect(self._loading_progress)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._loading_failed)
        self.loader.finished.connect(self.loader.deleteLater)
        self.preview.show_message(f"Loading {spec}…")
        self.data_progress.setRange(0, 0)
        self.data_progress.show()
        self.tabs.setCurrentWidget(self.preview)
        self.loader.start()

    # A cancelled loader may still report before it notices; only the current one is listened to.
    def _loading_progress(self, done: int, total: int, message: str) -> None:
        if self.sender() is self.loader:
            self.data_progress.setRange(0, total)
            self.data_progress.setValue(done)
            self.preview.show_message(message)

    def _loaded(self, dataset) -> None:
        if self.sender() is self.loader:
            self.loader = None
            self.data_progress.hide()
            self.dataset, self.dataset_spec = dataset, self.document.project.dataset
            self.preview.show_dataset(dataset)

    def _loading_failed(self, message: str) -> None:
        if self.sender() is self.loader:
            self.loader = None
            self.data_progress.hide()
            self.preview.show_message(message)
            self.preview.counts_label.setStyleSheet(_ERROR_STYLE)

    def _cancel_loading(self) -> None:
        if self.loader is not None:
            self.loader.cancel()
            self.loader = None
        self.data_progress.hide()
        self.preview.counts_label.setStyleSheet("")

    # --- settings ---------------------------------------------------------------------------------
    def set_setting(self, name: str, raw: Any) -> None:
        """One edit of a training setting, pushed as an undoable project edit."""
        error = self.setting_errors[name]
        try:
            value = SETTING_LIMITS[name].coerce(raw)
        except ParamError as refusal:
            error.setText(str(refusal))
            error.show()
            return
        error.hide()
        if value != getattr(self.document.project.training, name):
            self.document.push(SetTraining(self.document.project, {name: value}))

    def _paused_edit(self, name: str, raw: Any) -> None:
        try:
            self.paused_values[name] = SETTING_LIMITS[name].coerce(raw)
            self.paused_error.clear()
        except ParamError as refusal:
            self.paused_error.setText(str(refusal))

    def refresh(self) -> None:
        """Show the project's settings and dataset, and whether the network can be trained."""
        training = self.document.project.training
        sinks = [node.params.get("task") for node in self.document.project.graph.nodes.values() if node.spec.is_sink]
        unused = unused_settings(training.optimizer, sinks[0] if sinks else None)
        for name, field in self.setting_fields.items():
            field.show(getattr(training, name))
            field.widget.setEnabled(name not in unused)
            field.widget.setToolTip(unused.get(name, SETTING_LIMITS[name].help or ""))
        self.setting_fields["schedule"].widget.setToolTip(SCHEDULE_HELP[training.schedule])
        if self.dataset_choice.currentData() != self.document.project.dataset:
            self._fill_dataset_choices()
        self._update_controls()
        self._update_snapshot_note()

    def _project_replaced(self) -> None:
        self.shutdown()
        self._cancel_loading()
        self.dataset, self.unsaved_run, self.trained_structure, self.last_epoch, self.run = None, None, None, None, None
        self.preview.show_message("No dataset loaded yet.")
        self.plots.clear()
        self.confusion.show_nothing("The confusion matrix appears after the first epoch of a classification "
                                    "run with validation data.")
        self.run_log.clear()
        self.message.clear()
        self.copy_details.hide()
        self.stats.clear()
        self.progress.setValue(0)
        self.epoch_progress.reset()
        self._fill_dataset_choices()
        self.refresh()

    def cannot_start_reason(self) -> str:
        project, errors = self.document.project, self.document.analysis.errors
        if errors:
            more = f" (and {len(errors) - 1} more: see the Problems panel)" if len(errors) > 1 else ""
            return f"Cannot train yet: {errors[0].message}{more}"
        if project.training.device == "cuda":
            return ""  # the GPU's free memory is checked when the run starts: asking needs torch
        too_large = memory.training_problem(project.graph, self.document.analysis, project.training,
                                            memory.available_memory(), memory.builtin_samples(project.dataset))
        return f"Cannot train yet: {too_large.message}." if too_large else ""

    def _update_controls(self) -> None:
        state = self.state
        reason = self.cannot_start_reason() if state == "idle" else ""
        self.start_action.setText("Resume" if state == "paused" else "Train")
        self.start_action.setEnabled(state == "paused" or (state == "idle" and not reason))
        self.start_action.setToolTip(reason or ("Continue this run" if state == "paused"
                                                else "Train the network on the chosen data"))
        distributed = isinstance(self.worker, DistributedTrainingWorker)
        self.pause_action.setEnabled(state == "running" and not distributed)
        self.pause_action.setToolTip("A run on several processes cannot pause: stop it instead" if distributed
                                     else "Pause the run (learning rate, optimizer and weight decay can change then)")
        self.processes.setEnabled(state == "idle")
        self.stop_action.setEnabled(state in ("preparing", "running", "paused"))
        self.settings_box.setEnabled(state == "idle")
        self.dataset_choice.setEnabled(state == "idle")
        self.open_data.setEnabled(state == "idle")
        self.paused_box.setVisible(state == "paused")
        if state == "idle" and reason:
            self.message.setText(reason)
            self.message.setStyleSheet(_ERROR_STYLE)
        elif state == "idle" and self.message.text().startswith("Cannot train yet"):
            self.message.clear()

    def _update_snapshot_note(self) -> None:
        differs = self.trained_structure is not None and graph_structure(self.document.project) != self.trained_structure
        if differs:
            verb = "is being trained" if self.state != "idle" else "was trained"
            self.snapshot_note.setText(f"The network on the canvas has changed since this run started: the run "
                                       f"{verb} on the network as it was then.")
        self.snapshot_note.setVisible(differs)

    # --- the run ----------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """idle, preparing, running, paused or stopping: the run's own state (its RunControl, or the
        processes of a distributed run) until the panel has taken its Finished."""
        if self.worker is None:
            return "idle"
        if self.run is None:
            return self.worker.state
        # not begun yet: preparing; ended, its Finished not yet taken: stopping (nothing to do meanwhile)
        return {"idle": "preparing", "finished": "stopping"}.get(self.run.state, self.run.state)

    @property
    def running(self) -> bool:
        return self.state != "idle"

    def start_or_resume(self) -> None:
        if self.state == "paused":
            self.resume()
        elif self.state == "idle":
            self.start()

    def start(self) -> None:
        if self.running or self.cannot_start_reason():
            return
        project = self.document.project
        processes = self.processes.value() if not self.processes_row.isHidden() else 1
        if processes > 1:
            self.run = None
            self.trained_structure = graph_structure(project)
            self.worker = self._distributed_worker(project, processes)
        else:
            from ...training.run import TrainingRun  # imports torch: only when training

            dataset = self.dataset if self.dataset_spec == project.dataset else None
            self.run = TrainingRun(project, self.document.path, name=self.document.title, dataset=dataset,
                                   report_interval=self.report_interval)
            self.trained_structure = self.run.structure
            self.worker = TrainingWorker(self.run, self)
        self.started, self.last_epoch, self.unsaved_run, self.failure_details = None, None, None, ""
        self.run_log.clear()
        self.message.clear()
        self.message.setStyleSheet("")
        self.copy_details.hide()
        self.progress.setValue(0)
        self.epoch_progress.reset()
        self.stats.setText("Preparing…")
        self.plots.start_run(project.training.epochs)
        self.confusion.show_nothing("The confusion matrix appears after the first epoch.")
        self.health_reported.emit(HealthReport(0.0, ()))  # the previous run's badges no longer apply
        self.worker.events_ready.connect(self._on_events)
        self.worker.finished.connect(self.worker.deleteLater)
        self._update_controls()
        self._update_snapshot_note()
        self.run_started.emit()
        self.worker.start()

    def _distributed_worker(self, project: Project, processes: int) -> DistributedTrainingWorker:
        """torchrun trains a file: the project as it is now is saved in a folder of its own, where
        the run's weights and events go too (the folder goes when the run's weights are loaded)."""
        import tempfile

        from ...core.project import save_project

        self.run_folder = tempfile.TemporaryDirectory(prefix="netbuilder-run-")
        folder = Path(self.run_folder.name)
        save_project(project, folder / "run.nbproj")
        return DistributedTrainingWorker(folder / "run.nbproj", folder, processes, self)

    def offer_processes(self, maximum: int) -> None:
        """Offer runs on up to `maximum` processes (one per GPU; see docs/decisions.md for CPUs)."""
        self.processes.setRange(1, max(1, maximum))
        self.processes_row.setVisible(maximum > 1)

    def pause(self) -> None:
        if self.state != "running" or self.run is None:
            return
        self.run.pause()
        self.paused_values = {}
        self.paused_error.clear()
        shown = self.run.paused_values()
        for name, field in self.paused_fields.items():
            field.show(shown[name])
        self.paused_note.setText(rate_change_text(self.run.project.training.schedule, self.run.settings["learning_rate"],
                                                  shown["learning_rate"]))
        self.stats.setText(self.stats.text() + " · paused")
        self._update_controls()

    def resume(self) -> None:
        if self.state != "paused":
            return
        try:
            self.run.change_settings(**self.paused_values)
        except Exception as refusal:  # ParamError or TrainingError: the message says why
            self.paused_error.setText(str(refusal))
            return
        self.run.resume()
        self._update_controls()

    def stop(self) -> None:
        if self.state in ("preparing", "running", "paused"):
            (self.run or self.worker).stop()
            self.stats.setText("Stopping…")
            self._update_controls()

    def shutdown(self, timeout_seconds: float = 2.0) -> None:
        """End any run and loading now (the window closes or another project opens)."""
        self._cancel_loading()
        for loader in self.findChildren(DatasetLoader):
            loader.cancel()
            wait_or_keep(loader, timeout_seconds)
        if self.worker is not None:
            worker, self.worker = self.worker, None  # its events still queued are ignored from now on
            worker.stop_and_wait(timeout_seconds)
            self._drop_run_folder()
            self._update_controls()

    # --- events -----------------------------------------------------------------------------------
    def _on_events(self, events: list) -> None:
        if self.sender() is not self.worker:  # a run ended by shutdown() whose events were still queued
            return
        for event in events:
            handler = self._handlers.get(type(event))
            if handler is not None:
                handler(self, event)

    def _preparing(self, event: Preparing) -> None:
        if event.total:
            self.progress.setValue(int(_PROGRESS_STEPS * event.done / event.total))
        self.stats.setText(event.message)

    def _started(self, event: Started) -> None:
        self.started = event
        self.threads_in_use = None  # the tuner's first choice is logged, whatever Started said
        self._update_controls()
        session = self.run.session if self.run is not None else None
        self.run_image_shape = image_shape_of(session.dataset) if session is not None else None
        if self.dataset is None and session is not None and session.dataset is not None:
            self.dataset, self.dataset_spec = session.dataset, self.run.project.dataset
            self.preview.show_dataset(self.dataset)
        if session is not None:
            self._log(started_text(self.run.project, session.dataset.name, event))
        for note in event.notes:
            self._log(note)

    def _batch(self, event: BatchEnded) -> None:
        self.plots.add_batch(event)
        self.progress.setValue(int(round(_PROGRESS_STEPS * event.progress)))
        self.epoch_progress.setRange(0, event.batches)
        self.epoch_progress.setValue(event.batch)
        self.stats.setText(progress_text(event) + (" · paused" if self.state == "paused" else ""))

    def _epoch(self, event: EpochEnded) -> None:
        self.last_epoch = event
        self.plots.add_epoch(event)
        parts = [f"Epoch {event.epoch}/{event.epochs}: training loss {event.train_loss:.4f}"]
        if event.val_loss is not None:
            parts.append(f"validation loss {event.val_loss:.4f}")
        if event.val_accuracy is not None:
            parts.append(f"accuracy {100 * event.val_accuracy:.2f}%")
        self._log(", ".join(parts))
        if event.confusion is not None and event.per_class_accuracy is not None:
            self.confusion.show_matrix(event.confusion, event.per_class_accuracy,
                                       self.started.class_names if self.started else (), event.epoch)

    def _settings_changed(self, event: SettingsChanged) -> None:
        self.plots.add_change(event)
        self._log(change_text(event))

    def _threads_chosen(self, event: ThreadsChosen) -> None:
        """Logged when the count changes: re-timing that keeps the same count is routine, not news."""
        if is_news(event, self.threads_in_use):
            self.threads_in_use = event.threads
            self._log(threads_text(event))

    def _health(self, event: HealthReport) -> None:
        self.health_reported.emit(event)

    def _finished(self, event: Finished) -> None:
        run, worker = self.run, self.worker
        if run is not None:
            worker.wait()
        self.worker = None
        bad = event.reason in ("failed", "nan_loss")
        self.message.setText(event.message)
        self.message.setStyleSheet(_ERROR_STYLE if bad else "")
        self.failure_details = event.details
        self.copy_details.setVisible(bool(event.details))
        self._log(event.message)
        if event.reason == "completed":
            self.progress.setValue(_PROGRESS_STEPS)
        self.stats.setText(self.stats.text().replace(" · paused", ""))
        self._update_controls()
        self._update_snapshot_note()
        if run is None:
            if event.reason in ("completed", "early_stopping"):
                self._load_distributed_run(worker)
            self._drop_run_folder()
        else:
            trained = run.kept()  # what the command line keeps too: the best epoch's weights
            if trained is not None:
                self.keep_weights(trained)
                self.model_trained.emit(trained)

    def _load_distributed_run(self, worker: DistributedTrainingWorker) -> None:
        """The weights rank 0 saved, kept as a run in this process would keep them."""
        from ...core.project import ProjectFileError, load_project
        from ...training.checkpoint import CheckpointError, load_trained_model

        try:
            trained = load_trained_model(load_project(worker.project_file), worker.project_file, worker.out)
        except (CheckpointError, ProjectFileError, CompileError) as error:  # CompileError: too large for memory
            self.message.setText(f"The run ended, but its weights could not be read: {error}")
            self.message.setStyleSheet(_ERROR_STYLE)
            return
        self.keep_weights(trained)
        self.model_trained.emit(trained)

    def _drop_run_folder(self) -> None:
        if self.run_folder is not None:
            self.run_folder.cleanup()
            self.run_folder = None

    _handlers = {Preparing: _preparing, Started: _started, BatchEnded: _batch, EpochEnded: _epoch,
                 SettingsChanged: _settings_changed, ThreadsChosen: _threads_chosen, HealthReport: _health,
                 Finished: _finished}

    def _log(self, text: str) -> None:
        self.run_log.addItem(text)
        self.run_log.scrollToBottom()

    # --- results ----------------------------------------------------------------------------------
    def keep_weights(self, trained) -> None:
        """Save a trained model beside the project, or when the project first gets a file."""
        if self.document.path is None:
            self.unsaved_run = trained
            self._log("The project has no file yet: the trained weights are saved beside it when you save it.")
            return
        self.save_weights(self.document.path, trained)

    def save_weights(self, project_path: Path, trained=None) -> bool:
        """Write a run's weights, history and recipe beside the project file (after a run, or when an
        unsaved project with a finished run gets its file). False, with a message, on failure."""
        trained = trained or self.unsaved_run
        if trained is None:
            return True
        try:
            texts = self._save(trained, project_path)
        except OSError as error:
            self.message.setText(f"Cannot save the trained weights: {error.strerror or error}")
            self.message.setStyleSheet(_ERROR_STYLE)
            return False
        self.unsaved_run = None
        for line in texts:
            self._log(line)
        return True

    def _save(self, trained, project_path: Path) -> list[str]:
        """Through the run that trained it, which knows the checkpoint it found there; weights from
        elsewhere (a distributed run, fine-tuning) replace whatever is there. Raises OSError."""
        if self.run is not None and trained.model is self.run.session.model:
            return self.run.save(trained, project_path).texts
        from ...training.checkpoint import checkpoint_path, save_checkpoint

        path = save_checkpoint(trained.model, trained.history, project_path, recipe=trained.recipe)
        return saved_texts(path, checkpoint_path(project_path))

    def show_saved_run(self, history) -> None:
        """A saved run (checkpoint History) as if it had just ended: its curves and last confusion matrix."""
        self.plots.show_saved_run(history)
        self.run_log.clear()
        for line in saved_run_text(history):
            self._log(line)
        last = history.epochs[-1] if history.epochs else None
        if last is not None and last.confusion is not None and last.per_class_accuracy is not None:
            self.confusion.show_matrix(last.confusion, last.per_class_accuracy, history.class_names, last.epoch)

    def open_gallery(self, true_class: int, predicted_class: int) -> None:
        epoch, started = self.last_epoch, self.started
        if epoch is None or started is None or started.validation is None or epoch.val_predictions is None:
            self.message.setText("The samples behind each cell are kept only for runs trained in one process since "
                                 "the project was opened: train again on one process to see them.")
            return
        gallery = SampleGallery(started.validation, epoch.val_predictions, epoch.val_probabilities,
                                started.class_names, true_class, predicted_class, self.run_image_shape, self)
        gallery.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        gallery.destroyed.connect(lambda _=None, gallery=gallery: self.galleries.remove(gallery)
                                  if gallery in self.galleries else None)
        self.galleries.append(gallery)
        gallery.show()

    def save_plot(self) -> None:
        start = str(self.document.path.with_suffix(".png")) if self.document.path else "training.png"
        path, _ = QFileDialog.getSaveFileName(self, "Save plot as PNG", start, "PNG images (*.png)")
        if path:
            path = path if path.lower().endswith(".png") else path + ".png"
            encoded = QBuffer()
            encoded.open(QIODevice.OpenModeFlag.WriteOnly)
            self.plots.graphics.grab().save(encoded, "PNG")
            self._write_file(Path(path), bytes(encoded.data()))

    def export_history(self) -> None:
        start = str(self.document.path.with_suffix(".csv")) if self.document.path else "history.csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export history as CSV", start, "CSV files (*.csv)")
        if path:
            path = Path(path if path.lower().endswith(".csv") else path + ".csv")
            self._write_file(path, self.plots.current.csv_text().encode("utf-8"))

    def _write_file(self, path: Path, data: bytes) -> None:
        """Write a file the user named, as projects are written (a pipe there is replaced, not
        waited on; a failure leaves what was there), or say in the panel why it could not be."""
        try:
            write_atomic(path, data)
        except OSError as error:
            self.message.setText(f"Cannot write {shown(path.name)}: {shown(error.strerror or error)}")
        else:
            self.message.setText(f"Wrote {shown(path.name)}.")

    def restore_saved_run(self, project_path: Path) -> None:
        """Show the run saved beside a project file, if there is one, and offer its model (model_trained)."""
        from ...training.checkpoint import CheckpointError, checkpoint_path, load_trained_model

        if not checkpoint_path(project_path).exists():
            return
        try:
            trained = load_trained_model(self.document.project, project_path)
        except (CheckpointError, CompileError) as error:  # CompileError: too large for this computer's memory
            self.message.setText(f"The saved training run was not restored: {error}")
            self.message.setStyleSheet(_WARNING_STYLE)
            return
        self.show_saved_run(trained.history)
        self.model_trained.emit(trained)


if __name__ == "__main__":
    from ...core.project import load_template

    app = QApplication([])
    panel = TrainingPanel(Document(load_template("2-cnn")))
    panel.resize(1200, 520)
    panel.show()
    app.aboutToQuit.connect(panel.shutdown)
    app.exec()
