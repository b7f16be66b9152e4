"""Fully connected layers and the regularising Dropout and Dropout2d."""
from __future__ import annotations

import math

from .base import Fix, LayerSpec, Param, ShapeError, format_shape
from .registry import register


@register
class Dense(LayerSpec):
    type_id = "dense"
    title = "Dense"
    category = "Core"
    description = ("Fully connected layer (nn.Linear, Keras Dense). On a sequence T×F it applies "
                   "to every time step.")
    name_prefix = "fc"
    aliases = ("linear",)  # PyTorch's name, for hand-written project files
    params = (Param("units", int, 64, min=1, max=1_000_000, shown=True), Param("bias", bool, True))

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if len(shape) > 2:
            raise ShapeError(f"needs a flat input but receives {format_shape(shape)}", "insert Flatten",
                             Fix("Insert Flatten before it", "insert_before", type_id="flatten"))
        return (*shape[:-1], p["units"])

    def param_count(self, p, in_shapes):
        return in_shapes[0][-1] * p["units"] + (p["units"] if p["bias"] else 0)

    def flops(self, p, in_shapes, out_shape):
        return 2 * math.prod(in_shapes[0]) * p["units"]

    def code(self, p, in_shapes):
        return f"nn.Linear({in_shapes[0][-1]}, {p['units']}{'' if p['bias'] else ', bias=False'})"


@register
class Dropout(LayerSpec):
    type_id = "dropout"
    title = "Dropout"
    category = "Core"
    description = "During training, zeroes a random fraction of values (rate) to reduce overfitting."
    name_prefix = "dropout"
    params = (Param("rate", float, 0.5, min=0.0, max=0.99, shown=True),)

    def infer_shape(self, p, in_shapes):
        return in_shapes[0]

    def code(self, p, in_shapes):
        return f"nn.Dropout({p['rate']!r})"


@register
class Dropout2d(LayerSpec):
    type_id = "dropout2d"
    title = "Dropout2d"
    category = "Core"
    description = ("During training, zeroes whole channels of an image C×H×W at random (rate): "
                   "neighbouring pixels are alike, so dropping single values regularises convolutions little.")
    name_prefix = "dropout"
    params = (Param("rate", float, 0.5, min=0.0, max=0.99, shown=True),)

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if len(shape) != 3:
            raise ShapeError(f"needs an image C×H×W but receives {format_shape(shape)}",
                             "use Dropout for vectors and sequences")
        return shape

    def code(self, p, in_shapes):
        return f"nn.Dropout2d({p['rate']!r})"
