"""The node-graph canvas: items mirroring the document's graph, and the edits made with the mouse.

The scene only observes the core (graph events, the document's analysis) and edits it through
commands pushed on the document, so every edit is undoable and views never drift from the data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene, QToolTip

from ...core.block_commands import GroupIntoBlock, MakeUnique, Ungroup, new_instance
from ...core.blocks import INSTANCE
from ...core.commands import (Command, Connect, Disconnect, Group, MoveNodes, RemoveNodes, Splice,
                              copy_fragment, new_layer, paste_fragment, pasted_ids, splice_new)
from ...core.fixes import fix_command
from ...core.graph import (Edge, EdgeAdded, EdgeRemoved, Graph, GraphError, GraphEvent, NodeAdded, NodeMoved,
                           NodeRemoved, NodeRenamed, ParamsChanged)
from ...core.layers import Fix, format_shape, get_spec
from ...core.layout import free_spot, layered_layout
from ...core.levels import Level, analysis_at, block_at
from .. import style
from ..document import Document
from .edge_item import EdgeItem, wire_path
from .node_item import NODE_HEIGHT, NODE_WIDTH, NodeItem
from .fix_button import CardButton
from .port_item import PortItem
from .unfolded_block import UnfoldedBlock

SCENE_EXTENT = 100_000.0  # a fixed, huge scene rect: the view pans freely and never jumps
PASTE_OFFSET = (40.0, 40.0)
_LABEL_CELL = 120.0  # grid cell for finding neighbouring wire labels
_CARD_CELL = 250.0  # grid cell for finding the cards near a wire
_WIRE_PEN = QPen(style.PORT_COMPATIBLE, 2.0, Qt.PenStyle.DashLine)


@dataclass
class _WireDrag:
    """A wire being dragged from `anchor` (the end that stays) to the mouse."""

    anchor: PortItem
    detached: Edge | None  # an existing edge whose input end was picked up, or None for a new wire
    rubber: QGraphicsPathItem

    def ends(self, port: PortItem) -> Edge:
        """The connection that dropping on `port` would make."""
        if self.anchor.kind == "output":
            return Edge(self.anchor.node_id, port.node_id, self.anchor.index)
        return Edge(port.node_id, self.anchor.node_id, port.index)


class GraphScene(QGraphicsScene):
    """Shows the graph of the document's level (the network, or the inside of an opened block) and
    edits it with undoable commands (inside a block, edits of the block: every card sharing it follows).

    Node positions in the core are the top-left corners of the node cards in scene coordinates.

    Signals:
        selection_changed_ids(list[str]): the ids of the selected nodes, after every change.
        message(str): a short explanation for the status bar, e.g. why a connection was refused.
        wire_dropped_in_space(QPointF): a new wire was released over empty canvas at this scene
            point; the view offers quick add there, and `add_layer` with `wire_end=True` connects
            the chosen layer to the wire's port (`forget_wire_end` when the user changes their mind).
    """

    selection_changed_ids = Signal(list)
    message = Signal(str)
    wire_dropped_in_space = Signal(QPointF)

    def __init__(self, document: Document, parent=None):
        super().__init__(parent)
        self.document = document
        self.setSceneRect(-SCENE_EXTENT, -SCENE_EXTENT, 2 * SCENE_EXTENT, 2 * SCENE_EXTENT)
        self._nodes: dict[str, NodeItem] = {}
        self._edges: dict[Edge, EdgeItem] = {}
        self._graph: Graph | None = None
        self._wire: _WireDrag | None = None
        self._loose_wire_end: PortItem | None = None  # the port of a wire dropped in space, awaiting a layer
        self._card_grid: dict[tuple[int, int], list[NodeItem]] | None = None  # see cards_near
        self._reroute_areas: list[QRectF] = []  # see _reroute_around
        self._selection_stale = False  # see _remove_item
        self._drag_start: dict[str, QPointF] = {}
        self._quiet_selection = False
        self._unfolded: set[tuple[str, ...]] = set()  # the block cards shown unfolded: level path + card id
        self._unfolded_items: dict[str, UnfoldedBlock] = {}  # card id -> its unfolded view, at this level
        self.selectionChanged.connect(self._emit_selection)
        document.analysis_changed.connect(self._show_analysis)
        document.project_replaced.connect(self._unfolded.clear)
        document.project_replaced.connect(self._rebuild)
        document.level_changed.connect(self._rebuild)
        self._rebuild()

    # --- queries ---------------------------------------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem:
        return self._nodes[node_id]

    def shows(self, node_id: str) -> bool:
        """Whether node `node_id` has a card here (it is in the graph of the level shown)."""
        return node_id in self._nodes

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

    # --- levels: opening blocks, leaving them, unfolding them in place ---------------------------------
    def open_block(self, node_id: str) -> bool:
        """Show the inside of block card `node_id`, with the shapes this card's inputs give it;
        False (nothing happens) when it is no block card."""
        node = self._graph.nodes.get(node_id)
        if node is None or node.type_id != INSTANCE:
            return False
        self.document.open_level(self.document.level.enter(node_id))
        return True

    def open_selected_block(self) -> None:
        blocks = self.selected_blocks()
        if len(blocks) == 1:
            self.open_block(blocks[0])
        else:
            self.message.emit("Select one block to open it")

    def leave_block(self) -> bool:
        """Go one level up, with the card just left selected; False at the network."""
        level = self.document.level
        if level.is_network:
            return False
        self.document.open_level(level.up())
        self.select_nodes([level.path[-1]])
        return True

    def show_location(self, location: tuple[str, ...], level: Level | None = None) -> None:
        """Open the blocks along `location` (node ids from `level`, by default the one shown, down
        to a node: Problem.location) and select that node."""
        start = self.document.level if level is None else level
        self.document.open_level(Level((*start.path, *location[:-1])))
        if location and location[-1] in self._nodes:
            self.select_nodes([location[-1]])
            for view in self.views():
                view.centerOn(self._nodes[location[-1]])

    def toggle_unfolded(self) -> None:
        """Unfold the selected block cards in place, or fold them again (a view, not an edit)."""
        blocks = self.selected_blocks()
        if not blocks:
            self.message.emit("Select a block to unfold it")
            return
        keys = {(*self.document.level.path, node_id) for node_id in blocks}
        if keys <= self._unfolded:
            self._unfolded -= keys
        else:
            self._unfolded |= keys
        self._show_unfolded()

    def selection_unfolded(self) -> bool:
        """Whether the selected block cards are all shown unfolded."""
        blocks = self.selected_blocks()
        return bool(blocks) and all((*self.document.level.path, node_id) in self._unfolded for node_id in blocks)

    def unfolded_view(self, node_id: str) -> UnfoldedBlock | None:
        return self._unfolded_items.get(node_id)

    def _show_unfolded(self) -> None:
        """Bring the unfolded views of this level's block cards up to date with the analysis."""
        document, path = self.document, self.document.level.path
        for node_id in [node_id for node_id in self._unfolded_items if (*path, node_id) not in self._unfolded
                        or node_id not in self._nodes]:
            item = self._unfolded_items.pop(node_id)
            if item.scene() is self:
                self.removeItem(item)
        for node_id, card in self._nodes.items():
            unfolded = (*path, node_id) in self._unfolded and card.node.type_id == INSTANCE
            card.setZValue(1.5 if unfolded else 1)  # its inside is drawn over the cards near it
            if not unfolded:
                continue
            level = document.level.enter(node_id)
            item = self._unfolded_items.get(node_id)
            if item is None or item.parentItem() is not card:
                item = self._unfolded_items[node_id] = UnfoldedBlock(card)
            block = block_at(document.graph, level)
            item.show_inside(f"inside {block.name}", block.graph, analysis_at(document.graph, document.analysis, level))

    def mouseDoubleClickEvent(self, event) -> None:
        """A double-click on a block card (or on its unfolded inside) opens the block."""
        under = self.items(event.scenePos())
        card = under[0].topLevelItem() if under and not isinstance(under[0], CardButton) else None
        if isinstance(card, NodeItem) and self.open_block(card.node_id):
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def selected_blocks(self) -> list[str]:
        """The selected block cards."""
        return [node_id for node_id in self.selected_node_ids() if self._graph.nodes[node_id].type_id == INSTANCE]

    # --- edits -------------------------------------------------------------------------------------
    def add_layer(self, type_id: str, scene_pos: QPointF, wire_end: bool = False,
                  block_id: str | None = None) -> str | None:
        """Add a layer (a card of block `block_id` when given) as one undo step, select it and
        return its id (None if refused, with a message).

        It is centred on `scene_pos`, or as near as it fits without covering another layer. Dropped
        on a wire, it is spliced into that wire; with `wire_end`, it is connected to the port of the
        wire last dropped in empty space."""
        port, self._loose_wire_end = (self._loose_wire_end if wire_end else None), None
        graph, spec = self._graph, get_spec(type_id)
        position = free_spot(graph, (scene_pos.x() - NODE_WIDTH / 2, scene_pos.y() - NODE_HEIGHT / 2))
        edge = self.edge_at(scene_pos) if port is None and spec.max_inputs != 0 and spec.has_output else None
        add = new_instance(graph, block_id, position) if block_id else new_layer(graph, type_id, position)
        if edge is not None:
            command: Command = splice_new(add, edge)
        else:
            command = add
            if port is not None:
                node_id = add.node.id
                wire = Connect(port.node_id, node_id, port.index) if port.kind == "output" else Connect(node_id, port.node_id)
                command = Group([add, wire], add.text)
        try:
            self.document.edit(command)
        except GraphError as error:
            self.message.emit(f"Cannot add {spec.title} there: {error}")
            return None
        self.select_nodes([add.node.id])
        return add.node.id

    def forget_wire_end(self) -> None:
        """The quick-add box of a wire dropped in space closed without a choice."""
        self._loose_wire_end = None

    def edge_at(self, scene_pos: QPointF, skip: NodeItem | None = None) -> Edge | None:
        """The wire under `scene_pos` (within its click width), if no layer's card but `skip` is there."""
        for item in self.items(scene_pos):
            if item is skip or (isinstance(item, PortItem) and item.node_item is skip):
                continue
            if isinstance(item, (NodeItem, PortItem)):
                return None
            if isinstance(item, EdgeItem):
                return item.edge
        return None

    def apply_fix(self, fix: Fix) -> None:
        """Apply a problem's fix (a button on a card) as one undo step named after it."""
        try:
            self.document.edit(fix_command(self._graph, fix))
        except GraphError as error:
            self.message.emit(f"Cannot apply \"{fix.title}\": {error}")

    def delete_selected(self) -> None:
        """Delete the selected nodes with all their edges, and the selected edges: one undo step."""
        node_ids = self.selected_node_ids()
        chosen = set(node_ids)
        parts: list[Command] = [Disconnect(edge) for edge in self.selected_edges()
                                if edge.source not in chosen and edge.target not in chosen]
        if node_ids:
            parts.append(RemoveNodes(node_ids))
        if parts:
            self.document.edit(parts[0] if len(parts) == 1 else Group(parts, "Delete"))

    def group_selected(self) -> None:
        """Group the selected layers into a new block, as one undo step, and select its card."""
        self._push_block_edit(lambda: GroupIntoBlock(self.selected_node_ids()), "group into a block")

    def ungroup_selected(self) -> None:
        """Replace each selected block with its layers, as one undo step."""
        self._push_block_edit(lambda: Group([Ungroup(node_id) for node_id in self._selected_blocks_or_refuse()],
                                            "Ungroup block"), "ungroup")

    def make_selected_unique(self) -> None:
        """Give each selected block its own copy of its definition, as one undo step."""
        self._push_block_edit(lambda: Group([MakeUnique(node_id) for node_id in self._selected_blocks_or_refuse()],
                                            "Make block unique"), "make it unique")

    def _selected_blocks_or_refuse(self) -> list[str]:
        blocks = self.selected_blocks()
        if not blocks:
            raise GraphError("select a block first")
        return blocks

    def _push_block_edit(self, make, what: str) -> None:
        """Push the command `make()` returns, then select the blocks and layers it added; a refusal
        (a selection that cannot be a block) becomes a message."""
        graph = self._graph
        before = set(graph.nodes)
        try:
            self.document.edit(make())
        except GraphError as error:
            self.message.emit(f"Cannot {what}: {error}")
            return
        self.select_nodes([node_id for node_id in graph.nodes if node_id not in before])

    def copy_selected(self) -> dict:
        """The selected nodes and the edges among them, as a core fragment (plain data)."""
        return copy_fragment(self._graph, self.selected_node_ids())

    def paste(self, fragment: dict, at: QPointF | None = None, before: Sequence[Command] = ()) -> None:
        """Add a copy of `fragment` (one undo step, after the commands `before`: the blocks it
        brings) and select it. With `at`, the copy's top-left node corner lands there, otherwise
        slightly offset from the original; either way the copy moves to the nearest place where it
        covers no layer."""
        if not fragment.get("nodes"):
            return
        left = min(item["position"][0] for item in fragment["nodes"])
        top = min(item["position"][1] for item in fragment["nodes"])
        size = (max(item["position"][0] for item in fragment["nodes"]) - left + NODE_WIDTH,
                max(item["position"][1] for item in fragment["nodes"]) - top + NODE_HEIGHT)
        wanted = (at.x(), at.y()) if at is not None else (left + PASTE_OFFSET[0], top + PASTE_OFFSET[1])
        x, y = free_spot(self._graph, wanted, size)
        command = paste_fragment(self._graph, fragment, (x - left, y - top))
        if before:
            command = Group([*before, *command.parts], command.text)
        self.document.edit(command)
        self.select_nodes(pasted_ids(command))

    def duplicate_selected(self) -> None:
        self.paste(self.copy_selected())

    def auto_layout(self) -> None:
        """Arrange the graph in layers from left to right, as one undo step."""
        graph = self._graph
        moves = {node_id: (graph.nodes[node_id].position, position)
                 for node_id, position in layered_layout(graph).items()
                 if position != graph.nodes[node_id].position}
        if moves:
            self.document.edit(MoveNodes(moves, "Auto layout"))

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
        if not moves:
            return
        move = MoveNodes(moves)
        edge = self._wire_under_lone_layer(moves)
        if edge is None:
            self.document.edit(move)
            return
        node_id = next(iter(moves))
        try:
            self.document.edit(Group([move, Splice(edge, node_id)], "Insert on wire"))
        except GraphError as error:
            self.message.emit(f"Cannot insert on that wire: {error}")
            self.document.edit(move)

    def _wire_under_lone_layer(self, moves: dict) -> Edge | None:
        """The wire under the centre of a single dragged layer that has no wires of its own."""
        if len(moves) != 1:
            return None
        (node_id,) = moves
        item = self._nodes[node_id]
        if item.edges or item.input_port is None or item.output_port is None:
            return None
        return self.edge_at(item.sceneBoundingRect().center(), skip=item)

    # --- wiring: drag from a port to a port of the other kind ----------------------------------------
    def begin_wire(self, port: PortItem) -> bool:
        """Start dragging a wire from `port`. Pressing a connected input port picks up the end of
        its last edge: dropping it elsewhere reconnects it, dropping it on empty space disconnects it."""
        graph = self._graph
        detached = None
        anchor = port
        if port.kind == "input":
            incoming = [edge for edge in graph.edges if edge.target == port.node_id]
            if incoming:
                detached = incoming[-1]
                anchor = self._nodes[detached.source].output_port_at(detached.port)
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
                self.document.edit(Disconnect(wire.detached))
            else:
                self._loose_wire_end = wire.anchor
                self.wire_dropped_in_space.emit(scene_pos)
            return
        edge = wire.ends(target_port)
        if wire.detached == edge:
            return
        problem = self._wire_problem(*edge)
        if problem:
            self.message.emit(f"Cannot connect: {problem}")
            return
        connect = Connect(*edge)
        try:
            self.document.edit(connect if wire.detached is None
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

    def _wire_problem(self, source: str, target: str, port: int = 0) -> str | None:
        if self._wire is not None and self._wire.detached == Edge(source, target, port):
            return None  # putting the picked-up end back where it was
        return self._graph.connection_problem(source, target, port)

    def _port_at(self, scene_pos: QPointF, kind: str, skip: NodeItem) -> PortItem | None:
        """The port of `kind` under `scene_pos`, not on `skip` (the node the wire comes from, so a
        plain click on a port does nothing); dropping anywhere on a node's card counts as its port
        (of a block card's outputs, the nearest)."""
        for item in self.items(scene_pos):
            node_item = item.node_item if isinstance(item, PortItem) else item
            if not isinstance(node_item, NodeItem) or node_item is skip:
                continue
            if isinstance(item, PortItem) and item.kind == kind:
                return item
            if kind == "input" and node_item.input_port is not None:
                return node_item.input_port
            if kind == "output" and node_item.output_ports:
                return min(node_item.output_ports, key=lambda port: abs(port.scenePos().y() - scene_pos.y()))
        return None

    def helpEvent(self, event) -> None:
        """Tooltips of nodes and edges are written on demand (see NodeItem.tooltip_text)."""
        under = self.items(event.scenePos())
        if under and isinstance(under[0], (NodeItem, EdgeItem)):
            item = under[0]
            text = item.tooltip_text(self.shape_arithmetic(item.edge)) if isinstance(item, EdgeItem) \
                else item.tooltip_text()
            QToolTip.showText(event.screenPos(), text, event.widget())
            event.accept()
        else:
            super().helpEvent(event)

    def shape_arithmetic(self, edge: Edge) -> tuple[str, ...]:
        """How the layer `edge` leaves computed the shape on it (its spec's arithmetic), or ()."""
        info = self.document.level_analysis.info.get(edge.source)
        node = self._graph.nodes[edge.source]
        return node.spec.shape_arithmetic(node.params, info.in_shapes) if info else ()

    # --- keeping items in sync with the core --------------------------------------------------------
    def _rebuild(self) -> None:
        """Drop every item and build them again from the document's current graph."""
        if self._graph is not None:
            self._graph.listeners.remove(self._on_graph_event)
        self._wire = None
        self._loose_wire_end = None
        self._card_grid = None
        self._drag_start = {}
        self._quiet_selection = True
        try:
            self.clear()
        finally:
            self._quiet_selection = False
        self._nodes.clear()
        self._edges.clear()
        self._unfolded_items.clear()
        self._reroute_areas.clear()
        self._graph = self.document.level_graph
        for node in self._graph.nodes.values():
            self._add_node_item(node)
        for edge in self._graph.edges:
            self._add_edge_item(edge)
        self._graph.listeners.append(self._on_graph_event)
        self._show_analysis()
        self._emit_selection()

    def _on_graph_event(self, event: GraphEvent) -> None:
        match event:
            case NodeAdded(node=node):
                self._add_node_item(node)
                self._reroute_around(self._nodes[node.id].sceneBoundingRect())
            case NodeRemoved(node=node):
                item = self._nodes.pop(node.id)
                area = item.sceneBoundingRect()
                self._remove_item(item)
                self._reroute_around(area)
            case EdgeAdded(edge=edge):
                self._add_edge_item(edge)
            case EdgeRemoved(edge=edge):
                self._remove_edge_item(edge)
            case ParamsChanged(node=node) | NodeRenamed(node=node):
                self._nodes[node.id].show_node()
            case NodeMoved(node=node):
                item = self._nodes[node.id]
                item.setPos(QPointF(*node.position))
                self._reroute_around(item.sceneBoundingRect())

    def _reroute_around(self, area: QRectF) -> None:
        """Remember that the wires near a card that appeared, went or moved must be routed again:
        they may now have to detour around it, or no longer need to. They are routed once the edit
        is complete (_reroute_pending), so an edit of a thousand cards routes each wire once."""
        self._card_grid = None
        self._reroute_areas.append(area.adjusted(-NODE_WIDTH, -NODE_HEIGHT, NODE_WIDTH, NODE_HEIGHT))

    def _reroute_pending(self) -> None:
        """Route again the wires that meet an area remembered by _reroute_around. (A scan, not a
        query of Qt's item index, which may still hold an item the edit just removed; a grid of the
        areas keeps it linear.)"""
        areas, self._reroute_areas = self._reroute_areas, []
        if not areas:
            return
        grid: dict[tuple[int, int], list[QRectF]] = {}
        for area in areas:
            for cell in _cells(area, _CARD_CELL):
                grid.setdefault(cell, []).append(area)
        for item in list(self._edges.values()):
            bounds = item.boundingRect()
            cells = _cell_count(bounds, _CARD_CELL)
            near = areas if cells > len(areas) else [a for cell in _cells(bounds, _CARD_CELL) for a in grid.get(cell, ())]
            if any(area.intersects(bounds) for area in near):
                item.update_path()

    def cards_near(self, area: QRectF, skip: tuple[NodeItem, ...]) -> list[QRectF]:
        """The cards (scene rectangles) that meet `area`, except those of `skip`, found in a coarse
        grid of the cards built on demand (wires are routed inside edits, where Qt's item index
        must not be asked: see _reroute_around)."""
        if self._card_grid is None:
            self._card_grid = {}
            for item in self._nodes.values():
                card = item.card_rect()
                for cell in _cells(card, _CARD_CELL):
                    self._card_grid.setdefault(cell, []).append(item)
        found: dict[NodeItem, QRectF] = {}
        for cell in _cells(area, _CARD_CELL):
            for item in self._card_grid.get(cell, ()):
                if item not in found and item not in skip:
                    card = item.card_rect()
                    if card.intersects(area):
                        found[item] = card
        return list(found.values())

    def cards_moved(self) -> None:
        """A card moved (during a drag, too): the grid of cards is out of date."""
        self._card_grid = None

    def _add_node_item(self, node) -> None:
        item = NodeItem(node, self._graph.blocks)
        self._nodes[node.id] = item
        self.addItem(item)
        self._card_grid = None

    def _add_edge_item(self, edge: Edge) -> None:
        source, target = self._nodes[edge.source], self._nodes[edge.target]
        item = EdgeItem(edge, source, target)
        self._edges[edge] = item
        source.edges.append(item)
        target.edges.append(item)
        source.output_port_at(edge.port).set_connected(True)
        target.input_port.set_connected(True)
        self.addItem(item)
        item.update_path()  # now that it is in the scene, around the cards in its way

    def _remove_edge_item(self, edge: Edge) -> None:
        item = self._edges.pop(edge)
        source, target = item.source, item.target
        source.edges.remove(item)
        target.edges.remove(item)
        source.show_connected()
        target.show_connected()
        self._remove_item(item)

    def _remove_item(self, item) -> None:
        """Remove an item inside an edit. Qt reports the selection changed for each selected item
        removed; the new selection is announced once, after the edit (_show_analysis), since
        announcing it per item would make deleting many layers quadratic."""
        quiet, self._quiet_selection = self._quiet_selection, True
        try:
            self.removeItem(item)
        finally:
            self._quiet_selection = quiet
        self._selection_stale = True

    def _show_analysis(self) -> None:
        """Refresh wires, counts, shapes and problem colours after an edit; items repaint only
        where something changed."""
        self._reroute_pending()
        if self._selection_stale:
            self._selection_stale = False
            self._emit_selection()
        analysis = self.document.level_analysis
        problems: dict[str, list] = {}
        for problem in analysis.problems:
            if problem.node_id is not None:
                problems.setdefault(problem.node_id, []).append(problem)
        for node_id, item in self._nodes.items():
            item.show_analysis(analysis.info.get(node_id), problems.get(node_id, []))
        for edge, item in self._edges.items():
            info = analysis.info.get(edge.source)
            item.set_label(format_shape(info.output(edge.port).shape) if info and edge.port < info.output_count else "")
        self._place_moved_labels()
        self._show_unfolded()

    def _place_moved_labels(self) -> None:
        """Labels of new, rerouted or resized wires go where they overlap no other label (a coarse
        grid of the labels finds the neighbours: comparing every pair would be quadratic)."""
        moved = [item for item in self._edges.values() if item.label_moved]
        if not moved:
            return
        grid: dict[tuple[int, int], list[EdgeItem]] = {}

        def cells(rect: QRectF):
            return _cells(rect, _LABEL_CELL)

        def file(item: EdgeItem) -> None:
            for cell in cells(item.label_rect):
                grid.setdefault(cell, []).append(item)

        for item in self._edges.values():
            if not item.label_moved and item.label:
                file(item)
        for item in moved:
            item.place_label(lambda rect, me=item: not any(
                other is not me and other.label_rect.intersects(rect) for cell in cells(rect) for other in grid.get(cell, ())))
            if item.label:
                file(item)


def _cell_count(rect: QRectF, size: float) -> int:
    return (int(rect.right() // size) - int(rect.left() // size) + 1) * \
        (int(rect.bottom() // size) - int(rect.top() // size) + 1)


def _cells(rect: QRectF, size: float):
    """The cells of a grid of `size` squares that `rect` touches."""
    for i in range(int(rect.left() // size), int(rect.right() // size) + 1):
        for j in range(int(rect.top() // size), int(rect.bottom() // size) + 1):
            yield i, j
