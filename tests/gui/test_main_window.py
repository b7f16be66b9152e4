"""The main window end to end: palette drops, wiring, inspector edits, undo, files, clipboard, export."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QRect, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QPushButton, QToolBar

from netbuilder.core.commands import AddNode, Connect
from netbuilder.core.graph import Edge
from netbuilder.core.project import load_template, project_to_dict, save_project, template_names
from netbuilder.gui.app import ErrorReporter, run_gui
from netbuilder.gui.document import Document
from netbuilder.gui.main_window import FRAGMENT_MIME_TYPE, MainWindow, release_clipboard

Button = QMessageBox.StandardButton


class Dialogs:
    """Stands in for the modal dialogs: records warnings, answers questions and file choices."""

    def __init__(self, monkeypatch):
        self.warnings: list[str] = []
        self.questions: list[str] = []
        self.answer = Button.Discard
        self.chosen_file = ""
        monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: self.warnings.append(text))
        monkeypatch.setattr(QMessageBox, "question", self._question)
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (self.chosen_file, ""))
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (self.chosen_file, ""))

    def _question(self, parent, title, text, *args):
        self.questions.append(text)
        return self.answer


@pytest.fixture
def dialogs(monkeypatch):
    return Dialogs(monkeypatch)


@pytest.fixture
def settings_dir(tmp_path):
    """Window layout and recent files go to a temporary INI file, never the user's settings."""
    folder = tmp_path / "settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def make_window(qtbot, tmp_path, settings_dir, dialogs):
    def make(document: Document | None = None) -> MainWindow:
        window = MainWindow(document or Document(), recovery_dir=tmp_path / "recovery")
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        QApplication.processEvents()  # the layout check queued by the first show
        return window
    yield make
    release_clipboard()  # as run_gui does on quit: PySide6 crashes at exit if the clipboard still holds our data


def add(window: MainWindow, type_id: str, x: float = 0.0, name: str | None = None, **params) -> str:
    command = AddNode(type_id, (x, 0.0), params, name)
    window.document.push(command)
    return command.node.id


def wire(window: MainWindow, *node_ids: str) -> None:
    for source, target in zip(node_ids, node_ids[1:]):
        window.document.push(Connect(source, target))


def build_cnn(window: MainWindow) -> dict[str, str]:
    ids = {"input": add(window, "input"), "conv": add(window, "conv2d", 230, filters=32, kernel_size=3),
           "flatten": add(window, "flatten", 460), "dense": add(window, "dense", 690, units=10),
           "output": add(window, "output", 920)}
    wire(window, *ids.values())
    return ids


def drop_on_canvas(window: MainWindow, mime: QMimeData, at: QPoint) -> None:
    """Deliver a drag's enter and drop events to the canvas, as Qt does when a drag ends there."""
    viewport = window.view.viewport()
    enter = QDragEnterEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime,
                                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def test_a_conv2d_dragged_from_the_palette_lands_where_dropped(make_window):
    window = make_window()
    at = window.view.viewport().rect().center() + QPoint(50, 30)

    drop_on_canvas(window, window.layer_palette.mime_data_for("conv2d"), at)

    (node,) = window.document.graph.nodes.values()
    assert node.type_id == "conv2d"
    assert window.scene.node_item(node.id).sceneBoundingRect().contains(window.view.mapToScene(at))
    assert window.scene.selected_node_ids() == [node.id]
    assert window.inspector.node_id == node.id  # the inspector follows the selection


def test_editing_conv_filters_in_the_inspector_updates_shapes_and_counts_and_undoes(make_window):
    window = make_window()
    ids = build_cnn(window)
    graph, summary = window.document.graph, window.summary
    conv_to_flatten = window.scene.edge_item(Edge(ids["conv"], ids["flatten"]))
    assert conv_to_flatten.label == "32×26×26"
    assert summary.row_texts(ids["dense"])[2:4] == ["10", f"{32 * 26 * 26 * 10 + 10:,}"]
    steps = window.document.undo_stack.count()

    window.scene.select_nodes([ids["conv"]])
    filters = window.inspector.fields["filters"].widget
    filters.setValue(8)
    filters.editingFinished.emit()

    assert graph.nodes[ids["conv"]].params["filters"] == 8
    assert window.document.undo_stack.count() == steps + 1  # one committed edit, one undo step
    assert conv_to_flatten.label == "8×26×26"
    assert summary.row_texts(ids["flatten"])[2] == "5408"
    assert summary.row_texts(ids["dense"])[3] == f"{8 * 26 * 26 * 10 + 10:,}"
    assert window.inspector.info_labels["shape"].text() == "8×26×26"

    assert window.window_actions.undo.text() == "&Undo Change filters"
    window.window_actions.undo.trigger()
    assert graph.nodes[ids["conv"]].params["filters"] == 32
    assert filters.value() == 32
    assert summary.row_texts(ids["dense"])[3] == f"{32 * 26 * 26 * 10 + 10:,}"
    window.window_actions.redo.trigger()
    assert filters.value() == 8
    assert conv_to_flatten.label == "8×26×26"


def test_undo_and_redo_walk_back_through_every_state(make_window):
    window = make_window()
    states = [project_to_dict(window.document.project)]
    for index, type_id in enumerate(["input", "conv2d", "flatten"]):
        add(window, type_id, 230 * index)
        states.append(project_to_dict(window.document.project))
    ids = list(window.document.graph.nodes)
    for source, target in zip(ids, ids[1:]):
        wire(window, source, target)
        states.append(project_to_dict(window.document.project))

    for state in reversed(states[:-1]):
        window.window_actions.undo.trigger()
        assert project_to_dict(window.document.project) == state
    assert not window.window_actions.undo.isEnabled()
    for state in states[1:]:
        window.window_actions.redo.trigger()
        assert project_to_dict(window.document.project) == state


def test_an_invalid_wire_is_refused_with_the_reason_in_the_status_bar(make_window):
    """Flatten -> Conv2d would give the conv a second input (and make a cycle)."""
    window = make_window()
    ids = build_cnn(window)
    before = list(window.document.graph.edges)

    window.scene.begin_wire(window.scene.node_item(ids["flatten"]).output_port)
    window.scene.end_wire(window.scene.node_item(ids["conv"]).input_port.scenePos())

    assert window.document.graph.edges == before
    assert window.statusBar().currentMessage() == ('Cannot connect: Conv2d "conv1" already has its input: '
                                                   "disconnect it first")


def test_a_dense_fed_an_image_is_listed_as_a_problem_and_clicking_it_selects_the_layer(make_window, qtbot):
    window = make_window()
    image, dense = add(window, "input"), add(window, "dense", 230, name="fc1")
    wire(window, image, dense)

    messages = window.problems.messages()
    assert any('Dense "fc1" needs a flat input but receives 1×28×28' in m and "insert Flatten" in m
               for m in messages)
    assert window.problems_dock.windowTitle() == f"Problems ({len(messages)})"
    window.problems_dock.raise_()
    qtbot.waitUntil(window.problems.list.isVisible)
    row = next(i for i, m in enumerate(messages) if "fc1" in m)
    item_rect = window.problems.list.visualItemRect(window.problems.list.item(row))
    qtbot.mouseClick(window.problems.list.viewport(), Qt.MouseButton.LeftButton, pos=item_rect.center())

    assert window.scene.selected_node_ids() == [dense]
    assert any("needs a flat input" in m for m in window.inspector.problem_messages)


def test_save_and_reopen_gives_the_identical_graph(make_window, dialogs, tmp_path):
    window = make_window()
    build_cnn(window)
    dialogs.chosen_file = str(tmp_path / "my net")  # the suffix is added

    assert window.window_actions.save.isEnabled()
    window.window_actions.save.trigger()

    saved = tmp_path / "my net.nbproj"
    assert saved.exists() and not window.document.modified
    assert window.windowTitle().startswith("my net.nbproj[*]") and not window.isWindowModified()
    reopened = make_window()
    assert reopened.open_path(saved)
    assert project_to_dict(reopened.document.project) == project_to_dict(window.document.project)
    assert reopened.recent_files()[0] == str(saved.resolve())


def test_the_title_marks_unsaved_changes(make_window):
    window = make_window()
    assert not window.isWindowModified()
    add(window, "input")
    assert window.isWindowModified() and "[*]" in window.windowTitle()
    window.window_actions.undo.trigger()
    assert not window.isWindowModified()


def test_opening_a_malformed_file_shows_the_error_and_keeps_the_project(make_window, dialogs, tmp_path):
    window = make_window()
    build_cnn(window)
    before = project_to_dict(window.document.project)
    broken = tmp_path / "broken.nbproj"
    broken.write_text('{"format": "netbuilder-project", "version": 1, "nodes": [', encoding="utf-8")
    dialogs.chosen_file = str(broken)

    window.window_actions.open.trigger()

    assert dialogs.warnings == ["broken.nbproj is damaged: it is not valid JSON at line 1, column 58"]
    assert project_to_dict(window.document.project) == before
    assert window.document.modified


@pytest.mark.parametrize("answer, closes, saved", [(Button.Cancel, False, False), (Button.Discard, True, False),
                                                   (Button.Save, True, True)])
def test_closing_with_unsaved_changes_asks(make_window, dialogs, tmp_path, answer, closes, saved):
    window = make_window()
    add(window, "input")
    dialogs.answer = answer
    dialogs.chosen_file = str(tmp_path / "kept.nbproj")

    assert window.close() is closes
    assert len(dialogs.questions) == 1 and "Save the changes" in dialogs.questions[0]
    assert (tmp_path / "kept.nbproj").exists() is saved


def test_closing_an_unchanged_project_does_not_ask(make_window, dialogs):
    window = make_window()
    assert window.close()
    assert dialogs.questions == []


def test_the_templates_menu_opens_each_template(make_window):
    window = make_window()
    actions = window.templates_menu.actions()
    assert [a.text() for a in actions] == [load_template(name).name for name in template_names()]
    for action, name in zip(actions, template_names()):
        action.trigger()
        assert project_to_dict(window.document.project) == project_to_dict(load_template(name))
        assert window.document.path is None and not window.document.modified
        assert window.windowTitle().startswith(f"{action.text()} (template)")
        assert window.document.analysis.ok


def test_export_writes_python_that_compiles(make_window, dialogs, tmp_path):
    window = make_window()
    window.open_template("2-cnn")
    dialogs.chosen_file = str(tmp_path / "cnn")

    assert window.export_code()

    source = (tmp_path / "cnn.py").read_text(encoding="utf-8")
    compile(source, "cnn.py", "exec")
    assert "class Net(nn.Module)" in source and "self.conv1 = nn.Conv2d(1, 32" in source


def test_export_of_a_network_with_errors_lists_them_and_writes_nothing(make_window, dialogs, tmp_path):
    window = make_window()
    wire(window, add(window, "input"), add(window, "dense", 230, name="fc1"))
    dialogs.chosen_file = str(tmp_path / "net.py")

    assert not window.export_code()

    (message,) = dialogs.warnings
    assert "cannot be built" in message and 'Dense "fc1" needs a flat input' in message
    assert "no Output layer" in message
    assert not (tmp_path / "net.py").exists()


def test_copy_and_paste_go_through_the_clipboard_as_one_undo_step(make_window):
    window = make_window()
    ids = build_cnn(window)
    window.scene.select_nodes([ids["conv"], ids["flatten"]])

    window.window_actions.copy.trigger()
    assert QGuiApplication.clipboard().mimeData().hasFormat(FRAGMENT_MIME_TYPE)
    window.window_actions.paste.trigger()

    graph = window.document.graph
    assert len(graph.nodes) == 7
    pasted = window.scene.selected_node_ids()
    assert len(pasted) == 2 and Edge(*pasted) in graph.edges
    window.window_actions.undo.trigger()
    assert len(graph.nodes) == 5


def test_cut_removes_the_selection_and_paste_brings_it_back(make_window):
    window = make_window()
    ids = build_cnn(window)
    window.scene.select_nodes([ids["dense"]])
    window.window_actions.cut.trigger()
    assert ids["dense"] not in window.document.graph.nodes
    window.window_actions.paste.trigger()
    assert [n.type_id for n in window.document.graph.nodes.values()].count("dense") == 1


def test_pasting_foreign_clipboard_data_is_refused_with_a_message(make_window):
    window = make_window()
    mime = QMimeData()
    mime.setData(FRAGMENT_MIME_TYPE, json.dumps({"nodes": [{"id": "a", "type": "warp_drive", "name": "x",
                                                            "params": {}, "position": [0, 0]}],
                                                 "edges": []}).encode())
    QGuiApplication.clipboard().setMimeData(mime)

    window.window_actions.paste.trigger()

    assert window.document.graph.nodes == {}
    assert "unknown layer type 'warp_drive'" in window.statusBar().currentMessage()


def test_edit_actions_follow_the_selection(make_window):
    window = make_window()
    ids = build_cnn(window)
    assert not window.window_actions.delete.isEnabled()
    window.window_actions.select_all.trigger()
    assert set(window.scene.selected_node_ids()) == set(ids.values())
    assert window.window_actions.delete.isEnabled()
    window.window_actions.duplicate.trigger()
    assert len(window.document.graph.nodes) == 10
    window.window_actions.delete.trigger()
    assert len(window.document.graph.nodes) == 5


def test_every_toolbar_button_shows_an_icon(make_window):
    window = make_window()
    toolbar = window.findChild(QToolBar, "main_toolbar")
    buttons = [action for action in toolbar.actions() if not action.isSeparator()]
    assert len(buttons) == 12
    blank = [action.text() for action in buttons if action.icon().pixmap(20, 20).isNull()]
    assert blank == []


def test_clicking_a_summary_row_selects_the_layer(make_window, qtbot):
    window = make_window()
    ids = build_cnn(window)
    table = window.summary.table
    row = window.summary.node_ids().index(ids["flatten"])
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(table.model().index(row, 0)).center())
    assert window.scene.selected_node_ids() == [ids["flatten"]]


def test_a_project_file_dropped_on_the_canvas_opens(make_window, tmp_path):
    window = make_window()
    path = tmp_path / "dropped.nbproj"
    save_project(load_template("1-mlp"), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])

    drop_on_canvas(window, mime, window.view.viewport().rect().center())

    assert window.document.path == path.resolve()
    assert window.document.project.name == load_template("1-mlp").name


def test_window_size_and_dock_layout_are_remembered(make_window, settings_dir):
    window = make_window()
    window.resize(790, 700)  # within the offscreen screen (800×800), which geometry is kept inside
    window.palette_dock.close()
    QApplication.processEvents()
    assert window.layout_faults() == []
    assert window.close()

    again = make_window()
    assert (again.width(), again.height()) == (790, 700)
    assert not again.palette_dock.isVisible()
    assert any(settings_dir.rglob("*.ini"))


def test_run_gui_saves_a_screenshot_of_the_cnn_template_without_entering_the_event_loop(
        qapp, tmp_path, settings_dir, dialogs, monkeypatch, library_routing_restored):
    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_gui installs its own; restored afterwards
    shot = tmp_path / "window.png"

    assert run_gui(None, str(shot)) == 0

    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1280, 800)
    assert dialogs.questions == [] and dialogs.warnings == []


def test_an_unexpected_error_is_logged_and_shown_as_a_short_message(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    report = ErrorReporter(tmp_path / "logs" / "netbuilder.log")
    try:
        {}["missing"]
    except KeyError as error:
        report(type(error), error, error.__traceback__)

    (message,) = shown
    assert message.startswith("netbuilder hit an unexpected problem")
    assert "KeyError: 'missing'" in message and str(tmp_path / "logs" / "netbuilder.log") in message
    assert "Traceback" not in message
    log = (tmp_path / "logs" / "netbuilder.log").read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in log and '{}["missing"]' in log


def test_quitting_takes_only_our_layers_off_the_clipboard(make_window):
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("someone else's text")
    release_clipboard()
    assert clipboard.text() == "someone else's text"

    window = make_window()
    build_cnn(window)
    window.window_actions.select_all.trigger()
    window.window_actions.copy.trigger()
    assert clipboard.mimeData().hasFormat(FRAGMENT_MIME_TYPE)
    release_clipboard()
    data = clipboard.mimeData()
    assert data is None or not data.hasFormat(FRAGMENT_MIME_TYPE)


def test_ctrl_z_in_an_inspector_field_undoes_the_committed_edit_unless_the_field_holds_typed_text(make_window, qtbot):
    """After a committed edit, Ctrl+Z with the cursor still in the field undoes it (the project's
    undo); while the field holds text not yet committed, Ctrl+Z is the field's own undo."""
    window = make_window()
    ids = build_cnn(window)
    graph = window.document.graph
    window.scene.select_nodes([ids["conv"]])
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    filters = window.inspector.fields["filters"].widget
    filters.setFocus()
    qtbot.waitUntil(filters.hasFocus)
    filters.selectAll()
    qtbot.keyClicks(filters, "8")
    qtbot.keyClick(filters, Qt.Key.Key_Return)
    assert graph.nodes[ids["conv"]].params["filters"] == 8

    qtbot.keyClick(filters, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert graph.nodes[ids["conv"]].params["filters"] == 32 and filters.value() == 32

    filters = window.inspector.fields["filters"].widget  # the page may be rebuilt by the undo
    filters.setFocus()
    qtbot.waitUntil(filters.hasFocus)
    filters.selectAll()
    qtbot.keyClicks(filters, "16")  # typed, not committed
    steps = window.document.undo_stack.index()
    qtbot.keyClick(filters, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.document.undo_stack.index() == steps  # the project is untouched...
    assert filters.text() != "16" and graph.nodes[ids["conv"]].params["filters"] == 32  # ...the field undid its typing

    name = window.inspector.name_edit
    name.setFocus()
    qtbot.waitUntil(name.hasFocus)
    name.selectAll()
    qtbot.keyClicks(name, "features")
    qtbot.keyClick(name, Qt.Key.Key_Return)
    assert graph.nodes[ids["conv"]].name == "features"
    qtbot.keyClick(window.inspector.name_edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert graph.nodes[ids["conv"]].name == "conv1"


def test_the_project_worked_on_last_reopens_at_start(make_window, dialogs, tmp_path):
    window = make_window()
    build_cnn(window)
    dialogs.chosen_file = str(tmp_path / "mine.nbproj")
    assert window.save_as()
    window.close()

    again = make_window()
    assert again.open_last_project()
    assert again.document.path == (tmp_path / "mine.nbproj").resolve() and len(again.document.graph.nodes) == 5
    again.close()
    (tmp_path / "mine.nbproj").unlink()
    assert not make_window().open_last_project() and dialogs.warnings == []  # gone: the template, no complaint


def test_the_save_dialog_opens_in_the_documents_or_the_folder_last_saved_in_never_the_installation(
        make_window, dialogs, tmp_path, monkeypatch):
    from importlib import resources

    from PySide6.QtCore import QStandardPaths

    suggested = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, caption, start, *a: suggested.append(Path(start)) or (dialogs.chosen_file, ""))
    templates = Path(str(resources.files("netbuilder.resources"))) / "templates"
    window = make_window()
    assert window.open_path(templates / "2-cnn.nbproj")  # a template opened as a file, from the installation
    assert window.document.path is None and window.origin == "template"  # so Save asks where, never there
    assert window.recent_files() == []
    window.save()
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    assert suggested[-1].parent == (Path(documents) if Path(documents).is_dir() else Path.home())

    folder = tmp_path / "projects"
    folder.mkdir()
    dialogs.chosen_file = str(folder / "cnn.nbproj")
    window.set_project(load_template("1-mlp"), None, "template")
    window.save_as()
    window.set_project(load_template("1-mlp"), None, "template")
    window.save_as()
    assert suggested[-1].parent == folder  # the last folder saved in


@pytest.mark.parametrize("own_window", [False, True])
def test_every_panel_open_together_at_1280_by_800_keeps_at_least_its_minimum_size(make_window, own_window):
    """Opening the Draw panel (as a tab beside the inspector, or a window of its own) squeezes
    neither the canvas nor any panel below the size at which it is readable."""
    from netbuilder.gui.main_window import CANVAS_MINIMUM, PANEL_MINIMUMS, app_settings

    app_settings().setValue("layout/draw_floating", "true" if own_window else "false")
    window = make_window()
    window.resize(1280, 800)
    for dock in window.docks()[:-1]:
        dock.show()
    window.draw_action.trigger()  # View > Panels > Draw a Digit
    assert window.draw_dock.isFloating() is own_window
    for dock in window.docks():  # each tab in turn in front, as the user sees it
        dock.raise_()
        QApplication.processEvents()
        width, height = PANEL_MINIMUMS[dock.objectName()]
        assert dock.widget().width() >= width and dock.widget().height() >= height, dock.objectName()
        assert window.view.width() >= CANVAS_MINIMUM[0] and window.view.height() >= CANVAS_MINIMUM[1]
    assert (window.width(), window.height()) == (1280, 800)  # nothing forced the window to grow


def test_a_restored_layout_that_does_not_fit_this_screen_is_replaced_by_the_default(make_window, qtbot):
    """Saved on a 1280×800 screen with the Draw panel as a tab, opened on this 800×800 one: the
    panels' minimums would push the window off the screen, so the default layout is shown."""
    from netbuilder.gui.main_window import app_settings

    app_settings().setValue("layout/draw_floating", "false")
    window = make_window()
    window.resize(1280, 800)
    window.draw_action.trigger()
    assert not window.draw_dock.isFloating()
    assert window.close()

    again = make_window()
    qtbot.waitUntil(lambda: not again.draw_dock.isVisible())
    assert again.layout_faults() == [] and again.width() <= again.screen().availableGeometry().width()
    assert "does not fit this screen" in again.statusBar().currentMessage()


def test_reset_layout_puts_every_panel_back(make_window):
    window = make_window()
    window.palette_dock.close()
    window.training_dock.setFloating(True)
    window.draw_dock.show()
    reset = next(action for action in window.view_menu.actions() if action.text() == "&Reset Layout")
    reset.trigger()
    assert window.palette_dock.isVisible() and window.inspector_dock.isVisible()
    assert not window.training_dock.isFloating() and not window.draw_dock.isVisible()
    window.draw_floats.setChecked(True)
    window.draw_floats.trigger()  # unchecked by the user: a tab from now on
    window.draw_action.trigger()
    assert window.draw_dock in window.tabifiedDockWidgets(window.inspector_dock)  # back beside the inspector


@pytest.fixture(scope="module")
def trained_mlp():
    """The MLP template trained for one epoch on a few hundred built-in digits: enough for the
    Draw panel to show its answer and bars."""
    from netbuilder.data.digits import load_digits
    from netbuilder.model.checkpoint import TrainedModel
    from netbuilder.training.session import TrainingSession

    project = load_template("1-mlp")
    project.training = project.training.replace(epochs=1)
    session = TrainingSession(project, dataset=load_digits(train_size=300, val_size=60), threads=1)
    assert list(session.events())[-1].reason == "completed"
    return TrainedModel(session.model, session.dataset.recipe, session.history())


def in_sight(widget, scroll) -> bool:
    """The widget is shown and lies wholly inside the scroll area's visible part."""
    viewport = scroll.viewport()
    return widget.isVisible() and viewport.rect().contains(QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size()))


@pytest.mark.parametrize("narrowest", [False, True])
def test_at_1280_by_800_the_draw_panel_is_a_tab_showing_everything_without_scrolling(make_window, trained_mlp,
                                                                                    narrowest):
    """The first time, with no choice made: a tab beside the inspector, the drawing and the reading
    side by side, and the canvas, the answer, the bars and every button in sight, as opened and
    at the narrowest width at which the panel keeps them side by side."""
    window = make_window()
    window.resize(1280, 800)
    window.draw_action.trigger()
    panel, scroll = window.draw_panel, window.draw_dock.widget()
    panel.set_trained_model(trained_mlp)
    if narrowest:
        frame = window.draw_dock.width() - scroll.viewport().width()
        window.resizeDocks([window.draw_dock], [panel.side_by_side_width() + frame], Qt.Orientation.Horizontal)
    QApplication.processEvents()
    assert not window.draw_dock.isFloating() and window.draw_dock in window.tabifiedDockWidgets(window.inspector_dock)
    assert panel.is_side_by_side() and panel.results.x() >= panel.canvas.mapTo(panel, QPoint(0, 0)).x() + 160
    assert not scroll.verticalScrollBar().isVisible() and not scroll.horizontalScrollBar().isVisible()
    view = panel.reading_view
    for widget in (panel.canvas, view.top_class, view.top_probability, view.plot, view.preview, view.why, view.flow,
                   *panel.findChildren(QPushButton)):
        if widget is not panel.train_button:  # on the page shown before training
            assert in_sight(widget, scroll), widget.objectName() or getattr(widget, "text", lambda: widget)()
    assert window.view.width() >= 340 and (window.width(), window.height()) == (1280, 800)
