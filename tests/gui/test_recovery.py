"""Autosave while there are unsaved changes, and recovery after a crash (a real killed process)."""
from __future__ import annotations

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
    assert find_recoveries(recovery_dir) == []  # the window's own autosave has taken over


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
    assert find_recoveries(recovery_dir) == []
    session.close()
    assert not session.file.exists()


def test_a_damaged_recovery_file_is_removed_not_offered(recovery_dir):
    recovery_dir.mkdir(parents=True)
    damaged = recovery_dir / "autosave-0123.json"
    damaged.write_text('{"format": "netbuilder-recovery", "project": {"nodes": ', encoding="utf-8")

    assert find_recoveries(recovery_dir) == []
    assert not damaged.exists()


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


def test_autosave_runs_every_30_seconds(make_window):
    window = make_window()
    assert window.autosave_timer.isActive() and window.autosave_timer.interval() == 30_000


def test_recovered_project_round_trips_exactly(make_window, recovery_dir):
    project = load_template("5-residual-cnn")
    session = AutosaveSession(recovery_dir)
    session.save(project, None)
    session._lock.unlock()  # as if its process had died

    window = make_window()
    assert window.recover_unsaved_work(ask=lambda recovery: True)
    assert project_to_dict(window.document.project) == project_to_dict(project)
    assert window.windowTitle().startswith("Residual CNN (recovered)[*]")
