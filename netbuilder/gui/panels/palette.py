"""The layer palette: every layer spec by category, filtered by a search box, dragged onto the canvas."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from ...core.layers import all_specs
from .. import style
from ..editor.quick_add import matching_specs
from ..editor.view import LAYER_MIME_TYPE

TYPE_ROLE = Qt.ItemDataRole.UserRole


class _LayerTree(QTreeWidget):
    """Drags carry the layer's type id under LAYER_MIME_TYPE, which the canvas accepts."""

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME_TYPE]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        type_ids = [item.data(0, TYPE_ROLE) for item in items if item.data(0, TYPE_ROLE)]
        if type_ids:
            mime.setData(LAYER_MIME_TYPE, type_ids[0].encode("utf-8"))
        return mime

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction


def _category_marker(category: str) -> QIcon:
    """A rounded square in the category's colour: the same colour as the node headers on the canvas."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(style.category_colour(category))
    painter.drawRoundedRect(1, 1, 10, 10, 3, 3)
    painter.end()
    return QIcon(pixmap)


class LayerPalette(QWidget):
    """Layers grouped by category. Double-click or Enter in the search box emits `layer_chosen(type_id)`."""

    layer_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.tree = _LayerTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(12)
        self.tree.setAnimated(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._fill()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._choose_first_match)
        # double-click, not itemActivated: some platforms activate on a single click, which would add a
        # layer whenever the user only meant to start a drag
        self.tree.itemDoubleClicked.connect(self._choose)

    def _fill(self) -> None:
        categories: dict[str, QTreeWidgetItem] = {}
        for spec in all_specs():
            if spec.category not in categories:
                heading = QTreeWidgetItem(self.tree, [spec.category])
                heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
                font = heading.font(0)
                font.setBold(True)
                heading.setFont(0, font)
                heading.setIcon(0, _category_marker(spec.category))
                categories[spec.category] = heading
            item = QTreeWidgetItem(categories[spec.category], [spec.title])
            item.setData(0, TYPE_ROLE, spec.type_id)
            item.setToolTip(0, f"<b>{spec.title}</b><br>{spec.description}<br><i>Drag onto the canvas "
                               "or double-click to add</i>")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        self.tree.expandAll()

    def layer_items(self) -> list[QTreeWidgetItem]:
        return [heading.child(i) for heading in self._headings() for i in range(heading.childCount())]

    def item_for(self, type_id: str) -> QTreeWidgetItem:
        return next(item for item in self.layer_items() if item.data(0, TYPE_ROLE) == type_id)

    def visible_type_ids(self) -> list[str]:
        return [item.data(0, TYPE_ROLE) for item in self.layer_items()
                if not item.isHidden() and not item.parent().isHidden()]

    def mime_data_for(self, type_id: str) -> QMimeData:
        """What dragging this layer carries (the same code path as a real drag)."""
        return self.tree.mimeData([self.item_for(type_id)])

    def filter(self, text: str) -> None:
        """Show only layers whose title, description or category contain every typed word."""
        matching = {spec.type_id for spec in matching_specs(text)}
        for heading in self._headings():
            shown = 0
            for i in range(heading.childCount()):
                item = heading.child(i)
                visible = item.data(0, TYPE_ROLE) in matching
                item.setHidden(not visible)
                shown += visible
            heading.setHidden(shown == 0)
        self.tree.expandAll()

    def _headings(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def _choose(self, item: QTreeWidgetItem) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.layer_chosen.emit(type_id)

    def _choose_first_match(self) -> None:
        visible = self.visible_type_ids()
        if visible:
            self.layer_chosen.emit(visible[0])


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    palette = LayerPalette()
    palette.layer_chosen.connect(print)
    palette.resize(240, 600)
    palette.show()
    app.exec()
