"""Recurrent layers over sequences T×F (batch first), and Embedding for token ids."""
from __future__ import annotations

from .base import LayerSpec, Param, ShapeError, format_shape
from .registry import register


class _Recurrent(LayerSpec):
    category = "Recurrent"
    params = (
        Param("hidden_size", int, 64, min=1, max=16384, shown=True),
        Param("num_layers", int, 1, min=1, max=16),
        Param("bidirectional", bool, False),
        Param("return_sequences", bool, False, shown=True,
              help="on: every time step T×H (to stack another recurrent layer); off: the last step H"),
    )
    torch_class: str
    gates: int
    keras_bias_vectors = 1
    keras_count_difference = "Keras keeps one bias vector per gate in LSTM and SimpleRNN layers, PyTorch two"

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if len(shape) != 2:
            remedy = ("use a sequence Input T×F, an Embedding or Reshape first" if len(shape) == 1
                      else "Reshape it to time steps × features")
            raise ShapeError(f"needs a sequence T×F but receives {format_shape(shape)}", remedy)
        width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        return (shape[0], width) if p["return_sequences"] else (width,)

    def _layer_inputs(self, p, features: int) -> list[int]:
        directions = 2 if p["bidirectional"] else 1
        return [features] + [p["hidden_size"] * directions] * (p["num_layers"] - 1)

    def param_count(self, p, in_shapes):
        return self._count(p, in_shapes, bias_vectors=2)  # PyTorch: input and hidden bias per gate

    def keras_param_count(self, p, in_shapes):
        return self._count(p, in_shapes, self.keras_bias_vectors)

    def _count(self, p, in_shapes, bias_vectors: int) -> int:
        hidden, directions = p["hidden_size"], 2 if p["bidirectional"] else 1
        return directions * sum(self.gates * (hidden * (inputs + hidden) + bias_vectors * hidden)
                                for inputs in self._layer_inputs(p, in_shapes[0][1]))

    def flops(self, p, in_shapes, out_shape):
        hidden, directions = p["hidden_size"], 2 if p["bidirectional"] else 1
        steps = in_shapes[0][0]
        return directions * steps * sum(2 * self.gates * hidden * (inputs + hidden)
                                        for inputs in self._layer_inputs(p, in_shapes[0][1]))

    def code(self, p, in_shapes):
        extra = f", num_layers={p['num_layers']}" if p["num_layers"] > 1 else ""
        extra += ", bidirectional=True" if p["bidirectional"] else ""
        return f"nn.{self.torch_class}({in_shapes[0][1]}, {p['hidden_size']}{extra}, batch_first=True)"

    def forward_code(self, p, module, inputs):
        if p["return_sequences"]:
            return f"{module}({inputs[0]})[0]"
        if not p["bidirectional"]:
            return f"{module}({inputs[0]})[0][:, -1]"
        # the backward direction's summary is its state after reading back to step 0, not step T
        final = f"{module}({inputs[0]})[1]" + ("[0]" if self.torch_class == "LSTM" else "")
        return f"torch.cat(({final}[-2], {final}[-1]), dim=1)"


@register
class LSTM(_Recurrent):
    type_id = "lstm"
    title = "LSTM"
    description = "Long short-term memory over a sequence T×F (Keras LSTM)."
    name_prefix = "lstm"
    torch_class = "LSTM"
    gates = 4


@register
class GRU(_Recurrent):
    type_id = "gru"
    title = "GRU"
    description = "Gated recurrent unit over a sequence T×F (Keras GRU)."
    name_prefix = "gru"
    torch_class = "GRU"
    gates = 3
    keras_bias_vectors = 2  # Keras's default reset_after=True keeps two, like PyTorch


@register
class SimpleRNN(_Recurrent):
    type_id = "simple_rnn"
    title = "SimpleRNN"
    description = "Plain tanh recurrent layer over a sequence T×F (Keras SimpleRNN)."
    name_prefix = "rnn"
    torch_class = "RNN"
    gates = 1


@register
class Embedding(LayerSpec):
    type_id = "embedding"
    title = "Embedding"
    category = "Recurrent"
    description = "Turns token ids T into vectors T×D (Keras Embedding); feed it from a tokens Input."
    name_prefix = "embedding"
    params = (Param("vocabulary", int, 10000, min=2, max=10_000_000, shown=True, help="number of distinct token ids"),
              Param("dimension", int, 64, min=1, max=65536, shown=True))
    accepts_token_ids = True

    def infer_shape(self, p, in_shapes):
        (shape,) = in_shapes
        if len(shape) != 1:
            raise ShapeError(f"needs token ids T but receives {format_shape(shape)}",
                             "feed it from an Input of kind tokens")
        return (shape[0], p["dimension"])

    def param_count(self, p, in_shapes):
        return p["vocabulary"] * p["dimension"]

    def code(self, p, in_shapes):
        return f"nn.Embedding({p['vocabulary']}, {p['dimension']})"
