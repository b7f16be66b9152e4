"""Kept runs drawn over the training plots, to compare them with the current one: one colour per
run on all three plots, a legend naming each run in its colour, and each run's values in the
hover readout. Overlaid curves sit below the current run's, which stays on top."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel

from ...common.text import shown
from .training_plots import RunCurves, TrainingPlots, float_array, nearest_epoch, validation_values

# Apart from the current run's blue, amber and green, and from each other on the dark background.
RUN_COLOURS = ("#c678dd", "#e06c75", "#56b6c2", "#d19a66", "#98c379", "#ff79c6", "#e5c07b", "#8be9fd")
_BELOW_CURRENT = -1  # z value: the current run's curves (z 0) are drawn over every overlay


@dataclass
class OverlaidRun:
    name: str
    curves: RunCurves
    colour: str
    items: list[tuple[pg.PlotItem, pg.PlotDataItem]]


class RunOverlays:
    """The runs overlaid on `plots`, keyed by the caller's run id; `show` replaces them all."""

    def __init__(self, plots: TrainingPlots):
        self.plots = plots
        self.runs: dict[str, OverlaidRun] = {}
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.hide()
        plots.layout().insertWidget(0, self.legend)
        plots.more_values.append(self.values_at)

    def show(self, runs: list[tuple[str, str, RunCurves]]) -> None:
        """Overlay exactly `runs` ((id, name, curves)): runs shown already keep their curves and
        colour, runs no longer listed go, new ones take the first colour not in use."""
        wanted = {run_id for run_id, _, _ in runs}
        for run_id in [run_id for run_id in self.runs if run_id not in wanted]:
            self._remove(run_id)
        for run_id, name, curves in runs:
            if run_id in self.runs:
                self.runs[run_id].name = name
                continue
            used = {run.colour for run in self.runs.values()}
            colour = next((colour for colour in RUN_COLOURS if colour not in used),
                          RUN_COLOURS[len(self.runs) % len(RUN_COLOURS)])
            self.runs[run_id] = OverlaidRun(name, curves, colour, self._draw(curves, colour))
        self.runs = {run_id: self.runs[run_id] for run_id, _, _ in runs}  # the legend in the order given
        self.legend.setText("  ".join(f'<span style="color:{run.colour}">■ {_html(run.name)}</span>'
                                      for run in self.runs.values()))
        self.legend.setVisible(bool(self.runs))
        if self.runs:
            last = max(x for run in self.runs.values() for x in [*run.curves.batch_x[-1:], *run.curves.epoch_x[-1:], 0])
            if last > self.plots.loss_plot.viewRange()[0][1]:
                self.plots.loss_plot.setXRange(0, last, padding=0.02)

    def clear(self) -> None:
        self.show([])

    def _remove(self, run_id: str) -> None:
        for plot, item in self.runs.pop(run_id).items:
            plot.removeItem(item)

    def _draw(self, curves: RunCurves, colour: str) -> list[tuple[pg.PlotItem, pg.PlotDataItem]]:
        plots = self.plots
        line = pg.mkPen(color=colour, width=1.5)
        dashed = pg.mkPen(color=colour, width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine)
        batch_x, epoch_x = float_array(curves.batch_x), float_array(curves.epoch_x)
        smoothed = float_array(curves.smoothed_loss)
        loss = smoothed if np.isfinite(smoothed).any() else float_array(curves.batch_loss)
        rates = float_array(curves.learning_rate)
        rate_x, rate = (batch_x, rates) if np.isfinite(rates).any() else (epoch_x, float_array(curves.epoch_rate))
        parts = [
            (plots.loss_plot, batch_x[:len(loss)], loss, line, None),
            (plots.loss_plot, epoch_x, float_array(curves.val_loss), dashed, "o"),
            (plots.accuracy_plot, epoch_x, float_array(curves.val_accuracy), line, "o"),
            (plots.rate_plot, rate_x, rate, line, None),
        ]
        items = []
        for plot, x, y, pen, symbol in parts:
            item = plot.plot(x, y, pen=pen, symbol=symbol, symbolSize=5, symbolBrush=colour, symbolPen=None,
                             connect="finite")
            item.setZValue(_BELOW_CURRENT)
            items.append((plot, item))
        return items

    def values_at(self, x: float) -> list[str]:
        """Each overlaid run's values at its epoch end nearest to `x`, for the hover readout."""
        texts = []
        for run in self.runs.values():
            curves = run.curves
            if not curves.epoch_x:
                continue
            j = nearest_epoch(curves, x)
            parts = [f"loss {curves.train_loss[j]:.4g}", *validation_values(curves, j)]
            texts.append(f"{shown(run.name, 40)} after epoch {curves.epoch_x[j]:g}: {' '.join(parts)}")
        return texts


def _html(text: str) -> str:
    return shown(text, 40).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
