"""Quick add: a small search box at the cursor (Tab or right-click on the canvas, or a wire dropped
on empty space); typing narrows the layers, Enter adds the highlighted one, Escape closes it."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from ...core.layers import LayerSpec, all_specs

TYPE_ROLE = Qt.ItemDataRole.UserRole
_VISIBLE_ROWS = 9


def matching_specs(text: str) -> list[LayerSpec]:
    """Layers whose title, description, category or id contain every typed word; those whose title
    starts with the first word come first ("conv" lists Conv2d before a layer merely described
    as following a convolution)."""
    words = text.lower().split()
    found = [spec for spec in all_specs()
             if all(word in f"{spec.title} {spec.description} {spec.category} {spec.type_id}".lower()
                    for word in words)]
    if words:
        found.sort(key=lambda spec: not spec.title.lower().startswith(words[0]))
    return found


class QuickAddBox(QFrame):
    """A popup with a search field over a list of layers. `chosen(type_id)` when the user picks one;
    `closed` whenever it goes away, after the choice if there is one, so a pending wire can be dropped."""

    chosen = Signal(str)
    closed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Add layer…")
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(3)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.search.textChanged.connect(self._fill)
        self.search.returnPressed.connect(self.choose_current)
        self.search.installEventFilter(self)
        self.list.itemActivated.connect(self.choose_current)
        self.list.itemClicked.connect(self.choose_current)
        self._fill("")

    def open_at(self, global_pos: QPoint) -> None:
        """Show the box with its search field under the cursor, empty and focused."""
        self.search.clear()
        self.move(global_pos - QPoint(12, self.search.height() // 2))
        self.show()
        self.search.setFocus()

    def shown_type_ids(self) -> list[str]:
        return [self.list.item(row).data(TYPE_ROLE) for row in range(self.list.count())]

    def choose_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        self.chosen.emit(item.data(TYPE_ROLE))
        self.close()

    def _fill(self, text: str) -> None:
        self.list.clear()
        for spec in matching_specs(text):
            item = QListWidgetItem(f"{spec.title}    {spec.category}")
            item.setData(TYPE_ROLE, spec.type_id)
            item.setToolTip(spec.description)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        # as tall as the matches, up to a few rows: the box stays small beside the cursor
        rows = min(max(self.list.count(), 1), _VISIBLE_ROWS)
        self.list.setFixedHeight(self.list.sizeHintForRow(0) * rows + 2 * self.list.frameWidth())
        self.setFixedSize(240, self.sizeHint().height())

    def eventFilter(self, watched, event) -> bool:
        """Up and Down in the search field move through the list, as in every command palette."""
        if watched is self.search and event.type() == QEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            step = -1 if event.key() == Qt.Key.Key_Up else 1
            self.list.setCurrentRow(max(0, min(self.list.count() - 1, self.list.currentRow() + step)))
            return True
        return super().eventFilter(watched, event)

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.closed.emit()
