"""The drawing flowing through the graph: a small live picture of each layer's output under its card.

While the drawing panel is open, every layer whose output the model exposes shows it for the
current drawing: feature-map tiles for convolutions and pooling, a bar strip for dense layers
and other flat outputs, rows as a heat map for sequences, the class probabilities at the
Output and the model's 28×28 input at the Input. The pictures come from the same forward pass
as the prediction (`training.live.DrawingReader.read`); this module only draws them.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QObject, QRectF, Qt
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


def unit_range(values: np.ndarray) -> np.ndarray:
    """Values scaled to [0, 1] by their own range (a flat array becomes zeros)."""
    values = np.nan_to_num(values.astype(np.float32))
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def tile_maps(maps: np.ndarray, limit: int | None = None, columns: int | None = None) -> np.ndarray:
    """Feature maps (C, H, W) as one [0, 1] picture: a grid of maps (near-square unless
    `columns` is given), each scaled by its own range, one dark pixel between them."""
    maps = maps[:limit] if limit else maps
    count, height, width = maps.shape
    columns = min(columns or math.ceil(math.sqrt(count)), count)
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * (height + 1) - 1, columns * (width + 1) - 1), np.float32)
    for index in range(count):
        top, left = divmod(index, columns)
        grid[top * (height + 1):top * (height + 1) + height, left * (width + 1):left * (width + 1) + width] = \
            unit_range(maps[index])
    return grid


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
    drawing; `clear` takes them all away (the panel closed, the views switched off, no model)."""

    def __init__(self, scene: GraphScene):
        super().__init__(scene)
        self.scene = scene
        self._views: dict[str, ActivationView] = {}
        # a new project's cards are new items: the views went with the old ones
        scene.document.project_replaced.connect(self._views.clear)

    @property
    def node_ids(self) -> list[str]:
        """The nodes showing a view now."""
        return list(self._views)

    def show(self, activations: dict[str, np.ndarray], picture: np.ndarray, probabilities: np.ndarray | None,
             class_names: tuple[str, ...], given_back: np.ndarray | None = None) -> None:
        """Show each layer's output (by layer name), the input picture at Input nodes and the
        probabilities at Output nodes (an autoencoder's: the picture it gives back, `given_back`);
        nodes with nothing to show lose their view."""
        shown = set()
        for node_id, node in self.scene.document.graph.nodes.items():
            spec = node.spec
            if not spec.has_output and given_back is not None:  # the Output of an autoencoder
                self._view(node_id).show_picture(given_back)
            elif not spec.has_output:  # the Output: what the model concludes
                self._view(node_id).show_bars(probabilities, int(np.argmax(probabilities)), class_names)
            elif spec.max_inputs == 0:  # an Input: what the model receives
                self._view(node_id).show_picture(picture)
            elif node.name in activations:
                output = activations[node.name]
                picture_of_layer = layer_picture(output)
                if picture_of_layer is not None:
                    self._view(node_id).show_picture(picture_of_layer)
                else:
                    self._view(node_id).show_bars(output.reshape(-1))
            else:
                continue
            shown.add(node_id)
        for node_id in set(self._views) - shown:
            self._remove(node_id)

    def clear(self) -> None:
        for node_id in list(self._views):
            self._remove(node_id)

    def _view(self, node_id: str) -> ActivationView:
        view = self._views.get(node_id)
        card = self.scene.node_item(node_id)
        if view is None or not isValid(view) or view.parentItem() is not card:
            view = ActivationView(card)
            self._views[node_id] = view
        return view

    def _remove(self, node_id: str) -> None:
        view = self._views.pop(node_id)
        if isValid(view) and view.scene() is not None:  # a deleted card took its view with it
            view.scene().removeItem(view)
