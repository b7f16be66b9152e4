"""Layers that only pass on, rearrange or merge tensors: Identity, Flatten, Reshape, Permute, Add,
Mul, Concat."""
from __future__ import annotations

import math

from .base import Fix, LayerSpec, Param, ShapeError, format_shape
from .registry import register


@register
class Flatten(LayerSpec):
    type_id = "flatten"
    title = "Flatten"
    category = "Core"
    description = "Turns C×H×W (or any shape) into one vector, e.g. before Dense."
    name_prefix = "flatten"

    def infer_shape(self, p, in_shapes):
        return (math.prod(in_shapes[0]),)

    def code(self, p, in_shapes):
        return "nn.Flatten()"


@register
class Reshape(LayerSpec):
    type_id = "reshape"
    title = "Reshape"
    category = "Core"
    description = "Gives the same values a new shape with the same number of elements, e.g. 784 -> 28×28."
    name_prefix = "reshape"
    params = (Param("target_shape", tuple, (28, 28), min=1, shown=True),)

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        target = p["target_shape"]
        if math.prod(shape) != math.prod(target):
            raise ShapeError(f"{format_shape(shape)} = {math.prod(shape):,} values cannot become "
                             f"{format_shape(target)} = {math.prod(target):,} values",
                             f"choose a target shape of {math.prod(shape):,} values")
        return target

    def code(self, p, in_shapes):
        unflatten = f"nn.Unflatten(1, {p['target_shape']!r})"
        return unflatten if len(in_shapes[0]) == 1 else f"nn.Sequential(nn.Flatten(), {unflatten})"


def _describe_all(shapes) -> str:
    return ", ".join(format_shape(s) for s in shapes)


@register
class Add(LayerSpec):
    type_id = "add"
    title = "Add"
    category = "Merge"
    description = "Adds its inputs element by element (residual / skip connections); shapes must match."
    name_prefix = "add"
    min_inputs = 2
    max_inputs = None

    def infer_shape(self, p, in_shapes):
        if len(set(in_shapes)) != 1:
            raise ShapeError(f"needs inputs of one shape but receives {_describe_all(in_shapes)}",
                             "give the branches equal shapes (a 1×1 Conv2d can match the channels)")
        return in_shapes[0]

    def flops(self, p, in_shapes, out_shape):
        return (len(in_shapes) - 1) * math.prod(out_shape)

    def forward_code(self, p, module, inputs):
        return " + ".join(inputs)


@register
class Concat(LayerSpec):
    type_id = "concat"
    title = "Concat"
    category = "Merge"
    description = "Joins its inputs along an axis (0 = channels of images, features of vectors)."
    name_prefix = "concat"
    min_inputs = 2
    max_inputs = None
    params = (Param("axis", int, 0, min=-4, max=3, shown=True,
                    help="axis without the batch: 0 is the first (channels), -1 the last"),)

    def _axis(self, p, rank: int) -> int:
        if not -rank <= p["axis"] < rank:
            raise ShapeError(f"axis {p['axis']} does not exist for inputs with {rank} axes",
                             f"choose an axis from {-rank} to {rank - 1}",
                             Fix("Set axis to 0", "set_params", params=(("axis", 0),)))
        return p["axis"] % rank

    def infer_shape(self, p, in_shapes):
        ranks = {len(s) for s in in_shapes}
        if len(ranks) != 1:
            raise ShapeError(f"needs inputs with the same number of axes but receives {_describe_all(in_shapes)}",
                             "Flatten or Reshape the inputs so their axes match")
        axis = self._axis(p, ranks.pop())
        others = {s[:axis] + s[axis + 1:] for s in in_shapes}
        if len(others) != 1:
            raise ShapeError(f"inputs must match on every axis but {p['axis']}; they are {_describe_all(in_shapes)}",
                             "Reshape the inputs, or join them along another axis")
        first = in_shapes[0]
        return (*first[:axis], sum(s[axis] for s in in_shapes), *first[axis + 1:])

    def forward_code(self, p, module, inputs):
        # every axis is shifted by one in torch because of the batch dimension
        dim = p["axis"] + 1 if p["axis"] >= 0 else p["axis"]
        return f"torch.cat(({', '.join(inputs)},), dim={dim})"


@register
class Identity(LayerSpec):
    type_id = "identity"
    title = "Identity"
    category = "Core"
    description = "Passes its input on unchanged: a placeholder, or a named point to branch from."
    name_prefix = "identity"

    def infer_shape(self, p, in_shapes):
        return in_shapes[0]

    def code(self, p, in_shapes):
        return "nn.Identity()"


@register
class Permute(LayerSpec):
    type_id = "permute"
    title = "Permute"
    category = "Core"
    description = ("Reorders the axes (without the batch): dims 1, 0 turns a sequence T×F into F×T; "
                   "dims 1, 2, 0 turns an image C×H×W into H×W×C.")
    name_prefix = "permute"
    params = (Param("dims", tuple, (1, 0), min=0, max=3, shown=True, axes=True,
                    help="the input's axes in their new order, counted from 0 without the batch"),)

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        dims, rank = p["dims"], len(shape)
        if sorted(dims) != list(range(rank)):
            reverse = tuple(range(rank - 1, -1, -1))
            listed = ", ".join(str(axis) for axis in reverse)
            raise ShapeError(f"dims {', '.join(str(axis) for axis in dims)} must list each of the "
                             f"{rank} axes of {format_shape(shape)} (0 to {rank - 1}) once",
                             f"give {rank} axes such as {listed}",
                             Fix(f"Set dims to {listed}", "set_params", params=(("dims", reverse),)))
        return tuple(shape[axis] for axis in dims)

    def forward_code(self, p, module, inputs):
        # torch's axis 0 is the batch, which stays first
        return f"{inputs[0]}.permute(0, {', '.join(str(axis + 1) for axis in p['dims'])})"


@register
class Mul(LayerSpec):
    type_id = "mul"
    title = "Mul"
    category = "Merge"
    description = ("Multiplies its inputs element by element, broadcasting sizes of 1 as torch does: "
                   "a C×1×1 gate scales each channel of C×H×W (squeeze-and-excite).")
    name_prefix = "mul"
    min_inputs = 2
    max_inputs = None

    def infer_shape(self, p, in_shapes):
        ranks = {len(s) for s in in_shapes}
        if len(ranks) != 1:
            vector = next((s for s in in_shapes if len(s) == 1), None)
            remedy = (f"Reshape the {vector[0]} values to {vector[0]}×1×1 to scale each channel" if vector
                      else "Reshape the inputs so their axes match")
            raise ShapeError(f"needs inputs with the same number of axes but receives {_describe_all(in_shapes)}",
                             remedy)
        result = []
        for axis, sizes in enumerate(zip(*in_shapes)):
            different = set(sizes) - {1}
            if len(different) > 1:
                raise ShapeError(f"cannot multiply {_describe_all(in_shapes)}: on axis {axis} the sizes "
                                 f"{' and '.join(str(s) for s in sorted(different))} differ, and only a size of "
                                 "1 is repeated to match", "give the inputs equal sizes, or 1, on every axis")
            result.append(max(sizes))
        return tuple(result)

    def flops(self, p, in_shapes, out_shape):
        return (len(in_shapes) - 1) * math.prod(out_shape)

    def forward_code(self, p, module, inputs):
        return " * ".join(inputs)
