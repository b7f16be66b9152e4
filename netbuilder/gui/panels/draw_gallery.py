"""The personal handwriting set, seen by digit, with delete."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QMessageBox, QPushButton, QVBoxLayout, QWidget)

from ...data.handwriting import HandwritingSet
from ...data.strokes import render
from ..editor.activation_view import grey_pixmap


class HandwritingGallery(QDialog):
    """The personal handwriting set by digit, with delete (button or Delete key)."""

    def __init__(self, handwriting: HandwritingSet, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("My handwriting")
        self.handwriting = handwriting
        self.digit = QComboBox()
        self.digit.addItems(["All digits"] + [str(digit) for digit in range(10)])
        self.digit.currentIndexChanged.connect(self.refresh)
        self.items = QListWidget()
        self.items.setViewMode(QListWidget.ViewMode.IconMode)
        self.items.setIconSize(QSize(56, 56))
        self.items.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.items.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setShortcut(QKeySequence.StandardKey.Delete)
        self.delete_button.clicked.connect(self.delete_selected)
        self.summary = QLabel()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.digit)
        top.addStretch(1)
        top.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.items, 1)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)
        self.resize(560, 440)
        self.refresh()

    def refresh(self) -> None:
        from PySide6.QtGui import QIcon

        self.items.clear()
        wanted = self.digit.currentIndex() - 1
        samples = [s for s in self.handwriting.samples() if wanted < 0 or s.label == wanted]
        for sample in samples:
            item = QListWidgetItem(QIcon(grey_pixmap(render(sample.drawing, (56, 56)) / 255.0)), str(sample.label))
            item.setData(Qt.ItemDataRole.UserRole, sample.key)
            self.items.addItem(item)
        notes = " ".join(self.handwriting.notes)
        self.summary.setText(f"{len(samples)} drawing{'s' * (len(samples) != 1)}. {notes}".strip())
        self.delete_button.setEnabled(bool(samples))

    def delete_selected(self) -> None:
        keys = [item.data(Qt.ItemDataRole.UserRole) for item in self.items.selectedItems()]
        if not keys:
            return
        answer = QMessageBox.question(self, "Delete drawings",
                                      f"Delete {len(keys)} drawing{'s' * (len(keys) != 1)} from your handwriting set?")
        if answer == QMessageBox.StandardButton.Yes:
            for key in keys:
                self.handwriting.remove(key)
            self.refresh()
