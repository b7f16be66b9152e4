"""Element-wise activations (and Softmax over the last axis)."""
from __future__ import annotations

import math

from .base import LayerSpec, Param
from .registry import register


class _Activation(LayerSpec):
    category = "Activation"
    torch_code: str
    cost_per_value = 1

    def infer_shape(self, p, in_shapes):
        return in_shapes[0]

    def flops(self, p, in_shapes, out_shape):
        return self.cost_per_value * math.prod(out_shape)

    def code(self, p, in_shapes):
        return self.torch_code.format(**p)


def _activation(type_id: str, title: str, torch_code: str, description: str, cost: int = 1,
                params: tuple[Param, ...] = (), probabilities: bool = False) -> type[LayerSpec]:
    """Registers one activation; they differ only in these few facts."""
    cls = type(title, (_Activation,), {
        "type_id": type_id, "title": title, "torch_code": torch_code, "description": description,
        "cost_per_value": cost, "params": params, "name_prefix": type_id, "makes_probabilities": probabilities,
        "__module__": __name__,
    })
    return register(cls)


ReLU = _activation("relu", "ReLU", "nn.ReLU()", "max(0, x): the default activation.")
LeakyReLU = _activation("leaky_relu", "LeakyReLU", "nn.LeakyReLU({negative_slope!r})",
                        "x for x > 0, else slope·x: keeps a small gradient for negative inputs.",
                        params=(Param("negative_slope", float, 0.01, min=0.0, max=1.0, shown=True),))
Sigmoid = _activation("sigmoid", "Sigmoid", "nn.Sigmoid()", "1 / (1 + e^−x): squashes to (0, 1).", cost=4)
Tanh = _activation("tanh", "Tanh", "nn.Tanh()", "Squashes to (−1, 1).", cost=4)
GELU = _activation("gelu", "GELU", "nn.GELU()", "Smooth ReLU used in transformers.", cost=8)
Softmax = _activation("softmax", "Softmax", "nn.Softmax(dim=-1)",
                      "Turns scores into probabilities over the last axis. Not needed before a "
                      "classification Output: cross-entropy applies it itself.", cost=3, probabilities=True)
ReLU6 = _activation("relu6", "ReLU6", "nn.ReLU6()", "min(max(0, x), 6): ReLU capped at 6, as in MobileNet.", cost=2)
SiLU = _activation("silu", "SiLU", "nn.SiLU()", "x · sigmoid(x) (Swish): smooth ReLU of EfficientNet.", cost=5)
Hardswish = _activation("hardswish", "Hardswish", "nn.Hardswish()",
                        "x · ReLU6(x + 3) / 6: a cheap Swish, as in MobileNetV3.", cost=4)
Hardsigmoid = _activation("hardsigmoid", "Hardsigmoid", "nn.Hardsigmoid()",
                          "ReLU6(x + 3) / 6: a cheap sigmoid, the gate of MobileNetV3's squeeze-and-excite.",
                          cost=3)
