"""The nodes blocks are made of: a block instance (a card standing for a block definition, repeated
N times) and the ports inside a definition where its wires enter and leave. Their shapes, counts
and modules depend on the project's block library, so analysis and compile handle them
(core/blocks.py); the palette does not offer them: grouping layers makes them."""
from __future__ import annotations

from .base import LayerSpec, Param, ParamError, ShapeError
from .registry import register_unlisted

REPEAT_LIMIT = 1000


@register_unlisted
class BlockInstance(LayerSpec):
    type_id = "block"
    title = "Block"
    category = "Blocks"
    description = "A block of layers defined once in the project; every instance shares its inside."
    name_prefix = "block"
    # "block" (the definition's id) is no user-edited parameter: normalize_params keeps it beside these
    params = (Param("repeat", int, 1, min=1, max=REPEAT_LIMIT, shown=True,
                    help="stack the block this many times (its output must fit its own input)"),)
    min_inputs = 1
    max_inputs = None

    def normalize_params(self, values):
        values = dict(values)
        block = values.pop("block", None)
        if not isinstance(block, str) or not block:
            raise ParamError("a block instance must name its block definition")
        return {"block": block, **super().normalize_params(values)}

    def summary(self, p):
        return f"×{p['repeat']}" if p["repeat"] > 1 else ""

    def infer_shape(self, p, in_shapes):
        raise ShapeError("is a block outside any project", "group layers into a block in the editor")


@register_unlisted
class BlockInput(LayerSpec):
    type_id = "block_input"
    title = "Block input"
    category = "Blocks"
    description = "Where a wire enters a block definition (its node name is the port's name)."
    name_prefix = "x"
    min_inputs = max_inputs = 0

    def infer_shape(self, p, in_shapes):
        raise ShapeError("has no shape: the block card it was opened through receives nothing here",
                         "connect that card's input in the network")

    def forward_code(self, p, module, inputs):
        return inputs[0]


@register_unlisted
class BlockOutput(LayerSpec):
    type_id = "block_output"
    title = "Block output"
    category = "Blocks"
    description = "Where the block's result leaves its definition."
    name_prefix = "out"
    has_output = False

    def infer_shape(self, p, in_shapes):
        return in_shapes[0]

    def forward_code(self, p, module, inputs):
        return inputs[0]
