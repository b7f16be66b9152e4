"""What the command line and the window import from: a model file named by the user, with the
class, constructor arguments and input shape it needs, saved as a project with its weights."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netbuilder.common.text import shown
from netbuilder.core.project import SUFFIX

from .importer import ImportedModel, import_python_file
from .python_file import parse_argument
from .report import ImportFailure

PYTHON_SUFFIX = ".py"
PROGRAM_SUFFIX = ".pt2"  # torch.export.save
ONNX_SUFFIX = ".onnx"


@dataclass(frozen=True)
class ImportRequest:
    path: Path
    class_name: str = ""  # for a .py file
    arguments: dict[str, Any] | None = None
    input_shape: tuple[int, ...] = ()


def parse_shape(text: str) -> tuple[int, ...]:
    """'1,28,28' (or 1x28x28) as sizes without the batch."""
    sizes = re.split(r"\s*[,x×]\s*", text.strip().strip("()[]"))
    if not 1 <= len(sizes) <= 3 or not all(size.isdigit() and len(size) <= 7 and 0 < int(size) <= 1_000_000
                                            for size in sizes):
        raise ImportFailure(f"the input shape {shown(text)!r} must be 1 to 3 sizes from 1 to 1,000,000 without the "
                            "batch, e.g. 1,28,28")
    return tuple(int(size) for size in sizes)


def request(model: str, input_shape: str | None, arguments: list[str]) -> ImportRequest:
    """The import the command line asks for: `model.py:ClassName` with the input shape and name=value
    arguments, or a .pt2 or .onnx file, which holds its input shape."""
    if model.endswith((PROGRAM_SUFFIX, ONNX_SUFFIX)):
        if input_shape is not None or arguments:
            raise ImportFailure(f"a {Path(model).suffix} file holds its input shape and its model built: give "
                                "neither --input-shape nor --arg")
        return ImportRequest(Path(model))
    path, colon, class_name = model.rpartition(":")
    if not colon or not path.endswith(PYTHON_SUFFIX) or not class_name.isidentifier():
        raise ImportFailure(f"{shown(model)!r} must name a .py file and its model class (model.py:Net), or a "
                            ".pt2 or .onnx file")
    if input_shape is None:
        raise ImportFailure("importing a .py file needs --input-shape, the input's sizes without the batch "
                            "(e.g. 1,28,28): tracing runs the model on such an input")
    return ImportRequest(Path(path), class_name, dict(parse_argument(text) for text in arguments),
                         parse_shape(input_shape))


def run_request(wanted: ImportRequest) -> ImportedModel:
    if wanted.path.suffix == PROGRAM_SUFFIX:
        from .exported_program import import_pt2

        return import_pt2(wanted.path)
    if wanted.path.suffix == ONNX_SUFFIX:
        from .onnx_file import import_onnx

        return import_onnx(wanted.path)
    return import_python_file(wanted.path, wanted.class_name, wanted.arguments, wanted.input_shape)


def project_path(text: str | os.PathLike) -> Path:
    path = Path(text)
    if path.suffix != SUFFIX:
        raise ImportFailure(f"the project file {shown(str(path))} must end in {SUFFIX}")
    if not path.parent.is_dir():
        raise ImportFailure(f"the folder {shown(str(path.parent))} does not exist")
    return path


def summary(imported: ImportedModel, project: Path, checkpoint: Path) -> str:
    graph = imported.project.graph
    blocks = len(graph.blocks)
    lines = [f"Imported {imported.project.name}: {imported.parameters:,} parameters, {len(graph.nodes)} nodes"
             + (f" and {blocks} block definition{'s' * (blocks != 1)}" if blocks else "")
             + f"; its outputs match the model's {_agreement(imported.largest_difference)}.",
             f"Project: {project}; weights: {checkpoint}.", *imported.notes]
    return "\n".join(lines)


def _agreement(difference: float) -> str:
    return f"within {difference:.1g}" if difference else "exactly"
