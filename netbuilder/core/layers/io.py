"""Where data enters (Input) and where the model's prediction and loss are defined (Output).

Both read their contracts from `netbuilder.common.contracts`, which the data loaders share: the Input
kinds with their ranks, and per task the loss, the metric and how scores become predictions.
"""
from __future__ import annotations

from netbuilder.common.contracts import INPUT_KINDS, TASKS, TaskContract, value_kind_of_rank

from .base import Fix, LayerSpec, Param, ShapeError, format_shape
from .registry import register


@register
class Input(LayerSpec):
    type_id = "input"
    title = "Input"
    category = "Input / Output"
    description = "Where samples enter: an image C×H×W, a vector F, a sequence T×F or token ids T."
    name_prefix = "input"
    params = (
        Param("kind", str, "image", choices=tuple(INPUT_KINDS), shown=True,
              help="; ".join(f"{name}: {kind.layout}" for name, kind in INPUT_KINDS.items())),
        Param("shape", tuple, (1, 28, 28), min=1, shown=True, help="sizes without the batch"),
    )
    min_inputs = max_inputs = 0

    def infer_shape(self, p, in_shapes):
        kind = INPUT_KINDS[p["kind"]]
        if len(p["shape"]) != kind.rank:
            fitting = value_kind_of_rank(len(p["shape"]))
            fix = None
            if INPUT_KINDS[fitting].rank == len(p["shape"]):
                fix = Fix(f"Set the kind to {fitting}", "set_params", params=(("kind", fitting),))
            raise ShapeError(f"a {p['kind']} input needs {kind.rank} size{'s' * (kind.rank > 1)} "
                             f"({kind.layout}), but the shape is {format_shape(p['shape'])}",
                             f"give the shape {kind.rank} size{'s' * (kind.rank > 1)}, or choose the kind "
                             "that matches it", fix)
        return p["shape"]

    def outputs_token_ids(self, p):
        return INPUT_KINDS[p["kind"]].token_ids

    def forward_code(self, p, module, inputs):
        return inputs[0]


@register
class Output(LayerSpec):
    type_id = "output"
    title = "Output"
    category = "Input / Output"
    description = ("The model's prediction. " + "; ".join(
        f"{task.capitalize()} trains with {contract.loss_title}" + (" on raw scores (logits)"
                                                                    if contract.probabilities == "softmax" else "")
        + (" against the input image itself (an autoencoder)" if contract.target_is_input else "")
        for task, contract in TASKS.items()) + ".")
    name_prefix = "output"
    params = (Param("task", str, "classification", choices=tuple(TASKS), shown=True),)
    has_output = False

    def contract(self, p) -> TaskContract:
        """The loss, the metric and how raw scores become predictions for this Output's task."""
        return TASKS[p["task"]]

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if self.contract(p).probabilities == "softmax" and (len(shape) != 1 or shape[0] < 2):
            remedy = ("insert Flatten and Dense(classes) before it" if len(shape) > 1
                      else "use Dense with one unit per class")
            raise ShapeError(f"needs one score per class (a vector of 2 or more) but receives "
                             f"{format_shape(shape)}", remedy)
        if self.contract(p).target_is_input and len(shape) != 3:
            raise ShapeError(f"gives back the input image, so it needs an image C×H×W but receives "
                             f"{format_shape(shape)}", "end the decoder with Conv2d or ConvTranspose2d giving the "
                             "Input's channels, or Reshape to the Input's shape")
        return shape

    def source_warning(self, p, source: LayerSpec, source_params) -> tuple[str, str, Fix] | None:
        if self.contract(p).probabilities == "softmax" and source.makes_probabilities:
            return (f"before a {p['task']} Output: {self.contract(p).loss_title} applies softmax itself, so "
                    "training sees it twice and learns slowly",
                    "remove it (the app shows probabilities anyway)",
                    Fix(f"Remove the {source.title}", "bypass"))
        return None

    def forward_code(self, p, module, inputs):
        return inputs[0]
