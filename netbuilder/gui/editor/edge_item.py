"""A connection on the canvas: a cubic Bézier from an output port to an input port, labelled
at its middle with the shape of the tensor flowing through it (e.g. 32×26×26)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QFontMetricsF, QPainterPath, QPainterPathStroker, QPen, QStaticText
from PySide6.QtWidgets import QGraphicsItem

from ...core.graph import Edge
from .. import style
from .node_item import NODE_HEIGHT, NODE_WIDTH, NodeItem

_LABEL_POINTS = 8.0
_LABEL_PADDING_X, _LABEL_PADDING_Y = 5.0, 2.0
_LABEL_MIN_SCALE = 0.4  # below this zoom labels are unreadable clutter
_PEN = QPen(style.EDGE, 1.6)
_SELECTED_PEN = QPen(style.SELECTION, 2.4)
_HIT_WIDTH = 10.0  # clicking within 5 px of the curve selects it
_SKIP_MIN_SPAN = 2 * NODE_WIDTH  # spans this wide likely pass other nodes of the row
_SKIP_LANE_RISE = NODE_HEIGHT / 2 + 28  # from port height to the lane: clears the cards' tops
_SKIP_TURN = 30.0  # horizontal run of each turn into and out of the lane
_BACK_TURN = 40.0  # how far a backward edge swings out beside its ports as it turns round
_LABEL_SPOTS = (0.5, 0.38, 0.62, 0.27, 0.73, 0.17, 0.83)  # the middle first, then ever nearer the ends
_LANE_CLEARANCE = 16.0  # a detour passes this far above or below the card it avoids
_OBSTACLE_REACH = 2 * NODE_HEIGHT  # cards this far above or below an edge's ends may block its detour
for _pen in (_PEN, _SELECTED_PEN):
    _pen.setCapStyle(Qt.PenCapStyle.RoundCap)


def wire_path(start: QPointF, end: QPointF, obstacles: Sequence[QRectF] = ()) -> QPainterPath:
    """The curve from an output at `start` to an input at `end`, clear of the `obstacles` (the
    cards of other layers) wherever a lane above or below them allows. It leaves and enters
    horizontally. A long edge between nodes on about the same row (a skip connection) climbs to
    a lane above the nodes between them; an edge running back to the left (from the end of one
    band of a wrapped layout to the start of the next) turns round into a lane between the rows
    rather than cutting diagonally across them. An edge that would still cross a card takes the
    nearest lane that crosses none, so a wire never looks as if it fed a layer it passes."""
    same_row = abs(end.y() - start.y()) < NODE_HEIGHT
    if end.x() < start.x():
        path = _lane_path(start, end, max(start.y(), end.y()) + _SKIP_LANE_RISE if same_row
                          else (start.y() + end.y()) / 2)
    elif end.x() - start.x() > _SKIP_MIN_SPAN and same_row:
        path = _lane_path(start, end, min(start.y(), end.y()) - _SKIP_LANE_RISE)
    else:
        bend = max(40.0, abs(end.x() - start.x()) * 0.5)
        path = QPainterPath(start)
        path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()), end)
    if not obstacles or not _crosses(path, obstacles):
        return path
    lanes = {lane for card in obstacles for lane in (card.top() - _LANE_CLEARANCE, card.bottom() + _LANE_CLEARANCE)}
    for lane in sorted(lanes, key=lambda y: abs(y - start.y()) + abs(y - end.y())):
        detour = _lane_path(start, end, lane)
        if not _crosses(detour, obstacles):
            return detour
    return path


def _lane_path(start: QPointF, end: QPointF, lane: float) -> QPainterPath:
    """Out of `start`, along a horizontal lane at height `lane`, into `end`: forwards with short
    turns, or, running back to the left, swinging out beside the ports as it turns round."""
    path = QPainterPath(start)
    if end.x() < start.x() + 3 * _SKIP_TURN:
        path.cubicTo(QPointF(start.x() + _BACK_TURN, start.y()), QPointF(start.x() + _BACK_TURN, lane),
                     QPointF(start.x(), lane))
        path.lineTo(QPointF(end.x(), lane))
        path.cubicTo(QPointF(end.x() - _BACK_TURN, lane), QPointF(end.x() - _BACK_TURN, end.y()), end)
        return path
    path.cubicTo(QPointF(start.x() + _SKIP_TURN, start.y()), QPointF(start.x() + _SKIP_TURN / 2, lane),
                 QPointF(start.x() + _SKIP_TURN * 1.5, lane))
    path.lineTo(QPointF(end.x() - _SKIP_TURN * 1.5, lane))
    path.cubicTo(QPointF(end.x() - _SKIP_TURN / 2, lane), QPointF(end.x() - _SKIP_TURN, end.y()), end)
    return path


def _crosses(path: QPainterPath, cards: Sequence[QRectF]) -> bool:
    """Whether the curve passes through any of the cards (checked on its flattened polyline)."""
    bounds = path.controlPointRect()
    near = [(card.left(), card.top(), card.right(), card.bottom()) for card in cards if card.intersects(bounds)]
    if not near:
        return False
    for polygon in path.toSubpathPolygons():
        points = [(point.x(), point.y()) for point in polygon]
        for (ax, ay), (bx, by) in zip(points, points[1:]):
            low_x, high_x, low_y, high_y = min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)
            for card in near:
                if high_x > card[0] and low_x < card[2] and high_y > card[1] and low_y < card[3] \
                        and _segment_meets(ax, ay, bx, by, card):
                    return True
    return False


def _segment_meets(ax: float, ay: float, bx: float, by: float, card: tuple[float, float, float, float]) -> bool:
    """Whether segment a-b enters the rectangle (left, top, right, bottom): Liang-Barsky clipping."""
    dx, dy = bx - ax, by - ay
    low, high = 0.0, 1.0
    left, top, right, bottom = card
    for p, q in ((-dx, ax - left), (dx, right - ax), (-dy, ay - top), (dy, bottom - ay)):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                low = max(low, t)
            else:
                high = min(high, t)
            if low > high:
                return False
    return True


@lru_cache(maxsize=4096)
def _label_size(text: str) -> QSizeF:
    return QFontMetricsF(style.ui_font(_LABEL_POINTS)).size(0, text)


class EdgeItem(QGraphicsItem):
    """One edge of the graph; the scene keeps its ends and its label up to date."""

    def __init__(self, edge: Edge, source: NodeItem, target: NodeItem):
        super().__init__()
        self.edge = edge
        self.source = source
        self.target = target
        self.label = ""
        self._label_text = QStaticText()
        self._label_text.setTextFormat(Qt.TextFormat.PlainText)
        self._label_rect = QRectF()
        self._path = QPainterPath()
        self._spots: dict[float, QPointF] = {}
        self._label_at = 0.5  # where along the wire (a fraction of its length) the label sits
        self.label_moved = True  # the scene places moved labels clear of the others (place_label)
        self._bounds = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)  # under the nodes: a curve passing behind a card stays readable
        self.update_path()

    def update_path(self) -> None:
        """Follow the ports after either node moved."""
        self.prepareGeometryChange()
        start = self.source.output_port_at(self.edge.port).scenePos()
        end = self.target.input_port.scenePos()
        self._path = wire_path(start, end, self._obstacles(start, end))
        self._spots = {}  # label spot -> its point on this path, computed when first needed
        self._place_label()

    def _obstacles(self, start: QPointF, end: QPointF) -> list[QRectF]:
        """The cards of other layers near the wire's way (none before the item is in a scene)."""
        scene = self.scene()
        if scene is None:
            return []
        area = QRectF(start, end).normalized().adjusted(-_BACK_TURN, -_OBSTACLE_REACH, _BACK_TURN, _OBSTACLE_REACH)
        return scene.cards_near(area, (self.source, self.target))

    @property
    def curve(self) -> QPainterPath:
        return self._path

    @property
    def label_rect(self) -> QRectF:
        return self._label_rect

    def place_label(self, is_free: Callable[[QRectF], bool]) -> None:
        """Put the label at the middle of the wire or, where `is_free` says another label is there,
        at the nearest spot along the wire that is free."""
        if self.label:
            spot = next((spot for spot in _LABEL_SPOTS if is_free(self._label_rect_at(spot))), 0.5)
            if spot != self._label_at:
                self.prepareGeometryChange()
                self._label_at = spot
                self._place_label()
        self.label_moved = False

    def set_label(self, text: str) -> None:
        if text == self.label:
            return
        self._label_text.setText(text)
        if text and self.label and _label_size(text) == _label_size(self.label):
            self.label = text  # same size (28×28 -> 32×32): the cheap path, no re-indexing
            self.update(self._label_rect)
            return
        self.prepareGeometryChange()
        self.label = text
        self._place_label()

    def tooltip_text(self, arithmetic: tuple[str, ...] = ()) -> str:
        """The shape on the wire, and `arithmetic`: how the layer it leaves computed that shape."""
        if not self.label:
            return "No shape: an upstream layer has a problem"
        return "\n".join((f"{self.label} per sample", *arithmetic))

    def _place_label(self) -> None:
        self.label_moved = True
        self._label_rect = self._label_rect_at(self._label_at) if self.label else QRectF()
        self._bounds = self._path.boundingRect().adjusted(-2, -2, 2, 2).united(self._label_rect)

    def _label_rect_at(self, spot: float) -> QRectF:
        point = self._spots.get(spot)
        if point is None:
            point = self._spots[spot] = self._path.pointAtPercent(spot)
        size = _label_size(self.label)
        width, height = size.width() + 2 * _LABEL_PADDING_X, size.height() + 2 * _LABEL_PADDING_Y
        return QRectF(point.x() - width / 2, point.y() - height / 2, width, height)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(_HIT_WIDTH)
        shape = stroker.createStroke(self._path)
        if self.label:
            shape.addRect(self._label_rect)
        return shape

    def paint(self, painter, option, widget=None) -> None:
        painter.setPen(_SELECTED_PEN if self.isSelected() else _PEN)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if not self.label or option.levelOfDetailFromTransform(painter.worldTransform()) < _LABEL_MIN_SCALE:
            return
        painter.setPen(_SELECTED_PEN if self.isSelected() else Qt.PenStyle.NoPen)
        painter.setBrush(style.LABEL_BACKGROUND)
        painter.drawRoundedRect(self._label_rect, 4, 4)
        painter.setFont(style.ui_font(_LABEL_POINTS))
        painter.setPen(style.LABEL_TEXT)
        painter.drawStaticText(self._label_rect.topLeft() + QPointF(_LABEL_PADDING_X, _LABEL_PADDING_Y), self._label_text)
