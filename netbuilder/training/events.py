"""What a training run reports, as plain data (the GUI re-emits these as Qt signals unchanged).

Every figure a view shows is computed here, by the trainer; views only draw. Arrays are numpy
copies owned by the event, so an event can cross threads safely (a streamed dataset's images are
read-only rows of its cache, safe to read from any thread).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from netbuilder.data.stream import StreamedImages

# The two events a model's history keeps are defined with it, below training (model/history.py)
from netbuilder.model.history import EpochEnded, SettingsChanged

FinishReason = Literal["completed", "stopped", "early_stopping", "nan_loss", "failed"]


@dataclass(frozen=True)
class ValidationSamples:
    """The held-out samples as the model receives them, for a gallery of (mis)classified samples.

    `x` is float32 (N, *sample_shape), or int64 token ids for texts, or for a streamed dataset its
    StreamedImages (indexing one row gives a float tensor); `vocabulary` turns token ids
    back into words. Row i of every epoch's `val_predictions`/`val_probabilities` is sample i here.
    """

    x: np.ndarray | StreamedImages
    y: np.ndarray | StreamedImages  # int64 class indices (classification) or float32 targets (regression, reconstruction)
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

