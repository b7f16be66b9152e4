"""What changed between two runs, on the canvas: a coloured ring around the card of each layer
the newer run added (green) or changed (amber: parameters or wiring), and a dashed red ghost
card where a layer the older run had is gone. Each mark's tooltip says what changed. Rings are
children of their cards, so they move and go with them; ghosts sit where the layer was."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsItem
from shiboken6 import isValid

from .. import style
from .node_item import CORNER_RADIUS, NODE_HEIGHT, NODE_WIDTH, NodeItem

DIFF_COLOURS = {"added": QColor("#3ecf8e"), "changed": style.WARNING, "removed": style.ERROR}
_RING = 5.0  # pixels between the card and its ring


@dataclass(frozen=True)
class MarkedLayer:
    """One layer's change: `kind` added, changed or removed; `text` says what (for the tooltip and
    the panel's list); `position` is where a removed layer was."""

    kind: str
    name: str
    text: str
    position: tuple[float, float] = (0.0, 0.0)


class DiffRing(QGraphicsItem):
    """A ring in the change's colour around a card, with the change as its tooltip."""

    def __init__(self, parent: NodeItem, layer: MarkedLayer):
        super().__init__(parent)
        self.layer = layer
        self.setZValue(-1)  # under the card's own badges and ports
        self.setToolTip(layer.text)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT).adjusted(-_RING - 2, -_RING - 2, _RING + 2, _RING + 2)

    def paint(self, painter, option, widget=None) -> None:
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        painter.setPen(QPen(DIFF_COLOURS[self.layer.kind], 3))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        radius = CORNER_RADIUS + _RING
        painter.drawRoundedRect(QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT).adjusted(-_RING, -_RING, _RING, _RING),
                                radius, radius)


class GhostCard(QGraphicsItem):
    """Where a removed layer was: a dashed outline with its name and what it was."""

    def __init__(self, layer: MarkedLayer):
        super().__init__()
        self.layer = layer
        self.setPos(*layer.position)
        self.setZValue(-2)  # under the cards and wires that are there now
        self.setToolTip(layer.text)

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, NODE_WIDTH + 4, NODE_HEIGHT + 4)

    def paint(self, painter, option, widget=None) -> None:
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        colour = DIFF_COLOURS["removed"]
        painter.setPen(QPen(colour, 2, Qt.PenStyle.DashLine))
        painter.setBrush(QColor(colour.red(), colour.green(), colour.blue(), 28))
        painter.drawRoundedRect(QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT), CORNER_RADIUS, CORNER_RADIUS)
        painter.setPen(colour)
        painter.setFont(style.ui_font(9.0, bold=True))
        painter.drawText(QRectF(10, 4, NODE_WIDTH - 20, 20), Qt.AlignmentFlag.AlignLeft, "Removed")
        painter.setPen(style.TEXT_SECONDARY)
        painter.setFont(style.ui_font(9.0))
        painter.drawText(QRectF(10, 26, NODE_WIDTH - 20, NODE_HEIGHT - 30),
                         Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap, self.layer.name)


class DiffMarks:
    """The marks of one comparison on a scene (a GraphScene); `show` replaces the last ones."""

    def __init__(self, scene):
        self.scene = scene
        self.rings: dict[str, DiffRing] = {}  # node id on the canvas -> its ring
        self.ghosts: list[GhostCard] = []

    def show(self, marked: dict[str, MarkedLayer], removed: list[MarkedLayer]) -> None:
        """Ring the cards of `marked` (canvas node id -> its change) and place a ghost for each of `removed`."""
        self.clear()
        for node_id, layer in marked.items():
            if self.scene.shows(node_id):
                self.rings[node_id] = DiffRing(self.scene.node_item(node_id), layer)
        for layer in removed:
            ghost = GhostCard(layer)
            self.scene.addItem(ghost)
            self.ghosts.append(ghost)

    def clear(self) -> None:
        """Remove every mark (the comparison ends, or another project opens)."""
        for item in [*self.rings.values(), *self.ghosts]:
            if isValid(item) and item.scene() is not None:  # a ring went with its card when the layer went
                self.scene.removeItem(item)
        self.rings, self.ghosts = {}, []
