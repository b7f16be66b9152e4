"""Attention over sequences T×F (batch first): multi-head self-attention, a Transformer encoder
layer, and the learned positional embedding that tells them where each step is."""
from __future__ import annotations

from .base import Fix, LayerSpec, Param, ShapeError, format_shape
from .registry import register

_HEADS = Param("heads", int, 4, min=1, max=1024, shown=True,
               help="attention heads; the features F must divide by it (each head sees F / heads)")


def _require_sequence(shape) -> None:
    if len(shape) != 2:
        raise ShapeError(f"needs a sequence T×F but receives {format_shape(shape)}",
                         "use an Embedding, a sequence Input or Reshape to time steps × features before it")


def _check_heads(p, features: int) -> None:
    if features % p["heads"]:
        fitting = max(d for d in range(1, p["heads"] + 1) if features % d == 0)
        raise ShapeError(f"the {features} features must divide by the {p['heads']} heads",
                         f"use a number of heads that divides {features}, such as {fitting}",
                         Fix(f"Set heads to {fitting}", "set_params", params=(("heads", fitting),)))


def _attention_params(features: int, bias: bool) -> int:
    """Query, key, value and output projections, F×F each (with a bias of F each)."""
    return 4 * features * features + (4 * features if bias else 0)


def _attention_values(steps: int, features: int, heads: int, dropout: float) -> int:
    """What self-attention keeps for the backward pass (autograd's saved tensors, measured on the
    CPU): its input, queries, keys, values, the heads' output and their summary (6 T×F); with
    dropout on the attention weights torch leaves its fused kernel for one that keeps every head's
    T×T scores, weights and dropout mask."""
    return 6 * steps * features + (3 * heads * steps * steps if dropout else 0)


def _attention_flops(steps: int, features: int) -> int:
    """The four projections of every step, then scores Q·Kᵀ and their weighted sum of V (T×T×F each)."""
    return 2 * 4 * steps * features * features + 2 * 2 * steps * steps * features


class _SelfAttention(LayerSpec):
    category = "Attention"

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        _require_sequence(shape)
        _check_heads(p, shape[1])
        return shape


@register
class MultiheadAttention(_SelfAttention):
    type_id = "multihead_attention"
    title = "MultiheadAttention"
    description = ("Self-attention over a sequence T×F: every step gathers the steps it attends to, "
                   "in several heads (nn.MultiheadAttention, batch first); gives T×F.")
    name_prefix = "attention"
    params = (_HEADS, Param("dropout", float, 0.0, min=0.0, max=0.99, help="on the attention weights"),
              Param("bias", bool, True))

    def param_count(self, p, in_shapes):
        return _attention_params(in_shapes[0][1], p["bias"])

    def flops(self, p, in_shapes, out_shape):
        return _attention_flops(*in_shapes[0])

    def inner_values(self, p, in_shapes):
        return _attention_values(*in_shapes[0], p["heads"], p["dropout"])

    def code(self, p, in_shapes):
        extra = f", dropout={p['dropout']!r}" if p["dropout"] else ""
        extra += "" if p["bias"] else ", bias=False"
        return f"nn.MultiheadAttention({in_shapes[0][1]}, {p['heads']}{extra}, batch_first=True)"

    def forward_code(self, p, module, inputs):
        x = inputs[0]  # self-attention: the sequence is query, key and value
        return f"{module}({x}, {x}, {x}, need_weights=False)[0]"


@register
class TransformerEncoderLayer(_SelfAttention):
    type_id = "transformer_encoder"
    title = "TransformerEncoderLayer"
    description = ("One Transformer encoder layer over a sequence T×F: self-attention and a feed-forward "
                   "network, each with a residual connection and LayerNorm (nn.TransformerEncoderLayer, "
                   "batch first; d_model is F); gives T×F.")
    name_prefix = "encoder"
    params = (_HEADS,
              Param("feedforward", int, 256, min=1, max=1_000_000, shown=True, help="hidden units of the feed-forward network"),
              Param("dropout", float, 0.1, min=0.0, max=0.99),
              Param("activation", str, "relu", choices=("relu", "gelu")),
              Param("norm_first", bool, False, help="LayerNorm before attention and feed-forward (trains deeper stacks more stably)"))

    def param_count(self, p, in_shapes):
        features, hidden = in_shapes[0][1], p["feedforward"]
        feed_forward = features * hidden + hidden + hidden * features + features
        return _attention_params(features, True) + feed_forward + 2 * 2 * features  # two LayerNorms

    def flops(self, p, in_shapes, out_shape):
        steps, features = in_shapes[0]
        return _attention_flops(steps, features) + 2 * 2 * steps * features * p["feedforward"]

    def inner_values(self, p, in_shapes):
        # besides attention: residual sums, LayerNorms and their dropout masks (6 T×F), the
        # feed-forward's hidden values before and after the activation and their mask (3 T×feedforward)
        steps, features = in_shapes[0]
        return (_attention_values(steps, features, p["heads"], p["dropout"]) + 6 * steps * features
                + 3 * steps * p["feedforward"])

    def code(self, p, in_shapes):
        extra = f", activation={p['activation']!r}" if p["activation"] != "relu" else ""
        extra += ", norm_first=True" if p["norm_first"] else ""
        return (f"nn.TransformerEncoderLayer({in_shapes[0][1]}, {p['heads']}, dim_feedforward={p['feedforward']}, "
                f"dropout={p['dropout']!r}{extra}, batch_first=True)")


@register
class PositionalEmbedding(LayerSpec):
    type_id = "positional_embedding"
    title = "PositionalEmbedding"
    category = "Attention"
    description = ("Adds a learned vector per position to a sequence T×F, so attention, which ignores "
                   "order, can tell the steps apart; put it after the Embedding.")
    name_prefix = "positions"

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        _require_sequence(shape)
        return shape

    def param_count(self, p, in_shapes):
        steps, features = in_shapes[0]
        return steps * features

    def flops(self, p, in_shapes, out_shape):
        steps, features = out_shape
        return steps * features

    def code(self, p, in_shapes):
        # an Embedding's table is the T×F parameter: its row t is position t's vector
        return f"nn.Embedding({in_shapes[0][0]}, {in_shapes[0][1]})"

    def forward_code(self, p, module, inputs):
        return f"{inputs[0]} + {module}.weight"
