"""Layer specs: one declarative class per layer type. Importing this package registers them all."""
from .base import Fix, LayerSpec, Param, ParamError, Shape, ShapeError, format_shape
from .registry import all_specs, canonical_type, get_spec, register
from . import io, convolution, pooling, dense, normalization, activations, recurrent, attention, structure  # noqa: F401,E402

__all__ = ["Fix", "LayerSpec", "Param", "ParamError", "Shape", "ShapeError", "format_shape",
           "all_specs", "canonical_type", "get_spec", "register"]
