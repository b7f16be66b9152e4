"""Graph -> a standalone, readable PyTorch file with `class Net(nn.Module)`.

Loaded with the compiled model's `state_dict`, the exported Net gives identical outputs:
both come from the same spec code strings and use the node names as attribute names.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..common.text import shown
from .analysis import Analysis, analyze, inside_instance, upstream_of
from .blocks import INSTANCE, class_name
from .compile import CompileError, input_nodes, output_node
from .graph import Edge, Graph
from .layers import format_shape


def docstring_text(text: str) -> str:
    """`text` (a project name from a file) as it goes inside a generated docstring: a name holding
    three quotes cannot end the docstring and run the rest as code, nor put control characters in
    the source."""
    return shown(text).replace("\\", "\\\\").replace('"', '\\"')


def to_python(graph: Graph, analysis: Analysis | None = None, title: str = "Net", imports: Sequence[str] = (),
              main: Sequence[str] | None = None) -> str:
    """The source of a module defining `Net`; raises CompileError when the graph has problems.
    `imports` are added to the module's, and `main` (lines) replaces its example that prints an output shape."""
    analysis = analysis or analyze(graph)
    if not analysis.ok:
        raise CompileError(analysis)
    inputs = input_nodes(graph, analysis)
    names = {node_id: node.name for node_id, node in graph.nodes.items()}
    classes = _Classes()
    shapes = ", ".join(f"{names[i]}: N×{format_shape(analysis.info[i].shape)}" for i in inputs)
    net = classes.body(graph, analysis, "Net", inputs, graph.input_edges(output_node(graph)),
                       [f"        # {shapes} (N = batch size)"])
    example_inputs = example_inputs_code(graph, analysis)
    return "\n".join([
        f'"""{docstring_text(title)}: exported from netbuilder. {analysis.total_params:,} trainable parameters."""',
        *sorted({"import torch", *imports}, key=lambda line: (line.startswith("from "), line)),
        "from torch import nn",
        "",
        "",
        *classes.lines,
        *net,
        "",
        "",
        *(main if main is not None else ['if __name__ == "__main__":', "    model = Net()",
                                         f"    print(model({example_inputs}).shape)"]),
        "",
    ])


class _Classes:
    """The classes of a module being written: one per block definition and input shapes (a block
    used with other input shapes builds other layers), each written once, before those using it."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[tuple, str] = {}

    def body(self, graph: Graph, analysis: Analysis, name: str, inputs: list[str], results: list[Edge],
             comment: Sequence[str] = ()) -> list[str]:
        """The class `name` computing what flows along the wires `results` (a tuple for several)
        from the nodes `inputs` (its forward begins with the lines `comment`), with its blocks'
        classes added to `lines` first."""
        init_lines, forward_lines = [], []

        def value(edge: Edge) -> str:  # a block card with several outputs is a tuple: pick its output
            multiple = analysis.info[edge.source].output_count > 1
            return f"{graph.nodes[edge.source].name}[{edge.port}]" if multiple else graph.nodes[edge.source].name

        for node_id in analysis.order:
            node, info = graph.nodes[node_id], analysis.info[node_id]
            if node_id in inputs or node.spec.is_sink:
                continue
            sources = [value(edge) for edge in graph.input_edges(node_id)]
            if node.type_id == INSTANCE:
                block = self.block_class(graph, node, upstream_of(graph, analysis, node_id))
                repeat = node.params["repeat"]
                init_lines.append(f"        self.{node.name} = {block}()" if repeat == 1 else
                                  f"        self.{node.name} = nn.Sequential(*({block}() for _ in range({repeat})))")
                expression = f"self.{node.name}({', '.join(sources)})"
            else:
                constructor = node.spec.code(node.params, info.in_shapes)
                if constructor is not None:
                    init_lines.append(f"        self.{node.name} = {constructor}")
                expression = node.spec.forward_code(node.params, f"self.{node.name}", sources)
            shapes = ", ".join(format_shape(shape) for shape in info.output_shapes)
            forward_lines.append(f"        {node.name} = {expression}  # {shapes}")
        return [
            f"class {name}(nn.Module):",
            "    def __init__(self):",
            "        super().__init__()",
            *(init_lines or ["        pass"]),
            "",
            f"    def forward(self, {', '.join(graph.nodes[i].name for i in inputs)}):",
            *comment,
            *forward_lines,
            f"        return {', '.join(value(edge) for edge in results)}",
        ]

    def block_class(self, graph: Graph, node, upstream) -> str:
        """The name of the class of block instance `node` for its inputs, written on first use."""
        definition, inner = inside_instance(graph, node, upstream)
        key = (definition.id, tuple((info.shape, info.token_ids) for info in upstream))
        if key not in self.names:
            taken = {"Net", *self.names.values()}
            name, number = class_name(definition.name), 2
            while name in taken:
                name, number = f"{class_name(definition.name)}{number}", number + 1
            self.names[key] = name
            self.lines.extend([*self.body(definition.graph, inner, name, definition.input_ports, definition.results()),
                               "", ""])
        return self.names[key]


def example_inputs_code(graph: Graph, analysis: Analysis) -> str:
    """The code of a batch of 2 for each Input, as the forward takes them: token ids or random values."""
    return ", ".join(_example_input(analysis.info[node_id]) for node_id in input_nodes(graph, analysis))


def _example_input(info) -> str:
    dims = ", ".join(str(d) for d in (2, *info.shape))
    return f"torch.zeros({dims}, dtype=torch.long)" if info.token_ids else f"torch.randn({dims})"
