"""The window onto the canvas: zoom, pan, rubber-band selection and layer drops from the palette."""
from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QAction, QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsView, QMenu

from ...core.blocks import INSTANCE
from .. import style
from .edge_item import EdgeItem
from .node_item import NodeItem
from .quick_add import QuickAddBox
from .scene import GraphScene

LAYER_MIME_TYPE = "application/x-netbuilder-layer"
"""Palette drags carry this mime type; the data is the layer's type_id encoded as UTF-8."""
BLOCK_MIME_TYPE = "application/x-netbuilder-block"
"""Drags from the palette's library of the project's blocks: the block's id encoded as UTF-8."""

MIN_ZOOM, MAX_ZOOM = 0.1, 4.0
GRID_STEP = 20.0
MAJOR_GRID_EVERY = 5
_FIT_MARGIN = 40.0
# cosmetic (width 0) pens: grid lines stay one pixel wide at every zoom
_MINOR_PEN = QPen(style.GRID_MINOR, 0)
_MAJOR_PEN = QPen(style.GRID_MAJOR, 0)


class GraphView(QGraphicsView):
    """Shows a GraphScene on a dark grid.

    Mouse: wheel zooms around the cursor (0.1x to 4x); middle drag or space + left drag pans;
    left drag on empty space selects with a rubber band. Delete/Backspace delete the selection;
    Escape drops a wire being dragged, else leaves an opened block (one level up); a double-click
    on a block card opens it. A right-click on a card opens `card_actions` as a menu.
    Tab, or a right-click on empty canvas, opens the quick-add
    box at the cursor; so does a new wire released over empty canvas, and the layer chosen
    there is connected to it.
    Drops of LAYER_MIME_TYPE add that layer where dropped (spliced in, when dropped on a wire), and
    drops of BLOCK_MIME_TYPE a card of that block;
    other drops (e.g. project files) are ignored here so the main window can take them.
    """

    def __init__(self, scene: GraphScene, parent=None):
        super().__init__(scene, parent)
        self.card_actions: list[QAction] = []  # the window sets them: the right-click menu of a card
        self.graph_scene = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._space_held = False
        self._pan_from: QPointF | None = None
        self._mouse_at: QPoint | None = None  # the cursor over the viewport, where quick add opens
        self.quick_add = QuickAddBox(self)
        self.quick_add.chosen.connect(self._add_chosen_layer)
        self.quick_add.closed.connect(self._quick_add_closed)
        self._quick_add_at = QPointF()
        self._quick_add_wire = False
        scene.wire_dropped_in_space.connect(lambda scene_pos: self.open_quick_add(scene_pos, wire_end=True))
        # where each level was looked at (zoom and centre), so that leaving a block returns there
        self._level_shown = scene.document.level.path
        self._views_of_levels: dict[tuple[str, ...], tuple[QTransform, QPointF]] = {}
        scene.document.level_changed.connect(self._level_changed)
        scene.document.project_replaced.connect(self._project_replaced)
        self.centerOn(0, 0)

    # --- zoom ---------------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float) -> None:
        """Zoom to `zoom` (clamped to 0.1-4) around the anchor (the cursor for wheel zooms)."""
        factor = min(MAX_ZOOM, max(MIN_ZOOM, zoom)) / self.zoom
        self.scale(factor, factor)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom * math.pow(1.2, steps))
        event.accept()

    def zoom_to_fit(self) -> None:
        """Show every node, at most at 100% so small graphs stay at their natural size."""
        area = self.graph_scene.itemsBoundingRect()
        if area.isEmpty():
            self.resetTransform()
            self.centerOn(0, 0)
            return
        self.fitInView(area.adjusted(-_FIT_MARGIN, -_FIT_MARGIN, _FIT_MARGIN, _FIT_MARGIN),
                       Qt.AspectRatioMode.KeepAspectRatio)
        if not MIN_ZOOM <= self.zoom <= 1.0:
            self.set_zoom(min(1.0, self.zoom))
        self.centerOn(area.center())

    def _level_changed(self) -> None:
        """Another level is shown: as it was last looked at, or all of it the first time."""
        self._views_of_levels[self._level_shown] = (self.transform(), self.mapToScene(self.viewport().rect().center()))
        self._level_shown = self.graph_scene.document.level.path
        seen = self._views_of_levels.get(self._level_shown)
        if seen is None:
            self.zoom_to_fit()
        else:
            self.setTransform(seen[0])
            self.centerOn(seen[1])

    def _project_replaced(self) -> None:
        self._level_shown = self.graph_scene.document.level.path
        self._views_of_levels.clear()

    # --- quick add ---------------------------------------------------------------------------------------
    def open_quick_add(self, scene_pos: QPointF, wire_end: bool = False) -> None:
        """Open the quick-add box at `scene_pos`; the chosen layer is added there (and, with
        `wire_end`, connected to the wire just dropped there)."""
        self._quick_add_at, self._quick_add_wire = scene_pos, wire_end
        self.quick_add.open_at(self.viewport().mapToGlobal(self.mapFromScene(scene_pos)))

    def _add_chosen_layer(self, type_id: str) -> None:
        self.graph_scene.add_layer(type_id, self._quick_add_at, wire_end=self._quick_add_wire)
        self.setFocus()

    def _quick_add_closed(self) -> None:
        # after the choice, if any: a wire dropped in space with no layer chosen is dropped for good
        self._quick_add_wire = False
        self.graph_scene.forget_wire_end()

    def _cursor_scene_pos(self) -> QPointF:
        inside = self._mouse_at is not None and self.viewport().rect().contains(self._mouse_at)
        return self.mapToScene(self._mouse_at if inside else self.viewport().rect().center())

    def open_card_menu(self, card: NodeItem, at: QPoint) -> QMenu:
        """The menu of a right-clicked card (grouping into a block and the like), for the selection
        it belongs to, or for the card alone when it is not selected."""
        if not card.isSelected():
            self.graph_scene.select_nodes([card.node_id])
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addActions(self.card_actions)
        menu.popup(at)
        return menu

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab opens quick add, as in other node editors, instead of leaving the canvas

    def contextMenuEvent(self, event) -> None:
        scene_pos = self.mapToScene(event.pos())
        card = next((item for item in self.graph_scene.items(scene_pos) if isinstance(item, NodeItem)), None)
        if card is not None and self.card_actions:
            self.open_card_menu(card, event.globalPos())
            event.accept()
        elif any(isinstance(item, EdgeItem) or item.flags() & item.GraphicsItemFlag.ItemIsSelectable
               for item in self.graph_scene.items(scene_pos)):
            super().contextMenuEvent(event)
        else:
            self.open_quick_add(scene_pos)
            event.accept()

    # --- pan: middle button, or left button while space is held -------------------------------------
    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Tab and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            self.open_quick_add(self._cursor_scene_pos())
            event.accept()
        elif event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
        elif event.key() == Qt.Key.Key_Escape and (self.graph_scene.cancel_wire() is not None
                                                    or self.graph_scene.leave_block()):
            event.accept()
        elif event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.graph_scene.delete_selected()
            event.accept()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.viewport().unsetCursor()
            event.accept()
        else:
            super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        self._mouse_at = event.position().toPoint()
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            if self._space_held:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    # --- drops from the palette ----------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        self._accept_layer_drag(event)

    def dragMoveEvent(self, event) -> None:
        self._accept_layer_drag(event)

    def dropEvent(self, event) -> None:
        dragged = self._dragged_layer(event)
        if dragged is None:
            event.ignore()
            return
        event.acceptProposedAction()
        type_id, block_id = dragged
        self.graph_scene.add_layer(type_id, self.mapToScene(event.position().toPoint()), block_id=block_id)
        self.setFocus()

    def _accept_layer_drag(self, event) -> None:
        if self._dragged_layer(event) is None:
            event.ignore()
        else:
            event.acceptProposedAction()

    def _dragged_layer(self, event) -> tuple[str, str | None] | None:
        """(type id, block id or None) of a layer or one of the project's blocks being dragged."""
        data = event.mimeData()
        if data.hasFormat(BLOCK_MIME_TYPE):
            block_id = bytes(data.data(BLOCK_MIME_TYPE)).decode("utf-8")
            return (INSTANCE, block_id) if block_id in self.graph_scene.document.graph.blocks else None
        if not data.hasFormat(LAYER_MIME_TYPE):
            return None
        return bytes(data.data(LAYER_MIME_TYPE)).decode("utf-8"), None

    def add_layer_at_center(self, type_id: str, block_id: str | None = None) -> str | None:
        """Add a layer (a card of block `block_id` when given) in the middle of the visible area
        (palette double-click), or at the free spot nearest to it, and return its id."""
        return self.graph_scene.add_layer(type_id, self.mapToScene(self.viewport().rect().center()),
                                          block_id=block_id)

    # --- background ------------------------------------------------------------------------------------
    def drawBackground(self, painter, rect: QRectF) -> None:
        painter.fillRect(rect, style.CANVAS_BACKGROUND)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # crisp one-pixel lines
        if self.zoom >= 0.5:  # the fine grid would turn into a grey haze further out
            self._draw_grid(painter, rect, GRID_STEP, _MINOR_PEN)
        self._draw_grid(painter, rect, GRID_STEP * MAJOR_GRID_EVERY, _MAJOR_PEN)
        painter.restore()

    @staticmethod
    def _draw_grid(painter, rect: QRectF, step: float, pen: QPen) -> None:
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        lines = [QLineF(x, rect.top(), x, rect.bottom()) for x in _steps(left, rect.right(), step)]
        lines += [QLineF(rect.left(), y, rect.right(), y) for y in _steps(top, rect.bottom(), step)]
        painter.setPen(pen)
        painter.drawLines(lines)


def _steps(start: float, stop: float, step: float):
    value = start
    while value <= stop:
        yield value
        value += step
