"""Each node of a traced model read as what netbuilder makes of it (a step): a layer, the same
value as another node, a size helper, a part of a tuple result, a constant, or an operation that
no layer computes (for the import report)."""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from netbuilder.core.layers import ParamError, get_spec

from .report import Unsupported
from .rules import PASS_THROUGH, CallSite, ModuleRule, NotMapped, call_rule, index_key, module_rule
from .tracing import out_shape


@dataclass
class Layer:
    type_id: str
    params: dict
    inputs: list[fx.Node]
    name: str | None = None  # the name wanted (the module's attribute)
    weights: dict[str, torch.Tensor] = field(default_factory=dict)
    owner: Any = None  # the module or parameter holding the weights: one layer each
    from_module: bool = False


@dataclass
class Alias:
    source: fx.Node


@dataclass
class Helper:
    """A size or other non-tensor value; layers that read one (view) take their shape from their result."""


@dataclass
class Constant:
    name: str
    value: torch.Tensor


@dataclass
class Part:
    """A part of a tuple a module returned (an LSTM's output and states), `path` the indices taken."""

    call: fx.Node
    rule: ModuleRule
    path: tuple


@dataclass
class Refused:
    item: Unsupported
    listed: bool = True  # False for reading an attribute or part of a refused result: the report names that one


Step = Layer | Alias | Helper | Constant | Part | Refused


def _module_where(node: fx.Node, module: nn.Module) -> str:
    return f"{node.target} ({type(module).__name__})"


def _operation_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.target is getattr:
        return f"the attribute .{node.args[1]}"
    if isinstance(node.target, torch._ops.OpOverload):  # a .pt2 file's operator
        return f"aten.{node.target._schema.name.split('::')[-1]}"
    target = node.target
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if module == "_operator":
        return {"getitem": "indexing [ ]"}.get(name, f"the {name} operator")
    return f"{'torch.' if module.startswith('torch') else ''}{name}"


class StepReader:
    """Reads a traced model's nodes in order into steps."""

    def __init__(self, module: fx.GraphModule):
        self.module = module
        self.steps: dict[fx.Node, Step] = {}

    def resolve(self, node: Any) -> Any:
        while isinstance(node, fx.Node) and isinstance(self.steps.get(node), Alias):
            node = self.steps[node].source
        return node

    def read(self, node: fx.Node) -> Step:
        where = node.meta.get("netbuilder_where", "")
        try:
            if node.op == "get_attr":
                value = self.module.get_parameter(node.target) if _is_parameter(self.module, node.target) else \
                    _attribute(self.module, node.target)
                return Constant(node.target, value) if isinstance(value, torch.Tensor) else Helper()
            if node.op == "call_module":
                return self._module(node)
            return self._call(node, where)
        except NotMapped as reason:
            what = (f"nn.{type(self.module.get_submodule(node.target)).__name__}" if node.op == "call_module"
                    else _operation_name(node))
            place = _module_where(node, self.module.get_submodule(node.target)) if node.op == "call_module" else where
            return Refused(Unsupported(what, place, str(reason)))

    def _module(self, node: fx.Node) -> Step:
        module = self.module.get_submodule(node.target)
        rule = module_rule(module)
        tensors = [a for a in (*node.args, *node.kwargs.values()) if isinstance(a, fx.Node)]
        if rule.parts is not None:
            if isinstance(module, nn.MultiheadAttention):
                masks = [k for k in ("key_padding_mask", "attn_mask") if node.kwargs.get(k) is not None]
                if len({self.resolve(a) for a in tensors}) != 1 or masks or len(node.args) > 3:
                    raise NotMapped("other keys and values than the query, or a mask: netbuilder's "
                                    "MultiheadAttention is self-attention over every step")
            elif len(tensors) != 1:
                raise NotMapped("an initial state: netbuilder's recurrent layers start from zeros")
            return Part(node, rule, ())
        if len(tensors) != 1 or len(node.args) != 1:
            raise NotMapped("more arguments than one input: netbuilder's layer takes its input alone")
        params = rule.params(module, len(out_shape(tensors[0]) or ())) if rule.takes_rank else rule.params(module)
        return Layer(rule.type_id, _checked(rule.type_id, params), [tensors[0]], node.target.rsplit(".", 1)[-1],
                     rule.weights(module), module, from_module=True)

    def _call(self, node: fx.Node, where: str) -> Step:
        target, args = node.target, node.args
        if target in (operator.getitem, getattr) and isinstance(self.steps.get(self.resolve(args[0])), Refused):
            return Refused(self.steps[self.resolve(args[0])].item, listed=False)
        if target in (operator.getitem, _SELECT):
            source = self.steps.get(self.resolve(args[0]))
            if isinstance(source, Part):
                index = index_key(args[1]) if target is operator.getitem else _selected(*args[1:])
                return Part(source.call, source.rule, (*source.path, index))
        if out_shape(node) is None and not _holds_tensors(node):
            return Helper()
        if target in PASS_THROUGH:
            return Alias(args[0])
        rule = call_rule(target)
        if rule is None:
            raise NotMapped("")
        names = (("self",) + rule.names[1:]) if node.op == "call_method" else rule.names
        site = CallSite(args, dict(node.kwargs), names, out_shape(node), _rank(args[0]))
        if rule.type_id == "concat":
            inputs = list(site.get(names[0]))
        else:
            inputs = [site.get(name) for name in names[:len(rule.inputs)]]
        inputs = [self.resolve(i) for i in inputs]
        constants = [i for i in inputs if isinstance(self.steps.get(i), Constant)]
        if rule.type_id == "add" and len(constants) == 1 and len(inputs) == 2:
            return self._positional(node, inputs, constants[0])
        if not all(isinstance(i, fx.Node) and out_shape(i) is not None for i in inputs):
            raise NotMapped("with a number or a stored tensor: netbuilder's layer takes tensors from other layers")
        if rule.params is None:
            return self._reshape(node, inputs[0], args[1:])
        return Layer(rule.type_id, _checked(rule.type_id, rule.params(site)), inputs)

    def _reshape(self, node: fx.Node, source: fx.Node, sizes: tuple) -> Step:
        shape, before = out_shape(node), out_shape(source)
        sizes = sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        fixed_batch = bool(sizes) and isinstance(sizes[0], int) and sizes[0] != -1
        if shape[0] != before[0] or fixed_batch:
            raise NotMapped("mixing the batch with other axes: netbuilder's Reshape reshapes each sample")
        if len(shape) == 2:
            return Layer("flatten", {}, [source])
        return Layer("reshape", _checked("reshape", {"target_shape": tuple(shape[1:])}), [source])

    def _positional(self, node: fx.Node, inputs: list[fx.Node], constant: fx.Node) -> Step:
        """x + a learned T×F (or 1×T×F) tensor: netbuilder's PositionalEmbedding."""
        value = self.steps[constant].value
        data = next(i for i in inputs if i is not constant)
        shape = out_shape(data)
        if shape is None or len(shape) != 3 or tuple(value.shape[-2:]) != shape[1:] or value.numel() != shape[1] * shape[2]:
            raise NotMapped("a stored tensor that is no learned vector per position: netbuilder adds those "
                            "(PositionalEmbedding) to a sequence T×F")
        name = self.steps[constant].name
        name = name[: -len(".weight")] if name.endswith(".weight") else name
        return Layer("positional_embedding", {}, [data], name.rsplit(".", 1)[-1],
                     {"weight": value.detach().reshape(shape[1], shape[2])}, value)


_SELECT = torch.ops.aten.select.int  # a .pt2 file's out[:, -1]


def _selected(dim: int, index: int):
    """aten.select(x, dim, index) as the index key of x[:, ..., index]."""
    return index if dim == 0 else (*([":"] * dim), index)


def _checked(type_id: str, params: dict) -> dict:
    try:
        return get_spec(type_id).normalize_params(params)
    except ParamError as error:
        raise NotMapped(str(error)) from None


def _rank(value: Any) -> int:
    shape = out_shape(value) if isinstance(value, fx.Node) else None
    if shape is None and isinstance(value, (list, tuple)) and value and isinstance(value[0], fx.Node):
        shape = out_shape(value[0])
    return len(shape) if shape is not None else 0


def _holds_tensors(node: fx.Node) -> bool:
    return node.meta.get("tensor_meta") is not None


def _is_parameter(module: nn.Module, target: str) -> bool:
    return target in dict(module.named_parameters())


def _attribute(module: nn.Module, target: str) -> Any:
    value: Any = module
    for part in target.split("."):
        value = getattr(value, part)
    return value
