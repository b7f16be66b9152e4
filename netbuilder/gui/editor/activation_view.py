"""The drawing flowing through the graph: a small live picture of each layer's output under its card.

While the drawing panel is open, every layer whose output the model exposes shows it for the
current drawing: feature-map tiles for convolutions and pooling, a bar strip for dense layers
and other flat outputs, rows as a heat map for sequences, the class probabilities at the
Output and the model's 28×28 input at the Input. The pictures come from the same forward pass
as the prediction (`inference.live.DrawingReader.read`); this module only draws them.

The answer the user waits for is the drawing panel's bars, so the views come after them and never
hold them up: `NodeActivationViews.show` only queues the new outputs, and the pictures are made on
the next turns of the event loop in slices of FRAME_BUDGET_MS (a slice ends with the first card
past it; the cards in sight first, a card whose output did not change not at all), so that a
repaint or a mouse event waits at most about one slice. Each view keeps its painting as an image
(Qt's device-coordinate cache): moving, scrolling or repainting the graph redraws the image, and
only a new output paints the view again.
"""
from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QObject, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem
from shiboken6 import isValid

from .. import style
from .node_item import NODE_HEIGHT, NODE_WIDTH
from .scene import GraphScene

# Under the card and clear of what the auto-layout puts below it: the next row's card (130 from
# the card's top) and the lane of a wire wrapping to the next band, with its shape label (141).
VIEW_GAP = 3.0
VIEW_HEIGHT = 40.0
_VIEW_RECT = QRectF(0, 0, NODE_WIDTH, VIEW_HEIGHT)
_PADDING = 3.0
MAX_TILES = 16  # feature maps shown under a card; the draw panel shows them all for the selected layer
TILE_COLUMNS = 8  # two rows of eight square maps fill the card-wide strip
_BAR_COLOUR = QColor("#4da3ff")
_TOP_BAR_COLOUR = QColor("#3ecf8e")
_BACKGROUND = QColor("#141518")
FRAME_BUDGET_MS = 8.0  # the views' work between two turns of the event loop: half a 60 Hz frame


def unit_range(values: np.ndarray) -> np.ndarray:
    """Values scaled to [0, 1] by their own range (a flat array becomes zeros)."""
    return unit_ranges(values.reshape(1, -1)).reshape(values.shape)


def unit_ranges(rows: np.ndarray) -> np.ndarray:
    """Each row of a (N, M) array scaled to [0, 1] by its own range (a flat row becomes zeros)."""
    rows = np.nan_to_num(rows.astype(np.float32))
    low = rows.min(axis=1, keepdims=True)
    span = rows.max(axis=1, keepdims=True) - low
    return np.divide(rows - low, span, out=np.zeros_like(rows), where=span > 0)


def tile_maps(maps: np.ndarray, limit: int | None = None, columns: int | None = None) -> np.ndarray:
    """Feature maps (C, H, W) as one [0, 1] picture: a grid of maps (near-square unless
    `columns` is given), each scaled by its own range, one dark pixel between them."""
    maps = maps[:limit] if limit else maps
    count, height, width = maps.shape
    columns = min(columns or math.ceil(math.sqrt(count)), count)
    rows = math.ceil(count / columns)
    cells = np.zeros((rows * columns, height + 1, width + 1), np.float32)  # each map with its dark edge
    cells[:count, :height, :width] = unit_ranges(maps.reshape(count, -1)).reshape(count, height, width)
    grid = cells.reshape(rows, columns, height + 1, width + 1).transpose(0, 2, 1, 3)
    return grid.reshape(rows * (height + 1), columns * (width + 1))[:-1, :-1]


def grey_pixmap(picture: np.ndarray) -> QPixmap:
    """A [0, 1] array (H, W) as a grey pixmap."""
    pixels = np.ascontiguousarray(np.round(np.clip(picture, 0.0, 1.0) * 255).astype(np.uint8))
    image = QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.strides[0], QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(image.copy())  # the copy owns its pixels; `pixels` may go


def layer_picture(output: np.ndarray) -> np.ndarray | None:
    """A layer's output (no batch axis) as a [0, 1] picture for a card, or None for a flat output
    (which is drawn as bars)."""
    if output.ndim == 3:
        return tile_maps(output, MAX_TILES, TILE_COLUMNS)
    if output.ndim == 2:
        return unit_range(output)
    return None


class ActivationView(QGraphicsItem):
    """The picture under one node card; a child of the NodeItem, so it moves with it."""

    def __init__(self, parent: QGraphicsItem):
        super().__init__(parent)
        self.setPos(0, NODE_HEIGHT + VIEW_GAP)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)  # painted again only by update()
        self._pixmap: QPixmap | None = None
        self._bars: np.ndarray | None = None
        self._highlight = -1
        self._labels: tuple[str, ...] = ()

    def show_picture(self, picture: np.ndarray) -> None:
        self._pixmap, self._bars = grey_pixmap(picture), None
        self.update()

    def show_bars(self, values: np.ndarray, highlight: int = -1, labels: tuple[str, ...] = ()) -> None:
        """Bars for a flat output; `highlight` marks one (the top class), `labels` names them."""
        self._pixmap, self._bars, self._highlight, self._labels = None, values, highlight, labels
        self.update()

    def boundingRect(self) -> QRectF:
        return _VIEW_RECT

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setPen(QPen(style.NODE_BORDER, 1.0))
        painter.setBrush(_BACKGROUND)
        painter.drawRoundedRect(_VIEW_RECT, 4, 4)
        inner = _VIEW_RECT.adjusted(_PADDING, _PADDING, -_PADDING, -_PADDING)
        if self._pixmap is not None:
            size = self._pixmap.size().scaled(int(inner.width()), int(inner.height()), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRectF(inner.center().x() - size.width() / 2, inner.center().y() - size.height() / 2,
                            size.width(), size.height())
            painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        elif self._bars is not None:
            self._paint_bars(painter, inner)

    def _paint_bars(self, painter: QPainter, inner: QRectF) -> None:
        values = self._bars
        label_height = 10.0 if self._labels else 0.0
        area = inner.adjusted(0, 0, 0, -label_height)
        scale = float(np.abs(values).max()) or 1.0
        width = area.width() / len(values)
        painter.setPen(Qt.PenStyle.NoPen)
        for index, value in enumerate(values):
            height = area.height() * min(abs(float(value)) / scale, 1.0)
            painter.setBrush(_TOP_BAR_COLOUR if index == self._highlight else _BAR_COLOUR)
            painter.drawRect(QRectF(area.left() + index * width + width * 0.1, area.bottom() - height,
                                    max(width * 0.8, 0.5), height))
        if self._labels:
            painter.setPen(style.TEXT_SECONDARY)
            painter.setFont(style.ui_font(6.5))
            for index, label in enumerate(self._labels):
                painter.drawText(QRectF(area.left() + index * width, area.bottom(), width, label_height),
                                 Qt.AlignmentFlag.AlignCenter, label)


class NodeActivationViews(QObject):
    """Keeps one ActivationView under each card that has something to show, for the latest
    drawing; `clear` takes them all away (the panel closed, the views switched off, no model).

    `show` queues; the views are brought up to date in slices of FRAME_BUDGET_MS on later turns of
    the event loop, the cards in sight first; `pending` says whether some are not yet up to date.
    """

    def __init__(self, scene: GraphScene):
        super().__init__(scene)
        self.scene = scene
        self._views: dict[str, ActivationView] = {}
        self._shown: dict[str, tuple] = {}  # node id -> what its view shows, to skip what did not change
        self._queue: list[tuple[str, tuple]] = []  # (node id, what its view is to show), in order of work
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._work)
        # a new project's cards, or another level's, are new items: the views went with the old ones
        scene.document.project_replaced.connect(self._forget_views)
        scene.document.level_changed.connect(self._forget_views)

    @property
    def node_ids(self) -> list[str]:
        """The nodes showing a view now."""
        return list(self._views)

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def show(self, activations: dict[str, np.ndarray], picture: np.ndarray, probabilities: np.ndarray | None,
             class_names: tuple[str, ...], given_back: np.ndarray | None = None) -> None:
        """Queue each layer's output (by layer name), the input picture at Input nodes and the
        probabilities at Output nodes (an autoencoder's: the picture it gives back, `given_back`);
        nodes with nothing to show lose their view at once."""
        wanted = {}
        document = self.scene.document
        # a reading holds the network's layers' outputs (a block card's as a whole): inside a block none is shown
        for node_id, node in (document.graph.nodes.items() if document.level.is_network else ()):
            spec = node.spec
            if not spec.has_output and given_back is not None:  # the Output of an autoencoder
                wanted[node_id] = ("picture", given_back)
            elif not spec.has_output:  # the Output: what the model concludes
                wanted[node_id] = ("bars", probabilities, class_names)
            elif spec.max_inputs == 0:  # an Input: what the model receives
                wanted[node_id] = ("picture", picture)
            elif node.name in activations:
                wanted[node_id] = ("layer", activations[node.name])
        for node_id in set(self._views) - set(wanted):
            self._remove(node_id)
        changed = [(node_id, content) for node_id, content in wanted.items()
                   if not (self._has_view(node_id) and _same(self._shown.get(node_id), content))]
        in_sight = self._in_sight()
        changed.sort(key=lambda item: self.scene.node_item(item[0]).sceneBoundingRect().intersects(in_sight),
                     reverse=True)  # stable: the graph's order within the cards in sight and within the others
        self._queue = changed
        if changed:
            self._timer.start()

    def clear(self) -> None:
        self._queue = []
        self._timer.stop()
        for node_id in list(self._views):
            self._remove(node_id)

    def _forget_views(self) -> None:
        self._queue = []
        self._views.clear()
        self._shown.clear()

    def _in_sight(self) -> QRectF:
        """The part of the scene the graph's views show."""
        area = QRectF()
        for view in self.scene.views():
            if view.isVisible():
                area = area.united(view.mapToScene(view.viewport().rect()).boundingRect())
        return area

    def _work(self) -> None:
        """Bring views up to date until the frame budget is spent; the rest on the next turn."""
        deadline = time.perf_counter() + FRAME_BUDGET_MS / 1000
        while self._queue:
            node_id, content = self._queue.pop(0)
            if not self.scene.shows(node_id):  # deleted since, or the editor went inside a block
                continue
            self._draw(node_id, content)
            if time.perf_counter() >= deadline:
                break
        if self._queue:
            self._timer.start()

    def _draw(self, node_id: str, content: tuple) -> None:
        view = self._view(node_id)
        kind = content[0]
        if kind == "bars":
            probabilities, class_names = content[1], content[2]
            view.show_bars(probabilities, int(np.argmax(probabilities)), class_names)
        elif kind == "picture":
            view.show_picture(content[1])
        else:
            picture = layer_picture(content[1])
            if picture is not None:
                view.show_picture(picture)
            else:
                view.show_bars(content[1].reshape(-1))
        self._shown[node_id] = content

    def _has_view(self, node_id: str) -> bool:
        """Whether the node's card has its view (a card made again, after an undo, has none)."""
        view = self._views.get(node_id)
        return view is not None and isValid(view) and view.parentItem() is self.scene.node_item(node_id)

    def _view(self, node_id: str) -> ActivationView:
        if not self._has_view(node_id):
            self._views[node_id] = ActivationView(self.scene.node_item(node_id))
        return self._views[node_id]

    def _remove(self, node_id: str) -> None:
        view = self._views.pop(node_id)
        self._shown.pop(node_id, None)
        if isValid(view) and view.scene() is not None:  # a deleted card took its view with it
            view.scene().removeItem(view)


def _same(shown: tuple | None, content: tuple) -> bool:
    """Whether a view showing `shown` already shows `content` (the same kind and equal values)."""
    return shown is not None and len(shown) == len(content) and shown[0] == content[0] and \
        all(_equal(a, b) for a, b in zip(shown[1:], content[1:]))


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    return a == b
