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
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from netbuilder.core.project import Project
from netbuilder.data.base import DataError
from netbuilder.data.handwriting import handwriting_recipe
from netbuilder.data.recipe import Recipe

from .control import RunControl
from .events import Finished, Preparing, TrainingEvent
from .metrics import evaluate
from .trainer import Trainer

# The recipe, measured with bench/personal_handwriting.py (5 drawings per digit of pen-dev writers;
# docs/decisions.md): few built-in digits, so that the personal drawings are a sixth or more of every
# epoch rather than 2%, and twice the epochs, read a writer's own digits at 99% (3 epochs with 6,000
# digits: 96%) and the other writers better too, in less time.
FINE_TUNE_EPOCHS = 6
FINE_TUNE_DIGITS = 600  # built-in digits mixed with the personal set, to keep the model reading other hands
LEARNING_RATE_FACTOR = 0.3  # of the project's own rate


def fine_tune_problem(model_recipe: Recipe) -> str | None:
    """Why the personal set cannot fine-tune a model with `model_recipe`, or None when it can: the
    model must read its images as the set's drawings are read and name the same ten digits, or
    training would teach it digit labels under its own class names."""
    drawings = handwriting_recipe()
    if model_recipe.task != "classification" or model_recipe.class_names != drawings.class_names:
        names = ", ".join(model_recipe.class_names[:4]) + (" …" if len(model_recipe.class_names) > 4 else "")
        what = f"the classes {names}" if model_recipe.class_names else "values (regression)"
        return (f"This model predicts {what}, not the digits 0 to 9 of your handwriting set, so it cannot be "
                "fine-tuned on your handwriting.")
    if model_recipe.image != drawings.image:
        return ("This model reads its images differently from the digit models (28×28 grey digits, centred as in "
                "MNIST), so your handwriting cannot fine-tune it: train a digit model first.")
    return None


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
                 epochs: int = FINE_TUNE_EPOCHS, digits_size: int = FINE_TUNE_DIGITS):
        # copied here, on the caller's (GUI) thread, between its reads: a read adds forward hooks to
        # `model` for the layer views, which a copy made on the worker thread could catch half-added
        self.model, self.recipe, self.project = copy.deepcopy(model), recipe, project
        self.folder, self.epochs, self.digits_size = folder, epochs, digits_size
        self.result: FineTuneResult | None = None
        self._control = RunControl()

    def stop(self) -> None:
        self._control.stop()

    def events(self) -> Iterator[TrainingEvent]:
        from netbuilder.data.handwriting import read_handwriting

        yield Preparing(0, 0, "Reading your handwriting")
        problem = fine_tune_problem(self.recipe)
        if problem:
            yield Finished("failed", problem)
            return
        try:
            handwriting = read_handwriting(mix_with_digits=True, folder=self.folder, digits_size=self.digits_size)
            # read through the model's own recipe, as everything that feeds it is
            dataset = replace(handwriting, recipe=self.recipe).build()
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
