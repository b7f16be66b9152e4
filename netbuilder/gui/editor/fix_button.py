"""Buttons on a card with a problem: its fix ("Insert Flatten before it"), so the user repairs
the network where they see it (the Problems panel offers the same fixes), and, on a block's card
with a problem inside, the way to the layer inside that is wrong. Child items of the card: they
move and go with it."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QFontMetricsF, QPen
from PySide6.QtWidgets import QGraphicsItem

from ...core.layers import Fix
from .. import style

BUTTON_HEIGHT = 17.0
_PADDING_X = 4.0
_POINTS = 7.5


class CardButton(QGraphicsItem):
    """A small button titled `title`; a click runs `clicked()`."""

    def __init__(self, parent: QGraphicsItem, title: str, tooltip: str, width: float, colour):
        super().__init__(parent)
        self._colour = colour
        self._hovered = False
        font = style.ui_font(_POINTS)
        self.text = QFontMetricsF(font).elidedText(title, Qt.TextElideMode.ElideRight, width - 2 * _PADDING_X)
        self._rect = QRectF(0, 0, width, BUTTON_HEIGHT)
        self.setZValue(2)
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(tooltip)

    def clicked(self) -> None:
        raise NotImplementedError

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
            self.clicked()

    # a double-click on a button is two clicks, not a double-click on the card (which opens a block)
    def mouseDoubleClickEvent(self, event) -> None:
        event.accept()


class FixButton(CardButton):
    """Applies `fix` through the scene (GraphScene.apply_fix) as one undo step."""

    def __init__(self, parent: QGraphicsItem, fix: Fix, width: float, colour):
        super().__init__(parent, fix.title, f"{fix.title} (one undo step: Ctrl+Z takes it back)", width, colour)
        self.fix = fix

    def clicked(self) -> None:
        self.scene().apply_fix(self.fix)


class InsideButton(CardButton):
    """On a block's card: opens the block (and the blocks inside it) down to the layer inside that
    has the card's problem, and selects it. `location` leads there from the card (Problem.location)."""

    def __init__(self, parent: QGraphicsItem, location: tuple[str, ...], width: float, colour):
        super().__init__(parent, "Show the layer inside", "Open the block at the layer that has this problem",
                         width, colour)
        self.location = location

    def clicked(self) -> None:
        # after this click's handling: going inside rebuilds the scene, this button with it
        scene, location = self.scene(), self.location
        QTimer.singleShot(0, lambda: scene.show_location(location))
