"""Putting a saved network back: one undoable command that makes a project's network, block
library, training settings and dataset those of another project (a kept run's snapshot), so
restoring a run onto the canvas is one undo step like any other edit."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .blocks import BlockDefinition
from .commands import Command
from .graph import Edge, Graph, Node
from .project import Project, project_from_dict, project_to_dict
from .settings import TrainingSettings


@dataclass
class _NetworkState:
    nodes: list[Node]
    edges: list[Edge]
    blocks: dict[str, BlockDefinition]
    training: TrainingSettings
    dataset: str


@dataclass
class RestoreNetwork(Command):
    """Replaces `project`'s layers, wires, blocks, training settings and dataset with those of
    `snapshot` (its name and description stay). The snapshot is copied when the command is made,
    so later edits of either project change nothing here."""

    project: Project
    snapshot: Project
    text: str = "Restore run"
    _restored: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _before: _NetworkState | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._restored = project_to_dict(self.snapshot)

    def do(self, graph: Graph) -> None:
        self._before = _take(self.project)
        copy = project_from_dict(self._restored, "the restored run")
        _put(self.project, _NetworkState(list(copy.graph.nodes.values()), list(copy.graph.edges),
                                         dict(copy.graph.blocks), copy.training, copy.dataset))

    def undo(self, graph: Graph) -> None:
        _take(self.project)
        _put(self.project, self._before)


def _take(project: Project) -> _NetworkState:
    """Empties `project`'s network and library; returns what they and its settings held."""
    graph = project.graph
    state = _NetworkState(list(graph.nodes.values()), list(graph.edges), dict(graph.blocks), project.training,
                          project.dataset)
    graph.delete_edges(state.edges)
    graph.delete_nodes(list(graph.nodes))
    graph.blocks.clear()
    return state


def _put(project: Project, state: _NetworkState) -> None:
    """Fills an emptied `project` with `state`; every definition's graph shares the project's library."""
    graph = project.graph
    graph.blocks.update(state.blocks)
    for definition in state.blocks.values():
        definition.graph.blocks = graph.blocks
    graph.insert_nodes(state.nodes)
    graph.insert_edges(state.edges)
    project.training, project.dataset = state.training, state.dataset
