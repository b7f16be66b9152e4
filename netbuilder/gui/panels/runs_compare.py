"""What changed between two kept runs, beside the Runs table: the one-line summary, every
difference listed in its colour (netbuilder.runs.RunDiff.lines, as the command line prints them),
and the same differences marked on the canvas (editor/diff_marks)."""
from __future__ import annotations

from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ...common.text import shown
from ...core.graph import Graph
from ...core.project import Project
from ...runs import LayerRef, RunDiff, diff_projects
from ..document import Document
from ..editor.diff_marks import DIFF_COLOURS, DiffMarks, MarkedLayer

_NOTHING = "Select two runs to see what changed between them."
_LINE_KINDS = {"+": "added", "−": "removed", "~": "changed"}


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
        """Mark the compared runs' changes on the canvas: a layer there (same id, else same name and
        type) gets a ring, one that is not a ghost card where it was in its run's network."""
        if self.diff is None:
            return
        before, after = self._networks
        layers = [("added", layer, after, f"Added in the newer run: {layer.title}") for layer in self.diff.added]
        layers += [("removed", layer, before, f"Not in the newer run: {layer.title}") for layer in self.diff.removed]
        layers += [("changed", layer, after, f"{layer.name}: " + "; ".join(texts))
                   for layer, texts in self._changed_layers().items()]
        marked: dict[str, MarkedLayer] = {}
        ghosts: list[MarkedLayer] = []
        for kind, layer, network, text in layers:
            if layer.block:
                continue  # inside a block: listed, and the canvas shows the block's card only
            node_id = _on_canvas(self.document.graph, layer)
            if node_id is not None:
                marked[node_id] = MarkedLayer(kind, layer.name, text)
            elif kind != "changed":
                ghosts.append(MarkedLayer(kind, layer.name, text, network.graph.nodes[layer.node_id].position))
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


def _on_canvas(graph: Graph, layer: LayerRef) -> str | None:
    """The canvas's node for `layer`: the same id and type, else the same name and type (as the diff matches)."""
    node = graph.nodes.get(layer.node_id)
    if node is None or node.type_id != layer.type_id:
        node = graph.node_named(layer.name)
    return node.id if node is not None and node.type_id == layer.type_id else None
