"""Fine-tuning a trained digit model on the user's own handwriting.

Starts from the trained weights (a copy made when the run is created: the model in use is
untouched until the run succeeds)
and trains a few epochs on the personal set mixed with built-in digits, at a lower learning
rate so that what the model knew is adjusted rather than relearnt. Accuracy on the held-out
part of the personal set is measured before and after, on the same drawings.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from netbuilder.contracts import INPUT_KINDS
from netbuilder.core.project import Project
from netbuilder.data.base import DataError
from netbuilder.data.fit import fit_to_input

from .control import RunControl
from .events import Finished, Preparing, TrainingEvent
from .metrics import evaluate
from .trainer import Trainer

FINE_TUNE_EPOCHS = 3
LEARNING_RATE_FACTOR = 0.3  # of the project's own rate


@dataclass
class FineTuneResult:
    model: torch.nn.Module
    before: float  # accuracy on the held-out drawings, 0-1
    after: float
    held_out: int


class FineTuning:
    """One fine-tuning run as a stream of events, like a TrainingSession: Preparing, the
    trainer's events, and Finished last (never raises). `result` is set when it succeeded."""

    def __init__(self, model: torch.nn.Module, recipe, project: Project, *, folder: Path | None = None,
                 epochs: int = FINE_TUNE_EPOCHS, digits_size: int | None = None):
        # copied here, on the caller's (GUI) thread, between its reads: a read adds forward hooks to
        # `model` for the layer views, which a copy made on the worker thread could catch half-added
        self.model, self.recipe, self.project = copy.deepcopy(model), recipe, project
        self.folder, self.epochs, self.digits_size = folder, epochs, digits_size
        self.result: FineTuneResult | None = None
        self._control = RunControl()

    def stop(self) -> None:
        self._control.stop()

    def events(self) -> Iterator[TrainingEvent]:
        from netbuilder.data.handwriting import load_handwriting

        yield Preparing(0, 0, "Reading your handwriting")
        try:
            loaded = load_handwriting(mix_with_digits=True, folder=self.folder, digits_size=self.digits_size)
            kind = INPUT_KINDS[self.recipe.input_kind]
            dataset = fit_to_input(loaded, self.recipe.input_shape, kind.token_ids)
        except DataError as error:
            yield Finished("failed", str(error))
            return
        if len(dataset.val_y) == 0:
            yield Finished("failed", "Add at least two drawings of a digit to your handwriting set, so that one "
                                     "can be held out to measure the fine-tuning.")
            return
        model = self.model
        before = evaluate(model, dataset.val_x, dataset.val_y, "classification").accuracy
        settings = self.project.training.replace(
            epochs=self.epochs, learning_rate=self.project.training.learning_rate * LEARNING_RATE_FACTOR)
        trainer = Trainer(model, dataset, settings, "classification", control=self._control)
        finished = None
        for event in trainer.run():
            if isinstance(event, Finished):
                finished = event
                break
            yield event
        if finished.reason not in ("completed", "early_stopping"):
            yield finished
            return
        after = evaluate(model, dataset.val_x, dataset.val_y, "classification").accuracy
        self.result = FineTuneResult(model, before, after, len(dataset.val_y))
        yield Finished(finished.reason, f"Fine-tuned {self.epochs} epochs on {dataset.source}: your "
                                        f"{len(dataset.val_y)} held-out drawings read {100 * before:.0f}% "
                                        f"right before and {100 * after:.0f}% after.")
