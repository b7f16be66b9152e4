"""The declarative layer contract: every layer type is one `LayerSpec` subclass.

A spec knows its parameters (type, default, limits), its shape rule, its parameter
count and FLOPs, how to build its torch module and how to write it as code. The
palette, inspector, summary, validation, compile and code export are generated
from these specs, so adding a layer touches only its spec and its test row.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from netbuilder.common.text import format_shape, shown

if TYPE_CHECKING:  # torch is imported lazily: start-up and the Qt-free core stay light
    from torch import nn

Shape = tuple[int, ...]
"""A tensor shape without the batch dimension, e.g. (32, 26, 26)."""


@dataclass(frozen=True)
class Fix:
    """A repair the editor can apply as one undoable command (core.fixes.fix_command).

    action: "insert_before" puts a new `type_id` layer between `node_id` and its input;
    "set_params" changes `params` of `node_id`; "bypass" removes `node_id` and joins its input to
    what it fed; "remove" deletes `node_id`; "rename" gives it the name in `params`. A spec raising a ShapeError leaves `node_id` empty:
    it means the layer with the problem, and the analysis fills it in.
    """

    title: str  # what the button says, e.g. "Insert Flatten before it"
    action: str
    node_id: str = ""
    type_id: str = ""
    params: tuple[tuple[str, Any], ...] = ()


class ShapeError(ValueError):
    """A layer cannot accept its inputs: `cause` says why (without the layer's name), `remedy` what
    to change, and `fix`, where one exists, does it."""

    def __init__(self, cause: str, remedy: str, fix: Fix | None = None):
        super().__init__(f"{cause}: {remedy}")
        self.cause, self.remedy, self.fix = cause, remedy, fix


class ParamError(ValueError):
    """A parameter value is outside its type or limits; the message is for the user."""


@dataclass(frozen=True)
class Param:
    """One editable parameter of a layer, with its type, default and limits."""

    name: str
    kind: type  # int, float, bool, str (always with choices) or tuple (a shape such as 1×28×28)
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    shown: bool = False  # shown on the node on the canvas as a key parameter
    axes: bool = False  # a tuple of axis numbers (Permute's dims), written 2, 0, 1 rather than as sizes 2×0×1

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def show(self, value: Any) -> str:
        """`value` as the node and the Inspector write it (and as typing it back reads it)."""
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, tuple):
            return ", ".join(str(axis) for axis in value) if self.axes else format_shape(value)
        return str(value)

    def coerce(self, value: Any) -> Any:
        """Return `value` as this parameter's type, or raise ParamError saying why not."""
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            raise ParamError(f"{self.label} must be true or false, not {_quoted(value)}")
        if self.kind is str or (self.choices and value in self.choices):
            if value in self.choices:
                return value
            raise ParamError(f"{self.label} must be one of {', '.join(self.choices)}, not {_quoted(value)}")
        if self.kind is tuple:
            return self._coerce_shape(value)
        if isinstance(value, str) and self.kind is int:
            value = self._whole_number_text(value)
        value = self._number(value)
        if self.min is not None and value < self.min:
            raise ParamError(f"{self.label} must be at least {_fmt(self.min)}, not {_fmt(value)}")
        if self.max is not None and value > self.max:
            raise ParamError(f"{self.label} must be at most {_fmt(self.max)}, not {_fmt(value)}")
        return value

    def _whole_number_text(self, text: str) -> int | float:
        """Typed text read as a number: a whole number, or a float (1e3) that `_number` checks."""
        try:
            return int(text.strip())
        except ValueError:
            if re.fullmatch(r"\s*\+?\d+\s*", text):  # a whole number longer than int() reads (4,300 digits)
                limit = f"must be at most {_fmt(self.max)}" if self.max is not None else "is too large"
                raise ParamError(f"{self.label} {limit}, not a {len(text.strip().lstrip('+'))}-digit "
                                 "number") from None
        try:  # 1e3 is a whole number too; 2.5 and inf are refused by _number, saying why
            return float(text)
        except ValueError:
            words = f" or one of {', '.join(self.choices)}" if self.choices else ""
            raise ParamError(f"{self.label} must be a whole number{words}, not {_quoted(text)}") from None

    def _number(self, value: Any) -> int | float:
        """`value` as this parameter's int or float, before its limits are checked."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"{self.label} must be a number, not {_quoted(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ParamError(f"{self.label} must be a finite number, not {_quoted(value)}")
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():  # (huge ints do not fit a float)
                raise ParamError(f"{self.label} must be a whole number, not {_quoted(value)}")
            return int(value)
        if isinstance(value, int) and abs(value) > 2**1023:  # no float holds it (10**400)
            raise ParamError(f"{self.label} must be a finite number, not {_fmt(value)}")
        return float(value)

    @property
    def _example(self) -> str:
        return "axes like 1, 0" if self.axes else "sizes like 1×28×28"

    def _coerce_shape(self, value: Any) -> tuple[int, ...]:
        if isinstance(value, str):
            if not _SHAPE_TEXT.fullmatch(value):
                raise ParamError(f"{self.label} must be {self._example}, not {_quoted(value)}")
            # a size of more digits than a million has is out of range, and int() refuses 4,300 digits
            value = [int(s) if len(s) <= 12 else 10**12 for s in re.findall(r"\d+", value)]
        if not isinstance(value, (list, tuple)) or not value or len(value) > 4:
            raise ParamError(f"{self.label} must be 1 to 4 {self._example}, not {_quoted(value)}")
        if any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise ParamError(f"{self.label} must be whole numbers, not {_quoted(value)}")
        low = 1 if self.min is None else self.min  # 0 is a limit too: Permute's axes start at 0
        high = 1_000_000 if self.max is None else self.max
        if any(v < low or v > high for v in value):
            raise ParamError(f"each {'axis' if self.axes else 'size'} in {self.label} must be between "
                             f"{_fmt(low)} and {_fmt(high)}")
        return tuple(value)


_SHAPE_TEXT = re.compile(r"\s*[(\[]?\s*\d+(\s*[,x×*]\s*\d+)*\s*,?\s*[)\]]?\s*")


def _fmt(number: float) -> str:
    if isinstance(number, int) and abs(number) >= 10**21:  # a value from a file may have thousands of digits
        return f"a {_digit_count(number)}-digit number"
    if isinstance(number, int):
        return str(number)
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:g}"


def _digit_count(number: int) -> int:
    """Decimal digits of abs(number); str() refuses ints beyond 4,300 digits, so huge ones are
    counted from their bits (exact but for the rare power-of-ten boundary)."""
    if number.bit_length() < 14_000:
        return len(str(abs(number)))
    return int(number.bit_length() * math.log10(2)) + 1


def _quoted(value: Any) -> str:
    """A bad value as a message shows it: its repr, at most SHOWN_CHARACTERS long and printable."""
    return shown(repr(value) if not isinstance(value, int) else _fmt(value))


class LayerSpec:
    """Base of all layer specs. Subclasses set the class attributes and override the rules."""

    type_id: ClassVar[str]  # stored in project files: never rename, add to `aliases` instead
    title: ClassVar[str]  # shown in the palette and on nodes
    category: ClassVar[str]
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()
    name_prefix: ClassVar[str] = ""  # default node names: conv1, conv2, ...
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1  # None: a merge node taking any number of inputs
    has_output: ClassVar[bool] = True

    # --- parameters -------------------------------------------------------------------------
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def normalize_params(self, values: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with `values`, each coerced; unknown names or bad values raise ParamError."""
        unknown = set(values) - {p.name for p in self.params}
        if unknown:
            raise ParamError(f"{self.title} has no parameter {', '.join(sorted(unknown))}")
        return {p.name: p.coerce(values.get(p.name, p.default)) for p in self.params}

    def summary(self, p: dict[str, Any]) -> str:
        """Key parameters shown on the node, e.g. '32, 3×3, same'. A switch shows its name when on
        and nothing when off: a bare 'yes' on a node would not say what is switched on."""
        return ", ".join(q.label if q.kind is bool else q.show(p[q.name])
                         for q in self.params if q.shown and (q.kind is not bool or p[q.name]))

    # --- the shape rule and costs ----------------------------------------------------------
    def infer_shape(self, p: dict[str, Any], in_shapes: Sequence[Shape]) -> Shape:
        raise NotImplementedError

    def param_count(self, p: dict[str, Any], in_shapes: Sequence[Shape]) -> int:
        return 0

    def shape_arithmetic(self, p: dict[str, Any], in_shapes: Sequence[Shape]) -> tuple[str, ...]:
        """How the output's sizes follow from the input's, one line per size, where that takes
        arithmetic (sliding windows: '(28 − 3)/1 + 1 = 26'). Called only when infer_shape succeeded."""
        return ()

    # why Keras's summary shows another count for this layer, where it does (see keras_param_count)
    keras_count_difference: ClassVar[str] = ""

    def keras_param_count(self, p: dict[str, Any], in_shapes: Sequence[Shape]) -> int:
        """What Keras's summary shows for the same layer, so users can check against articles."""
        return self.param_count(p, in_shapes)

    def flops(self, p: dict[str, Any], in_shapes: Sequence[Shape], out_shape: Shape) -> int:
        """Forward floating-point operations for one sample (a multiply-add counts as 2)."""
        return 0

    def inner_values(self, p: dict[str, Any], in_shapes: Sequence[Shape]) -> int:
        """Values per sample that training keeps inside the layer for the backward pass, beyond
        its output (attention's T×T scores per head); the memory estimate adds them."""
        return 0

    accepts_token_ids: ClassVar[bool] = False  # only Embedding reads integer token ids
    makes_probabilities: ClassVar[bool] = False  # its outputs are probabilities (Softmax)

    @property
    def is_source(self) -> bool:
        """Where data enters the network (takes no inputs)."""
        return self.max_inputs == 0

    @property
    def is_sink(self) -> bool:
        """Where the prediction leaves the network (feeds nothing)."""
        return not self.has_output

    def source_warning(self, p: dict[str, Any], source: "LayerSpec",
                       source_params: dict[str, Any]) -> "tuple[str, str, Fix] | None":
        """(cause, remedy, fix) of a warning about the layer feeding this one, or None; the warning
        and its fix concern the source (e.g. a Softmax before a cross-entropy Output)."""
        return None

    def outputs_token_ids(self, p: dict[str, Any]) -> bool:
        return False

    # --- torch and code ----------------------------------------------------------------------
    # A spec writes its module and its forward as code; compiling evaluates that same code, so
    # exported PyTorch source and the compiled model cannot drift apart (docs/decisions.md).
    def code(self, p: dict[str, Any], in_shapes: Sequence[Shape]) -> str | None:
        """Constructor of the module holding this layer's weights, e.g. 'nn.Conv2d(1, 32, 3)';
        None for a pure function of its inputs (Add, Concat)."""
        return None

    def forward_code(self, p: dict[str, Any], module: str, inputs: Sequence[str]) -> str:
        """This node's forward as a Python expression over the module and input names given."""
        return f"{module}({inputs[0]})"

    def build(self, p: dict[str, Any], in_shapes: Sequence[Shape]) -> "nn.Module | None":
        source = self.code(p, in_shapes)
        if source is None:
            return None
        from torch import nn

        return eval(source, {"__builtins__": {}, "nn": nn})  # noqa: S307 - our own code over validated numbers

    def apply(self, p: dict[str, Any], module: Any, inputs: Sequence[Any]) -> Any:
        """Forward on tensors, or on torch.fx proxies while compiling."""
        import torch

        names = [f"x{i}" for i in range(len(inputs))]
        scope = {"__builtins__": {}, "torch": torch, "module": module, **dict(zip(names, inputs))}
        return eval(self.forward_code(p, "module", names), scope)  # noqa: S307 - see build()

