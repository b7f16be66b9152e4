"""A text summary of a network like Keras's model.summary(), with its problems."""
from __future__ import annotations

from dataclasses import dataclass

from ..common.text import byte_size
from . import memory
from .analysis import Analysis, NodeInfo, analyze
from .blocks import INPUT_PORT, INSTANCE, OUTPUT_PORT
from .graph import Graph, Node
from .layers import format_shape
from .settings import TrainingSettings

HEADERS = ("Layer", "Type", "Output shape", "Params", "FLOPs")


@dataclass(frozen=True)
class SummaryRow:
    """One row of the layer table: a layer of the network or, under a block's row, a layer inside
    that block (its figures for one repetition, its shapes for that instance's inputs)."""

    path: tuple[str, ...]  # the ids of the block cards it lies inside, then its own node id
    node: Node
    kind: str  # the Type column: a layer's title; for a block its name and repeat ("Block res ×3")
    info: NodeInfo | None  # None: no shape (a problem here or upstream)
    children: tuple[SummaryRow, ...] = ()  # a block's layers (none while it has a problem inside)

    @property
    def depth(self) -> int:
        return len(self.path) - 1

    @property
    def repeat(self) -> int:
        return self.node.params["repeat"] if self.node.type_id == INSTANCE else 1


def summary_tree(graph: Graph, analysis: Analysis, path: tuple[str, ...] = ()) -> list[SummaryRow]:
    """One row per node in data-flow order (unreachable nodes last), a block's row holding the rows
    of the layers inside it (its ports left out: their values are the wires around the block)."""
    rows = []
    for node_id in analysis.listing(graph):
        node = graph.nodes[node_id]
        if node.type_id in (INPUT_PORT, OUTPUT_PORT):
            continue
        kind, children = node.spec.title, ()
        if node.type_id == INSTANCE:
            definition = graph.blocks.get(node.params["block"])
            kind = f"Block {definition.name}" if definition else kind
            kind += f" ×{node.params['repeat']}" if node.params["repeat"] > 1 else ""
            if node_id in analysis.inner:
                children = tuple(summary_tree(definition.graph, analysis.inner[node_id], (*path, node_id)))
        rows.append(SummaryRow((*path, node_id), node, kind, analysis.info.get(node_id), children))
    return rows


def summary_rows(graph: Graph, analysis: Analysis) -> list[tuple[str, str, str, int | None, int | None]]:
    """Every row of `summary_tree`, the layers inside blocks indented under their block; None where
    unknown."""
    rows = []
    pending = list(reversed(summary_tree(graph, analysis)))
    while pending:
        row = pending.pop()
        info = row.info
        shapes = ", ".join(map(format_shape, info.output_shapes)) if info else "?"  # a block's outputs, each
        rows.append(("  " * row.depth + row.node.name, row.kind, shapes, info.params if info else None,
                     info.flops if info else None))
        pending.extend(reversed(row.children))
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
            definition, inner = graph.blocks[node.params["block"]], analysis.inner[node_id]
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
    samples = memory.builtin_samples(dataset)
    needed = memory.training_memory(graph, analysis, settings, samples,
                                    streamed=memory.will_stream(graph, analysis, samples, available))
    text = f"Training memory: {needed.describe()}"
    if available is None or settings.device == "cuda":
        return text, True
    fits = memory.training_problem(graph, analysis, settings, available, samples) is None
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


def block_params(graph: Graph, analysis: Analysis) -> dict[str, int]:
    """The parameters of one repetition of each block, by block id, as its first analysed card
    counts them (at any depth); a block no card uses, or whose cards have no shape, is absent."""
    found: dict[str, int] = {}
    pending = [(graph, analysis)]
    while pending:
        current, result = pending.pop()
        for node_id, inner in result.inner.items():
            block_id = current.nodes[node_id].params["block"]
            found.setdefault(block_id, inner.total_params)
            pending.append((current.blocks[block_id].graph, inner))
    return found
