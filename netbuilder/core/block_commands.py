"""Undoable edits of blocks: grouping layers into a block, ungrouping an instance back into its
layers (N copies for a repeated one), making an instance's block its own, and any command applied
inside a definition. Each is one undo step, built from the graph commands (core/commands.py); the
repeat count is a parameter, so SetParams(node_id, {"repeat": n}) sets it."""
from __future__ import annotations

from dataclasses import dataclass

from .blocks import INPUT_PORT, INSTANCE, OUTPUT_PORT, BlockDefinition, check_nesting, new_block_id, \
    unique_block_name
from .commands import AddNode, AddNodes, Command, Group, RemoveNodes, SetParams
from .graph import Edge, Graph, GraphError, Node, name_problem
from .layout import layered_layout

# how far apart the copies of a repeated block are laid out when it is ungrouped
REPETITION_SPACING = 260.0


@dataclass
class AddDefinition(Command):
    """Puts a block definition into the project's library."""

    definition: BlockDefinition
    text: str = "Add block"

    def do(self, graph: Graph) -> None:
        graph.blocks.add(self.definition)

    def undo(self, graph: Graph) -> None:
        graph.blocks.remove(self.definition.id)


@dataclass
class RemoveDefinition(Command):
    """Takes block `block_id`, which no card uses, out of the project's library. Refused, naming a
    card, while one in the network or inside another block uses it."""

    block_id: str
    index: int = -1  # its place in the library's order, where undo puts it back
    definition: BlockDefinition | None = None
    text: str = "Delete block"

    def do(self, graph: Graph) -> None:
        definition = graph.blocks[self.block_id]
        for where, inside in [("", graph)] + [(f' inside block "{other.name}"', other.graph)
                                              for other in graph.blocks.values() if other is not definition]:
            card = next((node for node in inside.nodes.values()
                         if node.type_id == INSTANCE and node.params["block"] == self.block_id), None)
            if card is not None:
                raise GraphError(f'block "{definition.name}" is used by the card "{card.name}"{where}: '
                                 "delete or ungroup its cards first")
        self.index, self.definition = graph.blocks.remove(self.block_id)

    def undo(self, graph: Graph) -> None:
        graph.blocks.add(self.definition, self.index)


@dataclass
class RenameBlock(Command):
    """Gives block definition `block_id` a new name (every instance shows it; the exported code's
    class is named after it). Refused when the name is no identifier or another block has it."""

    block_id: str
    name: str
    before: str = ""
    text: str = "Rename block"

    def do(self, graph: Graph) -> None:
        definition = graph.blocks[self.block_id]
        if self.name != definition.name:
            problem = name_problem(self.name) or (
                f'another block is named "{self.name}": choose another name, such as '
                f"{unique_block_name(graph.blocks, self.name + '_')}"
                if any(other.name == self.name for other in graph.blocks.values()) else None)
            if problem:
                raise GraphError(problem)
        self.before = definition.name
        graph.blocks.rename(self.block_id, self.name)

    def undo(self, graph: Graph) -> None:
        graph.blocks.rename(self.block_id, self.before)


@dataclass
class ConnectAt(Command):
    """Adds edges at given places of the edge list (ascending), so that every merge node keeps the
    order of its inputs when a grouping or ungrouping replaces the wires around it."""

    edges: list[Edge]
    indices: list[int]
    text: str = "Connect"

    def do(self, graph: Graph) -> None:
        graph.insert_edges(self.edges, self.indices)

    def undo(self, graph: Graph) -> None:
        graph.delete_edges(self.edges)


@dataclass
class InsideBlock(Command):
    """`command` applied to the graph of block `block_id`: every instance of it follows. Refused
    when it would place a block inside itself."""

    block_id: str
    command: Command

    def __post_init__(self) -> None:
        self.text = self.command.text

    def do(self, graph: Graph) -> None:
        self.command.do(graph.blocks[self.block_id].graph)
        try:
            check_nesting(graph.blocks)
        except GraphError:
            self.command.undo(graph.blocks[self.block_id].graph)
            raise

    def undo(self, graph: Graph) -> None:
        self.command.undo(graph.blocks[self.block_id].graph)


class _Planned(Command):
    """A command made of graph commands planned when it is first done, on the graph as it is then
    (so that several, grouped as one step, each see the ids and names the others took); redo
    repeats the same plan."""

    plan: Group | None = None

    def make_plan(self, graph: Graph) -> Group:
        raise NotImplementedError

    def do(self, graph: Graph) -> None:
        if self.plan is None:
            self.plan = self.make_plan(graph)
        self.plan.do(graph)

    def undo(self, graph: Graph) -> None:
        self.plan.undo(graph)


@dataclass
class GroupIntoBlock(_Planned):
    """Replaces the layers `node_ids` with one instance of a new block holding them (named `name`,
    or block1, block2, ...). The wires that entered the selection become the block's input ports
    (one per output outside feeding it, in wire order), the wires leaving it its output ports (one
    per output inside that they leave, in wire order). Refused with GraphError, saying why, for a
    selection that cannot become a block."""

    node_ids: list[str]
    name: str | None = None
    text: str = "Group into block"

    def make_plan(self, graph: Graph) -> Group:
        return _group_plan(graph, self.node_ids, self.name)


@dataclass
class Ungroup(_Planned):
    """Replaces block instance `node_id` with its layers (N chained copies for a block repeated N
    times), wired as the instance was. The definition stays in the library."""

    node_id: str
    text: str = "Ungroup block"

    def make_plan(self, graph: Graph) -> Group:
        return _ungroup_plan(graph, self.node_id)


@dataclass
class MakeUnique(_Planned):
    """Gives block instance `node_id` its own copy of its block, so that edits inside it no longer
    change the other instances."""

    node_id: str
    text: str = "Make block unique"

    def make_plan(self, graph: Graph) -> Group:
        return _make_unique_plan(graph, self.node_id)


def new_instance(graph: Graph, block_id: str, position: tuple[float, float]) -> AddNode:
    """A command adding a card of block `block_id` (from the palette's library), named after the
    block where that name is free, whose id and name are known before it is done."""
    node = Node(graph.new_id(), INSTANCE, _instance_name(graph, graph.blocks[block_id].name),
                {"block": block_id, "repeat": 1}, position)
    return AddNode(INSTANCE, node=node)


def _instance_name(graph: Graph, block_name: str) -> str:
    """A block card's name: its block's, or `block_name`_1, ... where that is taken."""
    return block_name if graph.node_named(block_name) is None else graph.unique_name(f"{block_name}_")


def _placed(kept: list[Edge], final: list[Edge]) -> tuple[list[Edge], list[int]]:
    """The edges of `final` that are not in `kept`, with their places in `final`."""
    old = set(kept)
    placed = [(index, edge) for index, edge in enumerate(final) if edge not in old]
    return [edge for _, edge in placed], [index for index, _ in placed]


def _group_plan(graph: Graph, node_ids: list[str], name: str | None) -> Group:
    chosen = set(node_ids)
    sources, leaving = _ports_of_selection(graph, chosen)
    library = graph.blocks
    block_name = name or unique_block_name(library, "block")
    problem = name_problem(block_name)
    if problem:
        raise GraphError(problem)
    members = [graph.nodes[node_id] for node_id in graph.nodes if node_id in chosen]
    definition = BlockDefinition(new_block_id(library), block_name, _inside_graph(graph, members, sources, leaving))
    instance_name = _instance_name(graph, block_name)
    position = (sum(n.position[0] for n in members) / len(members), sum(n.position[1] for n in members) / len(members))
    instance = Node(graph.new_id(), INSTANCE, instance_name, {"block": definition.id, "repeat": 1}, position)
    first_wire_in = {}  # each output feeding the selection: its first wire in, which becomes its port's wire
    for edge in graph.edges:
        if edge.target in chosen and edge.source not in chosen:
            first_wire_in.setdefault((edge.source, edge.port), edge)
    output_of = {leaves: port for port, leaves in enumerate(leaving)}
    kept, final = [], []
    for edge in graph.edges:
        if edge.source not in chosen and edge.target not in chosen:
            kept.append(edge)
            final.append(edge)
        elif edge.source not in chosen and first_wire_in[edge.source, edge.port] == edge:
            final.append(Edge(edge.source, instance.id, edge.port))
        elif edge.target not in chosen:
            final.append(Edge(instance.id, edge.target, output_of[edge.source, edge.port]))
    new_edges, indices = _placed(kept, final)
    return Group([AddDefinition(definition), RemoveNodes([n.id for n in members]),
                  AddNode(INSTANCE, node=instance), ConnectAt(new_edges, indices)], "Group into block")


def _ports_of_selection(graph: Graph, chosen: set[str]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The outputs (node, port) outside feeding the selection `chosen` and those inside whose wires
    leave it, each in wire order; GraphError, saying why, when the selection cannot be a block."""
    if not chosen or not chosen <= set(graph.nodes):
        raise GraphError("select the layers to group into a block")
    for node_id in chosen:
        node = graph.nodes[node_id]
        if node.spec.is_source or node.spec.is_sink:
            raise GraphError(f'{node.spec.title} "{node.name}" cannot go inside a block: its data enters and '
                             "leaves through ports; select the layers between them")
    outgoing = [edge for edge in graph.edges if edge.source in chosen and edge.target not in chosen]
    sources = list(dict.fromkeys((edge.source, edge.port) for edge in graph.edges
                                 if edge.target in chosen and edge.source not in chosen))
    leaving = list(dict.fromkeys((edge.source, edge.port) for edge in outgoing))
    comes_back = _reentry(graph, chosen, [edge.target for edge in outgoing])
    if comes_back:
        raise GraphError(f'data leaves the selection and comes back in through "{graph.nodes[comes_back].name}": '
                         "select it too, or fewer layers")
    if not sources:
        raise GraphError("no wire enters the selection: a block needs an input")
    if not leaving:
        raise GraphError("no wire leaves the selection: a block needs an output")
    return sources, leaving


def _inside_graph(graph: Graph, members: list[Node], sources: list[tuple[str, int]],
                  leaving: list[tuple[str, int]]) -> Graph:
    """A block's graph: copies of `members` (same ids and names) with their wires among them, an
    input port per output of `sources` in its place, and an output port fed by each of `leaving`; laid out
    left to right in data-flow order (the members' places were the network's, often in wrapped
    bands, which read as a tangle once the block is opened)."""
    chosen = {node.id for node in members}
    inside = Graph(blocks=graph.blocks)
    inside.insert_nodes([Node(n.id, n.type_id, n.name, dict(n.params)) for n in members])
    port_ids = inside.new_ids(len(sources) + len(leaving))
    ports = [Node(port_id, INPUT_PORT, name, {})
             for port_id, name in zip(port_ids, inside.unique_names(["x"] * len(sources)))]
    inside.insert_nodes(ports)
    outputs = [Node(port_id, OUTPUT_PORT, name, {})
               for port_id, name in zip(port_ids[len(sources):], inside.unique_names(["out"] * len(leaving)))]
    inside.insert_nodes(outputs)
    port_of = {source: port.id for source, port in zip(sources, ports)}
    inside.insert_edges([*(e if e.source in chosen else Edge(port_of[e.source, e.port], e.target)
                           for e in graph.edges if e.target in chosen),
                         *(Edge(source, output.id, port) for (source, port), output in zip(leaving, outputs))])
    for node_id, position in layered_layout(inside, max_columns=len(inside.nodes)).items():
        inside.nodes[node_id].position = position
    return inside


def _reentry(graph: Graph, chosen: set[str], starts: list[str]) -> str | None:
    """An outside node on a path from the selection back into it (grouping would make a cycle)."""
    seen, stack = set(starts), list(starts)
    while stack:
        current = stack.pop()
        for target in graph.outputs_of(current):
            if target in chosen:
                return current
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return None


def _block_instance(graph: Graph, node_id: str) -> tuple[Node, BlockDefinition]:
    """The block card `node_id` and the definition it shows, or GraphError when it is no block."""
    instance = graph.nodes[node_id]
    if instance.type_id != INSTANCE:
        raise GraphError(f'"{instance.name}" is not a block')
    return instance, graph.blocks[instance.params["block"]]


def _ungroup_plan(graph: Graph, node_id: str) -> Group:
    instance, definition = _block_instance(graph, node_id)
    inside, repeat = definition.graph, instance.params["repeat"]
    ports, outputs = definition.input_ports, definition.output_ports
    layers = [node for node in inside.nodes.values() if node.type_id not in (INPUT_PORT, OUTPUT_PORT)]
    wires_in = graph.input_edges(node_id)
    results = [next(iter(inside.input_edges(output)), None) for output in outputs]  # the wire into each output
    layer_ids = {node.id for node in layers}
    unfed = not results or any(result is None or result.source not in layer_ids for result in results)
    wired_to_none = any(edge.port >= len(outputs) for edge in graph.edges if edge.source == node_id)
    if unfed or wired_to_none or len(wires_in) != len(ports) \
            or (repeat > 1 and (len(ports) != 1 or len(outputs) != 1)):  # (an empty block, or one whose input is its output, too)
        raise GraphError(f'block "{instance.name}" has a problem to fix before it can be ungrouped: '
                         "see its card")
    new_ids = iter(graph.new_ids(len(layers) * repeat))
    names = iter(_names(graph, layers * repeat))
    centre_x = sum(node.position[0] for node in layers) / len(layers)
    centre_y = sum(node.position[1] for node in layers) / len(layers)
    copies: list[dict[str, str]] = []  # per repetition: inner id -> new id
    nodes: list[Node] = []
    for repetition in range(repeat):
        shift = (repetition - (repeat - 1) / 2) * REPETITION_SPACING
        mapping = {}
        for node in layers:
            mapping[node.id] = next(new_ids)
            nodes.append(Node(mapping[node.id], node.type_id, next(names), dict(node.params),
                              (instance.position[0] + node.position[0] - centre_x + shift,
                               instance.position[1] + node.position[1] - centre_y)))
        copies.append(mapping)
    inner_edges: list[Edge] = []
    for repetition, mapping in enumerate(copies):
        feeding = {port: (wire.source, wire.port) for port, wire in zip(ports, wires_in)} if repetition == 0 else \
            {ports[0]: (copies[repetition - 1][results[0].source], results[0].port)}
        for e in inside.edges:
            if e.target not in outputs:
                source, port = feeding.get(e.source, (mapping.get(e.source), e.port))
                inner_edges.append(Edge(source, mapping[e.target], port))
    kept = [edge for edge in graph.edges if node_id not in (edge.source, edge.target)]
    final = [Edge(copies[-1][results[edge.port].source], edge.target, results[edge.port].port)
             if edge.source == node_id else edge for edge in graph.edges if edge.target != node_id] + inner_edges
    new_edges, indices = _placed(kept, final)
    return Group([RemoveNodes([node_id]), AddNodes(nodes), ConnectAt(new_edges, indices)], "Ungroup block")


def _names(graph: Graph, layers: list[Node]) -> list[str]:
    """Names for the layers an ungrouping adds: each keeps its name inside the block where that is
    free in `graph` and not taken by an earlier copy, else gets the next free one of its kind."""
    taken: set[str] = set()
    names = []
    for node in layers:
        name, number = node.name, 1
        while graph.node_named(name) is not None or name in taken:
            name, number = f"{node.spec.name_prefix or 'layer'}{number}", number + 1
        taken.add(name)
        names.append(name)
    return names


def copy_graph(graph: Graph) -> Graph:
    """A copy of a block's graph (same ids and names) sharing the project's library."""
    copy = Graph(blocks=graph.blocks)
    copy.insert_nodes([Node(n.id, n.type_id, n.name, dict(n.params), n.position) for n in graph.nodes.values()])
    copy.insert_edges(list(graph.edges))
    return copy


def _make_unique_plan(graph: Graph, node_id: str) -> Group:
    instance, shared = _block_instance(graph, node_id)
    copy = BlockDefinition(new_block_id(graph.blocks), unique_block_name(graph.blocks, f"{shared.name}_"),
                           copy_graph(shared.graph))
    return Group([AddDefinition(copy), SetParams(node_id, {"block": copy.id})], "Make block unique")
