"""What a training run reports, as plain data (the GUI re-emits these as Qt signals unchanged).

Every figure a view shows is computed here, by the trainer; views only draw. Arrays are numpy
copies owned by the event, so an event can cross threads safely.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

FinishReason = Literal["completed", "stopped", "early_stopping", "nan_loss", "failed"]


@dataclass(frozen=True)
class ValidationSamples:
    """The held-out samples as the model receives them, for a gallery of (mis)classified samples.

    `x` is float32 (N, *sample_shape), or int64 token ids for texts; `vocabulary` turns token ids
    back into words. Row i of every epoch's `val_predictions`/`val_probabilities` is sample i here.
    """

    x: np.ndarray
    y: np.ndarray  # int64 class indices (classification) or float32 targets (regression)
    kind: str  # "image", "vector", "sequence" or "tokens"
    vocabulary: tuple[str, ...] = ()
    column_names: tuple[str, ...] = ()  # numeric tables: the feature names, for rows in the gallery


@dataclass(frozen=True)
class Started:
    """Sent once, before the first batch: what the run will actually do."""

    device: str  # "cpu" or "cuda"
    precision: str  # "fp32" or "fast" (bfloat16 autocast), after checking that fast is safe here
    train_samples: int
    val_samples: int  # 0: no validation, early stopping then watches the training loss
    batches_per_epoch: int
    notes: tuple[str, ...] = ()  # decisions the user should know about, e.g. why fast fell back to fp32
    epochs: int = 0
    threads: int = 0  # torch threads in use at the start (the trainer may retune them: ThreadsChosen)
    class_names: tuple[str, ...] = ()
    validation: ValidationSamples | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Preparing:
    """Data is being downloaded, read or generated before training can start."""

    done: int
    total: int  # 0 when unknown
    message: str


class Report(NamedTuple):
    """What the curves draw of one BatchEnded, kept in the run's history so a reopened run shows them."""

    position: float  # epochs done, as a fraction (the plots' x)
    loss: float
    smoothed_loss: float
    learning_rate: float


@dataclass(frozen=True)
class BatchEnded:
    """Sent at reporting intervals (and after an epoch's last batch), not after every batch."""

    epoch: int  # 1-based
    batch: int  # 1-based, within the epoch
    batches: int
    loss: float  # mean training loss of the batches since the previous BatchEnded
    samples_seen: int  # since the run started
    samples_per_second: float  # training speed over the run so far, paused time excluded
    position: float = 0.0  # epochs done, as a fraction: epoch - 1 + batch / batches (the plots' x)
    smoothed_loss: float = float("nan")  # debiased exponential moving average of the reported losses
    learning_rate: float = 0.0  # the rate the last batch used
    elapsed_seconds: float = 0.0  # training time so far, paused time excluded
    remaining_seconds: float | None = None  # estimate for the rest of the run; None before it is known
    progress: float = 0.0  # 0..1 of the whole run


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


@dataclass(frozen=True)
class ThreadsChosen:
    """The trainer timed batches at several torch thread counts and now uses `threads`."""

    threads: int
    samples_per_second: dict[int, float]  # measured speed per thread count tried
    reason: str  # "start", "drift" (batch time changed, e.g. another program got busy) or "recheck" (a periodic check)


@dataclass(frozen=True)
class LayerHealth:
    layer: str  # the node's name (= the compiled submodule's name)
    dead_fraction: float | None  # share of ReLU-family outputs that are exactly 0; None for other layers
    activation_scale: float  # root mean square of the layer's output
    gradient_norm: float  # L2 norm of the gradient of the loss w.r.t. the layer's output
    problem: str | None = None  # "dead", "vanishing" or "exploding"
    advice: str = ""  # what to try, for the node's tooltip


@dataclass(frozen=True)
class HealthReport:
    """Per-layer training health, measured at report intervals (not every batch)."""

    position: float
    layers: tuple[LayerHealth, ...]


@dataclass(frozen=True)
class Finished:
    """Always the last event. `reason` "failed" carries a message for the user and, in
    `details`, the traceback for a bug report (never shown unasked)."""

    reason: FinishReason
    message: str
    details: str = field(default="", repr=False)


TrainingEvent = Preparing | Started | BatchEnded | EpochEnded | SettingsChanged | ThreadsChosen | HealthReport | Finished


def _show(value: object) -> str:
    """Three significant digits: a rate the schedule has brought to 0.000999945 reads 0.001."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)
