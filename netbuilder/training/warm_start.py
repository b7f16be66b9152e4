"""Starting a run from the model's weights (transfer learning) rather than fresh ones.

The network is compiled with its seed's fresh weights as always; then every tensor of the model's
checkpoint whose name and shape still match is loaded over them. Layers the user changed since (a
head of 10 classes instead of 1000) or added keep their fresh weights, and the run's first note
says which. Weights that cannot be read, or of which none fit, leave the whole network fresh, with
a note saying why (docs/decisions.md: a run is not refused for it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from netbuilder.common.text import shown
from netbuilder.model.checkpoint import CheckpointError, read_weights

# Names listed in the note before the rest are counted: the note stays one line for a changed backbone.
_NAMES_SHOWN = 4


@dataclass(frozen=True)
class WeightsMatch:
    """What loading a checkpoint's tensors by name and shape did to a network's state."""

    loaded: tuple[str, ...]
    reshaped: tuple[str, ...]  # in both, with another shape: fresh
    absent: tuple[str, ...]  # the network's, not in the checkpoint: fresh

    @property
    def total(self) -> int:
        return len(self.loaded) + len(self.reshaped) + len(self.absent)


def load_matching(model: torch.nn.Module, tensors: dict[str, torch.Tensor]) -> WeightsMatch:
    """Load into `model` each of `tensors` whose name and shape match one of its own; the others
    of its own stay as they are."""
    state = model.state_dict()
    loaded = {name: tensor for name, tensor in tensors.items()
              if name in state and tuple(tensor.shape) == tuple(state[name].shape)}
    model.load_state_dict(loaded, strict=False)
    return WeightsMatch(tuple(name for name in state if name in loaded),
                        tuple(name for name in state if name in tensors and name not in loaded),
                        tuple(name for name in state if name not in tensors))


@dataclass(frozen=True)
class StartWeights:
    """Where a run's starting weights are: the checkpoint at `path`; None when the project has no
    file yet, so nothing can be beside it."""

    path: Path | None

    def load_into(self, model: torch.nn.Module) -> str:
        """Load what fits into `model` (fresh from compiling); the one line that says what happened."""
        fresh = "the run starts from fresh weights"
        if self.path is None:
            return f"This project has no file yet, so there are no model weights beside it: {fresh}."
        if not self.path.exists():
            return f"There are no model weights to start from ({shown(self.path.name)} is missing): {fresh}."
        try:
            tensors = read_weights(self.path)
        except CheckpointError as error:
            return f"Cannot start from the model's weights, so {fresh}: {error}"
        match = load_matching(model, tensors)
        if not match.loaded:
            return (f"None of the weights in {shown(self.path.name)} fit this network (no layer name and shape "
                    f"match): {fresh}.")
        return starting_text(match)


def starting_text(match: WeightsMatch) -> str:
    """'Starting from the model's weights: 60 of 62 tensors; fc.weight and fc.bias start fresh (shape changed)'."""
    if not match.reshaped and not match.absent:
        return f"Starting from the model's weights: all {match.total} tensors."
    parts = [f"{_names(names)} start{'s' * (len(names) == 1)} fresh ({why})"
             for names, why in ((match.reshaped, "shape changed"), (match.absent, "not in the weights")) if names]
    return f"Starting from the model's weights: {len(match.loaded)} of {match.total} tensors; {'; '.join(parts)}."


def _names(names: tuple[str, ...]) -> str:
    shown_names = [shown(name, 60) for name in names[:_NAMES_SHOWN]]
    if len(names) > _NAMES_SHOWN:
        return f"{', '.join(shown_names)} and {len(names) - _NAMES_SHOWN} more"
    return shown_names[0] if len(names) == 1 else f"{', '.join(shown_names[:-1])} and {shown_names[-1]}"
