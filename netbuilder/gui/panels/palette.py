"""The layer palette: the project's blocks, then every layer spec by category, filtered by a search
box, dragged onto the canvas."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QInputDialog, QLineEdit, QMenu, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from ...common.text import shown
from ...core.block_commands import RemoveDefinition, RenameBlock
from ...core.blocks import INPUT_PORT, OUTPUT_PORT, BlockDefinition
from ...core.graph import BlockEvent, BlockLibrary, GraphError
from ...core.layers import all_specs
from ...core.layers.block_nodes import BlockInstance
from ...core.summary import block_params, human_count
from .. import style
from ..document import Document
from ..editor.quick_add import matching_specs
from ..editor.view import BLOCK_MIME_TYPE, LAYER_MIME_TYPE

TYPE_ROLE = Qt.ItemDataRole.UserRole
BLOCK_ROLE = Qt.ItemDataRole.UserRole + 1
BLOCKS_HEADING = "Blocks"


class _LayerTree(QTreeWidget):
    """Drags carry the layer's type id under LAYER_MIME_TYPE, or one of the project's blocks' id
    under BLOCK_MIME_TYPE, which the canvas accepts."""

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME_TYPE, BLOCK_MIME_TYPE]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        blocks = [item.data(0, BLOCK_ROLE) for item in items if item.data(0, BLOCK_ROLE)]
        type_ids = [item.data(0, TYPE_ROLE) for item in items if item.data(0, TYPE_ROLE)]
        if blocks:
            mime.setData(BLOCK_MIME_TYPE, blocks[0].encode("utf-8"))
        elif type_ids:
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
    """The project's blocks, then the layers grouped by category. Double-click or Enter in the
    search box emits `layer_chosen(type_id)`, or `block_chosen(block_id)` for a block; a block's
    context menu renames it, deletes it (when no card uses it), saves it to a file (`save_block_asked(block_id)`) or loads one
    (`load_block_asked`). With no `document` (a quick look at the panel) there is no Blocks section.
    """

    layer_chosen = Signal(str)
    block_chosen = Signal(str)
    save_block_asked = Signal(str)
    load_block_asked = Signal()
    message = Signal(str)

    def __init__(self, document: Document | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.tree = _LayerTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setColumnCount(2)  # a block's parameter count beside its name
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(12)
        self.tree.setAnimated(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.blocks_heading: QTreeWidgetItem | None = None
        self._library: BlockLibrary | None = None  # the library whose events this palette hears
        if document is not None:
            self.blocks_heading = self._heading(BLOCKS_HEADING, BlockInstance.category)
            self.blocks_heading.setToolTip(0, "The blocks of this project: drag one onto the canvas to use it "
                                              "again. Select layers and press Ctrl+G to make one.")
            document.project_replaced.connect(self._follow_library)
            document.analysis_changed.connect(self._show_block_counts)
            self._follow_library()
        self._fill()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._choose_first_match)
        # double-click, not itemActivated: some platforms activate on a single click, which would add a
        # layer whenever the user only meant to start a drag
        self.tree.itemDoubleClicked.connect(self._choose)

    def _heading(self, title: str, category: str) -> QTreeWidgetItem:
        heading = QTreeWidgetItem(self.tree, [title])
        heading.setFirstColumnSpanned(True)
        heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = heading.font(0)
        font.setBold(True)
        heading.setFont(0, font)
        heading.setIcon(0, _category_marker(category))
        return heading

    def _fill(self) -> None:
        categories: dict[str, QTreeWidgetItem] = {}
        for spec in all_specs():
            if spec.category not in categories:
                categories[spec.category] = self._heading(spec.category, spec.category)
            item = QTreeWidgetItem(categories[spec.category], [spec.title])
            item.setFirstColumnSpanned(True)
            item.setData(0, TYPE_ROLE, spec.type_id)
            item.setToolTip(0, f"<b>{spec.title}</b><br>{spec.description}<br><i>Drag onto the canvas "
                               "or double-click to add</i>")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        self.tree.expandAll()

    # --- the project's blocks ------------------------------------------------------------------------
    def _follow_library(self) -> None:
        """Hear the block library of the document's (new) project, and list its blocks."""
        if self._library is not None:
            self._library.listeners.remove(self._library_changed)
        self._library = self.document.graph.blocks
        self._library.listeners.append(self._library_changed)
        self._list_blocks()
        self._show_block_counts()

    def _library_changed(self, event: BlockEvent) -> None:
        self._list_blocks()

    def _list_blocks(self) -> None:
        """One item per block of the library, in library order, named; their counts follow with the
        analysis (an event may come in the middle of a command, when the analysis is the old one)."""
        heading = self.blocks_heading
        heading.takeChildren()
        for definition in self._library.values():
            item = QTreeWidgetItem(heading, [definition.name])
            item.setData(0, BLOCK_ROLE, definition.id)
            item.setData(0, TYPE_ROLE, BlockInstance.type_id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        if not self._library:
            hint = QTreeWidgetItem(heading, ["Select layers, press Ctrl+G"])
            hint.setFirstColumnSpanned(True)
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
        self.filter(self.search.text())

    def _show_block_counts(self) -> None:
        """Each block's name and, in the second column, its parameters per repetition (from a card
        using it); its layer count and the exact figures in its tooltip."""
        if self.blocks_heading is None:
            return
        counts = block_params(self.document.graph, self.document.analysis)
        for item in self.block_items():
            definition: BlockDefinition = self._library[item.data(0, BLOCK_ROLE)]
            layers = sum(node.type_id not in (INPUT_PORT, OUTPUT_PORT) for node in definition.graph.nodes.values())
            params = counts.get(definition.id)
            item.setText(0, definition.name)
            item.setText(1, human_count(params) if params is not None else "")
            tip = (f"<b>Block {definition.name}</b>: {layers} layer{'s' * (layers != 1)}, "
                   + (f"{params:,} parameters per repetition" if params is not None else
                      "no card uses it with a shape yet")
                   + "<br><i>Drag onto the canvas or double-click to add; right-click to rename, delete or "
                     "save it</i>")
            item.setToolTip(0, tip)
            item.setToolTip(1, tip)

    def block_items(self) -> list[QTreeWidgetItem]:
        heading = self.blocks_heading
        children = [heading.child(i) for i in range(heading.childCount())] if heading is not None else []
        return [item for item in children if item.data(0, BLOCK_ROLE)]

    def block_item(self, block_id: str) -> QTreeWidgetItem:
        return next(item for item in self.block_items() if item.data(0, BLOCK_ROLE) == block_id)

    def mime_data_for_block(self, block_id: str) -> QMimeData:
        """What dragging this block carries (the same code path as a real drag)."""
        return self.tree.mimeData([self.block_item(block_id)])

    def rename_block(self, block_id: str, name: str) -> bool:
        """Rename a block as one undo step; a refused name is said in `message`."""
        try:
            self.document.push(RenameBlock(block_id, name))
        except GraphError as error:
            self.message.emit(f"Cannot rename the block: {shown(error, 200)}")
            return False
        return True

    def delete_block(self, block_id: str) -> bool:
        """Take a block no card uses out of the project, as one undo step; a refusal (a card uses
        it) is said in `message`."""
        try:
            self.document.push(RemoveDefinition(block_id))
        except GraphError as error:
            self.message.emit(f"Cannot delete the block: {shown(error, 200)}")
            return False
        return True

    def _ask_to_rename(self, block_id: str) -> None:
        name, accepted = QInputDialog.getText(self, "Rename block", "Block name:", text=self._library[block_id].name)
        if accepted and name.strip():
            self.rename_block(block_id, name.strip())

    def _context_menu(self, position: QPoint) -> None:
        if self.document is None:
            return
        item = self.tree.itemAt(position)
        block_id = item.data(0, BLOCK_ROLE) if item is not None else None
        menu = QMenu(self)
        if block_id:
            menu.addAction("Rename Block…", lambda: self._ask_to_rename(block_id))
            menu.addAction("Save Block to File…", lambda: self.save_block_asked.emit(block_id))
            menu.addAction("Delete Block", lambda: self.delete_block(block_id))
            menu.addSeparator()
        menu.addAction("Load Block from File…", self.load_block_asked.emit)
        menu.exec(self.tree.viewport().mapToGlobal(position))

    def layer_items(self) -> list[QTreeWidgetItem]:
        return [heading.child(i) for heading in self._headings() if heading is not self.blocks_heading
                for i in range(heading.childCount())]

    def item_for(self, type_id: str) -> QTreeWidgetItem:
        return next(item for item in self.layer_items() if item.data(0, TYPE_ROLE) == type_id)

    def visible_type_ids(self) -> list[str]:
        return [item.data(0, TYPE_ROLE) for item in self.layer_items()
                if not item.isHidden() and not item.parent().isHidden()]

    def mime_data_for(self, type_id: str) -> QMimeData:
        """What dragging this layer carries (the same code path as a real drag)."""
        return self.tree.mimeData([self.item_for(type_id)])

    def filter(self, text: str) -> None:
        """Show only layers whose title, description or category contain every typed word, and
        blocks whose name contains them (the Blocks heading stays, saying how to make one)."""
        matching = {spec.type_id for spec in matching_specs(text)}
        words = text.lower().split()
        for item in self.block_items():
            item.setHidden(not all(word in item.text(0).lower() for word in words))
        for heading in self._headings():
            if heading is self.blocks_heading:
                continue
            visible_count = 0
            for i in range(heading.childCount()):
                item = heading.child(i)
                visible = item.data(0, TYPE_ROLE) in matching
                item.setHidden(not visible)
                visible_count += visible
            heading.setHidden(visible_count == 0)
        self.tree.expandAll()

    def _headings(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def _choose(self, item: QTreeWidgetItem) -> None:
        block_id, type_id = item.data(0, BLOCK_ROLE), item.data(0, TYPE_ROLE)
        if block_id:
            self.block_chosen.emit(block_id)
        elif type_id:
            self.layer_chosen.emit(type_id)

    def _choose_first_match(self) -> None:
        blocks = [item.data(0, BLOCK_ROLE) for item in self.block_items() if not item.isHidden()]
        visible = self.visible_type_ids()
        if blocks and self.search.text().strip():
            self.block_chosen.emit(blocks[0])
        elif visible:
            self.layer_chosen.emit(visible[0])


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    palette = LayerPalette()
    palette.layer_chosen.connect(print)
    palette.resize(240, 600)
    palette.show()
    app.exec()
