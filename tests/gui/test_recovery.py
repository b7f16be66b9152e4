"""Autosave while there are unsaved changes, and recovery after a crash (a real killed process)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from netbuilder.core.commands import AddNode
from netbuilder.core.project import load_template, project_to_dict, save_project
from netbuilder.gui.document import Document
from netbuilder.gui.main_window import MainWindow
from netbuilder.gui.recovery import AutosaveSession, find_recoveries


@pytest.fixture
def recovery_dir(tmp_path, monkeypatch):
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Discard)
    return tmp_path / "recovery"


@pytest.fixture
def make_window(qtbot, recovery_dir):
    def make() -> MainWindow:
        window = MainWindow(Document(), recovery_dir=recovery_dir)
        qtbot.addWidget(window)
        return window
    return make


def crash_while_editing(recovery_dir: Path, original: Path | None) -> None:
    """A separate netbuilder process autosaves an edited CNN template, then dies without cleaning up."""
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from netbuilder.core.project import load_template
        from netbuilder.gui.recovery import AutosaveSession
        project = load_template("2-cnn")
        project.graph.add("dropout", name="added_before_the_crash")
        original = {str(original) if original else ""!r}
        AutosaveSession(Path({str(recovery_dir)!r})).save(project, Path(original) if original else None)
        os._exit(1)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr


def test_after_a_crash_the_next_start_recovers_the_unsaved_work(make_window, recovery_dir, tmp_path):
    original = tmp_path / "cnn.nbproj"
    save_project(load_template("2-cnn"), original)
    crash_while_editing(recovery_dir, original)
    window = make_window()
    offered = []

    assert window.recover_unsaved_work(ask=lambda recovery: offered.append(recovery.title) or True)

    assert offered == ["cnn.nbproj"]
    graph = window.document.graph
    assert graph.node_named("added_before_the_crash") is not None
    assert window.document.path == original and window.document.modified  # Save writes over cnn.nbproj
    assert window.isWindowModified()
    assert find_recoveries(recovery_dir).offers == []  # the window's own autosave has taken over


def test_declining_deletes_the_recovery_and_keeps_the_empty_project(make_window, recovery_dir):
    crash_while_editing(recovery_dir, None)
    window = make_window()

    assert not window.recover_unsaved_work(ask=lambda recovery: False)

    assert window.document.graph.nodes == {}
    assert not any(recovery_dir.glob("autosave-*.json"))


def test_a_running_session_is_not_offered_as_a_crash(recovery_dir):
    session = AutosaveSession(recovery_dir)
    session.save(load_template("1-mlp"), None)

    assert session.file.exists()
    assert find_recoveries(recovery_dir).offers == []
    session.close()
    assert not session.file.exists()


def _recovery_text(**changes) -> str:
    data = {"format": "netbuilder-recovery", "original_path": None, "saved_at": "2026-01-02T03:04:05",
            "project": project_to_dict(load_template("1-mlp"))}
    data.update(changes)
    return json.dumps(data)


DAMAGED_RECOVERY_FILES = {
    "cut short": '{"format": "netbuilder-recovery", "project": {"nodes": ',
    "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "a position of 10**400": _recovery_text().replace('"position": [', '"position": [1' + "0" * 400 + ", 0], "
                                                      '"old_position": [', 1),
    "NaN": _recovery_text().replace('"saved_at"', '"nan": NaN, "saved_at"'),
    "a project that is a list": _recovery_text(project=[1, 2]),
    "a time that is a number": _recovery_text(saved_at=5),
    "a path with a NUL": _recovery_text(original_path="a\u0000b"),
    "not UTF-8": "\udcff",
}


@pytest.mark.parametrize("content", DAMAGED_RECOVERY_FILES.values(), ids=DAMAGED_RECOVERY_FILES.keys())
def test_a_damaged_recovery_file_is_set_aside_once_with_a_message_and_the_window_opens(
        make_window, recovery_dir, monkeypatch, content):
    recovery_dir.mkdir(parents=True)
    damaged = recovery_dir / "autosave-0123.json"
    damaged.write_bytes(content.encode("utf-8", "surrogateescape"))
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))

    window = make_window()
    assert not window.recover_unsaved_work(ask=lambda recovery: pytest.fail("a damaged file was offered"))
    assert not window.recover_unsaved_work(ask=lambda recovery: pytest.fail("a damaged file was offered"))

    (message,) = warnings  # said once, not at every start
    kept = recovery_dir / "autosave-0123.json.damaged"
    assert str(kept) in message and len(message) < 400 and message.isprintable()
    assert not damaged.exists() and kept.read_bytes() == content.encode("utf-8", "surrogateescape")


def test_many_damaged_recovery_files_are_all_kept_and_a_few_named(recovery_dir):
    recovery_dir.mkdir(parents=True)
    for index in range(10):
        (recovery_dir / f"autosave-{index}.json").write_text("{", encoding="utf-8")

    found = find_recoveries(recovery_dir)

    assert len(list(recovery_dir.glob("*.json.damaged"))) == 10
    assert found.set_aside_message.count("it was kept as") == 3
    assert found.set_aside_message.endswith("7 more damaged recovery files were kept the same way.")


def test_a_lone_surrogate_in_a_recovered_name_becomes_a_replacement_character(recovery_dir):
    project = project_to_dict(load_template("1-mlp"))
    project["name"] = "digits \ud800 net"
    recovery_dir.mkdir(parents=True)
    (recovery_dir / "autosave-0123.json").write_text(_recovery_text(project=project), encoding="utf-8")

    (recovery,) = find_recoveries(recovery_dir).offers

    assert recovery.project.name == "digits \ufffd net"
    recovery.project.name.encode("utf-8")  # printable and saveable again


def test_a_recovery_file_that_is_a_fifo_is_set_aside_without_blocking(recovery_dir, unwritten_fifo):
    recovery_dir.mkdir(parents=True)
    unwritten_fifo(recovery_dir / "autosave-0123.json")

    found = find_recoveries(recovery_dir)

    assert found.offers == [] and "pipe" in found.set_aside[0]


def test_autosave_writes_only_unsaved_changes_and_a_clean_state_removes_it(make_window, recovery_dir, tmp_path):
    window = make_window()
    window.autosave()
    assert not any(recovery_dir.glob("autosave-*.json"))  # nothing unsaved, nothing written

    window.document.push(AddNode("input"))
    window.autosave()
    (file,) = recovery_dir.glob("autosave-*.json")
    assert '"input1"' in file.read_text(encoding="utf-8")

    window.document.undo_stack.undo()  # back to the saved state: nothing left to recover
    assert not file.exists()
    window.document.undo_stack.redo()
    window.autosave()
    assert file.exists()
    window.document.mark_saved(tmp_path / "saved.nbproj")
    assert not file.exists()


def test_closing_normally_leaves_nothing_to_recover(make_window, recovery_dir):
    window = make_window()
    window.document.push(AddNode("input"))
    window.autosave()
    assert any(recovery_dir.glob("autosave-*.json"))

    assert window.close()  # the fixture answers Discard

    assert not any(recovery_dir.glob("autosave-*"))


def test_autosave_runs_every_30_seconds_and_its_timeout_saves(make_window, recovery_dir):
    window = make_window()
    assert window.autosave_timer.isActive() and window.autosave_timer.interval() == 30_000
    window.document.push(AddNode("input"))
    assert not any(recovery_dir.glob("autosave-*.json"))
    window.autosave_timer.timeout.emit()  # what the timer does every 30 s
    (file,) = recovery_dir.glob("autosave-*.json")
    assert '"input1"' in file.read_text(encoding="utf-8")


def test_recovered_project_round_trips_exactly(make_window, recovery_dir):
    project = load_template("5-residual-cnn")
    session = AutosaveSession(recovery_dir)
    session.save(project, None)
    session._lock.unlock()  # as if its process had died

    window = make_window()
    assert window.recover_unsaved_work(ask=lambda recovery: True)
    assert project_to_dict(window.document.project) == project_to_dict(project)
    assert window.windowTitle().startswith("Residual CNN (recovered)[*]")
