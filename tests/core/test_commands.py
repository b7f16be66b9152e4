"""Every edit is undoable on the core alone, restoring the graph exactly (edge order included)."""
import copy

import pytest

from netbuilder.core.commands import (AddNode, Connect, Disconnect, Group, MoveNodes, RemoveNodes, Rename,
                                      SetParams, SetTraining, copy_fragment, paste_fragment, pasted_ids)
from netbuilder.core.graph import Edge, Graph, GraphError
from netbuilder.core.layers import ParamError
from netbuilder.core.project import load_template, project_to_dict, Project


def _state(graph):
    return project_to_dict(Project(graph))


@pytest.fixture
def residual():
    return load_template("5-residual-cnn").graph


def _check_undo_redo(graph, command):
    before = _state(graph)
    command.do(graph)
    after = _state(graph)
    assert after != before
    command.undo(graph)
    assert _state(graph) == before
    command.do(graph)
    assert _state(graph) == after


@pytest.mark.parametrize("make_command", [
    lambda g: AddNode("dense", (10.0, 20.0), {"units": 5}),
    lambda g: RemoveNodes(["n3", "n9"]),
    lambda g: Disconnect(next(e for e in g.edges if e.target == "n9")),
    lambda g: SetParams("n2", {"filters": 8}),
    lambda g: Rename("n2", "stem"),
    lambda g: MoveNodes({"n2": (g.nodes["n2"].position, (50.0, 60.0))}),
    lambda g: Group([Disconnect(Edge("n13", "n14")), AddNode("relu"), Connect("n13", "n15")]),
], ids=["add", "remove", "disconnect", "params", "rename", "move", "group"])
def test_each_command_undoes_and_redoes_exactly(residual, make_command):
    assert residual.nodes["n9"].type_id == "add"
    _check_undo_redo(residual, make_command(residual))


def test_removing_a_merge_input_and_undoing_keeps_the_input_order(residual):
    add = next(n for n in residual.nodes.values() if n.type_id == "add")
    order = residual.inputs_of(add.id)
    command = RemoveNodes([order[0]])
    command.do(residual)
    command.undo(residual)
    assert residual.inputs_of(add.id) == order


def test_invalid_connections_are_refused_with_a_reason():
    graph = Graph()
    a, b, c = graph.add("input", kind="vector", shape=(3,)), graph.add("add"), graph.add("relu")
    graph.chain(a, b, c)
    with pytest.raises(GraphError, match="would make a cycle"):
        Connect(c.id, b.id).do(graph)
    with pytest.raises(GraphError, match="already has its input"):
        Connect(a.id, c.id).do(graph)
    with pytest.raises(GraphError, match="takes no input"):
        Connect(b.id, a.id).do(graph)
    assert graph.connection_problem(b.id, b.id) == "a layer cannot feed itself"


def test_merge_nodes_accept_several_inputs():
    graph = Graph()
    a, b, add = graph.add("input", kind="vector", shape=(3,)), graph.add("relu"), graph.add("add")
    graph.chain(a, b)
    Connect(a.id, add.id).do(graph)
    Connect(b.id, add.id).do(graph)
    assert graph.inputs_of(add.id) == [a.id, b.id]


def test_bad_parameter_leaves_the_node_unchanged():
    graph = Graph()
    dense = graph.add("dense", units=4)
    with pytest.raises(ParamError, match="at least 1"):
        SetParams(dense.id, {"units": 0}).do(graph)
    assert dense.params["units"] == 4


def test_duplicate_names_and_reserved_words_are_refused():
    graph = Graph()
    graph.add("dense", "fc1")
    other = graph.add("relu")
    for name, reason in [("fc1", "already used"), ("forward", "clashes with an attribute every PyTorch model has"),
                         ("class", "Python keyword"), ("2x", "not a valid")]:
        with pytest.raises(GraphError, match=reason):
            Rename(other.id, name).do(graph)


def test_a_failing_group_leaves_the_graph_untouched():
    graph = Graph()
    a, b = graph.add("input", kind="vector", shape=(3,)), graph.add("relu")
    before = _state(graph)
    group = Group([Connect(a.id, b.id), Connect(b.id, a.id)])
    with pytest.raises(GraphError):
        group.do(graph)
    assert _state(graph) == before


def test_a_group_failing_on_a_refused_parameter_leaves_the_graph_untouched():
    graph = Graph()
    a, b = graph.add("input", kind="vector", shape=(3,)), graph.add("dense")
    before = _state(graph)
    group = Group([Connect(a.id, b.id), SetParams(b.id, {"units": 0})])  # units must be at least 1
    with pytest.raises(ParamError):
        group.do(graph)
    assert _state(graph) == before


def test_paste_copies_nodes_with_fresh_names_and_their_inner_edges_only(residual):
    fragment = copy.deepcopy(copy_fragment(residual, ["n2", "n3", "n4"]))
    command = paste_fragment(residual, fragment)
    command.do(residual)
    new = pasted_ids(command)
    assert len(new) == 3 and not set(new) & {"n2", "n3", "n4"}
    names = {residual.nodes[i].name for i in new}
    assert len({n.name for n in residual.nodes.values()}) == len(residual.nodes)
    assert {(residual.nodes[e.source].name, residual.nodes[e.target].name)
            for e in residual.edges if e.target in new} == {
        (residual.nodes[new[0]].name, residual.nodes[new[1]].name),
        (residual.nodes[new[1]].name, residual.nodes[new[2]].name)}
    assert names.isdisjoint({"conv1", "relu1", "conv2"})
    assert residual.nodes[new[0]].position == (residual.nodes["n2"].position[0] + 40, residual.nodes["n2"].position[1] + 40)
    command.undo(residual)
    assert not set(new) & set(residual.nodes)


def test_training_settings_and_dataset_change_as_one_undoable_step():
    project = load_template("1-mlp")
    before = project_to_dict(project)
    command = SetTraining(project, {"learning_rate": 0.01, "epochs": 5}, dataset="mnist")
    assert command.text == "Change learning rate, epochs, dataset"
    command.do(project.graph)
    assert (project.training.learning_rate, project.training.epochs, project.dataset) == (0.01, 5, "mnist")
    after = project_to_dict(project)
    command.undo(project.graph)
    assert project_to_dict(project) == before
    command.do(project.graph)
    assert project_to_dict(project) == after


def test_a_refused_training_setting_changes_nothing():
    project = load_template("1-mlp")
    before = project_to_dict(project)
    with pytest.raises(ParamError, match="learning rate must be at most 10"):
        SetTraining(project, {"learning_rate": 50.0, "epochs": 5}).do(project.graph)
    assert project_to_dict(project) == before
