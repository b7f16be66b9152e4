"""The export formats by name: torch-free, so that the window lists them without importing torch.
`netbuilder.training.exports` holds the writer of each."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    name: str  # as given to `netbuilder export --format`
    label: str  # as shown in the window
    suffix: str
    description: str
    needs_extra: bool = False  # needs the packages of the `export` extra
    has_weights: bool = True


EXPORT_FORMATS: dict[str, ExportFormat] = {format_.name: format_ for format_ in (
    ExportFormat("code", "PyTorch code", ".py", "a readable PyTorch module and a script that trains it",
                 has_weights=False),
    ExportFormat("torchscript", "TorchScript", ".pt", "for torch.jit.load, without netbuilder"),
    ExportFormat("pt2", "torch.export program", ".pt2", "for torch.export.load, without netbuilder"),
    ExportFormat("onnx", "ONNX", ".onnx", "for onnxruntime and other ONNX runtimes", needs_extra=True),
    ExportFormat("safetensors", "safetensors", ".safetensors",
                 "the weights with the project and its data recipe, in one file"),
)}
