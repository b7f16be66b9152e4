"""Restoring a kept run's network is one undoable edit: the project becomes the run's network,
blocks and settings, undo gives back exactly what was there, and the library stays one."""
import json

from netbuilder.core.analysis import analyze
from netbuilder.core.block_commands import AddDefinition, GroupIntoBlock, InsideBlock
from netbuilder.core.commands import RemoveNodes, SetParams, SetTraining
from netbuilder.core.project import Project, load_template, project_to_dict
from netbuilder.core.restore import RestoreNetwork

from tests.core.test_blocks import instance_of, residual_net


def state(project):
    return json.dumps(project_to_dict(project), sort_keys=True)


def test_restore_makes_the_project_the_snapshot_and_undo_and_redo_are_exact():
    snapshot = load_template("2-cnn")
    snapshot.training = snapshot.training.replace(learning_rate=0.003, epochs=7)
    snapshot.dataset = "fashion"
    project = load_template("2-cnn")
    conv = next(node for node in project.graph.nodes.values() if node.type_id == "conv2d")
    for edit in (RemoveNodes([conv.id]), SetTraining(project, {"learning_rate": 0.1})):
        edit.do(project.graph)
    before = state(project)
    restore = RestoreNetwork(project, snapshot)
    snapshot.training = snapshot.training.replace(epochs=99)  # later edits of the snapshot do not leak in
    restore.do(project.graph)
    restored = json.loads(state(project))
    expected = json.loads(state(load_template("2-cnn")))
    assert restored["nodes"] == expected["nodes"] and restored["edges"] == expected["edges"]
    assert (project.training.learning_rate, project.training.epochs, project.dataset) == (0.003, 7, "fashion")
    restore.undo(project.graph)
    assert state(project) == before
    restore.do(project.graph)
    assert json.loads(state(project))["nodes"] == expected["nodes"]
    assert analyze(project.graph).ok


def test_restored_blocks_share_the_projects_library_and_edits_inside_them_undo():
    graph, chosen = residual_net()
    GroupIntoBlock(chosen).do(graph)
    snapshot = Project(graph=graph)
    project = Project()
    project.graph.add("input", shape=(4, 8, 8))
    restore = RestoreNetwork(project, snapshot)
    restore.do(project.graph)
    block = instance_of(project.graph)
    definition = project.graph.blocks[block.params["block"]]
    assert definition.graph.blocks is project.graph.blocks  # a block added inside lands in the one library
    assert definition is not graph.blocks[block.params["block"]]  # a copy: the snapshot is untouched
    conv = definition.graph.node_named("conv1").id
    edit = InsideBlock(definition.id, SetParams(conv, {"kernel_size": 5}))
    edit.do(project.graph)
    assert analyze(project.graph).info[block.id].params == 4 * 4 * 25 + 4 + 4 * 4 * 9 + 4
    edit.undo(project.graph)
    restore.undo(project.graph)
    assert project.graph.blocks == {} and [node.type_id for node in project.graph.nodes.values()] == ["input"]
    AddDefinition(definition).do(project.graph)  # the emptied library takes definitions again
