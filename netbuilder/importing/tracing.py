"""Tracing a model with torch.fx so that every call of a layer's module stays one node, and every
call of a container module (a class of the user's, an nn.Sequential) is remembered with the
tensors it took and gave back: those calls become blocks."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.fx as fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from netbuilder.common.text import one_line, shown

from .report import ImportFailure
from .rules import module_rule

_TORCH_FOLDER = str(Path(torch.__file__).parent)
_OWN_FOLDER = str(Path(__file__).parent)


# containers named after the attribute holding them ("layer1"), not after their class
PLAIN_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.TransformerEncoder)


@dataclass(eq=False)
class ModuleCall:
    """One call of a container module while tracing (compared by identity: each call is its own)."""

    path: str  # the module's qualified name, "layer1.0"
    class_name: str  # "BasicBlock"
    plain: bool  # a container of PLAIN_CONTAINERS, named after its attribute rather than its class
    args: list[fx.Node]  # the tensors passed, in the order of its forward's parameters
    arg_names: list[str]
    result: fx.Node | None = None  # the tensor it returned; None for anything else

@dataclass
class Traced:
    module: fx.GraphModule
    calls: list[ModuleCall] = field(default_factory=list)


class _Tracer(fx.Tracer):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[ModuleCall] = []
        self.calls: list[ModuleCall] = []

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return module_rule(m) is not None

    def call_module(self, m, forward, args, kwargs):
        if module_rule(m) is not None:
            return super().call_module(m, forward, args, kwargs)
        if isinstance(m, nn.TransformerEncoder):
            forward = _encoder_stack(m)
        names = _parameter_names(forward if isinstance(m, nn.TransformerEncoder) else m.forward)
        tensors = [(names[i] if i < len(names) else f"x{i + 1}", a.node) for i, a in enumerate(args)
                   if isinstance(a, fx.Proxy)]
        tensors += [(name, a.node) for name, a in kwargs.items() if isinstance(a, fx.Proxy)]
        call = ModuleCall(self.path_of_module(m), type(m).__name__, isinstance(m, PLAIN_CONTAINERS),
                          [node for _, node in tensors], [name for name, _ in tensors])
        self.calls.append(call)
        self.stack.append(call)
        try:
            result = super().call_module(m, forward, args, kwargs)
        finally:
            self.stack.pop()
        call.result = result.node if isinstance(result, fx.Proxy) else None
        return result

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["netbuilder_calls"] = tuple(self.stack)
        node.meta["netbuilder_where"] = _user_frame()
        return node


def _parameter_names(function) -> list[str]:
    import inspect

    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _defaults_after_the_input(model: nn.Module) -> dict[str, Any]:
    """forward's parameters after the input that have defaults (`return_features=False`), traced
    with those defaults: netbuilder imports a model taking one input."""
    import inspect

    try:
        parameters = list(inspect.signature(model.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _encoder_stack(encoder: nn.TransformerEncoder):
    """nn.TransformerEncoder without masks is its layers one after another (and its norm): traced
    so, since its own forward branches on the input to choose a fast path."""
    def forward(src, mask=None, src_key_padding_mask=None, is_causal=None):
        if mask is not None or src_key_padding_mask is not None:
            raise ImportFailure("an nn.TransformerEncoder called with a mask cannot be imported: netbuilder's "
                                "encoder layers attend to every step.")
        for layer in encoder.layers:
            src = layer(src)
        return encoder.norm(src) if encoder.norm is not None else src
    return forward


def _user_frame() -> str:
    """Where in the user's code the current operation is: 'model.py line 42, in forward'."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith(_TORCH_FOLDER) or filename.startswith(_OWN_FOLDER)):
            return f"{Path(filename).name} line {frame.f_lineno}, in {frame.f_code.co_name}"
        frame = frame.f_back
    return "the model's forward"


def trace(model: nn.Module, what: str) -> Traced:
    """The traced model; a model torch.fx cannot follow raises ImportFailure with torch's reason
    and what to try."""
    tracer = _Tracer()
    try:
        graph = tracer.trace(model, concrete_args=_defaults_after_the_input(model))
    except ImportFailure:
        raise
    except Exception as error:  # noqa: BLE001 - torch.fx raises many kinds, all meaning "cannot trace"
        raise ImportFailure(
            f"torch.fx could not trace {what}: {one_line(shown(error, 400))} ({type(error).__name__}). Tracing "
            "follows forward with stand-in tensors, so forward cannot branch or loop on tensor values, convert "
            "them to Python numbers, or call code that inspects them. Try: make such a branch depend on a "
            "constructor argument instead, move the data-dependent part out of the model, or save the model with "
            "torch.export.save and import the .pt2 file.") from None
    return Traced(fx.GraphModule(model, graph, class_name=type(model).__name__), tracer.calls)


def propagate_shapes(traced: Traced, example: torch.Tensor, what: str) -> Any:
    """Run the traced model on `example`, noting every node's shape (its `tensor_meta`); returns its output."""
    try:
        with torch.no_grad():
            return ShapeProp(traced.module).propagate(example)
    except Exception as error:  # noqa: BLE001 - the user's forward may raise anything on this input
        raise ImportFailure(f"{what} fails on an input of shape {tuple(example.shape)} (a batch of "
                            f"{example.shape[0]}): {type(error).__name__}: {one_line(shown(error, 300))}. Check "
                            "--input-shape (without the batch).") from None


def out_shape(node: fx.Node) -> tuple[int, ...] | None:
    """The node's tensor shape, batch included; None for a non-tensor or a tuple of tensors."""
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None
