"""ONNX, through torch's torch.export-based exporter (see docs/decisions.md): the batch dimension
dynamic, the weights inside, the recipe in the model's `metadata_props` under "netbuilder.recipe"."""
from __future__ import annotations

from pathlib import Path

import torch

from netbuilder.common.files import write_atomic
from netbuilder.common.text import byte_size

from .exporting import ExportError, ExportSource, convert
from .programs import dynamic_batch, recipe_text

# An ONNX file is one protobuf message, which cannot exceed 2 GB; the weights are inside it, and the
# graph around them takes a few KB (a margin of 16 MB).
ONNX_MAX_WEIGHT_BYTES = 2**31 - 2**24
RECIPE_KEY = "netbuilder.recipe"


def write_onnx(source: ExportSource, path: Path) -> list[Path]:
    _require_installed("onnx", "onnxscript")
    weights = sum(value.numel() * value.element_size() for value in source.model.state_dict().values())
    if weights > ONNX_MAX_WEIGHT_BYTES:  # found now, not after minutes of conversion ending in an EncodeError
        raise ExportError(f"The weights take {byte_size(weights)}, and an ONNX file holds at most 2 GB: "
                          "export as pt2, torchscript or safetensors, or make the layers smaller.")
    names = source.input_names

    def conversion(model, inputs):  # also called on single layers, to find one that has no ONNX form
        whole = model is source.model
        return torch.onnx.export(model, inputs, dynamo=True, dynamic_shapes=dynamic_batch(inputs),
                                 input_names=names if whole else None, output_names=["output"] if whole else None)

    model = convert(source, "ONNX", conversion).model_proto
    recipe = recipe_text(source)
    if recipe is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = RECIPE_KEY, recipe
    write_atomic(path, model.SerializeToString())
    return [path]


def _require_installed(*packages: str) -> None:
    """netbuilder installs the ONNX exporter's packages with itself; one missing is a damaged
    installation, said so (torch's own error would blame the first layer)."""
    for package in packages:
        try:
            __import__(package)
        except ImportError:
            raise ExportError(f"The ONNX export needs the {package} package, which netbuilder installs with itself "
                              "but is missing here: reinstall netbuilder.") from None
