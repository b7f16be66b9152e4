"""What changed between two kept runs, beside the Runs table: the one-line summary, every
difference listed in its colour (netbuilder.runs.RunDiff.lines, as the command line prints them),
and the same differences marked on the canvas (editor/diff_marks) at the level it shows: inside an
opened block its changed layers, and a block card whose inside changed as changed."""
from __future__ import annotations

from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ...common.text import shown
from ...core.blocks import INSTANCE
from ...core.graph import Graph
from ...core.levels import block_at
from ...core.project import Project
from ...runs import LayerRef, RunDiff, diff_projects
from ..document import Document
from ..editor.diff_marks import DIFF_COLOURS, DiffMarks, MarkedLayer

_NOTHING = "Select two runs to see what changed between them."
_LINE_KINDS = {"+": "added", "−": "removed", "~": "changed"}
_SIGNS = {kind: sign for sign, kind in _LINE_KINDS.items()}


class RunComparison(QWidget):
    """`show` compares two runs' networks; `clear` ends the comparison. The canvas marks follow
    every edit of the document (a layer restored or added there is marked when it matches)."""

    def __init__(self, document: Document, marks: DiffMarks, parent: QWidget | None = None):
        super().__init__(parent)
        self.document, self.marks = document, marks
        self.diff: RunDiff | None = None
        self._networks: tuple[Project, Project] | None = None
        self.title = QLabel(_NOTHING)
        self.title.setWordWrap(True)
        self.changes = QListWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.changes, 1)
        document.analysis_changed.connect(self.show_marks)
        document.level_changed.connect(self.show_marks)  # after the canvas has made the level's cards

    def show(self, before: Project, after: Project, before_title: str, after_title: str) -> None:
        """List what changed from network `before` to network `after` and mark it on the canvas."""
        self.diff = diff_projects(before, after)
        self._networks = (before, after)
        self.title.setText(f"From {shown(before_title)} to {shown(after_title)}: {self.diff.summary}")
        self.changes.clear()
        for line in self.diff.lines():
            item = QListWidgetItem(line)
            if line[:1] in _LINE_KINDS:
                item.setForeground(QBrush(DIFF_COLOURS[_LINE_KINDS[line[:1]]]))
            self.changes.addItem(item)
        self.show_marks()

    def clear(self) -> None:
        self.diff, self._networks = None, None
        self.changes.clear()
        self.title.setText(_NOTHING)
        self.marks.clear()

    def show_marks(self) -> None:
        """Mark the compared runs' changes on the canvas, at the level it shows: a layer there (same
        id, else same name and type) gets a ring, one that is not a ghost card where it was in its
        run's network; a block card whose inside changed (at any depth) is ringed as changed."""
        if self.diff is None:
            return
        before, after = self._networks
        layers = [("added", layer, after, f"Added in the newer run: {layer.title}") for layer in self.diff.added]
        layers += [("removed", layer, before, f"Not in the newer run: {layer.title}") for layer in self.diff.removed]
        layers += [("changed", layer, after, f"{layer.name}: " + "; ".join(texts))
                   for layer, texts in self._changed_layers().items()]
        document = self.document
        shown_block = block_at(document.graph, document.level)
        here = shown_block.name if shown_block is not None else ""  # diffs name a block's layers by its name
        marked: dict[str, MarkedLayer] = {}
        ghosts: list[MarkedLayer] = []
        inside: dict[str, list[str]] = {}  # block name -> its layers that changed
        for kind, layer, network, text in layers:
            if layer.block:
                inside.setdefault(layer.block, []).append(f"{_SIGNS[kind]} {layer.name}")
            if layer.block != here:
                continue
            node_id = _on_canvas(document.level_graph, layer)
            if node_id is not None:
                marked[node_id] = MarkedLayer(kind, layer.name, text)
            elif kind != "changed":
                graph = _graph_of(network, layer.block)
                if graph is not None and layer.node_id in graph.nodes:
                    ghosts.append(MarkedLayer(kind, layer.name, text, graph.nodes[layer.node_id].position))
        for node_id, changes in _changed_cards(document.graph, document.level_graph, inside).items():
            if node_id not in marked:
                marked[node_id] = MarkedLayer("changed", document.level_graph.nodes[node_id].name,
                                              "Changed inside: " + ", ".join(changes))
        self.marks.show(marked, ghosts)

    def _changed_layers(self) -> dict[LayerRef, list[str]]:
        """Each changed or rewired layer (of the newer network) with what changed in it."""
        changed: dict[LayerRef, list[str]] = {}
        for change in self.diff.changed:
            changed.setdefault(change.after, []).extend(f"{item.param} {item.before} → {item.after}"
                                                        for item in change.changes)
        for rewired in self.diff.rewired:
            changed.setdefault(rewired.after, []).append(f"inputs {', '.join(rewired.inputs_before) or 'none'} → "
                                                         f"{', '.join(rewired.inputs_after) or 'none'}")
        return changed


def _graph_of(network: Project, block: str) -> Graph | None:
    """The network's graph (`block` "") or the inside of its block named `block` (None: it has none)."""
    if not block:
        return network.graph
    return next((definition.graph for definition in network.graph.blocks.values() if definition.name == block), None)


def _changed_cards(root: Graph, shown: Graph, inside: dict[str, list[str]]) -> dict[str, list[str]]:
    """The block cards of `shown` whose block changed inside, directly or through a block card in
    it (blocks of the library of `root`, the canvas's network), each with what changed there."""
    changed = dict(inside)  # block name -> what changed in it
    grew = True
    while grew:  # a block holding a card of a changed block changed too, at any depth
        grew = False
        for definition in root.blocks.values():
            if definition.name in changed:
                continue
            held = [root.blocks[node.params["block"]].name for node in definition.graph.nodes.values()
                    if node.type_id == INSTANCE and root.blocks[node.params["block"]].name in changed]
            if held:
                changed[definition.name] = [f"~ {name}" for name in held]
                grew = True
    cards = {}
    for node in shown.nodes.values():
        if node.type_id == INSTANCE and root.blocks[node.params["block"]].name in changed:
            cards[node.id] = changed[root.blocks[node.params["block"]].name]
    return cards


def _on_canvas(graph: Graph, layer: LayerRef) -> str | None:
    """The canvas's node for `layer`: the same id and type, else the same name and type (as the diff matches)."""
    node = graph.nodes.get(layer.node_id)
    if node is None or node.type_id != layer.type_id:
        node = graph.node_named(layer.name)
    return node.id if node is not None and node.type_id == layer.type_id else None
