"""Training health on the canvas: a small badge on the card of a layer that has stopped learning
(dead ReLU outputs, vanishing or exploding gradients), whose tooltip says what was measured and
what to try. The badge is a child item of the node's card, so it moves and goes with it.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QPen
from PySide6.QtWidgets import QGraphicsItem
from shiboken6 import isValid

from ...training.events import HealthReport, LayerHealth
from .. import style
from .node_item import NODE_WIDTH, NodeItem

BADGE_SIZE = 18.0
_TITLES = {"dead": "Dead activations", "vanishing": "Vanishing gradient", "exploding": "Exploding gradient"}


def health_tooltip(layer: LayerHealth) -> str:
    measured = [f"activation scale {layer.activation_scale:.3g}", f"gradient norm {layer.gradient_norm:.3g}"]
    if layer.dead_fraction is not None:
        measured.insert(0, f"{layer.dead_fraction:.0%} of outputs are 0")
    return f"{_TITLES.get(layer.problem, 'Training health')}: {layer.advice}\n\nMeasured: {', '.join(measured)}."


class HealthBadge(QGraphicsItem):
    """A round warning mark on the top-right corner of a node's card."""

    def __init__(self, parent: NodeItem, layer: LayerHealth):
        super().__init__(parent)
        self.layer = layer
        self.setPos(NODE_WIDTH - BADGE_SIZE / 2, -BADGE_SIZE / 2)
        self.setZValue(2)
        self.setToolTip(health_tooltip(layer))
        self._colour = style.ERROR if layer.problem == "exploding" else style.WARNING

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, BADGE_SIZE, BADGE_SIZE)

    def paint(self, painter, option, widget=None) -> None:
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        painter.setPen(QPen(style.CANVAS_BACKGROUND, 1.5))
        painter.setBrush(QBrush(self._colour))
        painter.drawEllipse(self.boundingRect().adjusted(1, 1, -1, -1))
        painter.setPen(QPen(style.CANVAS_BACKGROUND))
        painter.setFont(style.ui_font(9.0, bold=True))
        painter.drawText(self.boundingRect(), Qt.AlignmentFlag.AlignCenter, "!")


class HealthBadges:
    """The badges of the latest health report on a scene (a GraphScene); a report replaces the last.
    A report measures the network's layers (a block card as a whole), so its badges show while the
    editor shows the network, and come back when it returns there from inside a block."""

    def __init__(self, scene):
        self.scene = scene
        self.badges: dict[str, HealthBadge] = {}  # node id -> its badge
        self.report: HealthReport | None = None
        scene.document.level_changed.connect(self._level_changed)

    def show(self, report: HealthReport) -> None:
        self.clear()
        self.report = report
        if not self.scene.document.level.is_network:
            return
        graph = self.scene.document.graph
        for layer in report.layers:
            node = graph.node_named(layer.layer) if layer.problem else None
            if node is not None:
                self.badges[node.id] = HealthBadge(self.scene.node_item(node.id), layer)

    def _level_changed(self) -> None:
        if self.report is not None:
            self.show(self.report)

    def clear(self) -> None:
        """Remove every badge and forget the report (a new run begins, or another project opens)."""
        self.report = None
        for badge in self.badges.values():
            # a badge went with its card when the layer was deleted or the scene rebuilt
            if isValid(badge) and badge.scene() is not None:
                self.scene.removeItem(badge)
        self.badges = {}
