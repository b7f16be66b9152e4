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

The panel decides when to read and wires its parts: the canvas (`draw_canvas`), the reading side
(`draw_reading.ReadingView`, which shows the Reading it is given) and the handwriting gallery
(`draw_gallery`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QBoxLayout, QComboBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider,
                               QStackedWidget, QVBoxLayout, QWidget)

from ...data.base import DataError
from ...data.handwriting import HandwritingSet
from .. import style
from .draw_canvas import DEFAULT_PEN_WIDTH, PEN_WIDTH_RANGE, DrawingCanvas
from .draw_gallery import HandwritingGallery
from .draw_reading import ReadingView

if TYPE_CHECKING:
    from ...model.checkpoint import TrainedModel
    from ...inference.live import DrawingReader, Reading

LIVE_INTERVAL_MS = 60  # predictions while a stroke is being drawn, at most this often
_REFLOW_SLACK = 8  # pixels


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
        self.reading_view = ReadingView()
        self.reading_view.why.toggled.connect(self.update_prediction)
        self.reading_view.flow.toggled.connect(self._set_show_activations)
        self.results.addWidget(self.reading_view)
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
        self.reading_view.set_reader(self.reader)
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
                                        saliency=self.reading_view.why.isChecked())
        self._show_reading()
        self.reading_changed.emit(self.reading if self.show_activations else None)

    def _show_reading(self) -> None:
        self.reading_view.show_reading(self.reading, len(self.reader.recipe.class_names))
        self._layer_timer.start()

    def _show_selected_layer(self) -> None:
        output = None if self.reading is None or self.selected_layer is None \
            else self.reading.activations.get(self.selected_layer)
        self.reading_view.show_layer(self.selected_layer, output,
                                     "Select a layer on the canvas to see its output" if self.reader else "")

    # --- layout ----------------------------------------------------------------------------------------
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


def _child_layouts(layout: QBoxLayout) -> list:
    return [layout.itemAt(index).layout() for index in range(layout.count()) if layout.itemAt(index).layout()]

