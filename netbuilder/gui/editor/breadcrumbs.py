"""The bar above the canvas while a block is open: where the editor is (Network › stage1 › res),
each name a button that goes back to that level, and what Escape does."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from ...core.levels import Level, crumbs
from ..document import Document


class BreadcrumbBar(QWidget):
    """Hidden at the network; inside a block, one button per level from the network down (the
    last, where the editor is, disabled)."""

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.setObjectName("breadcrumbs")
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(8, 3, 8, 3)
        self._row.setSpacing(2)
        self.buttons: list[QToolButton] = []
        document.level_changed.connect(self.refresh)
        document.project_replaced.connect(self.refresh)
        document.analysis_changed.connect(self.refresh)  # a card renamed, inside or outside
        self.refresh()

    def texts(self) -> list[str]:
        return [button.text() for button in self.buttons]

    def refresh(self) -> None:
        level = self.document.level
        names = crumbs(self.document.graph, level)
        if names == self.texts():
            return
        while self._row.count():
            widget = self._row.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.buttons = []
        for depth, name in enumerate(names):
            if depth:
                self._row.addWidget(QLabel("›"))
            button = QToolButton()
            button.setText(name)
            button.setAutoRaise(True)
            button.setEnabled(depth < len(names) - 1)
            button.setToolTip("Go back to the network" if depth == 0 else f"Go back to the inside of {name}")
            button.clicked.connect(lambda _checked=False, path=level.path[:depth]:
                                   self.document.open_level(Level(path)))
            self._row.addWidget(button)
            self.buttons.append(button)
        hint = QLabel("  Edits here change every card of this block · Esc goes up a level")
        hint.setEnabled(False)
        self._row.addWidget(hint)
        self._row.addStretch(1)
        self.setVisible(not level.is_network)
