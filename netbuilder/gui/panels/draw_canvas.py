"""The Draw panel's canvas: what the hand does is kept as strokes (`data.strokes.Drawing`), and
painted as smooth curves for the eye only; the model reads the Qt-free renderer's image of them."""
from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ...data.strokes import MAX_POINTS, MAX_STROKES, Drawing
from .. import style

CANVAS_SIDE = 280  # canvas units: ten times MNIST's 28 pixels, whatever the widget's size on screen
DEFAULT_PEN_WIDTH = 20
PEN_WIDTH_RANGE = (6, 40)
_MIN_POINT_STEP = 0.75  # canvas units between two recorded points of a stroke


class DrawingCanvas(QWidget):
    """A square drawing area, white ink on black, that scales with the widget.

    Left button draws; right button or Esc clears; Ctrl+Z (while the canvas has focus) undoes the
    last stroke or clear; a digit key emits `digit_pressed` (to add the drawing to the personal set).

    Signals:
        stroke_moved: the stroke being drawn got new points.
        drawing_changed: a stroke ended, or the drawing was cleared, undone or its pen changed.
        digit_pressed(int): a digit key was pressed while the canvas has focus.
        limit_reached(str): a drawing holds as many strokes or points as a drawing may (the
            limits of netbuilder.data.strokes); the message says what to do.
    """

    stroke_moved = Signal()
    drawing_changed = Signal()
    digit_pressed = Signal(int)
    limit_reached = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._drawing = Drawing((CANVAS_SIDE, CANVAS_SIDE), float(DEFAULT_PEN_WIDTH))
        self._stroke: list[tuple[float, float]] = []  # the stroke being drawn
        self._undo: list[Drawing] = []
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw a digit. Right-click or Esc clears, Ctrl+Z undoes the last stroke, "
                        "a digit key adds the drawing to your handwriting set.")

    # --- the drawing --------------------------------------------------------------------------------
    def drawing(self) -> Drawing:
        """The drawing, with the stroke being drawn if there is one."""
        return self._drawing.with_stroke(self._stroke) if self._stroke else self._drawing

    def set_drawing(self, drawing: Drawing) -> None:
        """Replace the drawing (one undo step); its canvas must be this canvas's."""
        self._change(drawing)

    def set_pen_width(self, width: float) -> None:
        if width != self._drawing.pen_width:
            self._drawing = self._drawing.with_pen_width(width)  # a setting, not an undo step
            self.update()
            if not self._drawing.is_empty:
                self.drawing_changed.emit()

    def clear(self) -> None:
        self._stroke = []
        if not self._drawing.is_empty:
            self._change(self._drawing.cleared())

    def undo(self) -> None:
        if self._undo:
            self._drawing = self._undo.pop().with_pen_width(self._drawing.pen_width)
            self.update()
            self.drawing_changed.emit()

    def _change(self, drawing: Drawing) -> None:
        self._undo.append(self._drawing)
        self._drawing = drawing
        self.update()
        self.drawing_changed.emit()

    # --- geometry -----------------------------------------------------------------------------------
    def square(self) -> QRectF:
        """Where the canvas lies in the widget: the largest centred square."""
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_canvas(self, position: QPointF) -> tuple[float, float]:
        """A widget position in canvas units, kept on the canvas."""
        square = self.square()
        scale = CANVAS_SIDE / square.width()
        return (min(max((position.x() - square.left()) * scale, 0.0), CANVAS_SIDE),
                min(max((position.y() - square.top()) * scale, 0.0), CANVAS_SIDE))

    def sizeHint(self) -> QSize:
        return QSize(CANVAS_SIDE, CANVAS_SIDE)

    # --- input ---------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self.clear()
        elif event.button() == Qt.MouseButton.LeftButton:
            if len(self._drawing.strokes) >= MAX_STROKES or self._drawing.point_count >= MAX_POINTS:
                self.limit_reached.emit(f"The drawing holds as many strokes as a drawing may ({MAX_STROKES} strokes, "
                                        f"{MAX_POINTS:,} points): clear it (right-click or Esc) to draw again.")
                return
            self._stroke = [self.to_canvas(event.position())]
            self.update()
            self.stroke_moved.emit()

    def mouseMoveEvent(self, event) -> None:
        if not self._stroke or not event.buttons() & Qt.MouseButton.LeftButton:
            return
        point = self.to_canvas(event.position())
        last = self._stroke[-1]
        if self._drawing.point_count + len(self._stroke) >= MAX_POINTS:  # the stroke ends where the limit is
            self.limit_reached.emit(f"A drawing may have at most {MAX_POINTS:,} points: clear it (right-click or "
                                    "Esc) to draw again.")
            return
        if math.hypot(point[0] - last[0], point[1] - last[1]) >= _MIN_POINT_STEP:
            self._stroke.append(point)
            self.update()
            self.stroke_moved.emit()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._stroke:
            stroke, self._stroke = self._stroke, []
            self._change(self._drawing.with_stroke(stroke))

    def event(self, event) -> bool:
        # Ctrl+Z and Esc belong to the canvas while it has focus, not to the window's actions
        if event.type() == QEvent.Type.ShortcutOverride and \
                (event.matches(QKeySequence.StandardKey.Undo) or event.key() == Qt.Key.Key_Escape):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
        elif event.key() == Qt.Key.Key_Escape:
            self.clear()
        elif Qt.Key.Key_0 <= event.key() <= Qt.Key.Key_9 and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.digit_pressed.emit(event.key() - Qt.Key.Key_0)
        else:
            super().keyPressEvent(event)

    # --- painting ------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        square = self.square()
        painter.fillRect(square, Qt.GlobalColor.black)
        if self.hasFocus():
            painter.setPen(QPen(style.SELECTION, 1.0))
            painter.drawRect(square.adjusted(0.5, 0.5, -0.5, -0.5))
        scale = square.width() / CANVAS_SIDE
        painter.translate(square.topLeft())
        painter.scale(scale, scale)
        pen = QPen(Qt.GlobalColor.white, self._drawing.pen_width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for stroke in (*self._drawing.strokes, self._stroke) if self._stroke else self._drawing.strokes:
            painter.drawPath(smooth_path(stroke))
        if self._drawing.is_empty and not self._stroke:
            painter.resetTransform()
            painter.setPen(style.TEXT_DIM)
            painter.drawText(square, Qt.AlignmentFlag.AlignCenter, "Draw a digit here")


def smooth_path(points) -> QPainterPath:
    """A stroke as a smooth curve: quadratic pieces through the midpoints between the points,
    the points themselves as control points (a lone point is a dot)."""
    path = QPainterPath(QPointF(*points[0]))
    if len(points) == 1:
        path.lineTo(QPointF(*points[0]))
        return path
    for here, after in zip(points[1:-1], points[2:]):
        path.quadTo(QPointF(*here), QPointF((here[0] + after[0]) / 2, (here[1] + after[1]) / 2))
    path.lineTo(QPointF(*points[-1]))
    return path
