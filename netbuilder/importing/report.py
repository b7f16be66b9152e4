"""What an import tells the user when it cannot finish: the operations without a layer, each with
where it is in the model, or why the model could not be read at all. Never a traceback."""
from __future__ import annotations

from dataclasses import dataclass

from netbuilder.common.text import shown


REPORT_LINES = 15  # operations listed in a message; `ImportFailure.unsupported` holds them all


@dataclass(frozen=True)
class Unsupported:
    """One operation of the model that no netbuilder layer computes."""

    operation: str  # "torch.sort", "nn.Conv3d", "Conv2d with a 3×1 kernel"
    where: str  # "layer2.0.conv1" or "model.py line 42, in Net.forward"
    reason: str = ""  # what netbuilder's layer lacks, where a layer of that kind exists

    def line(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"{shown(self.operation, 80)} at {shown(self.where, 120)}{why}"


class ImportFailure(Exception):
    """The model cannot be imported; the message says why in words for the user. `unsupported`
    lists the operations without a layer (the import report), empty when the cause is another."""

    def __init__(self, message: str, unsupported: tuple[Unsupported, ...] = ()):
        super().__init__(message)
        self.unsupported = unsupported

    @classmethod
    def report(cls, model: str, unsupported: list[Unsupported]) -> ImportFailure:
        listed = "\n".join(f"• {item.line()}" for item in unsupported[:REPORT_LINES])
        if len(unsupported) > REPORT_LINES:
            listed += f"\n… and {len(unsupported) - REPORT_LINES} more"
        count = len(unsupported)
        return cls(f"{model} uses {count} operation{'s' * (count != 1)} that no netbuilder layer computes, so it "
                   f"was not imported (nothing is dropped silently):\n{listed}", tuple(unsupported))
