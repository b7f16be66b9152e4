"""Normalisation layers: BatchNorm (1d or 2d from the input's rank) and LayerNorm."""
from __future__ import annotations

import math

from .base import LayerSpec, Param, ShapeError, format_shape
from .registry import register


@register
class BatchNorm(LayerSpec):
    type_id = "batchnorm"
    title = "BatchNorm"
    category = "Normalization"
    description = "Normalises each channel (images) or feature (vectors) over the batch; 2d or 1d by input."
    name_prefix = "bn"
    params = (Param("momentum", float, 0.1, min=0.0, max=1.0), Param("eps", float, 1e-5, min=1e-12, max=1.0))
    keras_count_difference = "Keras also counts BatchNorm's moving mean and variance, which are not trained"

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if len(shape) not in (1, 3):
            raise ShapeError(f"works on images C×H×W or vectors F but receives {format_shape(shape)}",
                             "use LayerNorm for sequences")
        return shape

    def param_count(self, p, in_shapes):
        return 2 * in_shapes[0][0]

    def keras_param_count(self, p, in_shapes):
        return 4 * in_shapes[0][0]

    def flops(self, p, in_shapes, out_shape):
        return 2 * math.prod(out_shape)

    def code(self, p, in_shapes):
        shape = in_shapes[0]
        kind = "BatchNorm2d" if len(shape) == 3 else "BatchNorm1d"
        extra = "".join(f", {k}={p[k]!r}" for k, default in (("eps", 1e-5), ("momentum", 0.1)) if p[k] != default)
        return f"nn.{kind}({shape[0]}{extra})"


@register
class LayerNorm(LayerSpec):
    type_id = "layernorm"
    title = "LayerNorm"
    category = "Normalization"
    description = "Normalises the last axis of each sample (features), common after LSTMs and in transformers."
    name_prefix = "ln"
    params = (Param("eps", float, 1e-5, min=1e-12, max=1.0),)

    def infer_shape(self, p, in_shapes):
        return in_shapes[0]

    def param_count(self, p, in_shapes):
        return 2 * in_shapes[0][-1]

    def flops(self, p, in_shapes, out_shape):
        return 5 * math.prod(out_shape)

    def code(self, p, in_shapes):
        extra = f", eps={p['eps']!r}" if p["eps"] != 1e-5 else ""
        return f"nn.LayerNorm({in_shapes[0][-1]}{extra})"
