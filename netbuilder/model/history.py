"""What a training run leaves in the model's history: one record per report the curves drew, per
epoch and per change of settings while paused. The trainer sends these records as events, the checkpoint saves them, the
window redraws a reopened project's curves from them; they live here, below training, so that
reading a trained model never imports the trainer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class EpochEnded:
    epoch: int  # 1-based
    epochs: int
    train_loss: float
    train_accuracy: float | None  # None for regression
    val_loss: float | None  # None without validation data
    val_accuracy: float | None
    learning_rate: float  # the rate the epoch's last batch used
    seconds: float  # training and validation time of this epoch
    # Classification with validation data: rows true classes, columns predictions (int64 C×C)
    confusion: np.ndarray | None = field(default=None, repr=False, compare=False)
    per_class_accuracy: np.ndarray | None = field(default=None, repr=False, compare=False)  # NaN: no samples
    # Per validation sample (rows of Started.validation): the predicted class and all probabilities
    val_predictions: np.ndarray | None = field(default=None, repr=False, compare=False)
    val_probabilities: np.ndarray | None = field(default=None, repr=False, compare=False)


class Report(NamedTuple):
    """What the curves draw of one BatchEnded, kept in the run's history so a reopened run shows them."""

    position: float  # epochs done, as a fraction (the plots' x)
    loss: float
    smoothed_loss: float
    learning_rate: float


@dataclass(frozen=True)
class SettingsChanged:
    """The user changed settings while paused; the run goes on with them from `position`."""

    position: float  # epochs done, as in BatchEnded.position
    epoch: int
    samples_seen: int
    changes: tuple[tuple[str, object, object], ...]  # (setting, before, after)

    @property
    def label(self) -> str:
        """A short marker text: 'lr 0.001 → 0.0003'."""
        short = {"learning_rate": "lr", "weight_decay": "wd", "optimizer": "optimizer"}
        return ", ".join(f"{short.get(name, name)} {_show(before)} → {_show(after)}"
                         for name, before, after in self.changes)


@dataclass
class History:
    class_names: list[str]
    task: str
    dataset: str = ""  # the dataset it was trained on, as the user named it
    epochs: list[EpochEnded] = field(default_factory=list)
    # every report the curves drew, so a reopened project redraws them as they were shown
    reports: list[Report] = field(default_factory=list)
    changes: list[SettingsChanged] = field(default_factory=list)  # settings changed while paused


def _show(value: object) -> str:
    """Three significant digits: a rate the schedule has brought to 0.000999945 reads 0.001."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)
