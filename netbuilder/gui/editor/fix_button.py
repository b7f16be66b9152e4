"""A problem's fix as a button on the card of the layer that has the problem ("Insert Flatten
before it"), so the user repairs the network where they see it; the Problems panel offers the
same fixes. A child item of the card: it moves and goes with it."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetricsF, QPen
from PySide6.QtWidgets import QGraphicsItem

from ...core.layers import Fix
from .. import style

BUTTON_HEIGHT = 17.0
_PADDING_X = 4.0
_POINTS = 7.5


class FixButton(QGraphicsItem):
    """Clicking applies `fix` through the scene (GraphScene.apply_fix) as one undo step."""

    def __init__(self, parent: QGraphicsItem, fix: Fix, width: float, colour):
        super().__init__(parent)
        self.fix = fix
        self._colour = colour
        self._hovered = False
        font = style.ui_font(_POINTS)
        self.text = QFontMetricsF(font).elidedText(fix.title, Qt.TextElideMode.ElideRight, width - 2 * _PADDING_X)
        self._rect = QRectF(0, 0, width, BUTTON_HEIGHT)
        self.setZValue(2)
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"{fix.title} (one undo step: Ctrl+Z takes it back)")

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter, option, widget=None) -> None:
        painter.setPen(QPen(self._colour, 1.0))
        fill = style.SELECTION if self._hovered else style.NODE_BODY
        painter.setBrush(fill)
        painter.drawRoundedRect(self._rect.adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.setFont(style.ui_font(_POINTS))
        painter.setPen(style.HEADER_TEXT if self._hovered else self._colour)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)

    def hoverEnterEvent(self, event) -> None:
        self._hovered = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:
        self._hovered = False
        self.update()

    # press is accepted so the card under the button neither moves nor changes the selection
    def mousePressEvent(self, event) -> None:
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if self.boundingRect().contains(event.pos()):
            self.scene().apply_fix(self.fix)
