"""Reading drawings with a trained model, as the drawing panel and `predict --strokes` do.

The path is always the same: the recipe's `drawing_inputs` draws the strokes at the size and
pen the model was taught and makes the model's input of that picture, the model runs,
`predictions` reads its outputs. `DrawingReader.read` adds what the panel shows beside the answer, from the same single
forward pass: each layer's output (forward hooks on the named submodules, which carry the
layers' names) and, on request, the input gradient of the top class (saliency).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from netbuilder.common.contracts import TASKS
from netbuilder.data.base import DataError
from netbuilder.data.certainty import NOTHING_DRAWN, has_no_ink
from netbuilder.data.recipe import Prediction, Recipe, drawing_inputs, input_pictures, predictions
from netbuilder.data.strokes import Drawing, load_drawing, render
from netbuilder.common.text import format_shape

from netbuilder.model.checkpoint import TrainedModel
from .predict import RawSamples

# What a digit drawing becomes: one 28×28 grey picture, read as an image, a vector or rows.
DIGIT_SIDE = 28
CANVAS_INPUT_SHAPES = {(1, DIGIT_SIDE, DIGIT_SIDE): "a 1×28×28 image", (DIGIT_SIDE * DIGIT_SIDE,): "a 784 vector",
                       (DIGIT_SIDE, DIGIT_SIDE): "a 28×28 sequence"}
DEFAULT_BATCH = 256


def canvas_problem(recipe: Recipe) -> str | None:
    """Why drawings cannot be fed to a model with this recipe, or None when they can."""
    shape = tuple(recipe.input_shape)
    if recipe.image is not None and recipe.image.channels == 1 and shape in CANVAS_INPUT_SHAPES \
            and (TASKS[recipe.task].has_classes or TASKS[recipe.task].target_is_input):
        return None
    *others, last = CANVAS_INPUT_SHAPES.values()
    return (f"This model expects {_describe_input(recipe)}. The canvas draws 28×28 grey digits, which feed "
            f"classifiers trained on images whose Input is {', '.join(others)} or {last}.")


def _describe_input(recipe: Recipe) -> str:
    shape = format_shape(recipe.input_shape)
    if recipe.text is not None:
        return f"text ({shape} token ids)"
    if recipe.table is not None:
        return f"table rows of {len(recipe.table.columns)} columns"
    if not TASKS[recipe.task].has_classes:
        return f"{shape} inputs and predicts values ({recipe.task}), not classes"
    channels = "colour" if recipe.image.channels == 3 else "grey"
    return f"{channels} images as a {recipe.input_kind} of {shape}"


@dataclass(frozen=True)
class Reading:
    """What the model made of one drawing."""

    picture: np.ndarray  # float32 (28, 28) in [0, 1]: the model's input as a picture
    prediction: Prediction  # of one sample
    activations: dict[str, np.ndarray]  # layer name -> that layer's output for this drawing (no batch axis)
    saliency: np.ndarray | None  # float32 (28, 28) in [0, 1]: how much each input pixel moved the top score

    @property
    def reconstruction(self) -> np.ndarray | None:
        """An autoencoder's picture given back, (28, 28) in [0, 1]; None for a classifier."""
        if self.prediction.errors is None:
            return None
        return self.prediction.values[0].reshape(DIGIT_SIDE, DIGIT_SIDE).astype(np.float32)


class DrawingReader:
    """A trained classifier of drawings. `model` is in eval mode on the CPU; `recipe` must pass
    `canvas_problem`."""

    def __init__(self, model: torch.nn.Module, recipe: Recipe):
        problem = canvas_problem(recipe)
        if problem:
            raise ValueError(problem)
        self.model, self.recipe = model.eval(), recipe
        self._layers = dict(model.named_children())

    @property
    def layer_names(self) -> list[str]:
        return list(self._layers)

    def inputs(self, drawings: Sequence[Drawing]) -> torch.Tensor:
        """The model's input for each drawing, read through the recipe's one way for drawings."""
        return drawing_inputs(self.recipe, drawings)

    @property
    def reconstructs(self) -> bool:
        """The model gives its input back (an autoencoder) rather than class probabilities."""
        return TASKS[self.recipe.task].target_is_input

    def classify(self, drawings: Sequence[Drawing], batch_size: int = DEFAULT_BATCH) -> Prediction:
        """Probabilities (or reconstructions and their errors) for many drawings, in batches."""
        outputs, kept_inputs = [], []  # the inputs only where each reconstruction's error is measured
        with torch.inference_mode():
            for start in range(0, len(drawings), batch_size):
                inputs = self.inputs(drawings[start:start + batch_size])
                outputs.append(self.model(inputs))
                kept_inputs += [inputs] if self.reconstructs else []
        scores = torch.cat(outputs) if outputs else torch.zeros(0, len(self.recipe.class_names))
        return predictions(self.recipe, scores, torch.cat(kept_inputs) if kept_inputs else None)

    def read(self, drawing: Drawing, *, activations: bool = False, saliency: bool = False) -> Reading:
        """Classify one drawing; with `activations` keep every named layer's output and with
        `saliency` the input gradient of the top class, both from the same forward pass."""
        inputs = self.inputs([drawing])
        kept: dict[str, np.ndarray] = {}
        hooks = [module.register_forward_hook(_keeper(name, kept)) for name, module in self._layers.items()] \
            if activations else []
        # One drawing is too little work to share: a second thread costs more in waiting than it
        # saves (the CNN template: 0.7 ms on one thread, 1.5-8 ms on two busy cores). The thread
        # count is the calling thread's own, so a training run on another thread keeps its own.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            if saliency and not self.reconstructs:  # saliency explains a top class, which it has not
                inputs.requires_grad_(True)
                with torch.enable_grad():
                    outputs = self.model(inputs)
                    top = int(outputs[0].argmax())
                    (gradient,) = torch.autograd.grad(outputs[0, top], inputs)
                heat = gradient.abs().reshape(DIGIT_SIDE, DIGIT_SIDE).numpy()
                heat = heat / heat.max() if heat.max() > 0 else heat
            else:
                with torch.inference_mode():
                    outputs = self.model(inputs)
                heat = None
        finally:
            torch.set_num_threads(threads)
            for hook in hooks:
                hook.remove()
        return Reading(self.picture(inputs), predictions(self.recipe, outputs.detach(), inputs.detach()), kept,
                       None if heat is None else heat.astype(np.float32))

    def picture(self, inputs: torch.Tensor) -> np.ndarray:
        """The first input of a batch as the 28×28 picture the model sees, in [0, 1]."""
        return input_pictures(self.recipe, inputs[:1])[0]


def _keeper(name: str, kept: dict[str, np.ndarray]):
    def keep(_module, _inputs, output) -> None:
        if isinstance(output, tuple):  # recurrent layers give (outputs, state)
            output = output[0]
        if isinstance(output, torch.Tensor) and output.shape[0] >= 1 and math.prod(output.shape[1:]) > 0:
            kept[name] = output.detach()[0].float().numpy().copy()
    return keep


def predict_drawing_files(trained: TrainedModel, files: Sequence[str | Path]) -> tuple[RawSamples, Prediction]:
    """Drawings saved as strokes, classified exactly as the drawing panel classifies them (in
    batches, so thousands at once take little memory). DataError for a model that cannot read
    drawings or a file that is not a drawing."""
    problem = canvas_problem(trained.recipe)
    if problem:
        raise DataError(problem)
    drawings = [load_drawing(path) for path in files]
    return RawSamples(drawings, [Path(path).name for path in files],
                      [NOTHING_DRAWN if nothing_drawn(drawing) else None for drawing in drawings]), \
        DrawingReader(trained.model, trained.recipe).classify(drawings)


def nothing_drawn(drawing: Drawing) -> bool:
    """Whether a drawing leaves no ink on its canvas (no strokes, or strokes too faint to see)."""
    return drawing.is_empty or has_no_ink(render(drawing))
