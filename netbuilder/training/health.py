"""Training health: per layer, how many outputs are dead, how large they are, how much gradient
reaches them, and advice in the user's words when a layer has stopped learning.

Measured on one training batch at a time (the trainer asks every few seconds, not every batch):
hooks on the model's direct submodules, which in a compiled network are named after its nodes,
record each output during the forward pass and its gradient during the backward pass, and are
removed right after.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .events import LayerHealth

# Seconds between two measured batches: often enough to follow a run, rare enough to cost
# little (a measured batch of the CNN template takes about a third longer than a plain one).
HEALTH_INTERVAL = 2.0
# ReLU-family layers whose outputs are exactly 0 for negative inputs: a share of zeros above
# DEAD_SHARE means the layer passes (and learns from) almost nothing.
DEAD_ACTIVATIONS = (nn.ReLU, nn.ReLU6)
DEAD_SHARE = 0.9
# A layer's gradient below this share of the largest layer gradient in the network has vanished;
# above EXPLODING_GRADIENT (or not finite) it has exploded.
VANISHING_SHARE = 1e-7
EXPLODING_GRADIENT = 1e4

ADVICE = {
    "dead": "Over {share:.0%} of this layer's outputs are 0 for every sample, so the layers before it stop "
            "learning: lower the learning rate, add BatchNorm before it, or use LeakyReLU.",
    "vanishing": "Almost no gradient reaches this layer, so it barely learns: add BatchNorm, use ReLU "
                 "instead of Sigmoid or Tanh, or make the network shallower (or add a skip connection).",
    "exploding": "The gradient at this layer is huge, so training becomes unstable: lower the learning "
                 "rate or add BatchNorm before it.",
}


class HealthProbe:
    """Hooks on `model`'s direct submodules for one forward and backward pass.

    Use as a context manager around the batch's forward and backward; `layers()` afterwards.
    """

    def __init__(self, model: nn.Module) -> None:
        self._modules = [(name, module) for name, module in model.named_children()]
        self._handles: list = []
        self._outputs: dict[str, tuple[float | None, torch.Tensor]] = {}  # name -> (dead, rms)
        self._gradients: dict[str, torch.Tensor] = {}

    def __enter__(self) -> "HealthProbe":
        for name, module in self._modules:
            self._handles.append(module.register_forward_hook(self._forward_hook(name, module)))
        return self

    def __exit__(self, *_) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _forward_hook(self, name: str, module: nn.Module):
        dead_family = isinstance(module, DEAD_ACTIVATIONS)

        def record(_module, _inputs, output) -> None:
            if isinstance(output, (tuple, list)):  # e.g. an LSTM's (outputs, (h, c))
                output = output[0]
            if not isinstance(output, torch.Tensor) or not output.is_floating_point():
                return
            values = output.detach()
            dead = values.eq(0).float().mean() if dead_family else None
            self._outputs[name] = (dead, values.float().pow(2).mean().sqrt())
            if output.requires_grad:
                output.register_hook(lambda gradient: self._gradients.__setitem__(name, gradient.float().norm()))
        return record

    def layers(self) -> tuple[LayerHealth, ...]:
        """What the pass measured, in the model's layer order, with a problem where one shows."""
        measured = []
        for name, _ in self._modules:
            if name not in self._outputs:
                continue
            dead, scale = self._outputs[name]
            gradient = self._gradients.get(name)
            measured.append((name, None if dead is None else float(dead), float(scale),
                             float(gradient) if gradient is not None else 0.0))
        largest = max((g for *_, g in measured if math.isfinite(g)), default=0.0)
        return tuple(diagnose(name, dead, scale, gradient, largest) for name, dead, scale, gradient in measured)


def diagnose(layer: str, dead: float | None, scale: float, gradient: float, largest_gradient: float) -> LayerHealth:
    problem = None
    if dead is not None and dead > DEAD_SHARE:
        problem = "dead"
    elif not math.isfinite(gradient) or gradient > EXPLODING_GRADIENT:
        problem = "exploding"
    elif largest_gradient > 0 and gradient < VANISHING_SHARE * largest_gradient:
        problem = "vanishing"
    advice = ADVICE[problem].format(share=DEAD_SHARE) if problem else ""
    return LayerHealth(layer, dead, scale, gradient, problem, advice)
