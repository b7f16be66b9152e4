"""A text summary of a network like Keras's model.summary(), with its problems."""
from __future__ import annotations

from ..common.text import byte_size
from . import memory
from .analysis import Analysis, analyze, inside_instance
from .blocks import INSTANCE
from .graph import Graph
from .layers import format_shape
from .settings import TrainingSettings

HEADERS = ("Layer", "Type", "Output shape", "Params", "FLOPs")


def summary_rows(graph: Graph, analysis: Analysis) -> list[tuple[str, str, str, int | None, int | None]]:
    """One row per node in data-flow order (unreachable nodes last); None where unknown."""
    rows = []
    for node_id in analysis.listing(graph):
        node, info = graph.nodes[node_id], analysis.info.get(node_id)
        shape = format_shape(info.shape) if info else "?"
        rows.append((node.name, node.spec.title, shape, info.params if info else None, info.flops if info else None))
    return rows


def keras_difference(graph: Graph, analysis: Analysis) -> tuple[int, list[str]] | None:
    """(the parameter count Keras's summary shows, why) where it differs from PyTorch's count,
    so that users checking against a Keras article are not puzzled; None where they agree."""
    keras_total, reasons = _keras_count(graph, analysis)
    if keras_total == analysis.total_params:
        return None
    return keras_total, list(dict.fromkeys(reasons))


def _keras_count(graph: Graph, analysis: Analysis) -> tuple[int, list[str]]:
    """What Keras counts for the layers of `graph` (inside blocks too, once per repetition), and
    the reasons of the layers where it differs."""
    total, reasons = 0, []
    for node_id, info in analysis.info.items():
        node = graph.nodes[node_id]
        if node.type_id == INSTANCE:
            definition, inner = inside_instance(graph, node, [analysis.info[s] for s in graph.inputs_of(node_id)])
            count, inner_reasons = _keras_count(definition.graph, inner)
            total, reasons = total + count * node.params["repeat"], reasons + inner_reasons
            continue
        count = node.spec.keras_param_count(node.params, info.in_shapes)
        total += count
        if count != info.params:
            reasons.append(node.spec.keras_count_difference)
    return total, reasons


def human_count(count: int) -> str:
    """1234567 -> '1.23 M': three significant digits, for FLOPs and other counts where exact
    digits do not help (the summary panel, its tooltips and `netbuilder summary` alike).

    The unit is chosen after rounding, so 999,999 reads '1 M', not '1e+03 K'.
    """
    for exponent, suffix in ((12, "T"), (9, "G"), (6, "M"), (3, "K")):
        scaled = float(f"{count / 10**exponent:.3g}")
        if scaled >= 1:
            return f"{scaled:g} {suffix}"
    return str(count)


def memory_text(graph: Graph, analysis: Analysis, settings: TrainingSettings, dataset: str,
                available: int | None) -> tuple[str, bool]:
    """What training the (valid) network on `dataset` needs, beside the `available` memory of this
    computer, for `netbuilder summary` and the Summary panel alike; and whether it fits (True when
    unknown, and for training on a GPU, whose free memory is checked when the run starts)."""
    needed = memory.training_memory(graph, analysis, settings, memory.builtin_samples(dataset))
    text = f"Training memory: {needed.describe()}"
    if available is None or settings.device == "cuda":
        return text, True
    fits = memory.training_problem(graph, analysis, settings, available, memory.builtin_samples(dataset)) is None
    free = f"this computer has {byte_size(available)} free"
    return f"{text}; {free}" + ("" if fits else f", too little: {memory.REMEDY}"), fits


def summary_text(graph: Graph, analysis: Analysis | None = None, title: str = "",
                 training: TrainingSettings | None = None, dataset: str = "") -> str:
    """The layer table, totals and problems; with `training` settings, also the memory training
    on `dataset` needs and what running the network for one sample needs."""
    analysis = analysis or analyze(graph)
    cells = [HEADERS] + [(name, kind, shape, "?" if params is None else f"{params:,}",
                          "?" if flops is None else human_count(flops))
                         for name, kind, shape, params, flops in summary_rows(graph, analysis)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    line = "─" * (sum(widths) + 2 * (len(widths) - 1))

    def render(row) -> str:
        return "  ".join(cell.rjust(w) if i >= 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))

    out = ([title] if title else []) + [render(HEADERS), line] + [render(r) for r in cells[1:]] + [line]
    out.append(f"Total params: {analysis.total_params:,}")
    out.append(f"Forward FLOPs per sample: {human_count(analysis.total_flops)} ({analysis.total_flops:,})")
    if training is not None and analysis.ok:
        out.append(memory_text(graph, analysis, training, dataset, memory.available_memory())[0])
        out.append(f"Prediction memory: about {byte_size(memory.inference_bytes(analysis, 1))} for one "
                   "sample (the weights and its activations)")
    keras = keras_difference(graph, analysis)
    if keras:
        keras_total, reasons = keras
        out.append(f"Note: Keras shows {keras_total:,} parameters for this network: {'; '.join(reasons)}.")
    if analysis.problems:
        out.append("")
        out.append(f"Problems ({len(analysis.errors)} errors, {len(analysis.problems) - len(analysis.errors)} warnings):")
        out += [f"  {p.severity}: {p.message}" for p in analysis.problems]
    return "\n".join(out)
