"""The one table from PyTorch to netbuilder: which module class, function or tensor method each
layer spec stands for, and how its parameters are read back (the inverse of each spec's `code`).

A module rule is matched on the exact class (a subclass may compute something else); its
`problem` says what the module does that the layer cannot (a 3×1 kernel), so the import report
can name it. A call rule reads a function's or method's arguments. Rules raise `NotMapped`
with the reason when a call's arguments are beyond the layer.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn


class NotMapped(Exception):
    """This use of an operation has no layer; the message says what the layer lacks."""


def _square(value: Any, what: str) -> int:
    """One size for both axes: netbuilder's image layers have square kernels, strides and padding."""
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise NotMapped(f"a {'×'.join(str(v) for v in value)} {what}: netbuilder's layer has a square {what}")
        value = value[0]
    return int(value)


def _padding(value: Any) -> Any:
    if isinstance(value, str):
        return value
    pad = _square(value, "padding")
    return "valid" if pad == 0 else pad


def _conv2d(m: nn.Conv2d) -> dict:
    if m.padding_mode != "zeros":
        raise NotMapped(f"padding mode {m.padding_mode!r}: netbuilder pads with zeros")
    return {"filters": m.out_channels, "kernel_size": _square(m.kernel_size, "kernel"),
            "stride": _square(m.stride, "stride"), "padding": _padding(m.padding),
            "dilation": _square(m.dilation, "dilation"), "groups": m.groups, "bias": m.bias is not None}


def _conv_transpose2d(m: nn.ConvTranspose2d) -> dict:
    if m.groups != 1 or _square(m.dilation, "dilation") != 1:
        raise NotMapped("groups or dilation: netbuilder's ConvTranspose2d has neither")
    return {"filters": m.out_channels, "kernel_size": _square(m.kernel_size, "kernel"),
            "stride": _square(m.stride, "stride"), "padding": _square(m.padding, "padding"),
            "output_padding": _square(m.output_padding, "output padding"), "bias": m.bias is not None}


def _batchnorm(m: nn.modules.batchnorm._BatchNorm) -> dict:
    if not m.affine or not m.track_running_stats or m.momentum is None:
        raise NotMapped("without learned scale, running statistics or momentum: netbuilder's BatchNorm has all three")
    return {"momentum": m.momentum, "eps": m.eps}


def _layernorm(m: nn.LayerNorm) -> dict:
    if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
        raise NotMapped("over several axes or without a learned scale and shift: netbuilder's LayerNorm "
                        "normalises the last axis with both")
    return {"eps": m.eps}


def _pool(m: nn.MaxPool2d | nn.AvgPool2d) -> dict:
    if getattr(m, "ceil_mode", False) or _square(getattr(m, "dilation", 1), "dilation") != 1:
        raise NotMapped("ceil mode or dilation: netbuilder's pooling has neither")
    if isinstance(m, nn.AvgPool2d) and (not m.count_include_pad or m.divisor_override):
        raise NotMapped("padding left out of the average: netbuilder's AvgPool2d counts it")
    kernel = _square(m.kernel_size, "window")
    return {"pool_size": kernel, "stride": kernel if m.stride is None else _square(m.stride, "stride"),
            "padding": _square(m.padding, "padding")}


def _adaptive(m: nn.AdaptiveAvgPool2d) -> dict:
    if m.output_size is None or (isinstance(m.output_size, tuple) and None in m.output_size):
        raise NotMapped("an output size kept from the input: netbuilder's layer has a fixed one")
    return {"output_size": _square(m.output_size, "output size")}


def _flatten(m: nn.Flatten) -> dict:
    if (m.start_dim, m.end_dim) != (1, -1):
        raise NotMapped(f"flattening axes {m.start_dim} to {m.end_dim}: netbuilder's Flatten keeps the batch "
                        "axis and flattens all others")
    return {}


def _unflatten(m: nn.Unflatten) -> dict:
    if m.dim != 1:
        raise NotMapped(f"unflattening axis {m.dim}: netbuilder's Reshape reshapes everything but the batch")
    return {"target_shape": tuple(m.unflattened_size)}


def _upsample(m: nn.Upsample) -> dict:
    scale = m.scale_factor
    scale = _square(scale, "scale factor") if isinstance(scale, tuple) else scale
    if m.size is not None or scale is None or float(scale) != int(scale) or m.mode not in ("nearest", "bilinear") \
            or m.align_corners:
        raise NotMapped("a fixed size, a fractional scale, aligned corners or another mode: netbuilder's Upsample "
                        "scales by a whole number, nearest or bilinear")
    return {"scale_factor": int(scale), "mode": m.mode}


def _embedding(m: nn.Embedding) -> dict:
    if m.max_norm is not None:
        raise NotMapped("a maximum norm: netbuilder's Embedding keeps vectors as trained")
    return {"vocabulary": m.num_embeddings, "dimension": m.embedding_dim}


def _recurrent(m: nn.RNNBase) -> dict:
    problems = [what for what, bad in (("batch_first=False", not m.batch_first), ("no bias", not m.bias),
                                       ("dropout between its layers", m.dropout > 0),
                                       ("projections", getattr(m, "proj_size", 0) > 0),
                                       ("ReLU instead of tanh", getattr(m, "nonlinearity", "tanh") != "tanh"))
                if bad]
    if problems:
        raise NotMapped(f"{', '.join(problems)}: netbuilder's {type(m).__name__} reads batch first, with "
                        "biases, tanh, no dropout or projections")
    return {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "bidirectional": m.bidirectional}


def _attention(m: nn.MultiheadAttention) -> dict:
    if not m.batch_first or not m._qkv_same_embed_dim or m.bias_k is not None or m.add_zero_attn:
        raise NotMapped("batch_first=False, other key or value sizes, or added key biases: netbuilder's "
                        "MultiheadAttention is batch-first self-attention")
    return {"heads": m.num_heads, "dropout": m.dropout, "bias": m.in_proj_bias is not None}


def _encoder_layer(m: nn.TransformerEncoderLayer) -> dict:
    activation = {F.relu: "relu", F.gelu: "gelu"}.get(m.activation) if callable(m.activation) else None
    if isinstance(m.activation, (nn.ReLU, nn.GELU)):
        activation = "relu" if isinstance(m.activation, nn.ReLU) else "gelu"
    if not m.self_attn.batch_first or activation is None or m.norm1.eps != 1e-5 or m.linear1.bias is None:
        raise NotMapped("batch_first=False, another activation than relu or gelu, or another LayerNorm eps: "
                        "netbuilder's TransformerEncoderLayer is batch-first with those")
    return {"heads": m.self_attn.num_heads, "feedforward": m.linear1.out_features, "dropout": m.dropout.p,
            "activation": activation, "norm_first": m.norm_first}


def _gelu(m: nn.GELU) -> dict:
    if m.approximate != "none":
        raise NotMapped("the tanh approximation: netbuilder's GELU is exact")
    return {}


def _softmax(m: nn.Softmax | nn.LogSoftmax, rank: int) -> dict:
    if m.dim is None or m.dim not in (-1, rank - 1):
        raise NotMapped(f"over axis {m.dim}: netbuilder's Softmax is over the last axis")
    return {}


def _no_params(m: nn.Module) -> dict:
    return {}


def _state(m: nn.Module) -> dict[str, torch.Tensor]:
    return dict(m.state_dict())


@dataclass(frozen=True)
class ModuleRule:
    """An nn.Module class computed by layer `type_id`; `params` reads the layer's parameters from
    the module (and the rank of its input, batch included, where they depend on it)."""

    torch_class: type
    type_id: str
    params: Callable[..., dict] = _no_params
    takes_rank: bool = False
    # modules returning a tuple: which part of the result each layer setting gives, as the index path
    # taken into it (`out, _ = lstm(x); out[:, -1]` is (0, (slice(None), -1))); None for a tensor result
    parts: Callable[[nn.Module], dict[tuple, dict]] | None = None
    weights: Callable[[nn.Module], dict[str, torch.Tensor]] = _state


def index_key(index: Any) -> Any:
    """An index as a hashable key (slices are not hashable before Python 3.12): [:, -1] is (":", -1)."""
    if isinstance(index, tuple):
        return tuple(index_key(i) for i in index)
    if isinstance(index, slice):
        return ":" if index == slice(None) else ("slice", index.start, index.stop, index.step)
    return index


_LAST_STEP = (":", -1)


def _recurrent_parts(m: nn.RNNBase) -> dict[tuple, dict]:
    parts = {(0,): {"return_sequences": True}}
    # one direction's last step is its final state; a bidirectional layer's summary (netbuilder's
    # return_sequences=False) is both final states, the backward one at step 0, not out[:, -1]
    if not m.bidirectional:
        parts[(0, _LAST_STEP)] = {"return_sequences": False}
        parts[(1, 0, -1) if isinstance(m, nn.LSTM) else (1, -1)] = {"return_sequences": False}
    return parts


def _attention_parts(m: nn.Module) -> dict[tuple, dict]:
    return {(0,): {}}


_ACTIVATIONS = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "silu",
                nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid"}

MODULE_RULES: dict[type, ModuleRule] = {rule.torch_class: rule for rule in (
    ModuleRule(nn.Conv2d, "conv2d", _conv2d),
    ModuleRule(nn.ConvTranspose2d, "conv_transpose2d", _conv_transpose2d),
    ModuleRule(nn.Linear, "dense", lambda m: {"units": m.out_features, "bias": m.bias is not None}),
    ModuleRule(nn.BatchNorm2d, "batchnorm", _batchnorm),
    ModuleRule(nn.BatchNorm1d, "batchnorm", _batchnorm),
    ModuleRule(nn.LayerNorm, "layernorm", _layernorm),
    ModuleRule(nn.MaxPool2d, "maxpool2d", _pool),
    ModuleRule(nn.AvgPool2d, "avgpool2d", _pool),
    ModuleRule(nn.AdaptiveAvgPool2d, "adaptive_avg_pool2d", _adaptive),
    ModuleRule(nn.Upsample, "upsample", _upsample),
    ModuleRule(nn.Flatten, "flatten", _flatten),
    ModuleRule(nn.Unflatten, "reshape", _unflatten),
    ModuleRule(nn.Dropout, "dropout", lambda m: {"rate": m.p}),
    ModuleRule(nn.Dropout2d, "dropout2d", lambda m: {"rate": m.p}),
    ModuleRule(nn.Identity, "identity"),
    ModuleRule(nn.LeakyReLU, "leaky_relu", lambda m: {"negative_slope": m.negative_slope}),
    ModuleRule(nn.GELU, "gelu", _gelu),
    ModuleRule(nn.Softmax, "softmax", _softmax, takes_rank=True),
    *(ModuleRule(torch_class, type_id) for torch_class, type_id in _ACTIVATIONS.items()),
    ModuleRule(nn.Embedding, "embedding", _embedding),
    ModuleRule(nn.LSTM, "lstm", _recurrent, parts=_recurrent_parts),
    ModuleRule(nn.GRU, "gru", _recurrent, parts=_recurrent_parts),
    ModuleRule(nn.RNN, "simple_rnn", _recurrent, parts=_recurrent_parts),
    ModuleRule(nn.MultiheadAttention, "multihead_attention", _attention, parts=_attention_parts),
    ModuleRule(nn.TransformerEncoderLayer, "transformer_encoder", _encoder_layer),
)}


def _global_pool_sequence(m: nn.Module) -> bool:
    """nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()): netbuilder's GlobalAvgPool as code writes it."""
    children = list(m.children())
    return (type(m) is nn.Sequential and len(children) == 2 and type(children[0]) is nn.AdaptiveAvgPool2d
            and children[0].output_size in (1, (1, 1)) and type(children[1]) is nn.Flatten
            and (children[1].start_dim, children[1].end_dim) == (1, -1))


def _reshape_sequence(m: nn.Module) -> bool:
    """nn.Sequential(nn.Flatten(), nn.Unflatten(1, shape)): Reshape of an image or sequence as code writes it."""
    children = list(m.children())
    return (type(m) is nn.Sequential and len(children) == 2 and type(children[0]) is nn.Flatten
            and type(children[1]) is nn.Unflatten and children[1].dim == 1)


# Small nn.Sequential patterns that one layer's code writes, read back as that layer.
SEQUENCE_RULES: tuple[tuple[Callable[[nn.Module], bool], ModuleRule], ...] = (
    (_global_pool_sequence, ModuleRule(nn.Sequential, "global_avg_pool")),
    (_reshape_sequence, ModuleRule(nn.Sequential, "reshape",
                                   lambda m: {"target_shape": tuple(list(m.children())[1].unflattened_size)})),
)


def module_rule(module: nn.Module) -> ModuleRule | None:
    """The rule for this module, or None when it is a container traced through (or has no layer)."""
    rule = MODULE_RULES.get(type(module))
    if rule is None:
        rule = next((rule for matches, rule in SEQUENCE_RULES if matches(module)), None)
    return rule


# --- functions and tensor methods -----------------------------------------------------------------

@dataclass
class CallSite:
    """A function or method call as traced: its arguments (fx nodes stand for tensors), the shapes
    of its tensor arguments and result (batch included), and the names of its positional arguments."""

    args: tuple
    kwargs: dict
    names: tuple[str, ...]
    out_shape: tuple[int, ...] | None
    in_rank: int

    def get(self, name: str, default: Any = None) -> Any:
        if name in self.kwargs:
            return self.kwargs[name]
        index = self.names.index(name)
        return self.args[index] if index < len(self.args) else default


@dataclass(frozen=True)
class CallRule:
    """Functions and tensor method names (`targets`) computed by layer `type_id`. `names` are the
    positional arguments in order; `inputs` the names of those holding the layer's inputs (a list
    for torch.cat); `params` reads the layer's parameters from a call (None: from the shape of its
    result, as for view and reshape, whose arguments may be sizes computed while running)."""

    targets: tuple
    type_id: str
    names: tuple[str, ...] = ("input",)
    inputs: tuple[str, ...] = ("input",)
    params: Callable[[CallSite], dict] | None = field(default=lambda site: {})


def _dim_after_batch(dim: int, rank: int, what: str) -> int:
    """A torch axis (batch included) as netbuilder counts it (without the batch)."""
    if dim % rank == 0:
        raise NotMapped(f"{what} over the batch axis: netbuilder's layers work on each sample")
    return dim - 1 if dim > 0 else dim


def _flatten_call(site: CallSite) -> dict:
    if (site.get("start_dim", 0), site.get("end_dim", -1)) not in ((1, -1), (1, site.in_rank - 1)):
        raise NotMapped("flattening other axes than all but the batch: netbuilder's Flatten keeps the batch axis")
    return {}


def _permute_call(site: CallSite) -> dict:
    dims = site.args[1:] if len(site.args) > 2 or not isinstance(site.get("dims", None), (tuple, list)) else \
        site.get("dims")
    dims = tuple(int(d) % site.in_rank for d in dims)
    if dims[0] != 0:
        raise NotMapped("moving the batch axis: netbuilder's Permute reorders the axes of each sample")
    return {"dims": tuple(d - 1 for d in dims[1:])}


def _transpose_call(site: CallSite) -> dict:
    first, second = (int(site.get(name)) % site.in_rank for name in ("dim0", "dim1"))
    if 0 in (first, second):
        raise NotMapped("moving the batch axis: netbuilder's Permute reorders the axes of each sample")
    dims = list(range(site.in_rank))
    dims[first], dims[second] = dims[second], dims[first]
    return {"dims": tuple(d - 1 for d in dims[1:])}


def _concat_call(site: CallSite) -> dict:
    return {"axis": _dim_after_batch(int(site.get("dim", 0)), site.in_rank, "joining")}


def _softmax_call(site: CallSite) -> dict:
    dim = site.get("dim")
    if dim is None or int(dim) % site.in_rank != site.in_rank - 1:
        raise NotMapped(f"over axis {dim}: netbuilder's Softmax is over the last axis")
    return {}


def _pool_call(site: CallSite) -> dict:
    if site.get("ceil_mode", False) or _square(site.get("dilation", 1), "dilation") != 1:
        raise NotMapped("ceil mode or dilation: netbuilder's pooling has neither")
    kernel = _square(site.get("kernel_size"), "window")
    stride = site.get("stride")
    return {"pool_size": kernel, "stride": kernel if stride in (None, []) else _square(stride, "stride"),
            "padding": _square(site.get("padding", 0), "padding")}


def _adaptive_call(site: CallSite) -> dict:
    return {"output_size": _square(site.get("output_size"), "output size")}


def _mean_call(site: CallSite) -> dict:
    dims = site.get("dim")
    dims = {int(d) % site.in_rank for d in (dims if isinstance(dims, (tuple, list)) else (dims,))}
    if site.in_rank != 4 or dims != {2, 3} or site.get("keepdim", False):
        raise NotMapped("a mean over other axes than an image's height and width: netbuilder's GlobalAvgPool "
                        "averages those")
    return {}


def _gelu_call(site: CallSite) -> dict:
    if site.get("approximate", "none") != "none":
        raise NotMapped("the tanh approximation: netbuilder's GELU is exact")
    return {}


def _activation_targets(name: str, *functions: Callable) -> tuple:
    """A function, its tensor methods and its ATen operators (a .pt2 file's calls), in place or not."""
    return (*functions, name, f"{name}_", *_aten(name, f"{name}_"))


def _aten(*names: str) -> tuple:
    """ATen operators, as a torch.export program calls them: "add.Tensor" is aten.add.Tensor."""
    operators = []
    for name in names:
        packet, _, overload = name.partition(".")
        operators.append(getattr(getattr(torch.ops.aten, packet), overload or "default"))
    return tuple(operators)


_BINARY = ("input", "other")

CALL_RULES: tuple[CallRule, ...] = (
    CallRule((operator.add, operator.iadd, torch.add, "add", "add_", *_aten("add.Tensor", "add_.Tensor")), "add",
             _BINARY, _BINARY),
    CallRule((operator.mul, operator.imul, torch.mul, "mul", "mul_", *_aten("mul.Tensor", "mul_.Tensor")), "mul",
             _BINARY, _BINARY),
    CallRule((torch.cat, torch.concat, *_aten("cat")), "concat", ("tensors", "dim"), ("tensors",), _concat_call),
    CallRule((torch.flatten, "flatten", *_aten("flatten.using_ints")), "flatten", ("input", "start_dim", "end_dim"),
             params=_flatten_call),
    CallRule((torch.reshape, "reshape", "view", *_aten("view", "reshape")), "reshape", ("input", "shape"),
             params=None),
    CallRule((torch.permute, "permute", *_aten("permute")), "permute", ("input", "dims"), params=_permute_call),
    CallRule((torch.transpose, "transpose", *_aten("transpose.int")), "permute", ("input", "dim0", "dim1"),
             params=_transpose_call),
    CallRule(_activation_targets("relu", F.relu, torch.relu), "relu"),
    CallRule((F.relu6, *_aten("relu6")), "relu6"),
    CallRule(_activation_targets("sigmoid", torch.sigmoid, F.sigmoid), "sigmoid"),
    CallRule(_activation_targets("tanh", torch.tanh, F.tanh), "tanh"),
    CallRule((F.gelu,), "gelu", ("input", "approximate"), params=_gelu_call),
    CallRule((F.silu, *_aten("silu", "silu_")), "silu"),
    CallRule((F.hardswish, *_aten("hardswish", "hardswish_")), "hardswish"),
    CallRule((F.hardsigmoid, *_aten("hardsigmoid", "hardsigmoid_")), "hardsigmoid"),
    CallRule((F.leaky_relu, *_aten("leaky_relu", "leaky_relu_")), "leaky_relu", ("input", "negative_slope"),
             params=lambda site: {"negative_slope": site.get("negative_slope", 0.01)}),
    CallRule((F.softmax, torch.softmax, "softmax", *_aten("softmax.int")), "softmax", ("input", "dim"),
             params=_softmax_call),
    CallRule((F.max_pool2d, *_aten("max_pool2d")), "maxpool2d",
             ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode"), params=_pool_call),
    CallRule((F.avg_pool2d, *_aten("avg_pool2d")), "avgpool2d", ("input", "kernel_size", "stride", "padding", "ceil_mode"),
             params=_pool_call),
    CallRule((F.adaptive_avg_pool2d, *_aten("adaptive_avg_pool2d")), "adaptive_avg_pool2d", ("input", "output_size"),
             params=_adaptive_call),
    CallRule((torch.mean, "mean", *_aten("mean.dim")), "global_avg_pool", ("input", "dim", "keepdim"),
             params=_mean_call),
    CallRule((F.dropout, *_aten("dropout", "dropout_")), "dropout", ("input", "p"),
             params=lambda site: {"rate": site.get("p", 0.5)}),
)

# Calls that hand on their input's values unchanged (in the inference the import checks)
PASS_THROUGH = ("contiguous", "clone", "detach", torch.clone, *_aten("contiguous", "clone", "alias"))


def call_rule(target: Any) -> CallRule | None:
    return next((rule for rule in CALL_RULES if target in rule.targets), None)
