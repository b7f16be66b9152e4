"""Where data enters (Input) and where the model's prediction and loss are defined (Output)."""
from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, format_shape
from .registry import register

INPUT_RANKS = {"image": 3, "vector": 1, "sequence": 2, "tokens": 1}
_KIND_HELP = {"image": "channels×height×width", "vector": "features",
              "sequence": "time steps×features", "tokens": "sequence length"}


@register
class Input(LayerSpec):
    type_id = "input"
    title = "Input"
    category = "Input / Output"
    description = "Where samples enter: an image C×H×W, a vector F, a sequence T×F or token ids T."
    name_prefix = "input"
    params = (
        Param("kind", str, "image", choices=tuple(INPUT_RANKS), shown=True,
              help="image: C×H×W; vector: F; sequence: T×F; tokens: T integer word ids"),
        Param("shape", tuple, (1, 28, 28), min=1, shown=True, help="sizes without the batch"),
    )
    min_inputs = max_inputs = 0

    def infer_shape(self, p, in_shapes):
        rank = INPUT_RANKS[p["kind"]]
        if len(p["shape"]) != rank:
            raise ShapeError(f"a {p['kind']} input needs {rank} size{'s' * (rank > 1)} "
                             f"({_KIND_HELP[p['kind']]}), but the shape is {format_shape(p['shape'])}")
        return p["shape"]

    def outputs_token_ids(self, p):
        return p["kind"] == "tokens"

    def forward_code(self, p, module, inputs):
        return inputs[0]


@register
class Output(LayerSpec):
    type_id = "output"
    title = "Output"
    category = "Input / Output"
    description = ("The model's prediction. Classification trains with cross-entropy on raw scores "
                   "(logits); regression with mean squared error.")
    name_prefix = "output"
    params = (Param("task", str, "classification", choices=("classification", "regression"), shown=True),)
    has_output = False

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if p["task"] == "classification" and (len(shape) != 1 or shape[0] < 2):
            hint = "insert Flatten and Dense(classes) before it" if len(shape) > 1 else "use Dense with one unit per class"
            raise ShapeError(f"needs one score per class (a vector of 2 or more) but receives {format_shape(shape)}: {hint}")
        return shape

    def forward_code(self, p, module, inputs):
        return inputs[0]
