"""The export registry: one entry per format, torch-free, so that the window lists the formats
without importing torch. `writer()` imports the format's writer only when something is written."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class ExportFormat:
    name: str  # as given to `netbuilder-cli export --format`
    label: str  # as shown in the window
    suffix: str
    description: str
    writer_name: str  # "module:function" in netbuilder.export: function(source, path) -> the files written

    def writer(self) -> Callable:
        module, function = self.writer_name.split(":")
        return getattr(import_module(f"netbuilder.export.{module}"), function)


EXPORT_FORMATS: dict[str, ExportFormat] = {format_.name: format_ for format_ in (
    ExportFormat("code", "PyTorch code", ".py", "a readable PyTorch module with its weights, its data recipe as "
                 "plain code, and a script that trains it, none needing netbuilder", "code:write_code"),
    ExportFormat("torchscript", "TorchScript", ".pt", "for torch.jit.load, without netbuilder (the recipe inside)",
                 "programs:write_torchscript"),
    ExportFormat("pt2", "torch.export program", ".pt2", "for torch.export.load, without netbuilder (the recipe "
                 "beside it)", "programs:write_exported_program"),
    ExportFormat("onnx", "ONNX", ".onnx", "for onnxruntime and other ONNX runtimes (the recipe in its metadata)",
                 "onnx_file:write_onnx"),
    ExportFormat("safetensors", "safetensors", ".safetensors",
                 "the weights with the project and its data recipe, in one file", "weights:write_safetensors"),
)}
