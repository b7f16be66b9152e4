"""File > Export: every format of the export registry, from the window."""
from __future__ import annotations

import sys

import torch
from safetensors import safe_open

from netbuilder.core.project import load_template, save_project
from netbuilder.data.recipe import digit_recipe
from netbuilder.model.checkpoint import History, save_checkpoint
from netbuilder.export.exporting import export_source
from netbuilder.export.formats import EXPORT_FORMATS

from test_main_window import dialogs, make_window, settings_dir  # noqa: F401 - the window's fixtures


def export_menu(window):
    file_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&File")
    return next(action.menu() for action in file_menu.actions() if action.text() == "E&xport")


def test_the_export_menu_lists_every_format(make_window):
    window = make_window()
    labels = [action.text() for action in export_menu(window).actions()]
    assert len(labels) == len(EXPORT_FORMATS)
    for export_format in EXPORT_FORMATS.values():
        assert any(export_format.label.lower() in label.replace("&", "").lower() for label in labels)


def test_exporting_a_trained_project_writes_its_trained_weights(make_window, dialogs, tmp_path):
    project = load_template("1-mlp")
    path = tmp_path / "digits.nbproj"
    save_project(project, path)
    model = export_source(project, None).model
    with torch.no_grad():
        model.fc1.weight.fill_(0.25)
    recipe = digit_recipe([str(digit) for digit in range(10)]).for_input("vector", (784,))
    save_checkpoint(model, History([str(d) for d in range(10)], "classification", "digits"), path, recipe=recipe)
    window = make_window()
    assert window.open_path(path)
    dialogs.chosen_file = str(tmp_path / "shared")

    (safetensors_entry,) = [action for action in export_menu(window).actions() if "safetensors" in action.text()]
    safetensors_entry.trigger()

    with safe_open(str(tmp_path / "shared.safetensors"), "pt") as file:
        assert torch.equal(file.get_tensor("fc1.weight"), model.fc1.weight)
        assert "recipe" in file.metadata() and "project" in file.metadata()
    assert "the trained weights" in window.statusBar().currentMessage()
    assert not dialogs.warnings


def test_a_missing_export_package_is_a_damaged_installation_said_in_a_warning(make_window, dialogs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    window = make_window()
    window.open_template("1-mlp")
    dialogs.chosen_file = str(tmp_path / "net.onnx")

    assert not window.export_as("onnx")

    (message,) = dialogs.warnings
    assert "onnxscript package, which netbuilder installs with itself" in message and "reinstall" in message
    assert not (tmp_path / "net.onnx").exists()


def test_the_export_thread_gets_a_snapshot_not_the_project_the_window_edits(make_window, dialogs, tmp_path,
                                                                            monkeypatch):
    from netbuilder.core.project import project_to_dict
    from netbuilder.gui import main_window, workers

    given = []

    class Recording(workers.ExportWriter):
        def __init__(self, project, *args, **kwargs):
            given.append(project)
            super().__init__(project, *args, **kwargs)

    monkeypatch.setattr(main_window, "ExportWriter", Recording)
    window = make_window()
    window.open_template("1-mlp")
    dialogs.chosen_file = str(tmp_path / "net.safetensors")

    assert window.export_as("safetensors")

    (project,) = given
    assert project is not window.document.project and project.graph is not window.document.project.graph
    assert project_to_dict(project) == project_to_dict(window.document.project)
