"""A block card unfolded in place: a frame under the card draws the block's inside small (its
layers left to right in data-flow order, their wires, and the output shape each gets from this
card's inputs, or its problem in red). A view, not an editor: a double-click on it opens the block to edit it, and
folding it again is no edit (docs/decisions.md, "Opening a block"). A child item of the card: it
moves and goes with it."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

from ...core.analysis import Analysis
from ...core.graph import Graph
from ...core.layers import format_shape
from ...core.layout import CARD_HEIGHT, CARD_WIDTH, layered_layout
from .. import style

POSITION_SCALE = 0.5  # the inside laid out in one band, at half its size
MINI_WIDTH, MINI_HEIGHT = 0.5 * CARD_WIDTH + 8, 34.0
_PADDING = 10.0
_TITLE_HEIGHT = 18.0
_GAP_BELOW_CARD = 8.0
_SKIP_DIP = 1.6 * MINI_HEIGHT  # how far a skip connection's control points lie below its ends
_FRAME_PEN = QPen(style.NODE_BORDER, 1.0, Qt.PenStyle.DashLine)
_WIRE_PEN = QPen(style.EDGE, 1.0)


class UnfoldedBlock(QGraphicsItem):
    """The inside of block `title` (graph and analysis for this card), under the card."""

    def __init__(self, card: QGraphicsItem):
        super().__init__(card)
        self.setPos(0, CARD_HEIGHT + _GAP_BELOW_CARD)
        self._rect = QRectF()
        self._title = ""
        self._cards: list[tuple[QRectF, str, str, bool, object]] = []  # rect, name, detail, wrong, header colour
        self._wires = QPainterPath()
        self.setToolTip("The block's inside, as this card's inputs shape it: double-click to open it and edit")

    def show_inside(self, title: str, graph: Graph, analysis: Analysis) -> None:
        """Lay out the mini cards of `graph`'s nodes (in one band, whatever their places inside),
        each with its shape from `analysis`."""
        self.prepareGeometryChange()
        self._title = title
        places = layered_layout(graph, max_columns=max(1, len(graph.nodes)))
        left = min((x for x, _ in places.values()), default=0.0)
        top = min((y for _, y in places.values()), default=0.0)
        rects = {node_id: QRectF(_PADDING + (x - left) * POSITION_SCALE,
                                 _TITLE_HEIGHT + _PADDING + (y - top) * POSITION_SCALE,
                                 MINI_WIDTH, MINI_HEIGHT) for node_id, (x, y) in places.items()}
        self._cards = []
        for node_id, node in graph.nodes.items():
            info, wrong = analysis.info.get(node_id), bool(analysis.problems_of(node_id))
            detail = "problem: see inside" if wrong else format_shape(info.shape) if info else ""
            self._cards.append((rects[node_id], node.name, detail, wrong, style.category_colour(node.spec.category)))
        self._wires = QPainterPath()
        for edge in graph.edges:
            start, end = rects[edge.source], rects[edge.target]
            a, b = QPointF(start.right(), start.center().y()), QPointF(end.left(), end.center().y())
            bend = max(20.0, abs(b.x() - a.x()) / 2)
            # a wire passing other cards (a skip connection) arcs under them, where it can be seen
            dip = _SKIP_DIP if b.x() - a.x() > 1.5 * MINI_WIDTH and abs(b.y() - a.y()) < MINI_HEIGHT else 0.0
            self._wires.moveTo(a)
            self._wires.cubicTo(a + QPointF(bend, dip), b - QPointF(bend, -dip), b)
        right = max((rect.right() for rect in rects.values()), default=0.0)
        bottom = max((rect.bottom() for rect in rects.values()), default=0.0)
        bottom = max(_TITLE_HEIGHT + 2 * _PADDING, bottom + _PADDING, self._wires.boundingRect().bottom() + 4)
        self._rect = QRectF(0, 0, max(CARD_WIDTH, right + _PADDING), bottom)
        self.update()

    def card_texts(self) -> list[tuple[str, str]]:
        """(name, shape or problem) of each layer drawn, in the block's node order."""
        return [(name, detail) for _, name, detail, _, _ in self._cards]

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter, option, widget=None) -> None:
        painter.setPen(_FRAME_PEN)
        painter.setBrush(style.CANVAS_BACKGROUND.lighter(115))
        painter.drawRoundedRect(self._rect, 6, 6)
        painter.setFont(style.ui_font(7.5))
        painter.setPen(style.TEXT_DIM)
        painter.drawText(QRectF(_PADDING, 2, self._rect.width() - 2 * _PADDING, _TITLE_HEIGHT),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self._title)
        painter.setPen(_WIRE_PEN)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._wires)
        for rect, name, detail, wrong, colour in self._cards:
            painter.setPen(QPen(style.ERROR if wrong else style.NODE_BORDER, 1.0))
            painter.setBrush(style.ERROR_TINT if wrong else style.NODE_BODY)
            painter.drawRoundedRect(rect, 4, 4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRect(QRectF(rect.left() + 1, rect.top() + 1, 4, rect.height() - 2))
            text = rect.adjusted(9, 2, -3, -2)
            painter.setPen(style.TEXT_PRIMARY)
            painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)
            painter.setPen(style.ERROR if wrong else style.TEXT_SECONDARY)
            painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, detail)
