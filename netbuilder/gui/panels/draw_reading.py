"""The Draw panel's reading side: the answer and how sure, the model's input, the bars of every
class (or an autoencoder's drawing given back), and the selected layer's output large.

It only shows a `Reading` it is given; the panel decides when to read. The bars are the answer
the user waits for: `show_reading` sets the answer, bars and preview at once, and the panel draws
the layer's picture (`show_layer`) on a later turn of the event loop.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ...common.text import format_shape
from ...data.certainty import NOTHING_DRAWN, close_call, close_call_text
from .. import style
from ..editor.activation_view import grey_pixmap, layer_picture, tile_maps, unit_range

if TYPE_CHECKING:
    from ...inference.live import DrawingReader, Reading

_PREVIEW_SIDE = 84  # three screen pixels to each of the model's 28×28: sharp, and small enough to sit beside the answer
_BARS_MIN_HEIGHT = 110
_SALIENCY_COLOUR = np.array([255, 80, 40], np.float32)


class ReadingView(QWidget):
    """What the model answers for a drawing. `why` (saliency) and `flow` (the views under the
    cards) are the user's options; the panel listens to them."""

    def __init__(self, parent: QWidget | None = None):
        import pyqtgraph as pg

        super().__init__(parent)
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
        self.flow = QCheckBox("Show in the graph")
        self.flow.setChecked(True)
        self.flow.setToolTip("Show each layer's output for this drawing under its card on the canvas")
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
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(self._build_answer_row())
        column.addWidget(self.plot, 2)
        column.addWidget(self.reconstruction_view, 2)
        column.addLayout(options)
        column.addWidget(self.layer_title)
        column.addWidget(self.layer_view, 1)

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

    def set_reader(self, reader: DrawingReader) -> None:
        """Bars for this model's classes, or the reconstruction's place for an autoencoder; the
        preview's tooltip names the steps its recipe takes from a drawing to its input."""
        from ...data.recipe import drawing_steps

        text = f"Exactly what the model receives: {drawing_steps(reader.recipe.image)}, as its training images were"
        self.preview.setToolTip(text)
        self.preview_caption.setToolTip(text)
        self.plot.setVisible(not reader.reconstructs)
        self.reconstruction_view.setVisible(reader.reconstructs)
        self.why.setVisible(not reader.reconstructs)  # saliency explains a top class
        class_names = reader.recipe.class_names
        self.bars.setOpts(x=np.arange(len(class_names)), height=np.zeros(len(class_names)))
        self.plot.getAxis("bottom").setTicks([list(enumerate(class_names))])
        self.plot.setXRange(-0.6, len(class_names) - 0.4, padding=0)

    def show_reading(self, reading: Reading | None, class_count: int) -> None:
        """The answer, the bars and the model's input; None: nothing drawn."""
        if reading is None:
            self.top_class.setText("–")
            self.top_probability.setText(f"{NOTHING_DRAWN.capitalize()}: draw a digit")
            self.bars.setOpts(height=np.zeros(class_count))
            self.reconstruction_view.clear()
            self.preview.setPixmap(grey_pixmap(np.zeros((28, 28))).scaled(
                _PREVIEW_SIDE, _PREVIEW_SIDE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
            return
        if reading.reconstruction is not None:
            self._show_reconstruction(reading)
        else:
            self._show_classes(reading)
        self.preview.setPixmap(_preview_pixmap(reading.picture, reading.saliency))

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

    def show_layer(self, name: str | None, output: np.ndarray | None, hint: str) -> None:
        """A layer's output for the drawing, as large as the space left allows; without one, `hint`."""
        if name is None or output is None:
            self.layer_title.setText(hint)
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
        self.layer_title.setText(f"{name}: {what} ({shape})")
        self.layer_view.setPixmap(grey_pixmap(picture).scaled(
            self.layer_view.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))


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


def _colour_tuple(colour: QColor) -> tuple[int, int, int]:
    return colour.red(), colour.green(), colour.blue()
