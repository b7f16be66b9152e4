"""What a hostile or unlucky user feeds the window ends in a short printable message, loses no
work, neither freezes nor crashes it: clipboard data, damaged settings, odd paths, full disks,
drawings at their limits, and quitting while a file is still being read."""
from __future__ import annotations

import errno
import json
import builtins
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QMouseEvent
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QMessageBox

import netbuilder.data.strokes as strokes_module
import netbuilder.gui.panels.draw_canvas as canvas_module
from netbuilder.core.commands import AddNode
from netbuilder.core.layers.registry import all_specs
from netbuilder.core.project import load_template
from netbuilder.core.settings import SETTING_LIMITS
from netbuilder.gui.app import ErrorReporter
from netbuilder.gui.document import Document
from netbuilder.gui.main_window import FRAGMENT_MIME_TYPE, app_settings
from netbuilder.gui.panels.inspector import InspectorPanel
from netbuilder.gui.panels.training import TrainingPanel
from netbuilder.common.text import MESSAGE_CHARACTERS, shown
from test_draw_panel import panel  # noqa: F401 (fixture)
from test_main_window import dialogs, make_window, settings_dir  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]


def printable_and_short(text: str, limit: int = MESSAGE_CHARACTERS) -> bool:
    """Each line at most `limit` long and holding nothing that `shown` would escape."""
    return all(len(line) <= limit and shown(line, len(line) + 1) == line for line in text.split("\n"))


def put_on_clipboard(data: bytes) -> None:
    mime = QMimeData()
    mime.setData(FRAGMENT_MIME_TYPE, data)
    QGuiApplication.clipboard().setMimeData(mime)


def a_layer(position: list) -> dict:
    return {"id": "a", "type": "dense", "name": "dense_x", "params": {}, "position": position}


@pytest.mark.parametrize("data", [
    b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than the JSON reader's stack
    b'{"nodes": ' + b"[" * 5_000 + b"]" * 5_000 + b', "edges": []}',
    json.dumps({"nodes": [a_layer([float("nan"), 0])], "edges": []}).encode(),  # NaN: not JSON
    b'{"nodes": [{"id": "a", "type": "dense", "name": "d", "params": {}, "position": [1e400, 0]}], "edges": []}',
    b"\xff\xfe not UTF-8",
    b'{"nodes": [], "edges": [], "padding": "' + b" " * (65 * 1024 * 1024) + b'"}',  # larger than any project
], ids=["deep-list", "deep-in-nodes", "nan", "1e400", "not-utf8", "huge"])
def test_hostile_clipboard_data_is_refused_with_a_message_and_adds_nothing(make_window, data):
    window = make_window(Document(load_template("2-cnn")))
    before = set(window.document.graph.nodes)
    put_on_clipboard(data)
    window.paste()
    message = window.statusBar().currentMessage()
    assert message.startswith("Cannot paste:") and printable_and_short(message)
    assert set(window.document.graph.nodes) == before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
fragments = st.fixed_dictionaries({"nodes": st.lists(st.fixed_dictionaries(
    {"id": st.text(max_size=4), "type": st.sampled_from(["dense", "conv2d", "input", "zzz"]) | st.text(max_size=6),
     "name": st.text(max_size=10), "params": json_values, "position": json_values}), max_size=4),
    "edges": st.lists(json_values, max_size=4)})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=json_values | fragments)
def test_any_json_on_the_clipboard_pastes_or_says_why(make_window, document):
    window = getattr(test_any_json_on_the_clipboard_pastes_or_says_why, "window", None)
    if window is None:  # one window for every example: opening one per example is slow
        window = test_any_json_on_the_clipboard_pastes_or_says_why.window = make_window()
    put_on_clipboard(json.dumps(document).encode())
    window.statusBar().clearMessage()
    window.paste()  # an exception here (or in a slot: pytest-qt) fails the test
    assert printable_and_short(window.statusBar().currentMessage())


@pytest.fixture(autouse=True)
def _forget_shared_window():
    yield
    test_any_json_on_the_clipboard_pastes_or_says_why.__dict__.pop("window", None)


def test_selecting_a_large_paste_in_the_summary_is_one_selection_change(make_window):
    """Row by row (cell by cell) the table updated its selection 9,000 times for 1,500 layers."""
    window = make_window()
    nodes = [{"id": f"n{i}", "type": "dense", "name": f"d{i}", "params": {"units": 4}, "position": [i * 10.0, 0]}
             for i in range(300)]
    changes = []
    window.summary.table.selectionModel().selectionChanged.connect(lambda *_: changes.append(1))
    put_on_clipboard(json.dumps({"nodes": nodes, "edges": []}).encode())
    window.paste()
    assert len(window.document.graph.nodes) == 300
    rows = {index.row() for index in window.summary.table.selectionModel().selectedRows()}
    assert len(rows) == 300
    assert len(changes) <= 2


@pytest.mark.parametrize("stored", [5, {"a": 1}, [1, None, "", "/x/a.nbproj"], "/x/b.nbproj"])
def test_a_damaged_recent_files_setting_gives_a_usable_menu(make_window, stored):
    window = make_window()
    app_settings().setValue("files/recent", stored)
    window.fill_recent_menu()
    listed = [action.text() for action in window.recent_menu.actions()]
    assert all(isinstance(path, str) and path for path in window.recent_files())
    assert listed in (["No recent projects"], ["a.nbproj"], ["b.nbproj"])


def test_a_recent_file_whose_name_is_too_long_is_refused_and_forgotten(make_window, dialogs, tmp_path):
    window = make_window()
    too_long = str(tmp_path / ("\x1b[31m" + "x" * 5_000 + ".nbproj"))
    app_settings().setValue("files/recent", [too_long])
    window.fill_recent_menu()
    window.recent_menu.actions()[0].trigger()
    assert len(dialogs.warnings) == 1 and printable_and_short(dialogs.warnings[0])
    assert window.recent_files() == []


@pytest.mark.parametrize("name", ["a\0b.nbproj", "\x1b[31m" + "y" * 300 + ".nbproj"], ids=["nul", "too-long"])
def test_saving_to_an_impossible_name_keeps_the_work_unsaved_and_says_why(make_window, dialogs, tmp_path, name):
    window = make_window(Document(load_template("2-cnn")))
    window.document.push(AddNode("dense", (0.0, 400.0)))
    assert window.document.modified
    dialogs.chosen_file = str(tmp_path / name)
    assert not window.save_as()
    assert len(dialogs.warnings) == 1 and printable_and_short(dialogs.warnings[0])
    assert window.document.modified and window.document.path is None


def test_a_full_disk_fails_the_save_and_keeps_the_previous_file_and_the_edits(make_window, dialogs, tmp_path,
                                                                               monkeypatch):
    window = make_window(Document(load_template("2-cnn")))
    dialogs.chosen_file = str(tmp_path / "net.nbproj")
    assert window.save_as()
    saved = (tmp_path / "net.nbproj").read_bytes()
    window.document.push(AddNode("dense", (0.0, 400.0)))

    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", disk_full)
    assert not window.save()
    assert dialogs.warnings == ["Cannot save net.nbproj: No space left on device"]
    assert (tmp_path / "net.nbproj").read_bytes() == saved
    assert window.document.modified
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".net")] == []


def test_the_error_dialog_quotes_a_bounded_printable_message(monkeypatch, tmp_path):
    dialogs_shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: dialogs_shown.append(text))
    error = ValueError("\x1b[2J" + "v" * 100_000)
    ErrorReporter(tmp_path / "errors.log")(ValueError, error, None)
    assert printable_and_short(dialogs_shown[0], MESSAGE_CHARACTERS + 50) and len(dialogs_shown[0]) < 1_000


@pytest.fixture
def draw_panel(panel, monkeypatch):
    """The Draw panel with small drawing limits, reached in a few events (the checks are the same
    for any limit)."""
    for module in (strokes_module, canvas_module):
        monkeypatch.setattr(module, "MAX_STROKES", 5)
        monkeypatch.setattr(module, "MAX_POINTS", 40)
    return panel


def mouse(canvas, kind: QEvent.Type, at: QPoint, buttons=Qt.MouseButton.LeftButton) -> None:
    QApplication.sendEvent(canvas, QMouseEvent(kind, QPointF(at), QPointF(at), Qt.MouseButton.LeftButton, buttons,
                                               Qt.KeyboardModifier.NoModifier))


def test_strokes_beyond_the_drawing_limit_are_refused_with_a_message(draw_panel):
    canvas = draw_panel.canvas
    for stroke in range(8):
        mouse(canvas, QEvent.Type.MouseButtonPress, QPoint(60, 60))
        mouse(canvas, QEvent.Type.MouseMove, QPoint(90, 90 + stroke * 5))
        mouse(canvas, QEvent.Type.MouseButtonRelease, QPoint(90, 90), Qt.MouseButton.NoButton)
    assert len(canvas.drawing().strokes) == 5
    assert "5 strokes" in draw_panel.handwriting_status.text()
    canvas.clear()
    mouse(canvas, QEvent.Type.MouseButtonPress, QPoint(60, 60))
    assert len(canvas.drawing().strokes) == 1


def test_a_stroke_ends_at_the_point_limit_and_the_drawing_stays_usable(draw_panel):
    canvas = draw_panel.canvas
    mouse(canvas, QEvent.Type.MouseButtonPress, QPoint(20, 20))
    for step in range(100):
        mouse(canvas, QEvent.Type.MouseMove, QPoint(20 + step * 3, 20 + (step % 2) * 30))
    mouse(canvas, QEvent.Type.MouseButtonRelease, QPoint(20, 20), Qt.MouseButton.NoButton)
    assert canvas.drawing().point_count == 40
    assert "40 points" in draw_panel.handwriting_status.text()
    draw_panel.add_to_handwriting(3)
    assert draw_panel.handwriting.counts()[3] == 1


QUIT_WHILE_LOADING = textwrap.dedent("""
    import sys, threading
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[2])
    import netbuilder.data.catalog as catalog
    from netbuilder.gui import app, workers
    from netbuilder.gui.main_window import MainWindow
    catalog.load_dataset = lambda spec, progress=None, **options: threading.Event().wait()  # a CSV read for ever
    wait = workers.wait_for_kept_threads
    workers.wait_for_kept_threads = lambda: wait(0.2)
    show = MainWindow.show
    def show_then_load_and_quit(window):
        show(window)
        QTimer.singleShot(50, window.training.data.load_preview)
        QTimer.singleShot(300, QApplication.instance().quit)
    MainWindow.show = show_then_load_and_quit
    sys.exit(app.run_gui(sys.argv[1]))
""")


def test_quitting_while_a_dataset_is_still_being_read_ends_the_app_cleanly(tmp_path):
    """Qt aborts a process whose Python exit destroys a running QThread (exit 134, a core dump)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen", NETBUILDER_DATA_DIR=str(tmp_path))
    # the read never ends: the process exits only if quitting does not wait for it (else the timeout fails it)
    result = subprocess.run([sys.executable, "-c", QUIT_WHILE_LOADING, str(ROOT / "resources/templates/1-mlp.nbproj"),
                             str(tmp_path)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "QThread: Destroyed" not in result.stderr



@pytest.mark.parametrize("kind", ["save_plot", "export_history"])
def test_the_plot_and_history_written_to_a_pipe_replace_it_without_waiting(make_window, dialogs, tmp_path,
                                                                          unwritten_fifo, kind, monkeypatch):
    """Writing into a FIFO nobody reads waits for ever (the watchdog ends it after 2 s): the pipe is
    never opened, a file replaces it."""
    training = make_window().training
    target = unwritten_fifo(tmp_path / ("out.png" if kind == "save_plot" else "out.csv"))
    dialogs.chosen_file = str(target)
    opened = []
    for module in (os, builtins):  # the descriptor and the file object ways of opening
        real_open = module.open
        monkeypatch.setattr(module, "open", lambda path, *args, real_open=real_open, **kwargs:
                            opened.append(os.fspath(path)) or real_open(path, *args, **kwargs))
    getattr(training.curve_files, kind)()
    assert str(target) not in opened
    assert target.is_file() and training.run_box.message.text() == f"Wrote {target.name}."


def test_a_history_file_name_holding_nul_is_refused_in_the_panel(make_window, dialogs, tmp_path):
    training = make_window().training
    dialogs.chosen_file = str(tmp_path / "a\0b.csv")
    training.curve_files.export_history()
    assert training.run_box.message.text() == "Cannot write a\\x00b.csv: a file name cannot hold a NUL character"


def test_a_project_named_with_control_characters_has_a_readable_title(make_window):
    project = load_template("1-mlp")
    project.name = "\x1b[31mred\u202e" + "n" * 500
    window = make_window()
    window.set_project(project, None, "template")
    assert printable_and_short(window.windowTitle()) and len(window.windowTitle()) < 150



LAYER_PARAMS = [(spec.type_id, param.name) for spec in all_specs() for param in spec.params
                if param.kind is not bool]
HOSTILE_TEXTS = ["1e400", "-1e400", "nan", "inf", "", " ", "x" * 5_000, "9" * 5_000, "1×" + "9" * 5_000,
                 "\x00\x1b[31m", "\ud800", "0", "-1", "1e-400", "0x10", "١٢", "99999999999×9", "same", "1,2,3,4,5"]


def type_into(widget, text: str, commit_raw) -> None:
    """Commit `text` through a parameter's widget as typed; a spin box keeps only what it can
    hold, so `commit_raw(text)` also hands the text over unparsed, as a field may."""
    if isinstance(widget, QComboBox) and not widget.isEditable():
        widget.currentTextChanged.emit(text)
        return
    line = widget.lineEdit() if isinstance(widget, (QComboBox, QAbstractSpinBox)) else widget
    line.setText(text)
    line.editingFinished.emit()
    if isinstance(widget, QAbstractSpinBox):
        commit_raw(text)


def assert_taken_or_refused_beside_it(texts, type_id: str, name: str, qtbot) -> None:
    document = Document()
    command = AddNode(type_id, (0.0, 0.0))
    document.push(command)
    inspector = InspectorPanel(document)
    qtbot.addWidget(inspector)
    inspector.show_node(command.node.id)
    for text in texts:
        before = document.graph.nodes[command.node.id].params[name]
        type_into(inspector.fields[name].widget, text,
                  lambda raw: inspector._commit_param((document.level, command.node.id), name, raw))
        error = inspector.error_text(name)
        assert printable_and_short(error), (text[:20], error)
        if error:
            assert document.graph.nodes[command.node.id].params[name] == before


@pytest.mark.parametrize("type_id, name", LAYER_PARAMS)
def test_hostile_text_in_every_layer_field_is_taken_or_refused_beside_it(qtbot, type_id, name):
    """The value is set (one undoable step) or a short printable reason is shown beside the field
    and the layer keeps its value; an exception in the field's slot fails the test (pytest-qt)."""
    assert_taken_or_refused_beside_it(HOSTILE_TEXTS, type_id, name, qtbot)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(LAYER_PARAMS), text=st.text(max_size=40))
def test_any_text_in_any_layer_field_is_taken_or_refused_beside_it(qtbot, where, text):
    assert_taken_or_refused_beside_it([text], *where, qtbot)


@pytest.mark.parametrize("name", [name for name, param in SETTING_LIMITS.items() if param.kind is not bool])
def test_hostile_text_in_every_training_setting_is_taken_or_refused_beside_it(qtbot, name):
    document = Document(load_template("1-mlp"))
    panel = TrainingPanel(document)
    qtbot.addWidget(panel)
    for text in HOSTILE_TEXTS:
        before = getattr(document.project.training, name)
        type_into(panel.settings.fields[name].widget, text, lambda raw: panel.settings.set_setting(name, raw))
        error = panel.settings.errors[name]
        assert printable_and_short(error.text())
        if not error.isHidden():
            assert getattr(document.project.training, name) == before
    panel.shutdown()


@pytest.mark.parametrize("content", [
    b"[window]\ngeometry=@ByteArray(\\xff\\x00garbage)\nstate=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x18QPair)\n"
    b"[files]\nrecent=@Invalid()\nlast_folder=\\x1b\n" + bytes(range(256)),
    b"\0" * 100_000,
], ids=["garbage", "zeros"])
def test_a_damaged_settings_file_opens_the_window_with_defaults(make_window, settings_dir, content):
    (settings_dir / "netbuilder").mkdir(parents=True, exist_ok=True)
    (settings_dir / "netbuilder" / "netbuilder.ini").write_bytes(content)
    window = make_window()
    window.fill_recent_menu()
    assert window.recent_files() == []
    assert window.isVisible() and window.width() > 0
