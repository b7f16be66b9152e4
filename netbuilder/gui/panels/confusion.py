"""The validation confusion matrix as a heatmap (rows: true class, columns: predicted class) with
each class's accuracy; clicking a cell asks for that cell's samples.

The counts and accuracies come from EpochEnded; this view only draws them. Colour is the share
of the row (the true class's samples) that the cell holds, so small classes read as clearly as
large ones; the count is written in the cell.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


_TEXT_LIMIT = 20  # classes; beyond this the counts would not fit in their cells


class _ClickableImage(pg.ImageItem):
    def __init__(self, on_click):
        super().__init__(axisOrder="row-major")
        self._on_click = on_click

    def mouseClickEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.image is None:
            return
        column, row = int(event.pos().x()), int(event.pos().y())
        rows, columns = self.image.shape[:2]
        if 0 <= row < rows and 0 <= column < columns:
            event.accept()
            self._on_click(row, column)


class ConfusionMatrixView(QWidget):
    """`cell_clicked(true_class, predicted_class)` when the user clicks a cell."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.confusion: np.ndarray | None = None
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#1f2023")
        self.plot = self.graphics.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.invertY(True)
        # the cells fill the plot, so the class names on the axes sit next to them: square cells
        # left a wide panel's matrix in its middle, far from its row labels
        self.plot.setAspectLocked(False)
        self.plot.setLabel("left", "true class")
        self.plot.setLabel("bottom", "predicted class (click a cell to see its samples)")
        self.image = _ClickableImage(self.cell_clicked.emit)
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.image.setLevels((0.0, 1.0))
        self.plot.addItem(self.image)
        self.cell_texts: list[pg.TextItem] = []
        self.accuracy_label = QLabel()
        self.accuracy_label.setWordWrap(True)
        self.accuracy_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.accuracy_label)
        self.show_nothing("The confusion matrix appears after the first epoch of a classification run "
                          "with validation data.")

    def show_nothing(self, reason: str) -> None:
        self.confusion = None
        self.image.clear()
        self._clear_texts()
        self.accuracy_label.setText(reason)

    def show_matrix(self, confusion: np.ndarray, per_class_accuracy: np.ndarray, class_names: Sequence[str],
                    epoch: int) -> None:
        self.confusion = confusion
        count = len(confusion)
        names = list(class_names) if len(class_names) == count else [str(i) for i in range(count)]
        totals = confusion.sum(axis=1, keepdims=True)
        shares = np.divide(confusion, totals, out=np.zeros(confusion.shape, np.float64), where=totals > 0)
        self.image.setImage(shares, levels=(0.0, 1.0), autoLevels=False)
        ticks = [[(i + 0.5, name) for i, name in enumerate(names)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)
        self.plot.setRange(xRange=(0, count), yRange=(0, count), padding=0)
        if len(self.cell_texts) != (count * count if count <= _TEXT_LIMIT else 0):
            self._make_texts(count if count <= _TEXT_LIMIT else 0)
        for index, text in enumerate(self.cell_texts):  # updated in place: making them anew takes long
            row, column = divmod(index, count)
            dark_cell = shares[row, column] < 0.6  # viridis is dark below, light above
            text.setText(str(int(confusion[row, column])), color="#e8e9eb" if dark_cell else "#111214")
        accuracies = ", ".join(f"{name} {'—' if np.isnan(value) else f'{100 * value:.1f}%'}"
                               for name, value in zip(names, per_class_accuracy.tolist()))
        self.accuracy_label.setText(f"After epoch {epoch}, accuracy per class: {accuracies}")

    def _make_texts(self, count: int) -> None:
        """One count label per cell of a count×count matrix (none: 0)."""
        self._clear_texts()
        for row in range(count):
            for column in range(count):
                text = pg.TextItem("", anchor=(0.5, 0.5))
                text.setPos(column + 0.5, row + 0.5)
                self.plot.addItem(text)
                self.cell_texts.append(text)

    def _clear_texts(self) -> None:
        for text in self.cell_texts:
            self.plot.removeItem(text)
        self.cell_texts = []
