"""Convolutions over images (Conv2d, and ConvTranspose2d to upsample) and over sequences (Conv1d)."""
from __future__ import annotations

import math

from .base import Fix, LayerSpec, Param, ShapeError, format_shape
from .registry import register
from .shape_math import explain_window, resolve_padding, window_output

_CONV_PARAMS = (
    Param("filters", int, 32, min=1, max=65536, shown=True, help="output channels"),
    Param("kernel_size", int, 3, min=1, max=64, shown=True),
    Param("stride", int, 1, min=1, max=64),
    Param("padding", int, "valid", min=0, max=64, choices=("valid", "same"), shown=True,
          help="valid: none; same: keep the size (stride 1); or a number of pixels"),
    Param("dilation", int, 1, min=1, max=64),
    Param("groups", int, 1, min=1, max=65536, help="filters and input channels must both divide by it"),
    Param("bias", bool, True),
)


def _check_groups(p, channels: int) -> None:
    """Grouped convolution splits channels and filters into `groups` equal parts. A depthwise
    convolution (groups = channels) whose filters do not divide is fixed by a multiple of the
    channels; otherwise by the largest groups up to the chosen one that divides both."""
    groups, filters = p["groups"], p["filters"]
    if channels % groups == 0 and filters % groups == 0:
        return
    cause = (f"groups {groups} must divide both the {channels} input channels and the {filters} filters"
             + (" (groups = channels makes it depthwise)" if groups == channels else ""))
    if channels % groups == 0:
        multiple = groups * -(-filters // groups)
        raise ShapeError(cause, f"use a multiple of {groups} filters, such as {multiple}",
                         Fix(f"Set filters to {multiple}", "set_params", params=(("filters", multiple),)))
    common = math.gcd(channels, filters)
    fitting = max(d for d in range(1, min(groups, common) + 1) if common % d == 0)
    raise ShapeError(cause, f"choose groups that divide both, such as {fitting}",
                     Fix(f"Set groups to {fitting}", "set_params", params=(("groups", fitting),)))


class _Conv(LayerSpec):
    category = "Convolution"
    name_prefix = "conv"
    params = _CONV_PARAMS
    torch_class: str
    spatial_rank: int

    def _channels(self, shape) -> int:
        raise NotImplementedError

    def _check(self, p, shape) -> tuple[int, list[int]]:
        _check_groups(p, self._channels(shape))
        pad = resolve_padding(p["padding"], p["kernel_size"], p["stride"], p["dilation"])
        return pad, [window_output(size, p["kernel_size"], p["stride"], pad, p["dilation"], axis)
                     for size, axis in zip(self._spatial(shape), self._axes())]

    def _axes(self) -> tuple[str, ...]:
        return ("height", "width") if self.spatial_rank == 2 else ("length",)

    def shape_arithmetic(self, p, in_shapes):
        pad = resolve_padding(p["padding"], p["kernel_size"], p["stride"], p["dilation"])
        return tuple(explain_window(size, p["kernel_size"], p["stride"], pad, p["dilation"], axis)
                     for size, axis in zip(self._spatial(in_shapes[0]), self._axes()))

    def _spatial(self, shape) -> tuple[int, ...]:
        raise NotImplementedError

    def param_count(self, p, in_shapes):
        channels = self._channels(in_shapes[0])
        weights = p["filters"] * (channels // p["groups"]) * p["kernel_size"] ** self.spatial_rank
        return weights + (p["filters"] if p["bias"] else 0)

    def flops(self, p, in_shapes, out_shape):
        positions = math.prod(out_shape) // p["filters"]
        per_output = (self._channels(in_shapes[0]) // p["groups"]) * p["kernel_size"] ** self.spatial_rank
        return 2 * per_output * p["filters"] * positions

    def code(self, p, in_shapes):
        pad, _ = self._check(p, in_shapes[0])
        args = [str(self._channels(in_shapes[0])), str(p["filters"]), f"kernel_size={p['kernel_size']}"]
        args += [f"{k}={p[k]}" for k, default in (("stride", 1), ("dilation", 1), ("groups", 1)) if p[k] != default]
        if pad:
            args.append(f"padding={pad}")
        if not p["bias"]:
            args.append("bias=False")
        return f"nn.{self.torch_class}({', '.join(args)})"


@register
class Conv2d(_Conv):
    type_id = "conv2d"
    title = "Conv2d"
    description = "2-D convolution over images C×H×W (Keras Conv2D)."
    torch_class = "Conv2d"
    spatial_rank = 2

    def _channels(self, shape):
        return shape[0]

    def _spatial(self, shape):
        return shape[1:]

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if len(shape) != 3:
            raise ShapeError(f"needs an image C×H×W but receives {format_shape(shape)}",
                             "use Conv1d for sequences" if len(shape) == 2 else
                             "use an image Input, or Reshape to C×H×W")
        _, (height, width) = self._check(p, shape)
        return (p["filters"], height, width)


@register
class Conv1d(_Conv):
    type_id = "conv1d"
    title = "Conv1d"
    description = "1-D convolution along the time axis of a sequence T×F (Keras Conv1D); gives T'×filters."
    torch_class = "Conv1d"
    spatial_rank = 1

    def _channels(self, shape):
        return shape[1]

    def _spatial(self, shape):
        return shape[:1]

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if len(shape) != 2:
            raise ShapeError(f"needs a sequence T×F but receives {format_shape(shape)}",
                             "use Conv2d for images" if len(shape) == 3 else
                             "use a sequence Input, an Embedding or Reshape to time steps × features")
        _, (length,) = self._check(p, shape)
        return (length, p["filters"])

    def forward_code(self, p, module, inputs):
        # torch convolves channels-first; sequences here are time-first like Keras and LSTMs
        return f"{module}({inputs[0]}.transpose(1, 2)).transpose(1, 2)"


@register
class ConvTranspose2d(LayerSpec):
    type_id = "conv_transpose2d"
    title = "ConvTranspose2d"
    category = "Convolution"
    description = ("Transposed convolution: learns to enlarge an image C×H×W, e.g. kernel 2, stride 2 "
                   "doubles H and W (a decoder's upsampling; Keras Conv2DTranspose).")
    name_prefix = "deconv"
    params = (
        Param("filters", int, 32, min=1, max=65536, shown=True, help="output channels"),
        Param("kernel_size", int, 2, min=1, max=64, shown=True),
        Param("stride", int, 2, min=1, max=64, shown=True, help="how many times larger the output is"),
        Param("padding", int, 0, min=0, max=64, help="pixels removed from each border of the output"),
        Param("output_padding", int, 0, min=0, max=63,
              help="pixels added at the bottom and right, to reach an odd size; less than the stride"),
        Param("bias", bool, True),
    )

    def _sizes(self, p, shape) -> list[int]:
        if p["output_padding"] >= p["stride"]:
            fitting = p["stride"] - 1
            raise ShapeError(f"output padding {p['output_padding']} must be less than the stride {p['stride']}",
                             f"use an output padding of at most {fitting}",
                             Fix(f"Set output padding to {fitting}", "set_params",
                                 params=(("output_padding", fitting),)))
        sizes = []
        for size, axis in zip(shape[1:], ("height", "width")):
            grown = (size - 1) * p["stride"] + p["kernel_size"] + p["output_padding"]
            if grown - 2 * p["padding"] < 1:
                raise ShapeError(f"padding {p['padding']} on both sides removes all {grown} output {axis} pixels",
                                 "use less padding", Fix("Set padding to 0", "set_params", params=(("padding", 0),)))
            sizes.append(grown - 2 * p["padding"])
        return sizes

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if len(shape) != 3:
            raise ShapeError(f"needs an image C×H×W but receives {format_shape(shape)}",
                             "use an image Input, or Reshape to C×H×W (a decoder often reshapes a vector)")
        return (p["filters"], *self._sizes(p, shape))

    def shape_arithmetic(self, p, in_shapes):
        lines = []
        for size, axis, out in zip(in_shapes[0][1:], ("height", "width"), self._sizes(p, in_shapes[0])):
            padding = f" − 2×{p['padding']}" if p["padding"] else ""
            extra = f" + {p['output_padding']}" if p["output_padding"] else ""
            lines.append(f"{axis}: ({size} − 1)×{p['stride']}{padding} + {p['kernel_size']}{extra} = {out}")
        return tuple(lines)

    def param_count(self, p, in_shapes):
        return in_shapes[0][0] * p["filters"] * p["kernel_size"] ** 2 + (p["filters"] if p["bias"] else 0)

    def flops(self, p, in_shapes, out_shape):
        # every input value is spread over a kernel window of every filter
        return 2 * math.prod(in_shapes[0]) * p["filters"] * p["kernel_size"] ** 2

    def code(self, p, in_shapes):
        args = [str(in_shapes[0][0]), str(p["filters"]), f"kernel_size={p['kernel_size']}", f"stride={p['stride']}"]
        args += [f"{k}={p[k]}" for k in ("padding", "output_padding") if p[k]]
        if not p["bias"]:
            args.append("bias=False")
        return f"nn.ConvTranspose2d({', '.join(args)})"
