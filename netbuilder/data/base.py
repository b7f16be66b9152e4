"""The one interface every dataset offers."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

    from .recipe import Recipe

InputKind = Literal["image", "vector", "sequence", "tokens"]
Task = Literal["classification", "regression", "reconstruction"]
# progress(done, total, message) while loading: bytes downloaded, images read, ...; total is 0
# when unknown. The callback may raise (e.g. the user pressed Stop) to abandon the work.
Progress = Callable[[int, int, str], None]


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
    source: str = ""  # where it came from, shown to the user
    notes: list[str] = field(default_factory=list)  # what the user should know, e.g. skipped files
    # how raw data becomes these samples, fitted on the training split; stored with the trained weights
    recipe: Recipe | None = None
    # Why no validation figure would be honest, when the training samples are augmented copies of
    # each other and none was held out: training must then not hold out a share of them either.
    no_validation: str = ""
    # Training samples an epoch takes, each epoch the next ones in turn (0: all of them each epoch):
    # a generated set holds several epochs of samples so that a network never sees one twice.
    samples_per_epoch: int = 0

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    def epoch_size(self, held: int | None = None) -> int:
        """The training samples an epoch takes of the `held` ones (default: all of train_x; fewer once
        a validation share is split off): samples_per_epoch, or all of them when that is 0 or more."""
        held = len(self.train_x) if held is None else held
        return min(self.samples_per_epoch or held, held)

    @property
    def vocabulary(self) -> list[str] | None:
        """Token id -> word, for text datasets (the recipe's vocabulary)."""
        return list(self.recipe.text.vocabulary) if self.recipe and self.recipe.text else None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def preview(self, count: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        """The first `count` training samples with their labels, for showing to the user."""
        return self.train_x[:count], self.train_y[:count]


@dataclass
class RawDataset:
    """What a loader read: raw samples as `recipe.model_inputs` takes them (images, rows, texts),
    their labels, and the recipe fitted on the training part. `build` is the one step from here to
    the tensors training uses, the same step that reads every later sample."""

    name: str
    recipe: Recipe
    train_samples: Sequence
    train_y: np.ndarray  # int64 class indices, or float32 (N, outputs) for regression
    val_samples: Sequence
    val_y: np.ndarray
    source: str = ""
    notes: list[str] = field(default_factory=list)
    no_validation: str = ""  # as Dataset.no_validation
    samples_per_epoch: int = 0  # as Dataset.samples_per_epoch

    @property
    def float_bytes(self) -> int:
        """What `build` holds of the samples: float32 values of the recipe's input shape."""
        return (len(self.train_samples) + len(self.val_samples)) * 4 * math.prod(self.recipe.input_shape)

    def build(self, stream: bool = False) -> Dataset:
        """The dataset as tensors; with `stream`, a stack of stored images (uint8 arrays, as IDX
        files hold them) stays as it is and each batch is built when training reads it."""
        import torch

        from .recipe import model_inputs
        from .stream import StreamedImages

        def inputs(samples: Sequence):
            if stream and self.recipe.image and isinstance(samples, np.ndarray) and samples.dtype == np.uint8:
                return StreamedImages(self.recipe, samples)
            return model_inputs(self.recipe, samples)

        notes = list(self.notes)
        train_x, val_x = inputs(self.train_samples), inputs(self.val_samples)
        if isinstance(train_x, StreamedImages):
            from netbuilder.common.text import byte_size

            notes.append(f"Streaming from stored pixels: {len(train_x) + len(val_x):,} images in "
                         f"{byte_size(train_x.nbytes + val_x.nbytes)}; as float tensors they would take "
                         f"{byte_size(self.float_bytes)}.")
        return Dataset(name=self.name, kind=self.recipe.input_kind,
                       train_x=train_x, train_y=torch.from_numpy(self.train_y),
                       val_x=val_x, val_y=torch.from_numpy(self.val_y),
                       class_names=list(self.recipe.class_names), task=self.recipe.task, source=self.source,
                       notes=notes, recipe=self.recipe,
                       no_validation=self.no_validation, samples_per_epoch=self.samples_per_epoch)



def train_val_split(count: int, val_fraction: float, seed: int,
                    groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled indices of the training and validation samples.

    With `groups` (e.g. class labels) each group is split on its own, so every class with at
    least two samples appears on both sides.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"The validation fraction must be at least 0 and below 1, not {val_fraction}.")
    rng = np.random.default_rng(seed)
    if groups is None:
        groups = np.zeros(count, dtype=np.int64)
    train_parts, val_parts = [], []
    for group in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == group))
        val_count = round(len(members) * val_fraction)
        if val_fraction > 0 and len(members) >= 2:
            val_count = min(max(val_count, 1), len(members) - 1)
        val_parts.append(members[:val_count])
        train_parts.append(members[val_count:])
    train = rng.permutation(np.concatenate(train_parts)) if train_parts else np.zeros(0, np.int64)
    val = rng.permutation(np.concatenate(val_parts)) if val_parts else np.zeros(0, np.int64)
    return train.astype(np.int64), val.astype(np.int64)
