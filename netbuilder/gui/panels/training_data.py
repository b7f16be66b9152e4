"""The training panel's data box: which dataset the project trains on, and loading it for a preview."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QMenu, QProgressBar,
                               QPushButton, QToolButton, QVBoxLayout, QWidget)

from ...core.commands import SetTraining
from ...data.builtin import BUILTIN_DATASETS
from .. import style
from ..document import Document
from ..workers import DatasetLoader, wait_or_keep
from .samples import DatasetPreview

_ERROR_STYLE = f"color: {style.ERROR.name()};"
_FOLDER_CHOICES = (
    ("Image folder (one subfolder per class)…", "folder"),
    ("IDX folder (MNIST-style files)…", "folder"),
    ("CSV file (numbers or a text column)…", "file"),
)


class DataChooser(QGroupBox):
    """Chooses the project's dataset (an undoable edit) and loads it off the GUI thread into
    `preview`; `dataset` is the loaded Dataset of `dataset_spec`, if any."""

    preview_wanted = Signal()  # the preview has something to show: bring it to the front

    def __init__(self, document: Document, preview: DatasetPreview, parent: QWidget | None = None):
        super().__init__("Data", parent)
        self.document = document
        self.preview = preview
        self.loader: DatasetLoader | None = None
        self.dataset = None
        self.dataset_spec = ""
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
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.dataset_description)
        layout.addWidget(self.show_samples)
        layout.addWidget(self.data_progress)
        self.fill_choices()

    def fill_choices(self) -> None:
        """The built-in datasets and the project's own, with the chosen one's description below."""
        self.dataset_choice.clear()
        descriptions = dict(BUILTIN_DATASETS)
        current = self.document.project.dataset
        for spec, description in [*BUILTIN_DATASETS, *([(current, current)] if current not in descriptions else [])]:
            self.dataset_choice.addItem(Path(spec).name or spec, spec)
            self.dataset_choice.setItemData(self.dataset_choice.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.dataset_choice.setCurrentIndex(self.dataset_choice.findData(current))
        self.dataset_description.setText(descriptions.get(current, f"Your data: {current}"))

    def refresh(self, idle: bool) -> None:
        """Follow the project's dataset; the choice changes only between runs."""
        if self.dataset_choice.currentData() != self.document.project.dataset:
            self.fill_choices()
        self.dataset_choice.setEnabled(idle)
        self.open_data.setEnabled(idle)

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

    def use_dataset(self, dataset, spec: str | None = None) -> None:
        """Train on this already loaded Dataset while the project's dataset stays what it is
        (a test's small subset, the preview's data, or a run's, so it is not loaded twice)."""
        self.cancel_loading()
        self.dataset, self.dataset_spec = dataset, self.document.project.dataset if spec is None else spec
        self.preview.show_dataset(dataset)

    def dataset_for(self, spec: str):
        """The loaded Dataset when it is `spec`'s, else None (the run loads it)."""
        return self.dataset if self.dataset_spec == spec else None

    def load_preview(self) -> None:
        """Load the project's dataset off the GUI thread and show some of its samples."""
        spec = self.document.project.dataset
        if self.dataset is not None and self.dataset_spec == spec:
            self.preview_wanted.emit()
            return
        self.cancel_loading()
        self.dataset = None
        self.loader = DatasetLoader(spec, self)
        self.loader.progress.connect(self._loading_progress)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._loading_failed)
        self.loader.finished.connect(self.loader.deleteLater)
        self.preview.show_message(f"Loading {spec}…")
        self.data_progress.setRange(0, 0)
        self.data_progress.show()
        self.preview_wanted.emit()
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

    def cancel_loading(self) -> None:
        if self.loader is not None:
            self.loader.cancel()
            self.loader = None
        self.data_progress.hide()
        self.preview.counts_label.setStyleSheet("")

    def shutdown(self, timeout_seconds: float) -> None:
        """End any loading now, waiting up to `timeout_seconds` for each loader still running."""
        self.cancel_loading()
        for loader in self.findChildren(DatasetLoader):
            loader.cancel()
            wait_or_keep(loader, timeout_seconds)

    def forget(self) -> None:
        """Another project: no dataset loaded, the choices of the new one."""
        self.cancel_loading()
        self.dataset = None
        self.preview.show_message("No dataset loaded yet.")
        self.fill_choices()
