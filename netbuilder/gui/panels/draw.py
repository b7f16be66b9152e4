"""Draw a digit and watch the trained network read it.

The canvas keeps what the hand does as strokes (`data.strokes.Drawing`) and paints them with
QPainterPath for the eye; what the model classifies is always the Qt-free renderer's image of
the same strokes, read through the model's recipe (`inference.live.DrawingReader`), so a saved
drawing classifies identically anywhere. Predictions run after each stroke and, throttled,
while drawing; inference on one drawing takes milliseconds, so it runs on the GUI thread.

The bars are the answer the user waits for, so they come first: a reading sets the bars, the
answer and the preview at once, and what is only illustration (the selected layer's large picture
here, the views under the cards in the editor) is drawn on later turns of the event loop, after
the bars have been painted. A drawing with no ink is "nothing drawn", never a class; two classes
too close to choose between are said as such ("7 or 2?"); both decided in `data.certainty`.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (QBoxLayout, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QMessageBox, QPushButton, QSizePolicy, QSlider, QStackedWidget,
                               QVBoxLayout, QWidget)

from ...data.base import DataError
from ...data.certainty import NOTHING_DRAWN, close_call, close_call_text
from ...data.handwriting import HandwritingSet
from ...data.strokes import MAX_POINTS, MAX_STROKES, Drawing, render
from ...common.text import format_shape
from .. import style
from ..editor.activation_view import grey_pixmap, layer_picture, tile_maps, unit_range

if TYPE_CHECKING:
    from ...data.recipe import ImageRecipe
    from ...model.checkpoint import TrainedModel
    from ...inference.live import DrawingReader, Reading

CANVAS_SIDE = 280  # canvas units: ten times MNIST's 28 pixels, whatever the widget's size on screen
DEFAULT_PEN_WIDTH = 20
PEN_WIDTH_RANGE = (6, 40)
LIVE_INTERVAL_MS = 60  # predictions while a stroke is being drawn, at most this often
_MIN_POINT_STEP = 0.75  # canvas units between two recorded points of a stroke
_PREVIEW_SIDE = 84  # three screen pixels to each of the model's 28×28: sharp, and small enough to sit beside the answer
_BARS_MIN_HEIGHT = 110
_REFLOW_SLACK = 8  # pixels
_SALIENCY_COLOUR = np.array([255, 80, 40], np.float32)


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


class DrawPanel(QWidget):
    """The canvas, what the model receives, and what it answers.

    Signals:
        train_requested: the user asked to train the current network on the built-in digits.
        fine_tune_requested: the user asked to fine-tune the model on the personal handwriting set.
        reading_changed(object): a new `Reading` of the drawing (for the views on the editor's
            cards), or None when there is nothing to show.
    """

    train_requested = Signal()
    fine_tune_requested = Signal()
    fine_tuned = Signal(object)  # a TrainedModel with the fine-tuned weights, to be saved with the project
    reading_changed = Signal(object)

    def __init__(self, handwriting: HandwritingSet | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.handwriting = handwriting or HandwritingSet()
        self.trained = None  # what set_trained_model was given
        self.reader: DrawingReader | None = None
        self.fine_tuning = None  # the latest FineTuning run, whose result the panel takes when it ends
        self._fine_tune_worker = None
        self.reading: Reading | None = None
        self.show_activations = True
        self.selected_layer: str | None = None

        self.canvas = DrawingCanvas()
        self.canvas.drawing_changed.connect(self._drawing_settled)
        self.canvas.stroke_moved.connect(self._schedule_live_update)
        self.canvas.digit_pressed.connect(self.add_to_handwriting)
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_INTERVAL_MS)
        self._live_timer.timeout.connect(self.update_prediction)
        self._layer_timer = QTimer(self)  # the selected layer's picture, after the bars are painted
        self._layer_timer.setSingleShot(True)
        self._layer_timer.setInterval(0)
        self._layer_timer.timeout.connect(self._show_selected_layer)

        tools = self._build_drawing_tools()
        self._build_handwriting_rows()

        # hidden, with the handwriting side, for a model that cannot read drawings
        self.drawing_side = QWidget()
        left = QVBoxLayout(self.drawing_side)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.canvas, 1)
        left.addLayout(tools)
        self.handwriting_side = QWidget()
        below = QVBoxLayout(self.handwriting_side)
        below.setContentsMargins(0, 0, 0, 0)
        below.addLayout(self.personal_rows)
        below.addWidget(self.handwriting_status)

        self.results = QStackedWidget()
        self.results.addWidget(self._build_message_page())
        self.results.addWidget(self._build_reading_page())
        # the drawing and the reading side by side where the panel is wide enough, else one above
        # the other; the handwriting buttons and status below both
        self.columns = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.columns.addWidget(self.drawing_side, 3)
        self.columns.addWidget(self.results, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(self.columns, 1)
        layout.addWidget(self.handwriting_side)
        self._show_handwriting_count()
        self.set_trained_model(None)

    # --- pages ---------------------------------------------------------------------------------------
    def _build_drawing_tools(self) -> QHBoxLayout:
        """Clear, undo and the pen width, under the canvas."""
        clear = QPushButton("Clear")
        clear.setToolTip("Clear the drawing (Esc or right-click on the canvas)")
        clear.clicked.connect(self.canvas.clear)
        undo = QPushButton("Undo stroke")
        undo.setToolTip("Undo the last stroke (Ctrl+Z on the canvas)")
        undo.clicked.connect(self.canvas.undo)
        self.pen_slider = QSlider(Qt.Orientation.Horizontal)
        self.pen_slider.setRange(*PEN_WIDTH_RANGE)
        self.pen_slider.setValue(DEFAULT_PEN_WIDTH)
        self.pen_slider.setMinimumWidth(80)  # pixels: a slider that can be set, beside the two buttons
        self.pen_slider.setToolTip("Pen width on the canvas (the model reads every drawing with a pen in proportion "
                                   "to the digit's size)")
        self.pen_slider.valueChanged.connect(self.canvas.set_pen_width)
        tools = QHBoxLayout()
        tools.addWidget(clear)
        tools.addWidget(undo)
        tools.addWidget(QLabel("Pen"))
        tools.addWidget(self.pen_slider, 1)
        return tools

    def _build_handwriting_rows(self) -> None:
        """The personal set's buttons (one row across the panel, or two where it is narrow) and its status line."""
        self.label_choice = QComboBox()
        self.label_choice.addItems([str(digit) for digit in range(10)])
        self.label_choice.setToolTip("The digit you drew (or press its key on the canvas)")
        add = QPushButton("Add to my handwriting")
        add.setToolTip("Keep this drawing, as strokes, in your personal handwriting set")
        add.clicked.connect(lambda: self.add_to_handwriting(self.label_choice.currentIndex()))
        gallery = QPushButton("My handwriting…")
        gallery.setToolTip("See your handwriting set by digit, and delete drawings from it")
        gallery.clicked.connect(self.open_gallery)
        self.fine_tune_button = QPushButton("Fine-tune on my handwriting")
        self.fine_tune_button.setToolTip("Train the current model a few epochs on your handwriting mixed with "
                                         "built-in digits; reports accuracy on a held-out part of your set "
                                         "before and after")
        self.fine_tune_button.clicked.connect(self.fine_tune_requested)  # the window has the project
        labelling = QHBoxLayout()
        labelling.addWidget(self.label_choice)
        labelling.addWidget(add)
        labelling.addWidget(gallery)
        labelling.addStretch(1)
        training = QHBoxLayout()
        training.addStretch(1)
        training.addWidget(self.fine_tune_button)
        self.personal_rows = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.personal_rows.addLayout(labelling)
        self.personal_rows.addLayout(training)
        self.handwriting_status = _StatusLine()
        self.handwriting_status.setStyleSheet(f"color: {style.TEXT_SECONDARY.name()}")
        self.canvas.limit_reached.connect(self.handwriting_status.setText)

    def _build_message_page(self) -> QWidget:
        page = QWidget()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.train_button = QPushButton("Train on the built-in digits")
        self.train_button.setToolTip("Train the current network on the built-in handwriting digits")
        self.train_button.clicked.connect(self.train_requested)
        column = QVBoxLayout(page)
        column.addStretch(1)
        column.addWidget(self.message)
        column.addWidget(self.train_button, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addStretch(1)
        return page

    def _build_reading_page(self) -> QWidget:
        import pyqtgraph as pg

        page = QWidget()
        self.plot = pg.PlotWidget(background=style.CANVAS_BACKGROUND)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.getAxis("left").setTicks([[(0, "0"), (0.5, "50%"), (1, "100%")]])
        self.plot.setMinimumHeight(_BARS_MIN_HEIGHT)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=pg.mkBrush(_colour_tuple(style.SELECTION)))
        self.plot.addItem(self.bars)
        self.reconstruction_view = _reconstruction_view()  # an autoencoder's answer, in the bars' place
        self.why = QCheckBox("Why this answer")
        self.why.setToolTip("Colour the pixels whose change would move the top class's score most "
                            "(the input gradient)")
        self.why.toggled.connect(self.update_prediction)
        self.flow = QCheckBox("Show in the graph")
        self.flow.setChecked(True)
        self.flow.setToolTip("Show each layer's output for this drawing under its card on the canvas")
        self.flow.toggled.connect(self._set_show_activations)
        self.layer_title = QLabel()
        self.layer_title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.layer_view = QLabel()
        self.layer_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # the picture fits the space the panel has left, rather than asking for more: the answer,
        # the bars and the drawing come first
        self.layer_view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        options = QHBoxLayout()
        options.addWidget(self.why)
        options.addWidget(self.flow)
        options.addStretch(1)
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self._build_answer_row())
        column.addWidget(self.plot, 2)
        column.addWidget(self.reconstruction_view, 2)
        column.addLayout(options)
        column.addWidget(self.layer_title)
        column.addWidget(self.layer_view, 1)
        return page

    def _build_answer_row(self) -> QHBoxLayout:
        """The answer and how sure, beside the model's input."""
        self.top_class = QLabel("–")
        self.top_class.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.top_class.setFont(style.ui_font(40, bold=True))
        # as wide as a close call between two digits, whatever it says now: the panel's arrangement
        # must not change with the answer. (No label wraps: a scroll area takes a wrapping label's
        # preferred height as the panel's minimum, and scrolls.)
        self.top_class.setMinimumWidth(self.top_class.fontMetrics().horizontalAdvance("8 or 8?"))
        self.top_class.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.top_probability = QLabel("")
        self.top_probability.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.top_probability.setFont(style.ui_font(12))
        self.top_probability.setMinimumWidth(self.top_probability.fontMetrics().horizontalAdvance(
            f"{NOTHING_DRAWN.capitalize()}: draw a digit"))
        self.top_probability.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preview = QLabel()
        self.preview.setFixedSize(_PREVIEW_SIDE, _PREVIEW_SIDE)
        self.preview_caption = QLabel("Model's input")
        self.preview_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_caption.setStyleSheet(f"color: {style.TEXT_SECONDARY.name()}")
        answer = QVBoxLayout()
        answer.addStretch(1)
        answer.addWidget(self.top_class)
        answer.addWidget(self.top_probability)
        answer.addStretch(1)
        model_input = QVBoxLayout()
        model_input.setSpacing(2)
        model_input.addWidget(self.preview)
        model_input.addWidget(self.preview_caption)
        answer_row = QHBoxLayout()
        answer_row.addLayout(answer, 1)
        answer_row.addLayout(model_input)
        return answer_row

    # --- the model -----------------------------------------------------------------------------------
    def set_trained_model(self, trained: TrainedModel | None) -> None:
        """The model to read drawings with, or None."""
        self.trained, self.reader, self.reading = trained, None, None
        self._show_drawing_side(True)
        if trained is None:
            self._show_message("No trained model yet. Train the network to see it read your drawings "
                               "as you draw.", offer_training=True)
            return
        from ...inference.live import DrawingReader, canvas_problem

        problem = canvas_problem(trained.recipe)
        if problem:
            self._show_drawing_side(False)
            self._show_message(problem, offer_training=False)
            return
        self.reader = DrawingReader(trained.model, trained.recipe)
        self._explain_preview(trained.recipe.image)
        self.plot.setVisible(not self.reader.reconstructs)
        self.reconstruction_view.setVisible(self.reader.reconstructs)
        self.why.setVisible(not self.reader.reconstructs)  # saliency explains a top class
        self.bars.setOpts(x=np.arange(len(trained.recipe.class_names)), height=np.zeros(len(trained.recipe.class_names)))
        self.plot.getAxis("bottom").setTicks([list(enumerate(trained.recipe.class_names))])
        self.plot.setXRange(-0.6, len(trained.recipe.class_names) - 0.4, padding=0)
        self.results.setCurrentIndex(1)
        self.fine_tune_button.setEnabled(self._can_fine_tune())
        self.update_prediction()

    def _can_fine_tune(self) -> bool:
        """Fine-tuning teaches a classifier the labels of the handwriting set; an autoencoder has none."""
        return self.reader is not None and not self.reader.reconstructs and self._fine_tune_worker is None

    def _show_message(self, text: str, offer_training: bool) -> None:
        self.message.setText(text)
        self.train_button.setVisible(offer_training)
        self.fine_tune_button.setEnabled(False)
        self.results.setCurrentIndex(0)
        self.reading_changed.emit(None)

    def select_layer(self, name: str | None) -> None:
        """Show this layer's output large (a layer name of the model, or None)."""
        self.selected_layer = name
        self._show_selected_layer()

    def _set_show_activations(self, on: bool) -> None:
        self.show_activations = on
        self.update_prediction()

    # --- reading the drawing -------------------------------------------------------------------------
    def _drawing_settled(self) -> None:
        self._live_timer.stop()
        self.update_prediction()

    def _schedule_live_update(self) -> None:
        if self.reader is not None and not self._live_timer.isActive():
            self._live_timer.start()

    def update_prediction(self) -> None:
        """Read the current drawing and show the answer (nothing to read: empty bars)."""
        if self.reader is None:
            return
        from ...inference.live import nothing_drawn  # loaded with the reader

        drawing = self.canvas.drawing()
        if nothing_drawn(drawing):
            self.reading = None
            self._show_reading()
            self.reading_changed.emit(None)
            return
        self.reading = self.reader.read(drawing, activations=self.show_activations or self.selected_layer is not None,
                                        saliency=self.why.isChecked())
        self._show_reading()
        self.reading_changed.emit(self.reading if self.show_activations else None)

    def _show_reading(self) -> None:
        reading = self.reading
        class_count = len(self.reader.recipe.class_names)
        if reading is None:
            self.top_class.setText("–")
            self.top_probability.setText(f"{NOTHING_DRAWN.capitalize()}: draw a digit")
            self.bars.setOpts(height=np.zeros(class_count))
            self.reconstruction_view.clear()
            self.preview.setPixmap(grey_pixmap(np.zeros((28, 28))).scaled(
                _PREVIEW_SIDE, _PREVIEW_SIDE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
            self._layer_timer.start()
            return
        if reading.reconstruction is not None:
            self._show_reconstruction(reading)
        else:
            self._show_classes(reading)
        self.preview.setPixmap(_preview_pixmap(reading.picture, reading.saliency))
        self._layer_timer.start()

    def _show_classes(self, reading: Reading) -> None:
        probabilities = reading.prediction.probabilities[0]
        names = reading.prediction.class_names
        pair = close_call(probabilities)
        if pair is None:
            name, probability = reading.prediction.top(0, 1)[0]
            self.top_class.setText(name)
            self.top_probability.setText(f"{100 * probability:.1f}% sure")
        else:
            self.top_class.setText(close_call_text(names, pair))
            self.top_probability.setText("Not sure: " + " or ".join(
                f"{names[index]} {100 * probabilities[index]:.0f}%" for index in pair))
        self.bars.setOpts(height=probabilities)

    def _show_reconstruction(self, reading: Reading) -> None:
        self.top_class.setText("Given back")
        self.top_probability.setText(f"reconstruction error {reading.prediction.errors[0]:.3g} "
                                     "(mean squared, as in training)")
        self.reconstruction_view.setPixmap(grey_pixmap(reading.reconstruction).scaled(
            self.reconstruction_view.size(), Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.FastTransformation))

    def _show_selected_layer(self) -> None:
        output = None if self.reading is None or self.selected_layer is None \
            else self.reading.activations.get(self.selected_layer)
        if output is None:
            self.layer_title.setText("Select a layer on the canvas to see its output" if self.reader else "")
            self.layer_view.clear()
            return
        shape = format_shape(output.shape)
        if output.ndim == 3:
            picture = tile_maps(output)
            what = f"{output.shape[0]} feature maps"
        else:
            picture = layer_picture(output)
            if picture is None:  # a flat output: its values as one row of cells
                width = math.ceil(math.sqrt(output.size))
                picture = np.zeros(width * width, np.float32)
                picture[:output.size] = unit_range(output.reshape(-1))
                picture = picture.reshape(width, width)
            what = f"{output.size} values"
        self.layer_title.setText(f"{self.selected_layer}: {what} ({shape})")
        self.layer_view.setPixmap(grey_pixmap(picture).scaled(
            self.layer_view.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))

    # --- layout ----------------------------------------------------------------------------------------
    def _explain_preview(self, image: ImageRecipe) -> None:
        """The preview's tooltip names the steps this model's recipe takes from a drawing to its input."""
        from ...data.recipe import drawing_steps

        text = f"Exactly what the model receives: {drawing_steps(image)}, as its training images were"
        self.preview.setToolTip(text)
        self.preview_caption.setToolTip(text)

    def _show_drawing_side(self, shown: bool) -> None:
        self.drawing_side.setVisible(shown)
        self.handwriting_side.setVisible(shown)

    def side_by_side_width(self) -> int:
        """The narrowest the panel can be with the drawing and the reading side by side and the
        handwriting buttons in one row; narrower, they stack."""
        margins, spacing = self.layout().contentsMargins(), self.columns.spacing()
        columns = self.drawing_side.minimumSizeHint().width() + spacing + self.results.minimumSizeHint().width()
        buttons = sum(row.minimumSize().width() for row in _child_layouts(self.personal_rows)) + spacing
        # a few pixels above the side-by-side minimum: a panel that shrinks below this width can
        # always stack, so a scroll area around it never holds it wider than it is shown
        return max(columns, buttons) + margins.left() + margins.right() + _REFLOW_SLACK

    def is_side_by_side(self) -> bool:
        return self.columns.direction() == QBoxLayout.Direction.LeftToRight

    def _reflow(self) -> None:
        side_by_side = self.width() >= self.side_by_side_width()
        if side_by_side != self.is_side_by_side():
            direction = QBoxLayout.Direction.LeftToRight if side_by_side else QBoxLayout.Direction.TopToBottom
            self.columns.setDirection(direction)
            self.personal_rows.setDirection(direction)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._reflow()
        if self.reading is not None:
            self._show_selected_layer()

    # --- the personal handwriting set ----------------------------------------------------------------
    def add_to_handwriting(self, label: int) -> None:
        drawing = self.canvas.drawing()
        try:
            self.handwriting.add(drawing, label)
        except DataError as error:
            self.handwriting_status.setText(str(error))
            return
        self.label_choice.setCurrentIndex(label)
        self._show_handwriting_count(f"Added a {label}. ")
        self.canvas.clear()

    def _show_handwriting_count(self, prefix: str = "") -> None:
        counts = self.handwriting.counts()
        total = sum(counts)
        self.handwriting_status.setText(
            f"{prefix}Your handwriting set: {total} drawing{'s' * (total != 1)}"
            + (f" ({', '.join(f'{count}×{digit}' for digit, count in enumerate(counts) if count)})" if total else
               " — draw a digit and press its key to add it"))

    def open_gallery(self) -> None:
        HandwritingGallery(self.handwriting, self).exec()
        self._show_handwriting_count()

    def fine_tune(self, project) -> None:
        """Fine-tune the model being used on the personal set (mixed with built-in digits) with
        `project`'s training settings, on a worker thread; the panel then reads with the result."""
        if self.reader is None or self._fine_tune_worker is not None:
            return
        from ...training.fine_tune import FineTuning
        from ..workers import TrainingWorker

        self.fine_tuning = FineTuning(self.reader.model, self.reader.recipe, project, folder=self.handwriting.folder)
        worker = TrainingWorker(self.fine_tuning, self)
        worker.events_ready.connect(self._fine_tune_events)
        worker.finished.connect(worker.deleteLater)
        self._fine_tune_worker = worker
        self.fine_tune_button.setEnabled(False)
        self.handwriting_status.setText("Fine-tuning on your handwriting…")
        worker.start()

    def _fine_tune_events(self, events: list) -> None:
        from ...training.events import EpochEnded, Finished, Preparing

        for event in events:
            if isinstance(event, Preparing):
                self.handwriting_status.setText(f"Fine-tuning: {event.message.lower()}…")
            elif isinstance(event, EpochEnded):
                self.handwriting_status.setText(f"Fine-tuning: epoch {event.epoch} of {event.epochs} done…")
            elif isinstance(event, Finished):
                self._fine_tune_worker = None
                result, trained = self.fine_tuning.result, self.trained
                self.handwriting_status.setText(event.message)
                if result is not None and trained is not None:
                    self.set_trained_model(replace(trained, model=result.model))
                    self.fine_tuned.emit(self.trained)
                self.fine_tune_button.setEnabled(self._can_fine_tune())

    def shutdown(self, timeout_seconds: float = 2.0) -> None:
        """Stop a fine-tuning run (the window is closing)."""
        if self._fine_tune_worker is not None:
            self._fine_tune_worker.stop_and_wait(timeout_seconds)
            self._fine_tune_worker = None


class _StatusLine(QLabel):
    """One line of status that never widens the panel: what does not fit is cut off, and the
    whole text is its tooltip."""

    def __init__(self):
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)


class HandwritingGallery(QDialog):
    """The personal handwriting set by digit, with delete (button or Delete key)."""

    def __init__(self, handwriting: HandwritingSet, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("My handwriting")
        self.handwriting = handwriting
        self.digit = QComboBox()
        self.digit.addItems(["All digits"] + [str(digit) for digit in range(10)])
        self.digit.currentIndexChanged.connect(self.refresh)
        self.items = QListWidget()
        self.items.setViewMode(QListWidget.ViewMode.IconMode)
        self.items.setIconSize(QSize(56, 56))
        self.items.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.items.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setShortcut(QKeySequence.StandardKey.Delete)
        self.delete_button.clicked.connect(self.delete_selected)
        self.summary = QLabel()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.digit)
        top.addStretch(1)
        top.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.items, 1)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)
        self.resize(560, 440)
        self.refresh()

    def refresh(self) -> None:
        from PySide6.QtGui import QIcon

        self.items.clear()
        wanted = self.digit.currentIndex() - 1
        samples = [s for s in self.handwriting.samples() if wanted < 0 or s.label == wanted]
        for sample in samples:
            item = QListWidgetItem(QIcon(grey_pixmap(render(sample.drawing, (56, 56)) / 255.0)), str(sample.label))
            item.setData(Qt.ItemDataRole.UserRole, sample.key)
            self.items.addItem(item)
        notes = " ".join(self.handwriting.notes)
        self.summary.setText(f"{len(samples)} drawing{'s' * (len(samples) != 1)}. {notes}".strip())
        self.delete_button.setEnabled(bool(samples))

    def delete_selected(self) -> None:
        keys = [item.data(Qt.ItemDataRole.UserRole) for item in self.items.selectedItems()]
        if not keys:
            return
        answer = QMessageBox.question(self, "Delete drawings",
                                      f"Delete {len(keys)} drawing{'s' * (len(keys) != 1)} from your handwriting set?")
        if answer == QMessageBox.StandardButton.Yes:
            for key in keys:
                self.handwriting.remove(key)
            self.refresh()


def _reconstruction_view() -> QLabel:
    """Where an autoencoder's answer goes: the drawing as the model gives it back (hidden for a classifier)."""
    view = QLabel()
    view.setAlignment(Qt.AlignmentFlag.AlignCenter)
    view.setMinimumHeight(140)
    view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
    view.setToolTip("The model's output: your drawing as the autoencoder gives it back")
    view.hide()
    return view


def _preview_pixmap(picture: np.ndarray, saliency: np.ndarray | None):
    """The model's input, enlarged with sharp pixels; with saliency, a red overlay on it."""
    from PySide6.QtGui import QImage, QPixmap

    grey = np.repeat(picture[..., None], 3, axis=2) * 255.0
    if saliency is not None:
        weight = saliency[..., None] * 0.85
        grey = grey * (1 - weight) + _SALIENCY_COLOUR * weight
    pixels = np.ascontiguousarray(np.round(grey).astype(np.uint8))
    image = QImage(pixels.data, 28, 28, pixels.strides[0], QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(_PREVIEW_SIDE, _PREVIEW_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation)


def _child_layouts(layout: QBoxLayout) -> list:
    return [layout.itemAt(index).layout() for index in range(layout.count()) if layout.itemAt(index).layout()]


def _colour_tuple(colour: QColor) -> tuple[int, int, int]:
    return colour.red(), colour.green(), colour.blue()
