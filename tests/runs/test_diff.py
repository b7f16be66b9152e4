"""What changed between two runs: settings, and layers added, removed, changed and rewired, matched
by node id and then by name; a one-line summary for the table."""
import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.block_commands import GroupIntoBlock
from netbuilder.core.commands import Connect, Disconnect, Group
from netbuilder.core.graph import Edge
from netbuilder.core.project import Project, project_from_dict, project_to_dict
from netbuilder.runs import diff_projects
from netbuilder.runs.diff import show_value

from tests.core.test_block_outputs import two_branch_net


def chain(layers, learning_rate=0.001, **extra):
    """A project: input, then (id, type, name, params) layers in a chain, then the output."""
    nodes = [{"id": "in", "type": "input", "name": "input1", "params": {"kind": "image", "shape": [1, 28, 28]}}]
    nodes += [{"id": node_id, "type": type_id, "name": name, "params": params} for node_id, type_id, name, params in layers]
    nodes.append({"id": "out", "type": "output", "name": "output1", "params": {"task": "classification"}})
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:])]
    return project_from_dict({"format": "netbuilder-project", "version": 1, "nodes": nodes, "edges": edges,
                              "training": {"learning_rate": learning_rate, **extra}})


CONV = [("c1", "conv2d", "conv1", {"filters": 32}), ("r1", "relu", "relu1", {}),
        ("c2", "conv2d", "conv2", {"filters": 64}), ("r2", "relu", "relu2", {}),
        ("f", "flatten", "flatten1", {}), ("d", "dense", "fc1", {"units": 10})]


def with_batchnorm():
    layers = []
    for layer in CONV:
        layers.append(layer)
        if layer[1] == "conv2d":
            layers.append((f"bn_{layer[0]}", "batchnorm", f"bn_{layer[2]}", {}))
    return layers


def test_the_summary_names_layers_added_and_a_setting_changed():
    diff = diff_projects(chain(CONV), chain(with_batchnorm(), learning_rate=0.003))
    assert diff.summary == "+ BatchNorm ×2, 2 layers rewired, lr 0.001 → 0.003"
    assert [layer.name for layer in diff.added] == ["bn_conv1", "bn_conv2"]
    assert {layer.after.name for layer in diff.rewired} == {"relu1", "relu2"}
    assert diff.rewired[0].inputs_before == ("conv1",) and diff.rewired[0].inputs_after == ("bn_conv1",)


def test_a_changed_parameter_reads_layer_parameter_before_and_after():
    changed = [layer if layer[0] != "c2" else ("c2", "conv2d", "conv2", {"filters": 128}) for layer in CONV]
    diff = diff_projects(chain(CONV), chain(changed))
    assert diff.summary == "conv2 filters 64 → 128"
    assert diff.lines() == [f"~ conv2 ({diff.changed[0].after.title}): filters 64 → 128"]


def test_removed_layers_carry_the_before_ids_and_the_lines_list_each_difference():
    diff = diff_projects(chain(with_batchnorm()), chain(CONV, epochs=9))
    assert {layer.node_id for layer in diff.removed} == {"bn_c1", "bn_c2"}
    assert diff.summary.startswith("− BatchNorm ×2") and diff.summary.endswith("epochs 3 → 9")
    assert "setting epochs: 3 → 9" in diff.lines() and "− bn_conv1 (BatchNorm)" in diff.lines()


def test_a_layer_deleted_and_added_again_under_its_name_is_the_same_layer():
    renumbered = [("new_id" if layer[0] == "d" else layer[0], *layer[1:]) for layer in CONV]
    diff = diff_projects(chain(CONV), chain(renumbered))
    assert diff.same and diff.summary == "no changes" and diff.lines() == ["no changes"]


def test_a_renamed_layer_is_a_change_and_moving_nodes_is_none():
    before = chain(CONV)
    after = copy.deepcopy(before)
    after.graph.nodes["c1"].name = "stem"
    after.graph.nodes["c2"].position = (500.0, 20.0)
    diff = diff_projects(before, after)
    assert diff.summary == "stem name conv1 → stem"


def test_the_dataset_is_a_setting_too():
    before, after = chain(CONV), chain(CONV)
    after.dataset = "fashion"
    assert diff_projects(before, after).summary == "data digits → fashion"


def test_values_are_shown_short():
    assert [show_value(v) for v in (0.001, 3e-05, 0.1 + 0.2, 64, "adam", [28, 28], True)] == \
        ["0.001", "3e-5", "0.3", "64", "adam", "28×28", "True"]


# --- open-ended edits: whatever is done to a network, the diff reports exactly that ------------

LAYER_TYPES = {"relu": {}, "dropout": {"rate": 0.5}, "batchnorm": {}, "dense": {"units": 8}}


@st.composite
def edits(draw):
    """A random chain and a random set of edits to it: the layers removed, added, and re-parameterised."""
    count = draw(st.integers(1, 8))
    layers = [(f"n{i}", draw(st.sampled_from(sorted(LAYER_TYPES))), f"layer{i}") for i in range(count)]
    removed = draw(st.sets(st.sampled_from([layer[0] for layer in layers])))
    added = draw(st.lists(st.sampled_from(sorted(LAYER_TYPES)), max_size=4))
    dense_units = draw(st.dictionaries(st.sampled_from([layer[0] for layer in layers]), st.integers(1, 64)))
    return layers, removed, added, dense_units


def build(layers):
    return chain([(node_id, type_id, name, dict(params)) for node_id, type_id, name, params in layers])


@settings(max_examples=60, deadline=None)
@given(edits())
def test_the_diff_finds_exactly_the_edits_made(case):
    layers, removed, added, dense_units = case
    before = [(node_id, type_id, name, LAYER_TYPES[type_id]) for node_id, type_id, name in layers]
    after = [(node_id, type_id, name, {"units": dense_units[node_id]} if type_id == "dense" and node_id in dense_units
              else LAYER_TYPES[type_id]) for node_id, type_id, name in layers if node_id not in removed]
    after += [(f"new{i}", type_id, f"added{i}", LAYER_TYPES[type_id]) for i, type_id in enumerate(added)]
    diff = diff_projects(build(before), build(after))
    assert {layer.node_id for layer in diff.removed} == removed
    assert [layer.node_id for layer in diff.added] == [f"new{i}" for i in range(len(added))]
    assert {layer.after.node_id for layer in diff.changed} == {
        node_id for node_id, type_id, _ in layers
        if type_id == "dense" and node_id not in removed and dense_units.get(node_id, 8) != 8}
    assert diff.same == (not removed and not added and not diff.changed)


@settings(max_examples=60, deadline=None)
@given(edits())
def test_a_diff_read_backwards_swaps_added_and_removed(case):
    layers, removed, added, _ = case
    before = [(node_id, type_id, name, LAYER_TYPES[type_id]) for node_id, type_id, name in layers]
    after = [layer for layer in before if layer[0] not in removed]
    after += [(f"new{i}", type_id, f"added{i}", LAYER_TYPES[type_id]) for i, type_id in enumerate(added)]
    forward, backward = diff_projects(build(before), build(after)), diff_projects(build(after), build(before))
    assert forward.added == backward.removed and forward.removed == backward.added
    assert len(forward.rewired) == len(backward.rewired)


@settings(max_examples=30, deadline=None)
@given(edits())
def test_a_network_saved_and_read_again_has_no_changes(case):
    layers, _, _, _ = case
    project = build([(node_id, type_id, name, LAYER_TYPES[type_id]) for node_id, type_id, name in layers])
    assert diff_projects(project, project_from_dict(project_to_dict(project))).same


def test_a_change_inside_a_block_names_the_block():
    from tests.core.test_blocks import residual_net

    graph, chosen = residual_net()
    GroupIntoBlock(chosen).do(graph)
    before = Project(graph=graph)
    after = project_from_dict(project_to_dict(before))
    (definition,) = after.graph.blocks.values()
    conv = next(node for node in definition.graph.nodes.values() if node.name == "conv2")
    conv.params = {**conv.params, "filters": 8}
    diff = diff_projects(before, after)
    assert diff.summary == f"{definition.name}/conv2 filters 4 → 8"
    assert diff.changed[0].after.block == definition.name and diff.changed[0].after.node_id == conv.id


def test_a_wire_moved_to_another_output_of_a_block_card_is_a_rewiring_naming_the_output():
    graph, chosen = two_branch_net()
    GroupIntoBlock(chosen).do(graph)
    before = Project(graph=graph)
    after = project_from_dict(project_to_dict(before))
    card, flatten = after.graph.node_named("block1"), after.graph.node_named("flatten1")
    Group([Disconnect(Edge(card.id, flatten.id, 1)), Connect(card.id, flatten.id, 0)]).do(after.graph)
    (rewired,) = diff_projects(before, after).rewired
    assert (rewired.after.name, rewired.inputs_before, rewired.inputs_after) == ("flatten1", ("block1 output 2",), ("block1",))
