"""The training panel's TensorBoard choice: whether a run also writes its figures and graph as
TensorBoard event files, and into which folder (one subfolder per run, so runs open in
TensorBoard beside a person's other experiments)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...common.text import shown
from ..document import Document

DEFAULT_FOLDER_NAME = "tensorboard"  # beside the project file


class TensorBoardChoice(QWidget):
    """A checkbox and the folder it writes to: the project's folder's `tensorboard` until the
    person chooses another. `folder()` is None while the box is not ticked."""

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.chosen: Path | None = None
        self.enabled = QCheckBox("Also write TensorBoard logs")
        self.enabled.setToolTip("Write each run's losses, accuracies, learning rate, per-class accuracy and network "
                                "graph as TensorBoard event files (runs on one process)")
        self.where = QLabel()
        self.where.setWordWrap(True)
        choose = QPushButton("Folder…")
        choose.clicked.connect(self.choose_folder)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.enabled, 1)
        row.addWidget(choose)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.where)
        self.enabled.toggled.connect(self.refresh)
        document.file_state_changed.connect(self.refresh)
        self.refresh()

    def default_folder(self) -> Path:
        base = self.document.path.parent if self.document.path is not None else Path.home()
        return base / DEFAULT_FOLDER_NAME

    def folder(self) -> Path | None:
        if not self.enabled.isChecked():
            return None
        return self.chosen or self.default_folder()

    def refresh(self) -> None:
        self.where.setVisible(self.enabled.isChecked())
        self.where.setText(f"into {shown(self.chosen or self.default_folder())} (tensorboard --logdir there shows them)")

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "TensorBoard log folder", str(self.chosen or
                                                                                      self.default_folder().parent))
        if folder:
            self.chosen = Path(folder)
            self.enabled.setChecked(True)
            self.refresh()
