"""Running an export: the network and the weights to write, the output file checked before any work,
and the format's writer (formats.EXPORT_FORMATS) with other libraries' output kept off the terminal.

The weights written are the trained ones when the project has a usable checkpoint, else the
untrained initial ones (from the project's seed), and the result says which. A layer that a format
cannot express gets a message naming the layer and the format.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from netbuilder.core.analysis import Analysis, analyze, upstream_of
from netbuilder.core.compile import CompileError, compile_graph, input_nodes
from netbuilder.core.project import Project
from netbuilder.data.recipe import Recipe
from netbuilder.common.error_log import library_output_to_log
from netbuilder.common.text import shown
from netbuilder.model.checkpoint import CheckpointError, TrainedModel, load_trained_model
from netbuilder.training.outputs import OutputError, check_output_file
from netbuilder.training.trainer import TrainingError

from .formats import EXPORT_FORMATS, ExportFormat

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

    @property
    def recipe(self) -> Recipe | None:
        """How raw data becomes the model's input: known once the model is trained."""
        return self.trained.recipe if self.trained is not None else None

    def example_inputs(self, batch: int = EXAMPLE_BATCH) -> tuple[torch.Tensor, ...]:
        """Inputs of the network's shapes: token ids (within every vocabulary) or random floats."""
        generator = torch.Generator().manual_seed(0)
        return tuple(example_input(self.analysis.info[node_id].shape, self.analysis.info[node_id].token_ids, batch,
                                   generator) for node_id in input_nodes(self.project.graph, self.analysis))


def example_input(shape, token_ids: bool, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    if token_ids:  # ids 0 and 1 exist in every vocabulary
        return torch.randint(0, 2, (batch, *shape), generator=generator)
    return torch.randn(batch, *shape, generator=generator)


@dataclass
class ExportResult:
    files: list[Path]
    trained: bool
    why_untrained: str = ""
    notes: tuple[str, ...] = ()  # what else a user should know, such as conversions made

    @property
    def message(self) -> str:
        written = f"Wrote {', '.join(path.name for path in self.files)}"
        weights = ("with the trained weights." if self.trained
                   else f"with untrained initial weights: {self.why_untrained}")
        return " ".join((written, weights, *self.notes))


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
    path = checked_output(with_suffix(out, export_format), project_path)
    source = export_source(project, project_path)
    files = write_quietly(export_format.label, export_format.writer(), source, path)
    return ExportResult(files, source.trained is not None, source.why_untrained)


def write_quietly(label: str, writer: Callable[[ExportSource, Path], list[Path]], source: ExportSource,
                  path: Path) -> list[Path]:
    """`writer`'s files; what the libraries it runs print goes to the log file, an OSError becomes a message."""
    try:
        with library_output_to_log(f"{label} export"):
            return writer(source, path)
    except OSError as error:
        raise ExportError(f"Cannot write {shown(path.name)}: {error.strerror or error}") from None


def checked_output(path: Path, *reads: str | os.PathLike | None) -> Path:
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


def convert(source: ExportSource, label: str, conversion: Callable[[torch.nn.Module, tuple], object]):
    """`conversion` of the whole model; when it fails, the first layer it fails on alone is named."""
    try:
        return conversion(source.model, source.example_inputs())
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - exporters raise many types; each becomes a message
        raise _unexpressible(source, label, conversion, error) from None


def _unexpressible(source: ExportSource, label: str, conversion: Callable[[torch.nn.Module, tuple], object],
                   error: Exception) -> ExportError:
    """The first layer that `conversion` fails on alone, named, or the whole network's error."""
    graph = source.project.graph
    for node_id in source.analysis.order:
        node = graph.nodes[node_id]
        module = getattr(source.model, node.name, None)
        if not isinstance(module, torch.nn.Module):
            continue
        upstream = upstream_of(graph, source.analysis, node_id)
        inputs = tuple(example_input(shape, info.token_ids, EXAMPLE_BATCH)
                       for shape, info in zip(source.analysis.info[node_id].in_shapes, upstream))
        try:
            conversion(module, inputs)
        except Exception:  # noqa: BLE001 - any failure of this layer alone is the answer
            return ExportError(f'Layer "{node.name}" ({node.spec.title}) has no form in {label}: change or '
                               f"remove it, or export in another format.")
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return ExportError(f"The network cannot be written as {label}: {first_line}")
