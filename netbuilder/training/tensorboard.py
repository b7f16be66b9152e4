"""A training run's figures as TensorBoard event files, so runs open in TensorBoard beside a
person's other experiments. TensorBoard is an optional extra (`pip install tensorboard`);
`tensorboard_problem` says when it is missing, before a run starts.

Tags: `batch/loss`, `batch/smoothed_loss` and `batch/learning_rate` per report (step: samples
seen); `epoch/train_loss`, `epoch/val_loss`, `epoch/train_accuracy`, `epoch/val_accuracy`,
`epoch/learning_rate` and `per_class_accuracy/<class>` per epoch (step: the epoch); the network's
graph, traced once on two training samples (a copy in eval mode); the settings as text.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

from netbuilder.common.text import shown
from netbuilder.model.history import EpochEnded

from .events import BatchEnded, Started, TrainingEvent


def tensorboard_problem() -> str | None:
    """Why runs cannot be written for TensorBoard here (it is not installed), or None."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401 - imported to see that it can be
    except ImportError:
        return "TensorBoard is not installed: pip install tensorboard (netbuilder's optional extra) to write runs for it."
    return None


class TensorBoardLog:
    """Writes one run's events into `folder` (a TensorBoard log folder; each run is a subfolder
    named `label`, which TensorBoard's run selector shows). Raises ImportError without TensorBoard."""

    def __init__(self, folder: str | Path, label: str, settings: dict):
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(folder) / label
        self._writer = SummaryWriter(log_dir=str(self.folder))
        self._writer.add_text("settings", f"```\n{json.dumps(settings, indent=1)}\n```", 0)
        self._class_names: tuple[str, ...] = ()
        self._handlers = {Started: self._started, BatchEnded: self._batch, EpochEnded: self._epoch}
        self.graph_problem = ""  # why the network's graph could not be traced, if it could not

    def write(self, event: TrainingEvent) -> None:
        """Write what TensorBoard shows of `event`."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def write_graph(self, model, sample) -> None:
        """The network's graph, traced on `sample` (a small batch). A network torch's tracer cannot
        follow gets no graph, and `graph_problem` says why; its figures are written all the same."""
        try:
            with warnings.catch_warnings():  # torch.jit's deprecation, which add_graph still uses, is not the person's
                warnings.simplefilter("ignore", DeprecationWarning)
                self._writer.add_graph(model, sample)
        except Exception as error:  # noqa: BLE001 - torch.jit's tracer raises anything; the scalars still go on
            self.graph_problem = f"The network's graph was not written for TensorBoard ({shown(error)})."

    def _started(self, event: Started) -> None:
        self._class_names = event.class_names

    def _batch(self, event: BatchEnded) -> None:
        step = event.samples_seen
        self._scalar("batch/loss", event.loss, step)
        self._scalar("batch/smoothed_loss", event.smoothed_loss, step)
        self._scalar("batch/learning_rate", event.learning_rate, step)

    def _epoch(self, event: EpochEnded) -> None:
        for tag, value in (("train_loss", event.train_loss), ("val_loss", event.val_loss),
                           ("train_accuracy", event.train_accuracy), ("val_accuracy", event.val_accuracy),
                           ("learning_rate", event.learning_rate)):
            self._scalar(f"epoch/{tag}", value, event.epoch)
        if event.per_class_accuracy is not None:
            for name, value in zip(self._class_names, event.per_class_accuracy):
                self._scalar(f"per_class_accuracy/{name}", float(value), event.epoch)
        self._writer.flush()

    def close(self) -> None:
        """Write what is pending and close the files (once the run ends, however it ends)."""
        self._writer.close()

    def _scalar(self, tag: str, value: float | None, step: int) -> None:
        if value is not None and math.isfinite(value):
            self._writer.add_scalar(tag, value, step)
