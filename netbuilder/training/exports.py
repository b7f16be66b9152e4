"""Exports of a project's network for use outside netbuilder: one registry, shared by the command
line and the window.

The formats are listed in `export_formats` (torch-free, for the window); `WRITERS` holds the
writer of each. The weights written are the
trained ones when the project has a usable checkpoint, else the untrained initial ones (from the
project's seed), and the result says which. A layer that a format cannot express gets a message
naming the layer and the format.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from netbuilder.contracts import TASKS
from netbuilder.core.analysis import Analysis, analyze
from netbuilder.core.codegen import docstring_text, to_python
from netbuilder.core.compile import CompileError, compile_graph, input_nodes
from netbuilder.core.project import Project, project_to_dict, write_atomic
from netbuilder.text import byte_size, shown

from netbuilder.files import FileReadError, read_bounded

from .checkpoint import (MAX_CHECKPOINT_BYTES, CheckpointError, TrainedModel, checkpoint_bytes, load_trained_model,
                         weights_mismatch)
from .export_formats import EXPORT_FORMATS, ExportFormat
from .outputs import OutputError, check_output_file
from .trainer import TrainingError

EXPORT_EXTRA = "pip install netbuilder[export]"
EXAMPLE_BATCH = 2  # traced with a batch of 2 so that no exporter mistakes the batch size for a constant


class ExportError(TrainingError):
    """The network cannot be written in the chosen format; the message says why and what to do."""


@dataclass
class ExportSource:
    """What an exporter writes: the network, its weights, and where they came from."""

    project: Project
    analysis: Analysis
    model: torch.nn.Module  # CPU, eval mode
    trained: TrainedModel | None  # None: the weights are the untrained initial ones...
    why_untrained: str = ""  # ...and this says why

    @property
    def input_names(self) -> list[str]:
        return [self.project.graph.nodes[node_id].name for node_id in input_nodes(self.project.graph, self.analysis)]

    def example_inputs(self, batch: int = EXAMPLE_BATCH) -> tuple[torch.Tensor, ...]:
        """Inputs of the network's shapes: token ids (within every vocabulary) or random floats."""
        generator = torch.Generator().manual_seed(0)
        return tuple(_example(self.analysis.info[node_id].shape, self.analysis.info[node_id].token_ids, batch,
                              generator) for node_id in input_nodes(self.project.graph, self.analysis))


def _example(shape, token_ids: bool, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    if token_ids:  # ids 0 and 1 exist in every vocabulary
        return torch.randint(0, 2, (batch, *shape), generator=generator)
    return torch.randn(batch, *shape, generator=generator)


@dataclass
class ExportResult:
    files: list[Path]
    trained: bool
    why_untrained: str = ""
    has_weights: bool = True  # the code export writes none

    @property
    def message(self) -> str:
        written = f"Wrote {', '.join(path.name for path in self.files)}"
        if not self.has_weights:
            return f"{written}."
        if self.trained:
            return f"{written} with the trained weights."
        return f"{written} with untrained initial weights: {self.why_untrained}"


def export_source(project: Project, project_path: str | os.PathLike | None) -> ExportSource:
    """The network with its trained weights when the project has them, else its initial ones.
    Raises CompileError when the network has problems."""
    analysis = analyze(project.graph)
    if not analysis.ok:
        raise CompileError(analysis)
    trained, why_untrained = None, "the project is not saved, so it has no trained weights."
    if project_path is not None:
        try:
            trained = load_trained_model(project, project_path)
        except CheckpointError as error:  # no checkpoint, or one of an older network
            why_untrained = str(error)
    if trained is not None:
        return ExportSource(project, analysis, trained.model, trained)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(project.training.seed)
        model = compile_graph(project.graph, analysis).eval()
    return ExportSource(project, analysis, model, None, why_untrained)


def export_project(project: Project, project_path: str | os.PathLike | None, format_name: str,
                   out: str | os.PathLike) -> ExportResult:
    """Write the project's network as `format_name` to `out` (the format's suffix is added when
    missing). Raises CompileError or ExportError with a message for the user."""
    export_format = EXPORT_FORMATS.get(format_name)
    if export_format is None:
        raise ExportError(f'There is no export format "{format_name}"; the formats are '
                          f'{", ".join(EXPORT_FORMATS)}.')
    if export_format.needs_extra:
        require_export_packages(export_format.label)
    path = _writable(with_suffix(out, export_format), project_path)
    source = export_source(project, project_path)
    try:
        files = WRITERS[format_name](source, path)
    except OSError as error:
        raise ExportError(f"Cannot write {shown(path.name)}: {error.strerror or error}") from None
    return ExportResult(files, source.trained is not None, source.why_untrained, export_format.has_weights)


def _writable(path: Path, *reads: str | os.PathLike | None) -> Path:
    """`path` checked before any work (outputs.check_output_file), as an ExportError."""
    try:
        return check_output_file(path, reads=[read for read in reads if read is not None])
    except OutputError as error:
        raise ExportError(str(error)) from None


def with_suffix(out: str | os.PathLike, export_format: ExportFormat) -> Path:
    """`out` ending in the format's suffix (added when missing). A folder is refused rather than
    turned into a file beside it named after the folder."""
    if not os.fspath(out).strip():
        raise ExportError("The output file name is empty: give a file name.")
    path = Path(out)
    if path.is_dir():
        raise ExportError(f"{shown(path)} is a folder: give a file name inside it, such as "
                          f"{shown(path / ('model' + export_format.suffix))}.")
    return path if path.suffix.lower() == export_format.suffix else path.with_name(path.name + export_format.suffix)


def require_export_packages(label: str) -> None:
    """Raise ExportError naming the extra to install when a package the ONNX export needs is missing
    (onnxruntime, also in the extra, is needed only to run the result)."""
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            raise ExportError(f"{label} export needs the {package} package, which is not installed: "
                              f"{EXPORT_EXTRA}") from None


def _unexpressible(source: ExportSource, label: str, convert: Callable[[torch.nn.Module, tuple], object],
                   error: Exception) -> ExportError:
    """The first layer that `convert` fails on alone, named, or the whole network's error."""
    graph = source.project.graph
    for node_id in source.analysis.order:
        node = graph.nodes[node_id]
        module = getattr(source.model, node.name, None)
        if not isinstance(module, torch.nn.Module):
            continue
        upstream = [source.analysis.info[input_id] for input_id in graph.inputs_of(node_id)]
        inputs = tuple(_example(shape, info.token_ids, EXAMPLE_BATCH)
                       for shape, info in zip(source.analysis.info[node_id].in_shapes, upstream))
        try:
            with _quiet():
                convert(module, inputs)
        except Exception:  # noqa: BLE001 - any failure of this layer alone is the answer
            return ExportError(f'Layer "{node.name}" ({node.spec.title}) has no form in {label}: change or '
                               f"remove it, or export in another format.")
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return ExportError(f"The network cannot be written as {label}: {first_line}")


@contextlib.contextmanager
def _quiet():
    """Exporters print progress and deprecation chatter that means nothing to a user."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _convert(source: ExportSource, label: str, convert: Callable[[torch.nn.Module, tuple], object]):
    try:
        with _quiet():
            return convert(source.model, source.example_inputs())
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - exporters raise many types; each becomes a message
        raise _unexpressible(source, label, convert, error) from None


# --- PyTorch code -----------------------------------------------------------------------------------
def _write_code(source: ExportSource, path: Path) -> list[Path]:
    """The readable module, and beside it `<name>_train.py`, which trains it as netbuilder would."""
    write_atomic(path, to_python(source.project.graph, source.analysis, title=source.project.name).encode("utf-8"))
    script = path.with_name(f"{path.stem}_train.py")
    write_atomic(script, training_script(source, path.name).encode("utf-8"))
    return [path, script]


def training_script(source: ExportSource, module_file: str) -> str:
    """A plain PyTorch training loop with the project's data and settings."""
    settings = source.project.training
    graph, analysis = source.project.graph, source.analysis
    (input_id, *_) = input_nodes(graph, analysis)
    task = next(node.params["task"] for node in graph.nodes.values() if node.spec.is_sink)
    if settings.optimizer == "sgd":
        optimizer = (f"torch.optim.SGD(model.parameters(), lr={settings.learning_rate!r}, "
                     f"momentum={settings.momentum!r}, nesterov={settings.nesterov!r}, "
                     f"weight_decay={settings.weight_decay!r})")
    else:
        name = {"adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}[settings.optimizer]
        optimizer = f"torch.optim.{name}(model.parameters(), lr={settings.learning_rate!r}, " \
                    f"weight_decay={settings.weight_decay!r})"
    schedules = {
        "constant": ("None", "None"),
        "step": (f"torch.optim.lr_scheduler.StepLR(optimizer, step_size={max(1, settings.epochs // 3)}, gamma=0.1)",
                 "None"),
        "cosine": ("None", "torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * batches)"),
        "one_cycle": ("None", f"torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr={settings.learning_rate!r}, "
                              "total_steps=epochs * batches, cycle_momentum=False)"),
    }
    per_epoch, per_batch = schedules[settings.schedule]
    if TASKS[task].loss == "cross_entropy":
        loss = f"nn.functional.cross_entropy(outputs, targets, label_smoothing={settings.label_smoothing!r})"
    else:
        loss = "nn.functional.mse_loss(outputs, targets.view_as(outputs))"
    not_reproduced = [what for what, on in (("augmentation", settings.augment),
                                            ("early stopping", settings.early_stopping_patience > 0),
                                            ("bfloat16 precision", settings.precision == "fast")) if on]
    left_out = (f"# netbuilder's trainer also applies {', '.join(not_reproduced)}; this loop does not.\n"
                if not_reproduced else "")
    module_stem, project_name = Path(module_file).stem, docstring_text(source.project.name)
    return f'''"""Trains Net ({module_file}) as netbuilder trains "{project_name}": the same data, read the
same way, and the same settings. Run: python {module_stem}_train.py [--data NAME|PATH] [--samples N]"""
import argparse
import importlib.util
from pathlib import Path

import torch
from torch import nn

from netbuilder.data.catalog import load_dataset
from netbuilder.data.fit import fit_to_input

DATASET = {source.project.dataset!r}
TASK = {task!r}
INPUT_SHAPE = {tuple(analysis.info[input_id].shape)!r}
TOKEN_IDS = {analysis.info[input_id].token_ids!r}  # True: the input holds word ids, not numbers
{left_out}

def load_net():
    spec = importlib.util.spec_from_file_location("{module_stem}", Path(__file__).with_name("{module_file}"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Net()


def load_data(name, samples):
    options = {{"train_size": samples, "val_size": max(1, samples // 10)}} if samples and name == "digits" else {{}}
    dataset = fit_to_input(load_dataset(name, task=TASK, **options), INPUT_SHAPE, TOKEN_IDS)
    if samples:
        dataset.train_x, dataset.train_y = dataset.train_x[:samples], dataset.train_y[:samples]
    return dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DATASET, help="built-in dataset, CSV file or folder")
    parser.add_argument("--samples", type=int, default=0, help="train on this many samples only (a quick check)")
    parser.add_argument("--epochs", type=int, default={settings.epochs})
    args = parser.parse_args()

    torch.manual_seed({settings.seed})
    model = load_net()
    data = load_data(args.data, args.samples)
    batch_size, epochs = {settings.batch_size}, args.epochs
    batches = -(-len(data.train_x) // batch_size)
    optimizer = {optimizer}
    epoch_schedule = {per_epoch}
    batch_schedule = {per_batch}
    order = torch.Generator().manual_seed({settings.seed})
    for epoch in range(1, epochs + 1):
        model.train()
        total = 0.0
        for indices in torch.randperm(len(data.train_x), generator=order).split(batch_size):
            inputs, targets = data.train_x[indices], data.train_y[indices]
            outputs = model(inputs)
            loss = {loss}
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if batch_schedule:
                batch_schedule.step()
            total += loss.item() * len(indices)
        if epoch_schedule:
            epoch_schedule.step()
        line = f"epoch {{epoch}}/{{epochs}}  loss {{total / len(data.train_x):.4f}}"
        if len(data.val_x):
            model.eval()
            with torch.no_grad():
                outputs = model(data.val_x)
            if TASK == "classification":
                line += f"  val acc {{100 * (outputs.argmax(1) == data.val_y).float().mean():.1f}}%"
            else:
                line += f"  val mse {{nn.functional.mse_loss(outputs, data.val_y.view_as(outputs)):.4f}}"
        print(line, flush=True)
    torch.save(model.state_dict(), Path(__file__).with_name("{module_stem}_weights.pt"))


if __name__ == "__main__":
    main()
'''


# --- TorchScript and torch.export ---------------------------------------------------------------------
def _write_torchscript(source: ExportSource, path: Path) -> list[Path]:
    scripted = _convert(source, "TorchScript", lambda model, _inputs: torch.jit.script(model))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    write_atomic(path, buffer.getvalue())
    return [path]


def _dynamic_batch(inputs: tuple) -> tuple:
    batch = torch.export.Dim("batch")
    return tuple({0: batch} for _ in inputs)


def _write_exported_program(source: ExportSource, path: Path) -> list[Path]:
    program = _convert(source, "torch.export (.pt2)", lambda model, inputs: torch.export.export(
        model, inputs, dynamic_shapes=_dynamic_batch(inputs)))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    write_atomic(path, buffer.getvalue())
    return [path]


# --- ONNX ------------------------------------------------------------------------------------------
# An ONNX file is one protobuf message, which cannot exceed 2 GB; the weights are inside it, and the
# graph around them takes a few KB (a margin of 16 MB).
ONNX_MAX_WEIGHT_BYTES = 2**31 - 2**24


def _write_onnx(source: ExportSource, path: Path) -> list[Path]:
    """The torch.export-based exporter (see docs/decisions.md), batch dimension dynamic, weights inside."""
    weights = sum(value.numel() * value.element_size() for value in source.model.state_dict().values())
    if weights > ONNX_MAX_WEIGHT_BYTES:  # found now, not after minutes of conversion ending in an EncodeError
        raise ExportError(f"The weights take {byte_size(weights)}, and an ONNX file holds at most 2 GB: "
                          "export as pt2, torchscript or safetensors, or make the layers smaller.")
    names = source.input_names

    def convert(model, inputs):  # also called on single layers, to find one that has no ONNX form
        whole = model is source.model
        return torch.onnx.export(model, inputs, dynamo=True, dynamic_shapes=_dynamic_batch(inputs),
                                 input_names=names if whole else None, output_names=["output"] if whole else None)

    program = _convert(source, "ONNX", convert)
    write_atomic(path, program.model_proto.SerializeToString())
    return [path]


# --- safetensors -----------------------------------------------------------------------------------
def _write_safetensors(source: ExportSource, path: Path) -> list[Path]:
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


# The writer of each format; a writer returns the files it wrote.
WRITERS: dict[str, Callable[[ExportSource, Path], list[Path]]] = {
    "code": _write_code, "torchscript": _write_torchscript, "pt2": _write_exported_program, "onnx": _write_onnx,
    "safetensors": _write_safetensors}


# --- weights from elsewhere ------------------------------------------------------------------------
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth")


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
    try:
        if suffix == ".safetensors":
            try:
                return load_safetensors(data)
            except SafetensorError:
                raise ExportError(f"{name} is not a safetensors file.") from None
        try:
            loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError...
            if isinstance(error, OSError):
                raise
            raise ExportError(f"{name} was refused: it is not plain weights (it may hold code, which "
                              "netbuilder never runs). Save a state_dict, or use safetensors.") from None
    except OSError as error:
        raise ExportError(f"Cannot read {name}: {error.strerror or error}") from None
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ExportError(f"{name} holds no state_dict (a mapping of layer names to tensors).")
    return state


def import_weights(project: Project, weights_path: str | os.PathLike, out: str | os.PathLike) -> ExportResult:
    """Weights from elsewhere, checked against the network, written as a safetensors export of
    the project (the format netbuilder opens safely), its suffix added as `export` adds it (so
    that `--out model.nbproj` cannot overwrite a project). Raises ExportError or CompileError."""
    path = _writable(with_suffix(out, EXPORT_FORMATS["safetensors"]), weights_path)
    source = export_source(project, None)
    tensors = read_weights_file(weights_path)
    problem = weights_mismatch(source.model.state_dict(), tensors)
    if problem:
        raise ExportError(f"{shown(Path(weights_path).name)} does not fit the network: {problem}.")
    source.model.load_state_dict(tensors)
    try:
        return ExportResult(_write_safetensors(source, path), trained=True)
    except OSError as error:
        raise ExportError(f"Cannot write {shown(path.name)}: {error.strerror or error}") from None
