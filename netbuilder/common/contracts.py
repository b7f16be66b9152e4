"""What the Input and Output layers promise, as plain data the core and the data loaders share.

The core's Input and Output specs read these tables, and so does `netbuilder.data` (which must
not import the core): one copy of each fact, importable without torch or Qt.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputKind:
    rank: int  # sizes in the Input's shape, without the batch
    layout: str  # what those sizes mean, for messages
    token_ids: bool = False  # integer word ids rather than values


INPUT_KINDS: dict[str, InputKind] = {
    "image": InputKind(3, "channels×height×width"),
    "vector": InputKind(1, "features"),
    "sequence": InputKind(2, "time steps×features"),
    "tokens": InputKind(1, "sequence length", token_ids=True),
}


def value_kind_of_rank(rank: int) -> str:
    """The Input kind of values (not token ids) that has `rank` sizes; vector for any other rank."""
    return next((name for name, kind in INPUT_KINDS.items() if kind.rank == rank and not kind.token_ids),
                "vector")


@dataclass(frozen=True)
class TaskContract:
    """How an Output of one task trains and how its raw scores are read."""

    loss: str  # "cross_entropy" on raw scores (logits) or "mse"
    loss_title: str
    metric: str  # "accuracy" or "mse": what evaluation reports
    probabilities: str  # "softmax": scores become class probabilities; "none": the scores are the prediction
    # targets are class indices and the model's outputs are named classes: the data has class names
    # (at least two), labels outside them are refused, results read as accuracy and a confusion matrix
    has_classes: bool
    # the target of each sample is its own input (an autoencoder's reconstruction): any image data
    # trains it, its labels ignored, and the Output must give the Input's shape
    target_is_input: bool = False


TASKS: dict[str, TaskContract] = {
    "classification": TaskContract("cross_entropy", "cross-entropy", "accuracy", "softmax", has_classes=True),
    "regression": TaskContract("mse", "mean squared error", "mse", "none", has_classes=False),
    "reconstruction": TaskContract("mse", "mean squared error", "mse", "none", has_classes=False,
                                   target_is_input=True),
}


# The built-in digits: the training digits of one epoch, how many epochs of them are generated (each
# epoch trains on digits no earlier epoch saw) and the validation digits.
DIGITS_PER_EPOCH = 60_000
DIGITS_FRESH_EPOCHS = 3
DIGITS_VALIDATION = 10_000
