"""Live training curves (pyqtgraph): loss, accuracy and learning rate over the run.

Each curve is created once; events only append to plain lists, and a timer hands the lists to
`setData` at most 20 times a second (x as float64, clipped to the view and downsampled, so a long
run stays fast). The previous run of the project is drawn faint beside the current one, and every
settings change made while paused is a labelled vertical line on all three plots.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer
from PySide6.QtWidgets import QCheckBox, QGraphicsItem, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...training.events import BatchEnded, EpochEnded, SettingsChanged
from .. import style

REDRAW_INTERVAL_MS = 50  # 20 Hz
_BACKGROUND = "#1f2023"
_RAW = pg.mkPen(color=(77, 163, 255, 70), width=1)
_SMOOTHED = pg.mkPen(color="#4da3ff", width=2)
_VALIDATION = pg.mkPen(color="#f5a524", width=2)
_TRAINING_ACCURACY = pg.mkPen(color="#4da3ff", width=2)
_RATE = pg.mkPen(color="#3ecf8e", width=2)
_PREVIOUS = pg.mkPen(color=(169, 173, 181, 90), width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine)
_MARKER = pg.mkPen(color=(232, 233, 235, 150), width=1, style=pg.QtCore.Qt.PenStyle.DotLine)


@dataclass
class RunCurves:
    """One run's points, x in epochs done (epoch 2's end is x = 2)."""

    batch_x: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    smoothed_loss: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    epoch_x: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epoch_rate: list[float] = field(default_factory=list)
    changes: list[tuple[float, str]] = field(default_factory=list)  # (x, label)

    def add_batch(self, event: BatchEnded) -> None:
        self.batch_x.append(event.position)
        self.batch_loss.append(event.loss)
        self.smoothed_loss.append(event.smoothed_loss)
        self.learning_rate.append(event.learning_rate)

    def add_epoch(self, event: EpochEnded) -> None:
        self.epoch_x.append(float(event.epoch))
        self.train_loss.append(event.train_loss)
        self.val_loss.append(_number(event.val_loss))
        self.train_accuracy.append(_number(event.train_accuracy))
        self.val_accuracy.append(_number(event.val_accuracy))
        self.epoch_rate.append(event.learning_rate)

    def add_change(self, event: SettingsChanged) -> None:
        self.changes.append((event.position, event.label))

    @classmethod
    def from_history(cls, history) -> "RunCurves":
        """A saved run (netbuilder.model.checkpoint.History): its reports, epochs and changes."""
        curves = cls()
        for report in history.reports:
            curves.batch_x.append(report.position)
            curves.batch_loss.append(report.loss)
            curves.smoothed_loss.append(report.smoothed_loss)
            curves.learning_rate.append(report.learning_rate)
        for epoch in history.epochs:
            curves.add_epoch(epoch)
        for change in history.changes:
            curves.add_change(change)
        return curves

    @property
    def empty(self) -> bool:
        return not self.batch_x and not self.epoch_x

    def csv_text(self) -> str:
        """Every reported batch and every epoch, in order of position, one row each."""
        rows = [(x, "batch", loss, smoothed, rate, "", "", "", "", "")
                for x, loss, smoothed, rate in zip(self.batch_x, self.batch_loss,
                                                   self.smoothed_loss or [math.nan] * len(self.batch_x),
                                                   self.learning_rate or [math.nan] * len(self.batch_x))]
        rows += [(x, "epoch", "", "", rate, train_loss, train_acc, val_loss, val_acc, "")
                 for x, train_loss, train_acc, val_loss, val_acc, rate in zip(
                     self.epoch_x, self.train_loss, self.train_accuracy, self.val_loss, self.val_accuracy,
                     self.epoch_rate)]
        rows += [(x, "settings change", "", "", "", "", "", "", "", label) for x, label in self.changes]
        rows.sort(key=lambda row: (row[0], row[1] == "epoch"))
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["epochs_done", "row", "batch_loss", "smoothed_loss", "learning_rate", "train_loss",
                         "train_accuracy", "val_loss", "val_accuracy", "settings_change"])
        writer.writerows([_cell(value) for value in row] for row in rows)
        return text.getvalue()


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _cell(value: object) -> object:
    return "" if isinstance(value, float) and math.isnan(value) else value


def _title(name: str, *curves: tuple[str, str]) -> str:
    keys = " ".join(f'<span style="color:{colour}">■ {label}</span>' for label, colour in curves)
    return f'{name} <span style="font-size:8pt">{keys}</span>'


def float_array(values: list[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


class TrainingPlots(QWidget):
    """Loss, accuracy and learning-rate plots of the current run and, faint, the previous one."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.current = RunCurves()
        self.previous = RunCurves()
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(_BACKGROUND)
        # the titles name the curves in their colours (legends would cover the curves in a small dock)
        self.loss_plot = self._plot(_title("Loss", ("each report", "#35678f"), ("smoothed", "#4da3ff"),
                                           ("validation", "#f5a524"), ("previous run", "#a9adb5")), 0)
        self.accuracy_plot = self._plot(_title("Accuracy", ("training", "#4da3ff"), ("validation", "#f5a524")), 1)
        self.rate_plot = self._plot(_title("Learning rate", ("rate", "#3ecf8e")), 2)
        self.accuracy_plot.setXLink(self.loss_plot)
        self.rate_plot.setXLink(self.loss_plot)
        self.accuracy_plot.setYRange(0, 1)

        loss, accuracy, rate = self.loss_plot, self.accuracy_plot, self.rate_plot
        self.previous_curves = {
            "batch_loss": loss.plot(pen=_PREVIOUS),
            "val_loss": loss.plot(pen=_PREVIOUS, symbol="o", symbolSize=4, symbolBrush=(169, 173, 181, 90)),
            "val_accuracy": accuracy.plot(pen=_PREVIOUS, symbol="o", symbolSize=4, symbolBrush=(169, 173, 181, 90)),
            "epoch_rate": rate.plot(pen=_PREVIOUS),
        }
        self.curves = {
            "batch_loss": loss.plot(pen=_RAW),
            "smoothed_loss": loss.plot(pen=_SMOOTHED),
            "val_loss": loss.plot(pen=_VALIDATION, symbol="o", symbolSize=6, symbolBrush="#f5a524"),
            "train_accuracy": accuracy.plot(pen=_TRAINING_ACCURACY, symbol="o", symbolSize=6, symbolBrush="#4da3ff"),
            "val_accuracy": accuracy.plot(pen=_VALIDATION, symbol="o", symbolSize=6, symbolBrush="#f5a524"),
            "learning_rate": rate.plot(pen=_RATE),
        }
        self.markers: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        # more lines for the hover readout: functions of x (epochs) giving texts, e.g. overlaid runs'
        self.more_values: list = []

        self.log_scale = QCheckBox("Log-scale loss")
        self.log_scale.toggled.connect(lambda on: self.loss_plot.setLogMode(False, on))
        self.readout = QLabel()
        self.readout.setStyleSheet(f"color: {style.TEXT_SECONDARY.name()};")
        self.toolbar = QHBoxLayout()  # below the plots; the panel adds its export buttons
        self.toolbar.addWidget(self.readout, 1)
        self.toolbar.addWidget(self.log_scale)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(self.toolbar)
        self.graphics.scene().sigMouseMoved.connect(self._hover)

        self._dirty = False
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_INTERVAL_MS)
        self.timer.timeout.connect(self._redraw_if_needed)
        self.timer.start()

    def _plot(self, title: str, column: int) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=0, col=column, title=title)
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setLabel("bottom", "epochs")
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        # Axes and titles are painted once into a pixmap and blitted while they stay the same:
        # their text is most of the cost of a frame, and the x axes stay put during a run.
        for part in (plot.getAxis("left"), plot.getAxis("bottom"), plot.titleLabel):
            part.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        plot.setMenuEnabled(False)
        return plot

    # --- data -------------------------------------------------------------------------------------
    def start_run(self, epochs: int) -> None:
        """A new run of `epochs` begins: the current one (if any) becomes the faint previous run."""
        if not self.current.empty:
            self.previous = self.current
        self.current = RunCurves()
        self._draw_previous()
        self._draw_markers()
        self._show_epochs(epochs)
        self._dirty = True

    def _show_epochs(self, epochs: float) -> None:
        """Fix the x axes to the run's length (and the previous run's), so the curves grow into a
        frame that stays put instead of every axis being re-laid out at each report."""
        last = max([epochs, *self.previous.batch_x[-1:], *self.previous.epoch_x[-1:]])
        self.loss_plot.setXRange(0, max(last, 1e-3), padding=0.02)  # the others follow (linked)

    def show_saved_run(self, history) -> None:
        """The project's saved run (a checkpoint History) as the current run, e.g. after opening it."""
        self.previous = RunCurves()
        self.current = RunCurves.from_history(history)
        self._draw_previous()
        self._draw_markers()
        self._show_epochs(max([*self.current.batch_x[-1:], *self.current.epoch_x[-1:], 1.0]))
        self._redraw()

    def clear(self) -> None:
        self.current, self.previous = RunCurves(), RunCurves()
        self._draw_previous()
        self._draw_markers()
        self._redraw()

    def add_batch(self, event: BatchEnded) -> None:
        self.current.add_batch(event)
        self._dirty = True

    def add_epoch(self, event: EpochEnded) -> None:
        self.current.add_epoch(event)
        self._dirty = True

    def add_change(self, event: SettingsChanged) -> None:
        self.current.add_change(event)
        self._add_marker(event.position, event.label)

    # --- drawing ----------------------------------------------------------------------------------
    def _redraw_if_needed(self) -> None:
        if self._dirty:
            self._redraw()

    def _redraw(self) -> None:
        self._dirty = False
        run = self.current
        batch_x, epoch_x = float_array(run.batch_x), float_array(run.epoch_x)
        self.curves["batch_loss"].setData(batch_x, float_array(run.batch_loss))
        smoothed = float_array(run.smoothed_loss)
        self.curves["smoothed_loss"].setData(batch_x[:len(smoothed)], smoothed, connect="finite")
        self.curves["val_loss"].setData(epoch_x, float_array(run.val_loss), connect="finite")
        self.curves["train_accuracy"].setData(epoch_x, float_array(run.train_accuracy), connect="finite")
        self.curves["val_accuracy"].setData(epoch_x, float_array(run.val_accuracy), connect="finite")
        rates = float_array(run.learning_rate)
        if np.isfinite(rates).any():
            self.curves["learning_rate"].setData(batch_x, rates)
        else:  # a run saved by a netbuilder before history version 2 kept the rate per epoch only
            self.curves["learning_rate"].setData(epoch_x, float_array(run.epoch_rate))

    def _draw_previous(self) -> None:
        run = self.previous
        self.previous_curves["batch_loss"].setData(float_array(run.batch_x), float_array(run.batch_loss))
        epoch_x = float_array(run.epoch_x)
        self.previous_curves["val_loss"].setData(epoch_x, float_array(run.val_loss), connect="finite")
        self.previous_curves["val_accuracy"].setData(epoch_x, float_array(run.val_accuracy), connect="finite")
        self.previous_curves["epoch_rate"].setData(epoch_x, float_array(run.epoch_rate))

    def _draw_markers(self) -> None:
        for plot, line in self.markers:
            plot.removeItem(line)
        self.markers = []
        for position, label in self.current.changes:
            self._add_marker(position, label)

    def _add_marker(self, position: float, label: str) -> None:
        # where the curves usually leave room: falling loss and rate at the top, rising accuracy below
        for plot, height in ((self.loss_plot, 0.92), (self.accuracy_plot, 0.12), (self.rate_plot, 0.92)):
            line = pg.InfiniteLine(pos=position, angle=90, movable=False, pen=_MARKER, label=label,
                                   # the text ends at the line: a change is followed by the run's
                                   # newest points, at the right edge of the view
                                   labelOpts={"position": height, "color": "#e8e9eb", "fill": (51, 54, 60, 200),
                                              "anchors": [(1, 0), (1, 0)]})
            plot.addItem(line, ignoreBounds=True)
            self.markers.append((plot, line))

    def marker_labels(self) -> list[str]:
        """The labels of the vertical change markers, one per change (each is drawn on every plot)."""
        return [label for _, label in self.current.changes]

    def _hover(self, scene_position: QPointF) -> None:
        for plot in (self.loss_plot, self.accuracy_plot, self.rate_plot):
            if plot.sceneBoundingRect().contains(scene_position):
                x = plot.vb.mapSceneToView(scene_position).x()
                lines = [self.values_at(x), *(text for values in self.more_values for text in values(x))]
                self.readout.setText("\n".join(line for line in lines if line))
                return
        self.readout.clear()

    def values_at(self, x: float) -> str:
        """What the curves show nearest to `x` epochs, for the readout under the plots."""
        run, parts = self.current, []
        if run.batch_x:
            i = int(np.argmin(np.abs(float_array(run.batch_x) - x)))
            parts.append(f"epoch {run.batch_x[i]:.2f}: loss {run.batch_loss[i]:.4g}")
            if i < len(run.smoothed_loss) and math.isfinite(run.smoothed_loss[i]):
                parts.append(f"smoothed {run.smoothed_loss[i]:.4g}")
            if i < len(run.learning_rate) and math.isfinite(run.learning_rate[i]):
                parts.append(f"lr {run.learning_rate[i]:.3g}")
        if run.epoch_x:
            j = nearest_epoch(run, x)
            epoch = [f"after epoch {run.epoch_x[j]:g}: train loss {run.train_loss[j]:.4g}", *validation_values(run, j)]
            parts.append(" · ".join(epoch))
        return " · ".join(parts)


def nearest_epoch(curves: RunCurves, x: float) -> int:
    """The index of the epoch end of `curves` nearest to `x` epochs."""
    return int(np.argmin(np.abs(float_array(curves.epoch_x) - x)))


def validation_values(curves: RunCurves, j: int) -> list[str]:
    """The validation loss and accuracy after epoch end `j`, where the run measured them."""
    values = []
    if math.isfinite(curves.val_loss[j]):
        values.append(f"val loss {curves.val_loss[j]:.4g}")
    if math.isfinite(curves.val_accuracy[j]):
        values.append(f"val accuracy {100 * curves.val_accuracy[j]:.2f}%")
    return values
