"""Pooling: max and average over image windows, adaptive and global average pooling, and its
reverse, Upsample."""
from __future__ import annotations

import math

from .base import Fix, LayerSpec, Param, ShapeError, format_shape
from .registry import register
from .shape_math import explain_window, window_output


def _require_image(shape) -> None:
    if len(shape) != 3:
        raise ShapeError(f"needs an image C×H×W but receives {format_shape(shape)}",
                         "put it after an image layer such as Conv2d, or use an image Input")


class _Pool2d(LayerSpec):
    category = "Pooling"
    name_prefix = "pool"
    params = (
        Param("pool_size", int, 2, min=1, max=64, shown=True),
        Param("stride", int, 2, min=1, max=64, help="usually equal to the pool size"),
        Param("padding", int, 0, min=0, max=32, help="at most half the pool size"),
    )
    torch_class: str

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        _require_image(shape)
        if 2 * p["padding"] > p["pool_size"]:
            half = p["pool_size"] // 2
            raise ShapeError(f"padding {p['padding']} is more than half the pool size {p['pool_size']}",
                             f"use a padding of at most {half}",
                             Fix(f"Set padding to {half}", "set_params", params=(("padding", half),)))
        channels, height, width = shape
        return (channels,
                window_output(height, p["pool_size"], p["stride"], p["padding"], 1, "height"),
                window_output(width, p["pool_size"], p["stride"], p["padding"], 1, "width"))

    def shape_arithmetic(self, p, in_shapes):
        _, height, width = in_shapes[0]
        return tuple(explain_window(size, p["pool_size"], p["stride"], p["padding"], 1, axis)
                     for size, axis in ((height, "height"), (width, "width")))

    def flops(self, p, in_shapes, out_shape):
        return math.prod(out_shape) * p["pool_size"] ** 2

    def code(self, p, in_shapes):
        extra = "" if p["stride"] == p["pool_size"] else f", stride={p['stride']}"
        extra += f", padding={p['padding']}" if p["padding"] else ""
        return f"nn.{self.torch_class}({p['pool_size']}{extra})"


@register
class MaxPool2d(_Pool2d):
    type_id = "maxpool2d"
    title = "MaxPool2d"
    description = "Keeps the largest value in each window (Keras MaxPooling2D)."
    torch_class = "MaxPool2d"


@register
class AvgPool2d(_Pool2d):
    type_id = "avgpool2d"
    title = "AvgPool2d"
    description = "Averages each window (Keras AveragePooling2D)."
    torch_class = "AvgPool2d"


@register
class GlobalAvgPool(LayerSpec):
    type_id = "global_avg_pool"
    title = "GlobalAvgPool"
    category = "Pooling"
    description = "Averages each channel over the whole image: C×H×W becomes C (Keras GlobalAveragePooling2D)."
    name_prefix = "gap"

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        _require_image(shape)
        return shape[:1]

    def flops(self, p, in_shapes, out_shape):
        return math.prod(in_shapes[0])

    def code(self, p, in_shapes):
        return "nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())"


def _adaptive_windows(size: int, output: int) -> list[int]:
    """The window length of each of `output` cells averaging `size` values, as torch splits them:
    cell i covers ⌊i·size/output⌋ to ⌈(i+1)·size/output⌉."""
    return [-(-(i + 1) * size // output) - i * size // output for i in range(output)]


@register
class AdaptiveAvgPool2d(LayerSpec):
    type_id = "adaptive_avg_pool2d"
    title = "AdaptiveAvgPool2d"
    category = "Pooling"
    description = ("Averages windows sized to give an output_size × output_size image from any input "
                   "size (as ResNet and VGG do before their classifier).")
    name_prefix = "pool"
    params = (Param("output_size", int, 1, min=1, max=4096, shown=True, help="output height and width"),)

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        _require_image(shape)
        return (shape[0], p["output_size"], p["output_size"])

    def flops(self, p, in_shapes, out_shape):
        channels, height, width = in_shapes[0]
        return (channels * sum(_adaptive_windows(height, p["output_size"]))
                * sum(_adaptive_windows(width, p["output_size"])))

    def code(self, p, in_shapes):
        return f"nn.AdaptiveAvgPool2d({p['output_size']})"


@register
class Upsample(LayerSpec):
    type_id = "upsample"
    title = "Upsample"
    category = "Pooling"
    description = ("The reverse of pooling: enlarges an image C×H×W by a scale factor (2 doubles H and W), "
                   "copying pixels (nearest) or blending them (bilinear); a decoder's upsampling without weights.")
    name_prefix = "upsample"
    params = (Param("scale_factor", int, 2, min=1, max=64, shown=True),
              Param("mode", str, "nearest", choices=("nearest", "bilinear"), shown=True))

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        _require_image(shape)
        channels, height, width = shape
        return (channels, height * p["scale_factor"], width * p["scale_factor"])

    def flops(self, p, in_shapes, out_shape):
        # nearest copies; bilinear blends four neighbours per output value (4 multiply-adds)
        return 8 * math.prod(out_shape) if p["mode"] == "bilinear" else 0

    def code(self, p, in_shapes):
        return f"nn.Upsample(scale_factor={p['scale_factor']}, mode={p['mode']!r})"
