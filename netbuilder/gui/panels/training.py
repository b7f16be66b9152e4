"""The training panel: choose the data, set the training settings, train, watch and evaluate.

A run trains a snapshot of the project taken when it starts (the canvas stays editable, and the
panel says when the network there differs from the one being trained). The run's events arrive
from a TrainingWorker thread as plain data; this panel only presents them. Settings edits are
undoable project edits (SetTraining); changes made while a run is paused apply to that run only
and are recorded in its history.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from ...core import memory
from ...core.compile import CompileError
from ...core.project import Project
from ...training.events import (BatchEnded, EpochEnded, Finished, HealthReport, Preparing, SettingsChanged, Started,
                                ThreadsChosen)
from ...training.gpus import visible_gpu_count
from ...training.run_text import (change_text, graph_structure, is_news, rate_change_text, saved_run_text,
                                  started_text, threads_text)
from ..document import Document
from ..workers import DistributedTrainingWorker, TrainingWorker
from .confusion import ConfusionMatrixView
from .samples import DatasetPreview, SampleGallery, image_shape_of
from .training_data import DataChooser
from .training_files import CurveFiles
from .training_plots import TrainingPlots
from .training_run_box import ERROR_STYLE, PROGRESS_STEPS, WARNING_STYLE, PausedChanges, RunBox
from .training_settings_form import SettingsForm
from .training_tensorboard import TensorBoardChoice


class TrainingPanel(QWidget):
    """Trains the document's project. `start_action`, `pause_action` and `stop_action` drive the run
    (the window's menu and toolbar show the same actions); `shutdown()` stops a run and any loading
    and waits up to two seconds for them, for closing windows and replacing projects.

    Its parts each do one thing: `data` (DataChooser), `settings` (SettingsForm), `run_box`
    (RunBox), `paused` (PausedChanges), `plots` (TrainingPlots), `confusion` and the galleries of
    its cells; the panel runs the training and presents each event on them."""

    model_trained = Signal(object)  # a TrainedModel: after a run with usable weights, or restored on open
    health_reported = Signal(object)  # HealthReport, for the canvas badges
    run_started = Signal()
    run_kept = Signal()  # a run's weights were saved beside the project: it is among the project's runs now

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.report_interval = 0.25  # seconds between batch reports; tests lower it
        self.run = None  # the TrainingRun in this process, also once ended; None for a distributed run
        self.trained_structure: dict | None = None  # graph_structure of the project the last run trained
        self.worker: TrainingWorker | DistributedTrainingWorker | None = None
        self.run_folder = None  # a distributed run's TemporaryDirectory: its project file, weights and events
        self.run_image_shape: tuple[int, ...] | None = None  # of its validation samples, for the gallery
        self.started: Started | None = None
        self.threads_in_use: int | None = None  # torch threads the run uses, as last logged
        self.last_epoch: EpochEnded | None = None
        self.unsaved_run = None  # a finished run's TrainedModel whose weights wait for the project to get a file
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
        self.curve_files = CurveFiles(self.plots, document)
        self.tabs.addTab(self.plots, "Curves")
        self.tabs.addTab(self.confusion, "Confusion matrix")
        self.tabs.addTab(self.preview, "Data")
        self.data = DataChooser(document, self.preview)
        self.data.preview_wanted.connect(lambda: self.tabs.setCurrentWidget(self.preview))
        self.run_box = RunBox((self.start_action, self.pause_action, self.stop_action))
        self.run_box.offer_processes(visible_gpu_count())
        self.curve_files.told.connect(self.run_box.message.setText)
        self.settings = SettingsForm(document)
        self.tensorboard = TensorBoardChoice(document)
        self.settings.layout().addRow(self.tensorboard)
        self.paused = PausedChanges()
        self.paused.apply_changes.clicked.connect(self.resume)

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
        document.file_state_changed.connect(self.settings.refresh)  # saved elsewhere: weights may be there or not
        self.refresh()

    # --- building ---------------------------------------------------------------------------------
    def _controls_column(self) -> QWidget:
        controls = QWidget()
        column = QVBoxLayout(controls)
        column.setContentsMargins(6, 6, 6, 6)
        for box in (self.data, self.run_box, self.settings):
            column.addWidget(box)
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
        left_column.addWidget(self.paused)
        return left

    # --- the project ------------------------------------------------------------------------------
    def use_dataset(self, dataset) -> None:
        """Train on this already loaded Dataset (see DataChooser.use_dataset)."""
        self.data.use_dataset(dataset)

    def refresh(self) -> None:
        """Show the project's settings and dataset, and whether the network can be trained."""
        self.settings.refresh()
        self._update_controls()
        self._update_snapshot_note()

    def _project_replaced(self) -> None:
        self.shutdown()
        self.unsaved_run, self.trained_structure, self.last_epoch, self.run = None, None, None, None
        self.data.forget()
        self.plots.clear()
        self.confusion.show_nothing("The confusion matrix appears after the first epoch of a classification "
                                    "run with validation data.")
        self.run_box.reset()
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
        self.run_box.processes.setEnabled(state == "idle")
        self.stop_action.setEnabled(state in ("preparing", "running", "paused"))
        self.settings.setEnabled(state == "idle")
        self.data.refresh(state == "idle")
        self.paused.setVisible(state == "paused")
        message = self.run_box.message
        if state == "idle" and reason:
            self.run_box.show_message(reason, ERROR_STYLE)
        elif state == "idle" and message.text().startswith("Cannot train yet"):
            message.clear()

    def _update_snapshot_note(self) -> None:
        differs = self.trained_structure is not None and graph_structure(self.document.project) != self.trained_structure
        if differs:
            verb = "is being trained" if self.state != "idle" else "was trained"
            self.run_box.snapshot_note.setText(f"The network on the canvas has changed since this run started: "
                                               f"the run {verb} on the network as it was then.")
        self.run_box.snapshot_note.setVisible(differs)

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
        processes = self.run_box.process_count()
        if processes > 1:
            self.run = None
            self.trained_structure = graph_structure(project)
            self.worker = self._distributed_worker(project, processes)
        else:
            from ...training.run import TrainingRun  # imports torch: only when training

            try:
                self.run = TrainingRun(project, self.document.path, name=self.document.title,
                                       dataset=self.data.dataset_for(project.dataset),
                                       report_interval=self.report_interval, tensorboard=self.tensorboard.folder())
            except (ImportError, OSError) as error:  # TensorBoard missing, or its folder cannot be made
                self.run = None
                self.run_box.show_message(f"Cannot write TensorBoard logs: {getattr(error, 'strerror', None) or error}",
                                          ERROR_STYLE)
                return
            self.trained_structure = self.run.structure
            self.worker = TrainingWorker(self.run, self)
        self.started, self.last_epoch, self.unsaved_run = None, None, None
        self.run_box.reset("Preparing…")
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
        the run's weights and events go too (the folder goes when the run's weights are loaded),
        with a copy of the model's weights when the run starts from them."""
        import shutil
        import tempfile

        from ...core.project import save_project
        from ...model.checkpoint_files import checkpoint_path

        self.run_folder = tempfile.TemporaryDirectory(prefix="netbuilder-run-")
        folder = Path(self.run_folder.name)
        save_project(project, folder / "run.nbproj")
        weights = checkpoint_path(self.document.path) if self.document.path is not None else None
        if project.training.start_from_weights and weights is not None and weights.exists():
            shutil.copyfile(weights, checkpoint_path(folder / "run.nbproj"))
        return DistributedTrainingWorker(folder / "run.nbproj", folder, processes, self)

    def pause(self) -> None:
        if self.state != "running" or self.run is None:
            return
        self.run.pause()
        values = self.run.paused_values()
        self.paused.show_values(values, rate_change_text(self.run.project.training.schedule,
                                                         self.run.settings["learning_rate"], values["learning_rate"]))
        self.run_box.stats.setText(self.run_box.stats.text() + " · paused")
        self._update_controls()

    def resume(self) -> None:
        if self.state != "paused":
            return
        try:
            self.run.change_settings(**self.paused.values)
        except Exception as refusal:  # ParamError or TrainingError: the message says why
            self.paused.error.setText(str(refusal))
            return
        self.run.resume()
        self._update_controls()

    def stop(self) -> None:
        if self.state in ("preparing", "running", "paused"):
            (self.run or self.worker).stop()
            self.run_box.stats.setText("Stopping…")
            self._update_controls()

    def shutdown(self, timeout_seconds: float = 2.0) -> None:
        """End any run and loading now (the window closes or another project opens)."""
        self.data.shutdown(timeout_seconds)
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
        self.run_box.show_preparing(event.done, event.total, event.message)

    def _started(self, event: Started) -> None:
        self.started = event
        self.threads_in_use = None  # the tuner's first choice is logged, whatever Started said
        self._update_controls()
        session = self.run.session if self.run is not None else None
        self.run_image_shape = image_shape_of(session.dataset) if session is not None else None
        if self.data.dataset is None and session is not None and session.dataset is not None:
            self.data.use_dataset(session.dataset, self.run.project.dataset)
        if session is not None:
            self._log(started_text(self.run.project, session.dataset.name, event))
        for note in event.notes:
            self._log(note)

    def _batch(self, event: BatchEnded) -> None:
        self.plots.add_batch(event)
        self.run_box.show_batch(event, self.state == "paused")

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
        self.run_box.show_failure(event.message, event.reason in ("failed", "nan_loss"), event.details)
        self._log(event.message)
        if event.reason == "completed":
            self.run_box.progress.setValue(PROGRESS_STEPS)
        self.run_box.stats.setText(self.run_box.stats.text().replace(" · paused", ""))
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
        from ...model.checkpoint import CheckpointError, load_trained_model

        try:
            trained = load_trained_model(load_project(worker.project_file), worker.project_file, worker.out)
        except (CheckpointError, ProjectFileError, CompileError) as error:  # CompileError: too large for memory
            self.run_box.show_message(f"The run ended, but its weights could not be read: {error}", ERROR_STYLE)
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
        self.run_box.log(text)

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
            self.run_box.show_message(f"Cannot save the trained weights: {error.strerror or error}", ERROR_STYLE)
            return False
        self.unsaved_run = None
        for line in texts:
            self._log(line)
        self.settings.refresh()  # there are weights to start from now
        self.run_kept.emit()
        return True

    def _save(self, trained, project_path: Path) -> list[str]:
        """Through the run that trained it, which knows the checkpoint it found there; weights from
        elsewhere (a distributed run, fine-tuning) replace whatever is there. Either way the run is
        kept among the project's runs. Raises OSError."""
        if self.run is not None and trained.model is self.run.session.model:
            return self.run.save(trained, project_path).texts
        from ...training.run import save_trained

        return save_trained(trained, self.document.project, project_path).texts

    def show_saved_run(self, history) -> None:
        """A saved run (checkpoint History) as if it had just ended: its curves and last confusion matrix."""
        self.plots.show_saved_run(history)
        self.run_box.run_log.clear()
        for line in saved_run_text(history):
            self._log(line)
        last = history.epochs[-1] if history.epochs else None
        if last is not None and last.confusion is not None and last.per_class_accuracy is not None:
            self.confusion.show_matrix(last.confusion, last.per_class_accuracy, history.class_names, last.epoch)

    def use_trained(self, trained) -> None:
        """A kept run's model became the project's: its curves here, its model to every reader."""
        self.show_saved_run(trained.history)
        self.settings.refresh()  # there are weights to start from now
        self.model_trained.emit(trained)

    def open_gallery(self, true_class: int, predicted_class: int) -> None:
        epoch, started = self.last_epoch, self.started
        if epoch is None or started is None or started.validation is None or epoch.val_predictions is None:
            self.run_box.message.setText("The samples behind each cell are kept only for runs trained in one process "
                                         "since the project was opened: train again on one process to see them.")
            return
        gallery = SampleGallery(started.validation, epoch.val_predictions, epoch.val_probabilities,
                                started.class_names, true_class, predicted_class, self.run_image_shape, self)
        gallery.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        gallery.destroyed.connect(lambda _=None, gallery=gallery: self.galleries.remove(gallery)
                                  if gallery in self.galleries else None)
        self.galleries.append(gallery)
        gallery.show()

    def restore_saved_run(self, project_path: Path) -> None:
        """Show the run saved beside a project file, if there is one, and offer its model (model_trained)."""
        from ...model.checkpoint import CheckpointError, checkpoint_path, load_trained_model

        if not checkpoint_path(project_path).exists():
            return
        try:
            trained = load_trained_model(self.document.project, project_path)
        except (CheckpointError, CompileError) as error:  # CompileError: too large for this computer's memory
            self.run_box.show_message(f"The saved training run was not restored: {error}", WARNING_STYLE)
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
