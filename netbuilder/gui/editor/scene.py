"""The node-graph canvas: items mirroring the document's graph, and the edits made with the mouse.

The scene only observes the core (graph events, the document's analysis) and edits it through
commands pushed on the document, so every edit is undoable and views never drift from the data.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene, QToolTip

from ...core.commands import (AddNode, Command, Connect, Disconnect, Group, MoveNodes, RemoveNodes,
                              copy_fragment, paste_fragment, pasted_ids)
from ...core.graph import Edge, Graph, GraphError, GraphEvent
from ...core.layers import format_shape
from ...core.layout import layered_layout
from .. import style
from ..document import Document
from .edge_item import EdgeItem, wire_path
from .node_item import NODE_HEIGHT, NODE_WIDTH, NodeItem
from .port_item import PortItem

SCENE_EXTENT = 100_000.0  # a fixed, huge scene rect: the view pans freely and never jumps
PASTE_OFFSET = (40.0, 40.0)
_WIRE_PEN = QPen(style.PORT_COMPATIBLE, 2.0, Qt.PenStyle.DashLine)


@dataclass
class _WireDrag:
    """A wire being dragged from `anchor` (the end that stays) to the mouse."""

    anchor: PortItem
    detached: Edge | None  # an existing edge whose input end was picked up, or None for a new wire
    rubber: QGraphicsPathItem

    def ends(self, port: PortItem) -> tuple[str, str]:
        """(source, target) node ids of the connection that dropping on `port` would make."""
        if self.anchor.kind == "output":
            return self.anchor.node_id, port.node_id
        return port.node_id, self.anchor.node_id


class GraphScene(QGraphicsScene):
    """Shows `document.graph` and edits it with undoable commands.

    Node positions in the core are the top-left corners of the node cards in scene coordinates.

    Signals:
        selection_changed_ids(list[str]): the ids of the selected nodes, after every change.
        message(str): a short explanation for the status bar, e.g. why a connection was refused.
    """

    selection_changed_ids = Signal(list)
    message = Signal(str)

    def __init__(self, document: Document, parent=None):
        super().__init__(parent)
        self.document = document
        self.setSceneRect(-SCENE_EXTENT, -SCENE_EXTENT, 2 * SCENE_EXTENT, 2 * SCENE_EXTENT)
        self._nodes: dict[str, NodeItem] = {}
        self._edges: dict[Edge, EdgeItem] = {}
        self._graph: Graph | None = None
        self._wire: _WireDrag | None = None
        self._drag_start: dict[str, QPointF] = {}
        self._quiet_selection = False
        self.selectionChanged.connect(self._emit_selection)
        document.analysis_changed.connect(self._show_analysis)
        document.project_replaced.connect(self._rebuild)
        self._rebuild()

    # --- queries ---------------------------------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem:
        return self._nodes[node_id]

    def edge_item(self, edge: Edge) -> EdgeItem:
        return self._edges[edge]

    def selected_node_ids(self) -> list[str]:
        """Selected nodes in graph order (so copies and deletions keep the user's order)."""
        return [node_id for node_id, item in self._nodes.items() if item.isSelected()]

    def selected_edges(self) -> list[Edge]:
        return [edge for edge, item in self._edges.items() if item.isSelected()]

    # --- selection ---------------------------------------------------------------------------------
    def select_nodes(self, ids: list[str]) -> None:
        """Select exactly these nodes (unknown ids are ignored); emits selection_changed_ids once."""
        self._quiet_selection = True
        try:
            self.clearSelection()
            for node_id in ids:
                if node_id in self._nodes:
                    self._nodes[node_id].setSelected(True)
        finally:
            self._quiet_selection = False
        self._emit_selection()

    def select_all(self) -> None:
        self.select_nodes(list(self._nodes))

    def _emit_selection(self) -> None:
        if not self._quiet_selection:
            self.selection_changed_ids.emit(self.selected_node_ids())

    # --- edits -------------------------------------------------------------------------------------
    def add_layer(self, type_id: str, scene_pos: QPointF) -> str:
        """Add a layer centred on `scene_pos` (one undo step), select it and return its id."""
        position = (scene_pos.x() - NODE_WIDTH / 2, scene_pos.y() - NODE_HEIGHT / 2)
        command = AddNode(type_id, position)
        self.document.push(command)
        self.select_nodes([command.node.id])
        return command.node.id

    def delete_selected(self) -> None:
        """Delete the selected nodes with all their edges, and the selected edges: one undo step."""
        node_ids = self.selected_node_ids()
        chosen = set(node_ids)
        parts: list[Command] = [Disconnect(edge) for edge in self.selected_edges()
                                if edge.source not in chosen and edge.target not in chosen]
        if node_ids:
            parts.append(RemoveNodes(node_ids))
        if parts:
            self.document.push(parts[0] if len(parts) == 1 else Group(parts, "Delete"))

    def copy_selected(self) -> dict:
        """The selected nodes and the edges among them, as a core fragment (plain data)."""
        return copy_fragment(self.document.graph, self.selected_node_ids())

    def paste(self, fragment: dict, at: QPointF | None = None) -> None:
        """Add a copy of `fragment` (one undo step) and select it. With `at`, the copy's top-left
        node corner lands there; otherwise it appears slightly offset from the original."""
        if not fragment.get("nodes"):
            return
        offset = PASTE_OFFSET
        if at is not None:
            left = min(item["position"][0] for item in fragment["nodes"])
            top = min(item["position"][1] for item in fragment["nodes"])
            offset = (at.x() - left, at.y() - top)
        command = paste_fragment(self.document.graph, fragment, offset)
        self.document.push(command)
        self.select_nodes(pasted_ids(command))

    def duplicate_selected(self) -> None:
        self.paste(self.copy_selected())

    def auto_layout(self) -> None:
        """Arrange the graph in layers from left to right, as one undo step."""
        graph = self.document.graph
        moves = {node_id: (graph.nodes[node_id].position, position)
                 for node_id, position in layered_layout(graph).items()
                 if position != graph.nodes[node_id].position}
        if moves:
            self.document.push(MoveNodes(moves, "Auto layout"))

    # --- moving nodes: one MoveNodes per drag, pushed when the mouse is released ---------------------
    def mousePressEvent(self, event) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self._wire is None:
            self._drag_start = {node_id: item.pos() for node_id, item in self._nodes.items() if item.isSelected()}

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if event.button() != Qt.MouseButton.LeftButton:
            return
        starts, self._drag_start = self._drag_start, {}
        moves = {}
        for node_id, start in starts.items():
            item = self._nodes.get(node_id)
            if item is not None and item.pos() != start:
                moves[node_id] = ((start.x(), start.y()), (item.pos().x(), item.pos().y()))
        if moves:
            self.document.push(MoveNodes(moves))

    # --- wiring: drag from a port to a port of the other kind ----------------------------------------
    def begin_wire(self, port: PortItem) -> bool:
        """Start dragging a wire from `port`. Pressing a connected input port picks up the end of
        its last edge: dropping it elsewhere reconnects it, dropping it on empty space disconnects it."""
        graph = self.document.graph
        detached = None
        anchor = port
        if port.kind == "input":
            incoming = [edge for edge in graph.edges if edge.target == port.node_id]
            if incoming:
                detached = incoming[-1]
                anchor = self._nodes[detached.source].output_port
                self._edges[detached].hide()
        rubber = QGraphicsPathItem()
        rubber.setPen(_WIRE_PEN)
        rubber.setZValue(2)
        self.addItem(rubber)
        self._wire = _WireDrag(anchor, detached, rubber)
        for item in self._nodes.values():
            for candidate in item.ports:
                if candidate.kind != anchor.kind and item is not anchor.node_item:
                    candidate.set_drop_state(self._wire_problem(*self._wire.ends(candidate)) is None)
        self.drag_wire(port.scenePos())
        return True

    def drag_wire(self, scene_pos: QPointF) -> None:
        if self._wire is None:
            return
        anchor = self._wire.anchor.scenePos()
        start, end = (anchor, scene_pos) if self._wire.anchor.kind == "output" else (scene_pos, anchor)
        self._wire.rubber.setPath(wire_path(start, end))

    def end_wire(self, scene_pos: QPointF) -> None:
        """Finish the wire drag at `scene_pos`: connect, reconnect, disconnect or refuse."""
        wire = self.cancel_wire()
        if wire is None:
            return
        target_port = self._port_at(scene_pos, "input" if wire.anchor.kind == "output" else "output",
                                    skip=wire.anchor.node_item)
        if target_port is None:
            if wire.detached is not None:
                self.document.push(Disconnect(wire.detached))
            return
        source, target = wire.ends(target_port)
        if wire.detached == Edge(source, target):
            return
        problem = self._wire_problem(source, target)
        if problem:
            self.message.emit(f"Cannot connect: {problem}")
            return
        connect = Connect(source, target)
        try:
            self.document.push(connect if wire.detached is None
                               else Group([Disconnect(wire.detached), connect], "Reconnect"))
        except GraphError as error:  # the graph decides; the check above only spares a failed push
            self.message.emit(f"Cannot connect: {error}")

    def cancel_wire(self) -> _WireDrag | None:
        """Stop a wire drag (Escape) leaving the graph as it is; returns the drag that was going on."""
        wire, self._wire = self._wire, None
        if wire is None:
            return None
        self.removeItem(wire.rubber)
        for item in self._nodes.values():
            for port in item.ports:
                port.set_drop_state(None)
        if wire.detached is not None:
            self._edges[wire.detached].show()
        return wire

    def _wire_problem(self, source: str, target: str) -> str | None:
        if self._wire is not None and self._wire.detached == Edge(source, target):
            return None  # putting the picked-up end back where it was
        return self.document.graph.connection_problem(source, target)

    def _port_at(self, scene_pos: QPointF, kind: str, skip: NodeItem) -> PortItem | None:
        """The port of `kind` under `scene_pos`, not on `skip` (the node the wire comes from, so a
        plain click on a port does nothing); dropping anywhere on a node's card counts as its port."""
        for item in self.items(scene_pos):
            node_item = item.node_item if isinstance(item, PortItem) else item
            if not isinstance(node_item, NodeItem) or node_item is skip:
                continue
            port = node_item.input_port if kind == "input" else node_item.output_port
            if port is not None:
                return port
        return None

    def helpEvent(self, event) -> None:
        """Tooltips of nodes and edges are written on demand (see NodeItem.tooltip_text)."""
        under = self.items(event.scenePos())
        if under and isinstance(under[0], (NodeItem, EdgeItem)):
            QToolTip.showText(event.screenPos(), under[0].tooltip_text(), event.widget())
            event.accept()
        else:
            super().helpEvent(event)

    # --- keeping items in sync with the core --------------------------------------------------------
    def _rebuild(self) -> None:
        """Drop every item and build them again from the document's current graph."""
        if self._graph is not None:
            self._graph.listeners.remove(self._on_graph_event)
        self._wire = None
        self._drag_start = {}
        self._quiet_selection = True
        try:
            self.clear()
        finally:
            self._quiet_selection = False
        self._nodes.clear()
        self._edges.clear()
        self._graph = self.document.graph
        for node in self._graph.nodes.values():
            self._add_node_item(node)
        for edge in self._graph.edges:
            self._add_edge_item(edge)
        self._graph.listeners.append(self._on_graph_event)
        self._show_analysis()
        self._emit_selection()

    def _on_graph_event(self, event: GraphEvent) -> None:
        kind, node, edge = event.kind, event.node, event.edge
        if kind == "node_added":
            self._add_node_item(node)
        elif kind == "node_removed":
            self.removeItem(self._nodes.pop(node.id))
        elif kind == "edge_added":
            self._add_edge_item(edge)
        elif kind == "edge_removed":
            self._remove_edge_item(edge)
        elif kind in ("params_changed", "node_renamed"):
            self._nodes[node.id].show_node()
        elif kind == "nodes_moved":
            self._nodes[node.id].setPos(QPointF(*node.position))

    def _add_node_item(self, node) -> None:
        item = NodeItem(node)
        self._nodes[node.id] = item
        self.addItem(item)

    def _add_edge_item(self, edge: Edge) -> None:
        source, target = self._nodes[edge.source], self._nodes[edge.target]
        item = EdgeItem(edge, source, target)
        self._edges[edge] = item
        source.edges.append(item)
        target.edges.append(item)
        source.output_port.set_connected(True)
        target.input_port.set_connected(True)
        self.addItem(item)

    def _remove_edge_item(self, edge: Edge) -> None:
        item = self._edges.pop(edge)
        source, target = item.source, item.target
        source.edges.remove(item)
        target.edges.remove(item)
        source.output_port.set_connected(any(e.source is source for e in source.edges))
        target.input_port.set_connected(any(e.target is target for e in target.edges))
        self.removeItem(item)

    def _show_analysis(self) -> None:
        """Refresh counts, shapes and problem colours; items repaint only where something changed."""
        analysis = self.document.analysis
        problems: dict[str, list] = {}
        for problem in analysis.problems:
            if problem.node_id is not None:
                problems.setdefault(problem.node_id, []).append(problem)
        for node_id, item in self._nodes.items():
            item.show_analysis(analysis.info.get(node_id), problems.get(node_id, []))
        for edge, item in self._edges.items():
            info = analysis.info.get(edge.source)
            item.set_label(format_shape(info.shape) if info else "")
