"""Where the editor is: the network itself, or inside a block entered through one of its cards
(and through cards inside that block, for nested blocks). A level names the graph the canvas
shows, the analysis its shapes come from (those of the card it was entered through), how an edit
made there reaches the project (InsideBlock: every card sharing the block follows) and the trail
of names a breadcrumb shows (docs/decisions.md, "Opening a block").
"""
from __future__ import annotations

from dataclasses import dataclass

from .analysis import Analysis, analyze, inside_instance, upstream_of
from .block_commands import InsideBlock
from .blocks import INSTANCE, BlockDefinition
from .commands import Command
from .graph import Graph
from .layers import ShapeError

NETWORK_CRUMB = "Network"


@dataclass(frozen=True)
class Level:
    """The network (`path` empty) or the inside of a block, entered through the block cards of
    `path` in turn: the first a card of the network, each next one a card inside the block of the
    one before."""

    path: tuple[str, ...] = ()

    @property
    def is_network(self) -> bool:
        return not self.path

    def enter(self, instance_id: str) -> "Level":
        return Level((*self.path, instance_id))

    def up(self) -> "Level":
        """One level out (the network stays the network)."""
        return Level(self.path[:-1])


def _definitions(root: Graph, level: Level) -> list[BlockDefinition]:
    """The block entered at each step of `level` (KeyError when a card of its path is gone)."""
    graph, found = root, []
    for instance_id in level.path:
        node = graph.nodes[instance_id]
        if node.type_id != INSTANCE:
            raise KeyError(instance_id)
        definition = graph.blocks[node.params["block"]]
        found.append(definition)
        graph = definition.graph
    return found


def existing_level(root: Graph, level: Level) -> Level:
    """`level`, or the deepest level above it that still exists after an edit (a card of its
    path deleted, ungrouped or undone)."""
    for depth in range(len(level.path), 0, -1):
        try:
            _definitions(root, Level(level.path[:depth]))
            return Level(level.path[:depth])
        except KeyError:
            continue
    return Level()


def graph_at(root: Graph, level: Level) -> Graph:
    definitions = _definitions(root, level)
    return definitions[-1].graph if definitions else root


def block_at(root: Graph, level: Level) -> BlockDefinition | None:
    """The block whose inside `level` shows; None for the network."""
    definitions = _definitions(root, level)
    return definitions[-1] if definitions else None


def command_at(root: Graph, level: Level, command: Command) -> Command:
    """`command`, made on the graph `level` shows, as an edit of the project: inside a block it
    changes the block's definition, so every card sharing it follows."""
    block = block_at(root, level)
    return command if block is None else InsideBlock(block.id, command)


def analysis_at(root: Graph, root_analysis: Analysis, level: Level) -> Analysis:
    """The shapes, counts and problems of the graph `level` shows, for the inputs the cards of its
    path receive. Where a card's inputs have no shape (unwired, or a problem upstream), its block
    is analysed without them: its input ports then say so."""
    graph, analysis, within = root, root_analysis, ()
    for instance_id, definition in zip(level.path, _definitions(root, level)):
        node, sources = graph.nodes[instance_id], graph.inputs_of(instance_id)
        within = (*within, definition.id)
        try:
            if any(source not in analysis.info for source in sources):
                raise ShapeError("has an input without a shape", "fix the network before it")
            _, analysis = inside_instance(graph, node, upstream_of(graph, analysis, instance_id), within[:-1])
        except ShapeError:
            analysis = analyze(definition.graph, ports={}, within=within)
        graph = definition.graph
    return analysis


def crumbs(root: Graph, level: Level) -> list[str]:
    """The names of the levels from the network to `level`: "Network", then each card entered,
    with its block's name where that differs ("stage1 (res_block)")."""
    names, graph = [NETWORK_CRUMB], root
    for instance_id, definition in zip(level.path, _definitions(root, level)):
        card = graph.nodes[instance_id].name
        names.append(card if card == definition.name else f"{card} ({definition.name})")
        graph = definition.graph
    return names
