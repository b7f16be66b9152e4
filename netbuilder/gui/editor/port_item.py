"""A node's input (left) or output (right) port: where wires start and end."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from .. import style

if TYPE_CHECKING:
    from .node_item import NodeItem

PortKind = Literal["input", "output"]

RADIUS = 5.0
HIT_RADIUS = 10.0  # generous, so a port is easy to grab and to drop onto

_BOUNDS = QRectF(-HIT_RADIUS, -HIT_RADIUS, 2 * HIT_RADIUS, 2 * HIT_RADIUS)
_DOT = QRectF(-RADIUS, -RADIUS, 2 * RADIUS, 2 * RADIUS)
_HALO = QRectF(-RADIUS - 3, -RADIUS - 3, 2 * RADIUS + 6, 2 * RADIUS + 6)
_BORDER_PEN = QPen(style.CANVAS_BACKGROUND, 1.5)
_COMPATIBLE_PEN = QPen(style.PORT_COMPATIBLE, 2.0)


class PortItem(QGraphicsItem):
    """A port drawn as a dot on the node's edge; pressing it starts a wire drag in the scene.

    While a wire is dragged the scene marks every port of the other kind as accepting
    (`drop_state` True, a green halo) or refusing it (False, greyed out).
    """

    def __init__(self, node_item: NodeItem, kind: PortKind, position: QPointF, index: int = 0):
        super().__init__(node_item)
        self.node_item = node_item
        self.kind: PortKind = kind
        self.index = index  # which output (a block card has one per output port of its block)
        self.connected = False
        self.drop_state: bool | None = None
        self.setPos(position)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Drag to an input port to connect" if kind == "output"
                        else "Drag from an output port here to connect; drag away to disconnect")

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self.update()

    def set_drop_state(self, state: bool | None) -> None:
        if state != self.drop_state:
            self.drop_state = state
            self.update()

    def boundingRect(self) -> QRectF:
        return _BOUNDS

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(_BOUNDS)
        return path

    def paint(self, painter, option, widget=None) -> None:
        if self.drop_state is True:
            painter.setPen(_COMPATIBLE_PEN)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(_HALO)
            colour = style.PORT_COMPATIBLE
        elif self.drop_state is False:
            colour = style.PORT_REFUSED
        else:
            colour = style.PORT_CONNECTED if self.connected else style.PORT
        painter.setPen(_BORDER_PEN)
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(_DOT)

    # The scene runs the wire drag; the port only grabs the mouse so the node does not move.
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.scene().begin_wire(self):
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event) -> None:
        self.scene().drag_wire(event.scenePos())

    def mouseReleaseEvent(self, event) -> None:
        self.scene().end_wire(event.scenePos())
