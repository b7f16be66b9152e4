"""The training curves written to files the user names: the plots as a PNG, the history as CSV."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QObject, Signal
from PySide6.QtWidgets import QFileDialog, QPushButton

from ...common.files import write_atomic
from ...common.text import shown
from ..document import Document
from .training_plots import TrainingPlots


class CurveFiles(QObject):
    """"Save plot as PNG…" and "Export history as CSV…" below the plots; `told` says what was
    written, or why it could not be."""

    told = Signal(str)

    def __init__(self, plots: TrainingPlots, document: Document):
        super().__init__(plots)
        self.plots, self.document = plots, document
        save_png = QPushButton("Save plot as PNG…")
        save_png.clicked.connect(self.save_plot)
        save_csv = QPushButton("Export history as CSV…")
        save_csv.clicked.connect(self.export_history)
        plots.toolbar.addWidget(save_png)
        plots.toolbar.addWidget(save_csv)

    def save_plot(self) -> None:
        start = str(self.document.path.with_suffix(".png")) if self.document.path else "training.png"
        path, _ = QFileDialog.getSaveFileName(self.plots, "Save plot as PNG", start, "PNG images (*.png)")
        if path:
            path = path if path.lower().endswith(".png") else path + ".png"
            encoded = QBuffer()
            encoded.open(QIODevice.OpenModeFlag.WriteOnly)
            self.plots.graphics.grab().save(encoded, "PNG")
            self._write_file(Path(path), bytes(encoded.data()))

    def export_history(self) -> None:
        start = str(self.document.path.with_suffix(".csv")) if self.document.path else "history.csv"
        path, _ = QFileDialog.getSaveFileName(self.plots, "Export history as CSV", start, "CSV files (*.csv)")
        if path:
            path = Path(path if path.lower().endswith(".csv") else path + ".csv")
            self._write_file(path, self.plots.current.csv_text().encode("utf-8"))

    def _write_file(self, path: Path, data: bytes) -> None:
        """Write a file the user named, as projects are written (a pipe there is replaced, not
        waited on; a failure leaves what was there), or say why it could not be."""
        try:
            write_atomic(path, data)
        except OSError as error:
            self.told.emit(f"Cannot write {shown(path.name)}: {shown(error.strerror or error)}")
        else:
            self.told.emit(f"Wrote {shown(path.name)}.")
