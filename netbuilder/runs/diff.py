"""What changed between two runs: a pure function of the two projects they trained, so the command
line and the window show the same differences.

Layers are matched by node id, then (among those left) by name and type, so a layer deleted and
added again under its old name still counts as the same layer. Matched layers differ in their
parameters or name (changed) or in what feeds them (rewired, inputs compared in order through the
matching); the others were added or removed. Blocks' insides are compared per definition (matched
by id, then name). Positions on the canvas are not a change.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from netbuilder.core.graph import Graph, Node
from netbuilder.core.project import Project

# The short names the summary line uses for settings (the marker of a change while paused uses lr and wd too)
SHORT_SETTING_NAMES = {"learning_rate": "lr", "weight_decay": "wd", "batch_size": "batch",
                       "early_stopping_patience": "patience", "validation_split": "validation",
                       "label_smoothing": "smoothing", "dataset": "data"}


@dataclass(frozen=True)
class LayerRef:
    """A layer in one of the two networks."""

    node_id: str
    name: str
    type_id: str
    title: str  # the layer type as the palette shows it: "BatchNorm"
    block: str = ""  # the block definition it is inside ("": the network itself)

    @property
    def label(self) -> str:
        return f"{self.block}/{self.name}" if self.block else self.name


@dataclass(frozen=True)
class ParamChange:
    param: str  # a parameter's name, or "name" for a renamed layer
    before: object
    after: object


@dataclass(frozen=True)
class LayerChanged:
    before: LayerRef
    after: LayerRef
    changes: tuple[ParamChange, ...]


@dataclass(frozen=True)
class LayerRewired:
    before: LayerRef
    after: LayerRef
    inputs_before: tuple[str, ...]  # the names of the layers feeding it, in order
    inputs_after: tuple[str, ...]


@dataclass(frozen=True)
class SettingChange:
    setting: str  # a training setting's name, or "dataset"
    before: object
    after: object


@dataclass(frozen=True)
class RunDiff:
    """From run `before` to run `after`. Node ids of `added`, `changed` and `rewired` are the
    after-network's (the canvas highlights them there); those of `removed` are the before-network's."""

    settings: tuple[SettingChange, ...] = ()
    added: tuple[LayerRef, ...] = ()
    removed: tuple[LayerRef, ...] = ()
    changed: tuple[LayerChanged, ...] = ()
    rewired: tuple[LayerRewired, ...] = ()

    @property
    def same(self) -> bool:
        return not (self.settings or self.added or self.removed or self.changed or self.rewired)

    @property
    def summary(self) -> str:
        """One line for a table: '+ BatchNorm ×3, − Dropout, conv1 filters 32 → 64, lr 0.001 → 0.003'."""
        parts = [f"{sign} {title}{f' ×{count}' if count > 1 else ''}"
                 for sign, layers in (("+", self.added), ("−", self.removed))
                 for title, count in Counter(layer.title for layer in layers).items()]
        if len(self.changed) == 1 and len(self.changed[0].changes) == 1:
            (change,) = self.changed[0].changes
            parts.append(f"{self.changed[0].after.label} {change.param} {show_value(change.before)} → "
                         f"{show_value(change.after)}")
        elif self.changed:
            parts.append(f"{len(self.changed)} layer{'s' if len(self.changed) > 1 else ''} changed")
        if self.rewired:
            parts.append(f"{len(self.rewired)} layer{'s' if len(self.rewired) > 1 else ''} rewired")
        parts += [f"{SHORT_SETTING_NAMES.get(change.setting, change.setting)} {show_value(change.before)} → "
                  f"{show_value(change.after)}" for change in self.settings]
        return ", ".join(parts) or "no changes"

    def lines(self) -> list[str]:
        """Every difference, one a line, for the command line and the panel's list."""
        lines = [f"setting {change.setting}: {show_value(change.before)} → {show_value(change.after)}"
                 for change in self.settings]
        lines += [f"+ {layer.label} ({layer.title})" for layer in self.added]
        lines += [f"− {layer.label} ({layer.title})" for layer in self.removed]
        lines += [f"~ {layer.after.label} ({layer.after.title}): " + ", ".join(
            f"{change.param} {show_value(change.before)} → {show_value(change.after)}" for change in layer.changes)
            for layer in self.changed]
        lines += [f"~ {layer.after.label} rewired: inputs {', '.join(layer.inputs_before) or 'none'} → "
                  f"{', '.join(layer.inputs_after) or 'none'}" for layer in self.rewired]
        return lines or ["no changes"]


def show_value(value: object) -> str:
    """Three significant digits, exponents short: 0.001, 3e-05 -> 3e-5, 64, adam, [28, 28]."""
    if isinstance(value, float):
        mantissa, _, exponent = f"{value:.3g}".partition("e")
        return f"{mantissa}e{int(exponent)}" if exponent else mantissa
    if isinstance(value, (list, tuple)):
        return "×".join(show_value(item) for item in value)
    return str(value)


def diff_projects(before: Project, after: Project) -> RunDiff:
    """What changed from the network and settings of `before` to those of `after`."""
    settings = [SettingChange("dataset", before.dataset, after.dataset)] if before.dataset != after.dataset else []
    old, new = before.training.to_dict(), after.training.to_dict()
    settings += [SettingChange(name, old.get(name), new[name]) for name in new if old.get(name) != new[name]]
    parts = [_GraphDiff(before.graph, after.graph, "")]
    blocks = _match_blocks(before.graph, after.graph)
    parts += [_GraphDiff(before.graph.blocks[old_id].graph, after.graph.blocks[new_id].graph,
                         after.graph.blocks[new_id].name) for old_id, new_id in blocks]
    return RunDiff(tuple(settings), *(tuple(item for part in parts for item in getattr(part, kind))
                                      for kind in ("added", "removed", "changed", "rewired")))


def _match_blocks(before: Graph, after: Graph) -> list[tuple[str, str]]:
    pairs = [(block_id, block_id) for block_id in after.blocks if block_id in before.blocks]
    left = {block.name: block_id for block_id, block in before.blocks.items() if block_id not in after.blocks}
    pairs += [(left[block.name], block_id) for block_id, block in after.blocks.items()
              if block_id not in before.blocks and block.name in left]
    return pairs


def _ref(node: Node, block: str) -> LayerRef:
    return LayerRef(node.id, node.name, node.type_id, node.spec.title, block)


def _wire_name(graph: Graph, edge) -> str:
    """The layer a wire comes from, with the output of a block card with several ("block1 output 2")."""
    name = graph.nodes[edge.source].name
    return f"{name} output {edge.port + 1}" if edge.port else name


class _GraphDiff:
    def __init__(self, before: Graph, after: Graph, block: str):
        matches = self._match(before, after)  # before id -> after id
        matched_after = set(matches.values())
        self.removed = [_ref(node, block) for node_id, node in before.nodes.items() if node_id not in matches]
        self.added = [_ref(node, block) for node_id, node in after.nodes.items() if node_id not in matched_after]
        self.changed, self.rewired = [], []
        for old_id, new_id in matches.items():
            old, new = before.nodes[old_id], after.nodes[new_id]
            changes = [ParamChange("name", old.name, new.name)] if old.name != new.name else []
            changes += [ParamChange(key, old.params.get(key), new.params.get(key))
                        for key in sorted(old.params.keys() | new.params.keys(), key=_param_order(new))
                        if _plain(old.params.get(key)) != _plain(new.params.get(key))]
            if changes:
                self.changed.append(LayerChanged(_ref(old, block), _ref(new, block), tuple(changes)))
            wires_before, wires_after = before.input_edges(old_id), after.input_edges(new_id)
            if [(matches.get(e.source), e.port) for e in wires_before] != [(e.source, e.port) for e in wires_after]:
                self.rewired.append(LayerRewired(_ref(old, block), _ref(new, block),
                                                 tuple(_wire_name(before, e) for e in wires_before),
                                                 tuple(_wire_name(after, e) for e in wires_after)))

    @staticmethod
    def _match(before: Graph, after: Graph) -> dict[str, str]:
        matches = {node_id: node_id for node_id, node in before.nodes.items()
                   if node_id in after.nodes and after.nodes[node_id].type_id == node.type_id}
        taken = set(matches.values())
        by_name = {(node.name, node.type_id): node_id for node_id, node in after.nodes.items() if node_id not in taken}
        for node_id, node in before.nodes.items():
            partner = by_name.pop((node.name, node.type_id), None) if node_id not in matches else None
            if partner is not None:
                matches[node_id] = partner
        return matches


def _param_order(node: Node):
    """Parameters in the order the layer's spec lists them (as the inspector shows them)."""
    order = {param.name: index for index, param in enumerate(node.spec.params)}
    return lambda key: (order.get(key, len(order)), key)


def _plain(value: object) -> object:
    """A tuple and a list of the same values are the same parameter (a file stores tuples as lists)."""
    return list(value) if isinstance(value, tuple) else value
