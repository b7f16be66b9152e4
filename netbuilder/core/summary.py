"""A text summary of a network like Keras's model.summary(), with its problems."""
from __future__ import annotations

from .analysis import Analysis, analyze
from .graph import Graph
from .layers import format_shape

HEADERS = ("Layer", "Type", "Output shape", "Params", "FLOPs")


def summary_rows(graph: Graph, analysis: Analysis) -> list[tuple[str, str, str, int | None, int | None]]:
    """One row per node in data-flow order (unreachable nodes last); None where unknown."""
    ordered = analysis.order + [n for n in graph.nodes if n not in analysis.order]
    rows = []
    for node_id in ordered:
        node, info = graph.nodes[node_id], analysis.info.get(node_id)
        shape = format_shape(info.shape) if info else "?"
        rows.append((node.name, node.spec.title, shape, info.params if info else None, info.flops if info else None))
    return rows


def keras_difference(graph: Graph, analysis: Analysis) -> tuple[int, list[str]] | None:
    """(the parameter count Keras's summary shows, why) where it differs from PyTorch's count,
    so that users checking against a Keras article are not puzzled; None where they agree."""
    keras_counts = {n: graph.nodes[n].spec.keras_param_count(graph.nodes[n].params, info.in_shapes)
                    for n, info in analysis.info.items()}
    keras_total = sum(keras_counts.values())
    if keras_total == analysis.total_params:
        return None
    reasons = dict.fromkeys(graph.nodes[n].spec.keras_count_difference for n, count in keras_counts.items()
                            if count != analysis.info[n].params)
    return keras_total, list(reasons)


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


def summary_text(graph: Graph, analysis: Analysis | None = None, title: str = "") -> str:
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
    keras = keras_difference(graph, analysis)
    if keras:
        keras_total, reasons = keras
        out.append(f"Note: Keras shows {keras_total:,} parameters for this network: {'; '.join(reasons)}.")
    if analysis.problems:
        out.append("")
        out.append(f"Problems ({len(analysis.errors)} errors, {len(analysis.problems) - len(analysis.errors)} warnings):")
        out += [f"  {p.severity}: {p.message}" for p in analysis.problems]
    return "\n".join(out)
