"""Samples shown to the user: a dataset's preview grid with its class counts, and the gallery of
one confusion-matrix cell's validation samples with the model's probabilities.

Images (and 2-D sequences such as digit rows) are drawn as pictures; table rows and texts as text.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ...common.contracts import TASKS
from ...common.text import format_shape
from ...training.events import ValidationSamples

THUMBNAIL = 56  # pixels; 28×28 digits at twice their size
_PADDING_TOKEN = 0  # netbuilder.data.tables pads token ids with 0
_GALLERY_LIMIT = 400  # samples listed per cell; the title says how many there are


def image_shape_of(dataset) -> tuple[int, int, int] | None:
    """(channels, height, width) of the images a dataset was made from (its recipe says), also
    when the network reads them flattened as vectors; None for tables and texts."""
    recipe = getattr(dataset, "recipe", None)
    image = recipe.image if recipe is not None else None
    return (image.channels, image.height, image.width) if image is not None else None


def column_names_of(dataset) -> tuple[str, ...]:
    """The feature columns of a table dataset (its recipe says), for showing its rows."""
    recipe = getattr(dataset, "recipe", None)
    return recipe.table.columns if recipe is not None and recipe.table is not None else ()


def _show_as_pictures(view: QListWidget, pictures: bool) -> None:
    """Pictures in a grid; rows and texts one per line, wrapped."""
    view.setViewMode(QListView.ViewMode.IconMode if pictures else QListView.ViewMode.ListMode)
    view.setWordWrap(not pictures)
    view.setUniformItemSizes(pictures)


def sample_image(sample: np.ndarray, image_shape: tuple[int, ...] | None = None) -> QImage | None:
    """A picture of one sample as the model receives it, or None when it is not a picture.

    `image_shape` (channels, height, width) turns a flattened image back into a picture. Values
    are stretched to the full grey (or colour) range, so normalised inputs look as drawn.
    """
    values = np.asarray(sample, dtype=np.float32)
    if image_shape is not None and values.size == int(np.prod(image_shape)):
        values = values.reshape(image_shape)
    if values.ndim == 3 and values.shape[0] == 1:
        values = values[0]
    elif values.ndim == 3 and values.shape[0] == 3:
        values = values.transpose(1, 2, 0)
    elif values.ndim != 2:
        return None
    low, high = float(values.min()), float(values.max())
    scaled = np.zeros(values.shape, np.uint8) if high <= low else \
        ((values - low) * (255.0 / (high - low))).astype(np.uint8)
    scaled = np.ascontiguousarray(scaled)
    height, width = scaled.shape[:2]
    if scaled.ndim == 2:
        image = QImage(scaled.data, width, height, width, QImage.Format.Format_Grayscale8)
    else:
        image = QImage(scaled.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()  # owns its pixels once `scaled` is gone


def sample_text(sample: np.ndarray, kind: str, vocabulary: Sequence[str] = (), column_names: Sequence[str] = ()) -> str:
    """A table row as 'name=value' pairs, or a text as its words (padding left out)."""
    if kind == "tokens":
        words = [vocabulary[i] if 0 <= i < len(vocabulary) else f"#{i}" for i in np.asarray(sample).tolist()
                 if i != _PADDING_TOKEN]
        return " ".join(words)
    values = np.asarray(sample).ravel()
    names = list(column_names) if len(column_names) == len(values) else [f"x{i + 1}" for i in range(len(values))]
    return ", ".join(f"{name}={value:.3g}" for name, value in zip(names, values.tolist()))


def _sample_list() -> QListWidget:
    view = QListWidget()
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setSpacing(4)
    view.setSelectionMode(QListWidget.SelectionMode.NoSelection)
    view.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # nothing to select, so no item shows a focus frame
    return view


def _add_sample(view: QListWidget, sample: np.ndarray, caption: str, kind: str, vocabulary: Sequence[str] = (),
                column_names: Sequence[str] = (), image_shape: tuple[int, ...] | None = None) -> None:
    image = sample_image(sample, image_shape) if kind in ("image", "sequence") or image_shape else None
    if image is not None:
        pixmap = QPixmap.fromImage(image).scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.FastTransformation)
        item = QListWidgetItem(QIcon(pixmap), caption)
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
    else:
        text = sample_text(sample, kind, vocabulary, column_names)
        item = QListWidgetItem(f"{caption.replace(chr(10), ' · ')}: {text}")
    view.addItem(item)


class DatasetPreview(QWidget):
    """The first training samples with their labels, and how many samples each class has."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.counts_label = QLabel()
        self.counts_label.setWordWrap(True)
        self.counts_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.samples = _sample_list()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.samples, 1)
        self.show_message("No dataset loaded yet.")

    def show_message(self, text: str) -> None:
        self.samples.clear()
        self.counts_label.setText(text)

    def show_dataset(self, dataset, count: int = 48) -> None:
        """`dataset`: a netbuilder.data.base.Dataset."""
        self.samples.clear()
        x, y = dataset.preview(count)
        names = dataset.class_names
        classification = TASKS[dataset.task].has_classes
        image_shape = image_shape_of(dataset)
        _show_as_pictures(self.samples, dataset.kind in ("image", "sequence") or image_shape is not None)
        for sample, label in zip(x.numpy(), y.numpy()):
            if TASKS[dataset.task].target_is_input:
                caption = ""  # its target is the picture itself
            elif classification and int(label) < len(names):
                caption = names[int(label)]
            else:
                caption = ", ".join(f"{v:.3g}" for v in np.ravel(label))
            _add_sample(self.samples, sample, caption, dataset.kind, dataset.vocabulary or (),
                        column_names_of(dataset), image_shape)
        train, val = len(dataset.train_x), len(dataset.val_x)
        header = (f"{dataset.name}: {train:,} training samples"
                  + (f", {val:,} validation samples" if val else " (validation is split off them)")
                  + f", each {format_shape(dataset.sample_shape)}.")
        if classification and names:
            counts = np.bincount(dataset.train_y.numpy(), minlength=len(names))
            header += "\nPer class: " + ", ".join(f"{name} {count:,}" for name, count in zip(names, counts.tolist()))
        notes = "".join(f"\n{note}" for note in dataset.notes)
        self.counts_label.setText(header + notes)


def cell_samples(validation: ValidationSamples, predictions: np.ndarray, probabilities: np.ndarray,
                 true_class: int, predicted_class: int) -> np.ndarray:
    """Indices of the validation samples of class `true_class` predicted as `predicted_class`,
    most confident first."""
    members = np.flatnonzero((validation.y == true_class) & (predictions == predicted_class))
    confidence = probabilities[members, predicted_class]
    return members[np.argsort(-confidence, kind="stable")]


class SampleGallery(QDialog):
    """One confusion-matrix cell: its samples with the model's three most likely classes."""

    def __init__(self, validation: ValidationSamples, predictions: np.ndarray, probabilities: np.ndarray,
                 class_names: Sequence[str], true_class: int, predicted_class: int,
                 image_shape: tuple[int, ...] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        names = list(class_names)
        indices = cell_samples(validation, predictions, probabilities, true_class, predicted_class)
        right = true_class == predicted_class
        what = (f"{names[true_class]} read correctly" if right
                else f"{names[true_class]} read as {names[predicted_class]}")
        self.setWindowTitle(f"Validation samples: {what}")
        shown = indices[:_GALLERY_LIMIT]
        heading = QLabel(f"{len(indices):,} sample{'s' * (len(indices) != 1)}: {what}, most confident first"
                         + (f" (the first {len(shown)} shown)" if len(shown) < len(indices) else "")
                         + ". Under each: the model's three most likely classes.")
        heading.setWordWrap(True)
        self.samples = _sample_list()
        for index in shown:
            top = np.argsort(-probabilities[index])[:3]
            caption = "\n".join(f"{names[c]} {100 * probabilities[index, c]:.0f}%" for c in top)
            _add_sample(self.samples, np.asarray(validation.x[index]), caption, validation.kind, validation.vocabulary,
                        validation.column_names, image_shape)
        pictures = validation.kind in ("image", "sequence") or image_shape is not None
        _show_as_pictures(self.samples, pictures)
        if pictures:
            self.samples.setGridSize(QSize(THUMBNAIL + 40, THUMBNAIL + 58))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.samples, 1)
        layout.addWidget(buttons)
        per_row = 7
        rows = max(1, -(-len(shown) // per_row))
        picture_height = 110 + rows * (THUMBNAIL + 62)
        self.resize(720, min(560, picture_height) if pictures else 420)
