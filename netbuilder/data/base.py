"""The one interface every dataset offers, and where datasets are cached."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

InputKind = Literal["image", "vector", "sequence", "tokens"]
Task = Literal["classification", "regression"]


class DataError(Exception):
    """Data cannot be read or used; the message is for the user (names the file, row or fix)."""


@dataclass
class Dataset:
    """A dataset held in memory as tensors.

    `train_x`/`val_x` are float32 of shape (N, *sample_shape), or int64 (N, T) token ids
    when `kind` is "tokens". Labels are int64 class indices for classification and
    float32 (N, outputs) for regression.
    """

    name: str
    kind: InputKind
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    class_names: list[str] = field(default_factory=list)
    task: Task = "classification"
    vocabulary: list[str] | None = None  # token id -> word, for text datasets
    source: str = ""  # where it came from, shown to the user

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def preview(self, count: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        """The first `count` training samples with their labels, for showing to the user."""
        return self.train_x[:count], self.train_y[:count]


def cache_dir() -> Path:
    """Where downloaded and generated data is kept; NETBUILDER_CACHE_DIR overrides it (tests use that)."""
    override = os.environ.get("NETBUILDER_CACHE_DIR")
    if override:
        path = Path(override)
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("netbuilder"))
    path.mkdir(parents=True, exist_ok=True)
    return path
