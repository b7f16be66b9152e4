"""safetensors, the one-file model netbuilder also opens as a checkpoint, and weights from elsewhere
(`netbuilder-cli import-weights`), checked against the network and written as one."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from netbuilder.core.project import Project, project_to_dict
from netbuilder.common.files import FileReadError, read_bounded, write_atomic
from netbuilder.common.text import shown
from netbuilder.model.checkpoint import MAX_CHECKPOINT_BYTES, checkpoint_bytes, weights_mismatch

from .exporting import ExportError, ExportResult, ExportSource, checked_output, export_source, with_suffix, \
    write_quietly
from .formats import EXPORT_FORMATS

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")


def write_safetensors(source: ExportSource, path: Path) -> list[Path]:
    """Weights with the project (graph and settings) and, once trained, the recipe and history, so
    that one file is the whole model; netbuilder also reads it as a checkpoint."""
    project_json = json.dumps(project_to_dict(source.project))
    if source.trained is not None:
        data = checkpoint_bytes(source.model, source.trained.history, recipe=source.trained.recipe,
                                extra_metadata={"project": project_json})
    else:
        tensors = {name: value.detach().cpu().contiguous() for name, value in source.model.state_dict().items()}
        data = save_safetensors(tensors, metadata={"project": project_json, "trained": "false"})
    write_atomic(path, data)
    return [path]


def read_weights_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors by name from a safetensors file, or from a `.pt`/`.pth` file loaded with
    `weights_only=True`, so that a file from someone else never runs code: a pickle holding
    anything but tensors and plain containers is refused."""
    path = Path(path)
    name, suffix = shown(path.name), path.suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise ExportError(f"{name}: netbuilder reads weights from {', '.join(WEIGHT_SUFFIXES)} files.")
    try:
        data = read_bounded(path, MAX_CHECKPOINT_BYTES, "weights file")
    except FileReadError as error:
        raise ExportError(str(error)) from None
    if not data:
        raise ExportError(f"{name} is empty (0 bytes): it holds no weights.")
    if suffix == ".safetensors":
        try:
            return load_safetensors(data)
        except SafetensorError:
            raise ExportError(f"{name} is not a safetensors file.") from None
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError...
        raise ExportError(f"{name} was refused: it is not plain weights (it may hold code, which "
                          "netbuilder never runs). Save a state_dict, or use safetensors.") from None
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ExportError(f"{name} holds no state_dict (a mapping of layer names to tensors).")
    return state


def converted_types(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], file_name: str) -> list[str]:
    """The conversions loading `found` in place of `expected` makes ("float64 → float32 for fc1.weight,
    fc1.bias"); an integer or quantised tensor where the network learns floats is refused, since
    reading its stored integers as values gives a model that looks fine and is wrong."""
    conversions: dict[tuple[str, str], list[str]] = {}
    for key, wanted in expected.items():
        got = found[key]
        if got.dtype == wanted.dtype:
            continue
        if wanted.is_floating_point() and (got.is_quantized or not got.is_floating_point()):
            kind = "quantised" if got.is_quantized else "integer" if got.dtype != torch.bool else "true/false"
            raise ExportError(f'{shown(file_name)} was refused: its "{shown(key)}" holds {kind} values '
                              f"({_type_name(got.dtype)}), where the network learns {_type_name(wanted.dtype)} "
                              "numbers; export the weights before quantisation, as floats.")
        conversions.setdefault((_type_name(got.dtype), _type_name(wanted.dtype)), []).append(key)
    return [f"{source} → {target} for {', '.join(shown(key) for key in keys)}"
            for (source, target), keys in conversions.items()]


def _type_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def import_weights(project: Project, weights_path: str | os.PathLike, out: str | os.PathLike) -> ExportResult:
    """Weights from elsewhere, checked against the network, written as a safetensors export of
    the project (the format netbuilder opens safely), its suffix added as `export` adds it (so
    that `--out model.nbproj` cannot overwrite a project). Raises ExportError or CompileError."""
    safetensors = EXPORT_FORMATS["safetensors"]
    path = checked_output(with_suffix(out, safetensors), weights_path)
    source = export_source(project, None)
    tensors = read_weights_file(weights_path)
    expected = source.model.state_dict()
    file_name = Path(weights_path).name
    problem = weights_mismatch(expected, tensors)
    if problem:
        raise ExportError(f"{shown(file_name)} does not fit the network: {problem}.")
    conversions = converted_types(expected, tensors, file_name)
    source.model.load_state_dict(tensors)
    files = write_quietly(safetensors.label, write_safetensors, source, path)
    return ExportResult(files, trained=True, notes=tuple(f"Converted {conversion}." for conversion in conversions))
