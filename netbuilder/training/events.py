"""What a training run reports, as plain data (the GUI re-emits these as Qt signals unchanged)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FinishReason = Literal["completed", "stopped", "early_stopping", "nan_loss", "failed"]


@dataclass(frozen=True)
class Started:
    """Sent once, before the first batch: what the run will actually do."""

    device: str  # "cpu" or "cuda"
    precision: str  # "fp32" or "fast" (bfloat16 autocast), after checking that fast is safe here
    train_samples: int
    val_samples: int  # 0: no validation, early stopping then watches the training loss
    batches_per_epoch: int
    notes: tuple[str, ...] = ()  # decisions the user should know about, e.g. why fast fell back to fp32


@dataclass(frozen=True)
class BatchEnded:
    """Sent at reporting intervals (and after an epoch's last batch), not after every batch."""

    epoch: int  # 1-based
    batch: int  # 1-based, within the epoch
    batches: int
    loss: float  # mean training loss of the batches since the previous BatchEnded
    samples_seen: int  # since the run started
    samples_per_second: float  # training speed over the run so far, paused time excluded


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


@dataclass(frozen=True)
class Finished:
    """Always the last event. `reason` "failed" carries a message for the user and, in
    `details`, the traceback for a bug report (never shown unasked)."""

    reason: FinishReason
    message: str
    details: str = field(default="", repr=False)


TrainingEvent = Started | BatchEnded | EpochEnded | Finished
