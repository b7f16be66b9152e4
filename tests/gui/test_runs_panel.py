"""The Runs panel in the window: two runs trained with one change of a layer and one of the learning
rate between them are kept, overlaid on the training plots, compared (listed, summarised and
marked on the canvas) and the first restored as one undo step; runs are renamed, starred, their
weights used, pruned and deleted."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from netbuilder.core.block_commands import InsideBlock
from netbuilder.core.commands import Connect, RemoveNodes, SetParams
from netbuilder.core.restore import RestoreNetwork
from netbuilder.core.project import Project, load_template, project_from_dict, project_to_dict, save_project
from netbuilder.gui.document import Document
from netbuilder.gui.editor.diff_marks import DiffRing, GhostCard
from netbuilder.gui.panels.runs_table import CHANGES, NAME, NOTE, STAR, WHEN
from netbuilder.runs import RunStore
from netbuilder.training.run_text import graph_structure
from test_block_levels import nested_blocks
from test_main_window import dialogs, make_window, settings_dir  # noqa: F401 (fixtures)
from test_training import RUN_TIMEOUT_MS, small_digits  # noqa: F401 (fixture)

Button = QMessageBox.StandardButton


@pytest.fixture
def project_window(make_window, small_digits, tmp_path):  # noqa: F811
    project = load_template("1-mlp")
    project.training = project.training.replace(epochs=1, batch_size=32, device="cpu")
    path = tmp_path / "mlp.nbproj"
    save_project(project, path)
    window = make_window()
    assert window.open_path(path)
    window.training.report_interval = 0.0
    window.training.use_dataset(small_digits)
    return window


def train(window, qtbot, runs_before: int) -> None:
    window.window_actions.train.trigger()
    qtbot.waitUntil(lambda: window.training.state == "idle" and len(window.runs.listing.runs) == runs_before + 1,
                    timeout=RUN_TIMEOUT_MS)


def edit_cell(qtbot, table, run_id: str, column: int, text: str) -> None:
    table.edit(table.index_of(run_id, column))
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def layer_id(window, name: str) -> str:
    return window.document.graph.node_named(name).id


def test_two_runs_are_overlaid_compared_and_the_first_restored_in_one_undo_step(project_window, qtbot):
    window, panel = project_window, project_window.runs
    train(window, qtbot, 0)
    first_structure = graph_structure(window.document.project)
    window.training.settings.set_setting("learning_rate", 0.003)  # as typed into the settings form
    window.document.push(SetParams(layer_id(window, "fc1"), {"units": 64}))  # as the inspector edits it
    train(window, qtbot, 1)
    first, second = panel.listing.runs
    assert panel.listing.current == second.id  # the newest run's weights are the project's model

    # overlaid on the training plots, one colour and one legend entry per run, under the current run
    for run in (first, second):
        panel.table.set_ticked(run.id, True)
    overlays = panel.overlays
    assert list(overlays.runs) == [first.id, second.id]
    assert overlays.runs[first.id].colour != overlays.runs[second.id].colour
    assert overlays.legend.isVisible() and first.title in overlays.legend.text()
    plots = window.training.plots
    loss_item = overlays.runs[first.id].items[0][1]
    assert len(loss_item.getData()[0]) == len(overlays.runs[first.id].curves.batch_x) > 0
    assert loss_item.zValue() < plots.curves["smoothed_loss"].zValue()
    assert any(first.title in line for line in overlays.values_at(1.0))
    colour = overlays.runs[second.id].colour
    panel.table.set_ticked(first.id, False)  # the other run keeps its colour; the unticked one's curves go
    assert list(overlays.runs) == [second.id] and overlays.runs[second.id].colour == colour
    assert loss_item.scene() is None
    panel.table.set_ticked(first.id, True)

    # what changed: the summary column, the list, and the changed layer ringed on the canvas
    summary = panel.table.index_of(second.id, CHANGES).data()
    assert "fc1 units 128 → 64" in summary and "lr 0.001 → 0.003" in summary
    panel.table.select_runs([first.id, second.id])
    lines = [panel.comparison.changes.item(row).text() for row in range(panel.comparison.changes.count())]
    assert "setting learning_rate: 0.001 → 0.003" in lines
    assert any(line.startswith("~ fc1") and "units 128 → 64" in line for line in lines)
    ring = window.diff_marks.rings[layer_id(window, "fc1")]
    assert isinstance(ring, DiffRing) and ring.layer.kind == "changed" and "units 128 → 64" in ring.toolTip()

    # restore the first run: the canvas and the settings are back, in one undo step
    panel.table.select_runs([first.id])
    assert not window.diff_marks.rings  # the comparison ended with the selection
    steps = window.document.undo_stack.count()
    panel.restore_button.click()
    assert window.document.undo_stack.count() == steps + 1
    assert graph_structure(window.document.project) == first_structure
    cards = {item.node.name: item.summary_text() for item in window.scene.items() if hasattr(item, "summary_text")}
    assert cards["fc1"] == "128" and len(cards) == len(window.document.graph.nodes)  # the canvas shows it
    assert window.document.project.training.learning_rate == 0.001
    assert window.training.settings.fields["learning_rate"].widget.text() == "0.001"  # the form shows it too
    window.document.undo_stack.undo()
    assert window.document.graph.node_named("fc1").params["units"] == 64
    assert window.document.project.training.learning_rate == 0.003
    window.document.undo_stack.redo()
    assert window.document.graph.node_named("fc1").params["units"] == 128

    # and its weights become the project's model (what the Draw panel reads with)
    panel.use_button.click()
    assert panel.listing.current == first.id
    assert window.draw_panel.trained.model.state_dict()["fc1.weight"].shape[0] == 128
    assert panel.table.index_of(first.id, NAME).data(Qt.ItemDataRole.FontRole).bold()


def test_a_removed_layer_is_a_ghost_where_it_was_and_an_added_one_is_ringed(project_window, qtbot):
    window, panel = project_window, project_window.runs
    train(window, qtbot, 0)
    before = load_template("1-mlp")  # as the first run, less its dropout layer
    before.training = window.document.project.training
    dropout = before.graph.node_named("dropout1")
    relu, fc2 = before.graph.node_named("relu1").id, before.graph.node_named("fc2").id
    for edit in (RemoveNodes([dropout.id]), Connect(relu, fc2)):
        edit.do(before.graph)
    window.document.push(RestoreNetwork(window.document.project, before))
    train(window, qtbot, 1)
    first, second = panel.listing.runs
    panel.table.select_runs([first.id, second.id])
    assert "− Dropout" in panel.comparison.diff.summary
    (ghost,) = window.diff_marks.ghosts
    assert isinstance(ghost, GhostCard) and ghost.layer.name == "dropout1"
    assert tuple(ghost.pos().toTuple()) == dropout.position
    assert "fc2" in [layer.after.name for layer in panel.comparison.diff.rewired]
    assert window.diff_marks.rings[fc2].layer.kind == "changed"  # rewired: its input is relu1 now


def test_runs_are_renamed_noted_starred_pruned_and_deleted_with_confirmation(project_window, qtbot, dialogs):  # noqa: F811
    window, panel = project_window, project_window.runs
    train(window, qtbot, 0)
    train(window, qtbot, 1)
    first, second = panel.listing.runs
    table = panel.table
    edit_cell(qtbot, table, first.id, NAME, "baseline")  # typed into the cell's editor, Enter pressed
    qtbot.waitUntil(lambda: panel.listing.runs[0].name == "baseline")
    table.edit(table.index_of(first.id, NOTE))
    panel.refresh()  # a run ending while a note is typed: the table is filled once the edit is done
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and table.state() == table.State.EditingState
    qtbot.keyClicks(editor, "lr from the paper")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.listing.runs[0].note == "lr from the paper")
    table.clicked.emit(table.index_of(second.id, STAR))
    first, second = panel.listing.runs
    assert (first.name, first.note, second.starred) == ("baseline", "lr from the paper", True)
    assert table.index_of(first.id, NAME).data() == "baseline"
    table.sortByColumn(STAR, Qt.SortOrder.DescendingOrder)  # as a click on the header: starred first
    assert table.run_ids() == [second.id, first.id]
    table.sortByColumn(NAME, Qt.SortOrder.DescendingOrder)
    assert table.run_ids() == sorted([first.id, second.id], key=lambda run_id: panel.run(run_id).title.casefold(),
                                     reverse=True)
    table.sortByColumn(WHEN, Qt.SortOrder.AscendingOrder)
    assert table.run_ids() == [first.id, second.id]
    edit_cell(qtbot, table, first.id, NAME, "x" * 200)  # refused with the reason, the name kept
    qtbot.waitUntil(lambda: "at most" in panel.message.text())
    assert panel.listing.runs[0].name == "baseline"
    assert table.index_of(first.id, NAME).data() == "baseline"
    assert panel.disk.text().startswith("2 runs kept in mlp.runs")

    panel.keep_last.setValue(0)
    dialogs.answer = Button.Cancel
    panel.prune_button.click()
    assert all(run.has_weights for run in panel.listing.runs)
    dialogs.answer = Button.Yes
    panel.prune_button.click()
    first, second = panel.listing.runs  # the second is starred and the project's model: both keep theirs
    assert "freed" in panel.message.text() and second.has_weights
    assert first.has_weights == (first.id == panel.listing.current)

    table.select_runs([first.id])
    dialogs.answer = Button.Cancel
    panel.delete_button.click()
    assert len(panel.listing.runs) == 2
    dialogs.answer = Button.Yes
    panel.delete_button.click()
    assert [run.id for run in panel.listing.runs] == [second.id]
    assert [run.id for run in RunStore(window.document.path).runs().runs] == [second.id]
    assert "Delete 1 run (baseline" in dialogs.questions[-1]


def test_a_project_opened_lists_its_runs_when_the_panel_is_first_in_view(project_window, qtbot):
    window, panel = project_window, project_window.runs
    train(window, qtbot, 0)
    train(window, qtbot, 1)
    first, second = panel.listing.runs
    window.training_dock.raise_()  # the Runs tab behind the Training tab, as the window starts
    assert window.open_path(window.document.path)
    QApplication.processEvents()
    assert panel.unlisted and panel.listing.runs == () and panel.table.model().rowCount() == 0
    window.runs_dock.raise_()  # the Runs tab chosen: its runs are read now
    qtbot.waitUntil(lambda: [run.id for run in panel.listing.runs] == [first.id, second.id])
    assert panel.table.run_ids() == [second.id, first.id] and not panel.unlisted  # newest first
    assert panel.disk.text().startswith("2 runs kept in mlp.runs")
    panel.table.set_ticked(first.id, True)
    panel.table.clicked.emit(panel.table.index_of(first.id, STAR))
    assert panel.listing.runs[0].starred and panel.table.index_of(first.id, STAR).data() == "★"
    assert panel.table.ticked_ids() == [first.id] and list(panel.overlays.runs) == [first.id]
    assert window.open_path(window.document.path)  # opened with the Runs tab in view: listed right after
    qtbot.waitUntil(lambda: len(panel.listing.runs) == 2)


def test_a_project_without_a_file_says_runs_are_kept_once_it_is_saved(make_window):  # noqa: F811
    window = make_window()
    assert "Save the project to keep its runs" in window.runs.disk.text()
    assert window.runs.table.model().rowCount() == 0 and not window.runs.prune_button.isEnabled()


def test_tensorboard_choice_gives_the_run_a_folder_beside_the_project(project_window, qtbot):
    window = project_window
    choice = window.training.tensorboard
    assert choice.folder() is None
    choice.enabled.setChecked(True)
    assert choice.folder() == window.document.path.parent / "tensorboard"
    train(window, qtbot, 0)
    assert any("tfevents" in path.name for path in (window.document.path.parent / "tensorboard").rglob("*"))


def test_changes_inside_blocks_are_marked_on_the_cards_holding_them_and_inside_once_opened(make_window):  # noqa: F811
    graph, stage, res, conv2 = nested_blocks()  # stage(res(conv1 -> relu1 -> conv2 -> add1 + skip), flatten1)
    before = Project(graph=graph)
    after = project_from_dict(project_to_dict(before))
    res_block = res.params["block"]
    inside = after.graph.blocks[res_block].graph
    relu = next(node for node in inside.nodes.values() if node.type_id == "relu")
    conv1 = inside.inputs_of(relu.id)[0]
    for edit in (SetParams(conv2.id, {"filters": 8}), RemoveNodes([relu.id]), Connect(conv1, conv2.id)):
        InsideBlock(res_block, edit).do(after.graph)
    window = make_window(Document(after))
    window.runs.comparison.show(before, after, "first", "second")
    lines = window.runs.comparison.diff.lines()
    assert any(line.startswith("~ res/") and "filters 4 → 8" in line for line in lines)
    assert f"− res/{relu.name} (ReLU)" in lines
    marks = window.diff_marks
    assert list(marks.rings) == [stage.id] and not marks.ghosts  # the network: the card holding the change
    assert marks.rings[stage.id].layer.kind == "changed" and "res" in marks.rings[stage.id].toolTip()
    assert window.scene.open_block(stage.id)
    assert list(marks.rings) == [res.id]  # in stage: res's card, which holds the changed layers
    assert window.scene.open_block(res.id)
    ring = marks.rings[conv2.id]  # in res: the changed layer ringed, the removed one a ghost where it was
    assert ring.layer.kind == "changed" and "filters 4 → 8" in ring.toolTip()
    (ghost,) = marks.ghosts
    assert ghost.layer.name == relu.name and tuple(ghost.pos().toTuple()) == relu.position
    assert ring.scene() is window.scene and ghost.scene() is window.scene
    window.scene.leave_block()
    window.scene.leave_block()
    assert list(marks.rings) == [stage.id] and not marks.ghosts
