"""Blocks: a definition (a small graph of layers with named input and output ports) kept
in the project's library, and instances in a graph that refer to it by id and may repeat it N
times, like a class and its objects (docs/decisions.md, "Blocks").

The library is one dict shared by the network's graph and every definition's graph
(`Graph.blocks`), so an instance inside a block finds its own definition the same way. Shapes
and counts of an instance come from analysing its definition with the instance's input shapes
(core.analysis); compile and codegen turn each into nested modules.
"""
from __future__ import annotations

from dataclasses import dataclass

from .graph import Edge, Graph, GraphError
from .layers.block_nodes import BlockInput, BlockInstance, BlockOutput

INSTANCE = BlockInstance.type_id
INPUT_PORT = BlockInput.type_id
OUTPUT_PORT = BlockOutput.type_id


@dataclass
class BlockDefinition:
    """One block of the library: its graph holds the layers and the port nodes where wires enter
    (one per input, in the order an instance takes its inputs) and where results leave (one per
    output, in the order of an instance's outputs)."""

    id: str
    name: str
    graph: Graph

    @property
    def input_ports(self) -> list[str]:
        """The input port node ids, in the order of an instance's inputs (the node order)."""
        return [node_id for node_id, node in self.graph.nodes.items() if node.type_id == INPUT_PORT]

    @property
    def output_ports(self) -> list[str]:
        """The output port node ids, in the order of an instance's outputs (the node order)."""
        return [node_id for node_id, node in self.graph.nodes.items() if node.type_id == OUTPUT_PORT]

    def results(self) -> list[Edge]:
        """The wire into each output port, in port order (a valid block has one into each)."""
        return [self.graph.input_edges(port)[0] for port in self.output_ports]

    def port_names(self) -> list[str]:
        return [self.graph.nodes[port].name for port in self.input_ports]


def new_block_id(library: dict[str, BlockDefinition]) -> str:
    number = len(library) + 1
    while f"b{number}" in library:
        number += 1
    return f"b{number}"


def unique_block_name(library: dict[str, BlockDefinition], prefix: str) -> str:
    """The first free block name `prefix1`, `prefix2`, ..."""
    taken = {definition.name for definition in library.values()}
    number = 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"


def blocks_used(graph: Graph) -> set[str]:
    """The definition ids that instances in `graph` itself refer to (not those nested deeper)."""
    return {node.params["block"] for node in graph.nodes.values() if node.type_id == INSTANCE}


def with_nested(library: dict[str, BlockDefinition], block_ids) -> list[str]:
    """`block_ids` and the ids of every block inside them, at any depth, each once, in library order."""
    needed, pending = set(block_ids), list(block_ids)
    while pending:
        for inner in blocks_used(library[pending.pop()].graph) - needed:
            needed.add(inner)
            pending.append(inner)
    return [found for found in library if found in needed]


def nesting_cycle(library: dict[str, BlockDefinition]) -> list[str] | None:
    """The names along a chain of blocks that contains itself (a inside b inside a), or None."""
    state: dict[str, str] = {}  # "open" while its insides are searched, "done" after

    def visit(block_id: str, chain: list[str]) -> list[str] | None:
        if state.get(block_id) == "open":
            return chain[chain.index(block_id):] + [block_id]
        if state.get(block_id) == "done" or block_id not in library:
            return None
        state[block_id] = "open"
        for inner in sorted(blocks_used(library[block_id].graph)):
            found = visit(inner, chain + [block_id])
            if found:
                return found
        state[block_id] = "done"
        return None

    for block_id in library:
        found = visit(block_id, [])
        if found:
            return [library[block_id].name for block_id in found]
    return None


def check_nesting(library: dict[str, BlockDefinition]) -> None:
    """Raise GraphError when a block would contain itself."""
    cycle = nesting_cycle(library)
    if cycle:
        raise GraphError(f'block "{cycle[0]}" would contain itself ({" inside ".join(cycle)}): '
                         "a block cannot be placed inside itself")


def class_name(block_name: str) -> str:
    """The Python class name of a block ("res_block" -> "ResBlock")."""
    return "".join(part[:1].upper() + part[1:] for part in block_name.split("_") if part) or "Block"
