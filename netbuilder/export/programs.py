"""TorchScript and torch.export programs, each carrying the recipe: TorchScript inside its archive
(`_extra_files`), a `.pt2` program beside it as `<name>_recipe.json`."""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from netbuilder.common.files import write_atomic

from .exporting import ExportSource, convert

RECIPE_FILE = "recipe.json"  # its name inside a TorchScript archive (torch.jit.load(..., _extra_files=...))


def recipe_text(source: ExportSource) -> str | None:
    """The recipe as netbuilder stores it (JSON), None for untrained weights, which have none yet."""
    return None if source.recipe is None else json.dumps(source.recipe.to_dict(), indent=1)


def recipe_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}_recipe.json")


def write_torchscript(source: ExportSource, path: Path) -> list[Path]:
    scripted = convert(source, "TorchScript", lambda model, _inputs: torch.jit.script(model))
    recipe = recipe_text(source)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer, _extra_files={RECIPE_FILE: recipe} if recipe else None)
    write_atomic(path, buffer.getvalue())
    return [path]


def dynamic_batch(inputs: tuple) -> tuple:
    batch = torch.export.Dim("batch")
    return tuple({0: batch} for _ in inputs)


def write_exported_program(source: ExportSource, path: Path) -> list[Path]:
    program = convert(source, "torch.export (.pt2)", lambda model, inputs: torch.export.export(
        model, inputs, dynamic_shapes=dynamic_batch(inputs)))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    write_atomic(path, buffer.getvalue())
    recipe = recipe_text(source)
    if recipe is None:
        return [path]
    write_atomic(recipe_path(path), recipe.encode("utf-8"))
    return [path, recipe_path(path)]
