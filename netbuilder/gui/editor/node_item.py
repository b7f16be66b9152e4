"""A layer on the canvas: a rounded card with a coloured header (its category), its name,
key parameters and parameter count; red or amber when the analysis finds a problem.

The node's `position` in the core is the card's top-left corner in scene coordinates.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainterPath, QPen, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from ...core.analysis import NodeInfo, Problem
from ...core.blocks import INSTANCE
from ...core.graph import Node
from ...core.layers import format_shape
from ...core.layout import CARD_HEIGHT, CARD_WIDTH
from .. import style
from .fix_button import CardButton, FixButton, InsideButton
from .port_item import PortItem

if TYPE_CHECKING:
    from .edge_item import EdgeItem

NODE_WIDTH, NODE_HEIGHT = CARD_WIDTH, CARD_HEIGHT
NODE_SIZE = QSizeF(NODE_WIDTH, NODE_HEIGHT)
HEADER_HEIGHT = 22.0
CORNER_RADIUS = 6.0
TEXT_MARGIN = 10.0
_TEXT_WIDTH = NODE_WIDTH - 2 * TEXT_MARGIN
_TEXT_DETAIL_MIN_SCALE = 0.35  # below this zoom the text would be unreadable: skip drawing it

# font sizes in points; fonts are made on first use, since QFont needs the QApplication
_TITLE_POINTS, _NAME_POINTS, _DETAIL_POINTS = 9.0, 9.5, 8.5

_CARD = QRectF(0, 0, NODE_WIDTH, NODE_HEIGHT)
_BOUNDS = _CARD.adjusted(-2, -2, 2, 2)  # room for the selection outline


def _card_paths() -> tuple[QPainterPath, QPainterPath]:
    card = QPainterPath()
    card.addRoundedRect(_CARD, CORNER_RADIUS, CORNER_RADIUS)
    below_header = QPainterPath()
    below_header.addRect(QRectF(0, HEADER_HEIGHT, NODE_WIDTH, NODE_HEIGHT))
    return card, card.subtracted(below_header)


_CARD_PATH, _HEADER_PATH = _card_paths()
# a hint (wiring still being built) keeps the card's calm colours and says what is left to do
_BORDER_PENS = {"ok": QPen(style.NODE_BORDER, 1.0), "hint": QPen(style.NODE_BORDER, 1.0),
                "warning": QPen(style.WARNING, 1.5), "error": QPen(style.ERROR, 2.0)}
_BODY_COLOURS = {"ok": style.NODE_BODY, "hint": style.NODE_BODY, "warning": style.WARNING_TINT,
                 "error": style.ERROR_TINT}
_FOOTER_COLOURS = {"ok": style.TEXT_DIM, "hint": style.TEXT_SECONDARY, "warning": style.WARNING,
                   "error": style.ERROR}
_TOOLTIP_MARKS = {"hint": "· ", "warning": "⚠ ", "error": "✖ "}
_SELECTION_PEN = QPen(style.SELECTION, 2.0)
_FIX_ROW_TOP = HEADER_HEIGHT + 39  # fix buttons take the place of the card's last text row
_FIX_SPACING = 4.0
_FIX_INSET = 4.0  # from the card's sides: the buttons are as wide as the card allows


def _static_text(text: str) -> QStaticText:
    static = QStaticText(text)
    static.setTextFormat(Qt.TextFormat.PlainText)
    return static


class NodeItem(QGraphicsItem):
    """One node of the graph. The scene keeps it in sync with the core; it never edits the core.

    Text is laid out once per change into QStaticText objects, so painting allocates nothing.
    """

    def __init__(self, node: Node, blocks: dict | None = None):
        super().__init__()
        self.node = node  # the core's object: edits change it in place, the scene calls show_*()
        self.blocks = blocks if blocks is not None else {}  # the project's block library, for a block's name
        self.node_id = node.id
        self.info: NodeInfo | None = None
        self.problems: list[Problem] = []
        spec = node.spec
        self.edges: list[EdgeItem] = []
        self.input_port = PortItem(self, "input", QPointF(0, NODE_HEIGHT / 2)) if spec.max_inputs != 0 else None
        self.output_ports = [PortItem(self, "output", QPointF(NODE_WIDTH, NODE_HEIGHT / 2))] if spec.has_output else []
        self._header_colour = QColor(style.category_colour(spec.category))
        self._title = _static_text(spec.title)
        self._name = _static_text("")
        self._summary = _static_text("")
        self._footer = _static_text("")
        self.state = "ok"
        self.footer_text = ""
        self.card_buttons: list[CardButton] = []  # a button per fix, then one per problem inside a block
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setZValue(1)
        self.setPos(QPointF(*node.position))
        self.show_node()
        self.show_outputs()

    @property
    def ports(self) -> list[PortItem]:
        return [port for port in (self.input_port, *self.output_ports) if port is not None]

    @property
    def output_port(self) -> PortItem | None:
        """The first output port (a layer's only one)."""
        return self.output_ports[0] if self.output_ports else None

    def output_port_at(self, index: int) -> PortItem:
        """Output port `index`; a wire from an output the block no longer has leaves its last port
        (the layer it feeds shows that problem)."""
        return self.output_ports[min(index, len(self.output_ports) - 1)]

    def show_outputs(self) -> None:
        """A block card's output ports, one per output port of its block, spread down the card's
        right side (an edit inside the block may add or remove some); then its wires follow."""
        if self.node.type_id != INSTANCE:
            return
        definition = self.blocks.get(self.node.params["block"])
        names = [definition.graph.nodes[port].name for port in definition.output_ports] if definition else []
        count = max(1, len(names))
        if count != len(self.output_ports):
            for port in self.output_ports[count:]:
                port.setParentItem(None)
                if port.scene() is not None:
                    port.scene().removeItem(port)
            self.output_ports = self.output_ports[:count] + [PortItem(self, "output", QPointF(), index)
                                                             for index in range(len(self.output_ports), count)]
            for index, port in enumerate(self.output_ports):
                port.setPos(NODE_WIDTH, NODE_HEIGHT * (index + 1) / (count + 1))
            for edge in self.edges:
                edge.update_path()
            self.show_connected()
        if count > 1:
            for index, (port, name) in enumerate(zip(self.output_ports, names)):
                port.setToolTip(f'Output {index + 1} ("{name}"): drag to an input port to connect')

    def show_connected(self) -> None:
        """Mark the ports that wires are attached to."""
        for port in self.output_ports:
            port.set_connected(any(e.source is self and e.edge.port == port.index for e in self.edges))
        if self.input_port is not None:
            self.input_port.set_connected(any(e.target is self for e in self.edges))

    # --- content ---------------------------------------------------------------------------------
    def show_node(self) -> None:
        """Name and key parameters, after a rename or a parameter change."""
        self._name.setText(_elided(self.node.name, style.ui_font(_NAME_POINTS)))
        self._lay_out_details()

    def show_analysis(self, info: NodeInfo | None, problems: list[Problem]) -> None:
        """Parameter count and problems; repaints only when what is drawn changed."""
        self.info, self.problems = info, problems
        self.show_outputs()
        severities = {p.severity for p in problems}
        state = next((severity for severity in ("error", "warning", "hint") if severity in severities), "ok")
        if len(problems) == 1:
            # the card is the problem's subject, so it shows the cause and the remedy only
            parts = (problems[0].cause, problems[0].remedy)
            footer = f"{parts[0]}: {parts[1]}"
        elif problems:
            parts, footer = None, f"{len(problems)} problems: see the tooltip"
        else:
            parts, footer = None, _param_count_text(info.params) if info else ""
        # a fix, or the way to the layer inside a block that has the problem
        actions = [p.fix for p in problems if p.fix is not None] + [p.location for p in problems if p.inside]
        if state != self.state or footer != self.footer_text or actions != self._button_actions \
                or self.node.type_id == INSTANCE:  # a block's row shows its output shape, which may have changed
            self.state, self.footer_text, self._problem_parts = state, footer, parts
            self._show_buttons(actions)
            self._lay_out_details()

    _button_actions: list = []

    def _show_buttons(self, actions: list) -> None:
        """One button per fix or problem inside (a location), side by side in the card's last row."""
        for button in self.card_buttons:
            button.setParentItem(None)
            if button.scene() is not None:
                button.scene().removeItem(button)
        width = (NODE_WIDTH - 2 * _FIX_INSET - _FIX_SPACING * (len(actions) - 1)) / max(1, len(actions))
        colour = _FOOTER_COLOURS[self.state]
        self._button_actions = actions
        self.card_buttons = [InsideButton(self, action, width, colour) if isinstance(action, tuple)
                            else FixButton(self, action, width, colour) for action in actions]
        for index, button in enumerate(self.card_buttons):
            button.setPos(_FIX_INSET + index * (width + _FIX_SPACING), _FIX_ROW_TOP)

    _problem_parts: tuple[str, str] | None = None  # (cause, remedy) of the one problem shown

    def _lay_out_details(self) -> None:
        """The two rows under the name: key parameters and parameter count, or the problem."""
        font = style.ui_font(_DETAIL_POINTS)
        if self.state == "ok":
            first, second = _elided(self.summary_text(), font), _elided(self.footer_text, font)
        else:
            first, second = _problem_lines(*(self._problem_parts or (self.footer_text, "")), font)
            if self.card_buttons:  # the buttons say what to do: the row above says what is wrong
                first, second = _elided(self._problem_parts[0] if self._problem_parts else self.footer_text, font), ""
        self._summary.setText(first)
        self._footer.setText(second)
        self.update()

    def summary_text(self) -> str:
        """The key parameters; for a block, its name, repeat count and output shape ("res ×3 → 16×28×28"),
        or its number of outputs."""
        summary = self.node.spec.summary(self.node.params)
        if self.node.type_id != INSTANCE:
            return summary
        definition = self.blocks.get(self.node.params["block"])
        outputs = self.info.output_count if self.info is not None else 1  # several: their wires' labels give each shape
        shape = "" if self.info is None else f" → {outputs} outputs" if outputs > 1 else f" → {format_shape(self.info.shape)}"
        return " ".join(filter(None, (definition.name if definition else "", summary))) + shape

    def _repeat(self) -> int:
        return self.node.params["repeat"] if self.node.type_id == INSTANCE else 1

    def detail_lines(self) -> tuple[str, str]:
        """The two rows as drawn under the name."""
        return self._summary.text(), self._footer.text()

    def tooltip_text(self) -> str:
        """Name, shapes, parameter count and FLOPs, then each problem in full. Written when the
        tooltip is asked for: setting tooltips on every analysis would cost more than the analysis."""
        lines = [f'{self.node.spec.title} "{self.node.name}"']
        if self.info is not None:
            inputs = ", ".join(format_shape(s) for s in self.info.in_shapes)
            lines.append(f"{inputs} → " * bool(inputs) + ", ".join(format_shape(s) for s in self.info.output_shapes))
            lines.append(f"{_param_count_text(self.info.params)}, {self.info.flops:,} FLOPs")
            if self._repeat() > 1:
                lines.append(f"each of the {self._repeat()} repetitions: {_param_count_text(self.info.params // self._repeat())}, "
                             f"{self.info.flops // self._repeat():,} FLOPs")
        lines += [_TOOLTIP_MARKS[p.severity] + p.message for p in self.problems]
        if self.node.type_id == INSTANCE:
            lines.append("Double-click (Ctrl+Enter) opens the block to edit it; Ctrl+Shift+Enter unfolds it here")
        return "\n".join(lines)

    # --- geometry and painting ---------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return _BOUNDS

    def shape(self) -> QPainterPath:
        return _CARD_PATH

    def paint(self, painter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        painter.setPen(_BORDER_PENS[self.state])
        painter.setBrush(_BODY_COLOURS[self.state])
        painter.drawPath(_CARD_PATH)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._header_colour)
        painter.drawPath(_HEADER_PATH)
        if self.isSelected():
            painter.setPen(_SELECTION_PEN)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(_CARD.adjusted(-1, -1, 1, 1), CORNER_RADIUS + 1, CORNER_RADIUS + 1)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < _TEXT_DETAIL_MIN_SCALE:
            return
        painter.setFont(style.ui_font(_TITLE_POINTS, bold=True))
        painter.setPen(style.HEADER_TEXT)
        painter.drawStaticText(QPointF(TEXT_MARGIN, 4), self._title)
        painter.setFont(style.ui_font(_NAME_POINTS))
        painter.setPen(style.TEXT_PRIMARY)
        painter.drawStaticText(QPointF(TEXT_MARGIN, HEADER_HEIGHT + 5), self._name)
        painter.setFont(style.ui_font(_DETAIL_POINTS))
        painter.setPen(style.TEXT_SECONDARY if self.state == "ok" else _FOOTER_COLOURS[self.state])
        painter.drawStaticText(QPointF(TEXT_MARGIN, HEADER_HEIGHT + 23), self._summary)
        painter.setPen(_FOOTER_COLOURS[self.state])
        painter.drawStaticText(QPointF(TEXT_MARGIN, HEADER_HEIGHT + 40), self._footer)

    def card_rect(self) -> QRectF:
        """The card in scene coordinates (without the selection outline's margin)."""
        return _CARD.translated(self.pos())

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            if self.scene() is not None:
                self.scene().cards_moved()
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)


def _elided(text: str, font) -> str:
    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, _TEXT_WIDTH)


def _problem_lines(cause: str, remedy: str, font) -> tuple[str, str]:
    """"cause: remedy" wrapped at a space into two lines of the text width, the second elided. A
    problem too long for that keeps the remedy whole on the second line ("→ insert Flatten"),
    since the remedy is what the user acts on."""
    text = f"{cause}: {remedy}" if remedy else cause
    metrics = QFontMetricsF(font)
    words = text.split(" ")
    for count in range(1, len(words) + 1):
        if metrics.horizontalAdvance(" ".join(words[:count])) > _TEXT_WIDTH:
            break
    else:
        return text, ""
    split = max(1, count - 1)
    first, second = " ".join(words[:split]), " ".join(words[split:])
    if metrics.horizontalAdvance(second) > _TEXT_WIDTH and remedy and \
            metrics.horizontalAdvance(f"→ {remedy}") <= _TEXT_WIDTH:
        return _elided(cause, font), f"→ {remedy}"
    return _elided(first, font), _elided(second, font)


def _param_count_text(count: int) -> str:
    return f"{count:,} param" + ("" if count == 1 else "s")
