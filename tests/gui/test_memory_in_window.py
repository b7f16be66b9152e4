"""A network too large for this computer's memory in the window: flagged in the Summary panel,
Train disabled with the figures, export and a saved run refused with a message, no traceback."""
from __future__ import annotations

import torch

from netbuilder.core import memory
from netbuilder.core.commands import SetParams, SetTraining
from netbuilder.core.graph import Graph
from netbuilder.core.project import Project, save_project
from netbuilder.data.recipe import ImageRecipe, Recipe
from netbuilder.gui import style
from netbuilder.gui.document import Document
from netbuilder.model.checkpoint import History, save_checkpoint

from test_main_window import dialogs, make_window, settings_dir  # noqa: F401 (fixtures)

GB = 2**30


def terabyte_project(tmp_path):
    """Dense 1,000,000 -> 1,000,000 on 1000×1000 images of the user's own (whose size is known
    only once loaded), saved with weights as if trained on a larger computer."""
    graph = Graph()
    graph.chain(graph.add("input", kind="image", shape=(1, 1000, 1000)), graph.add("flatten"),
                graph.add("dense", units=1_000_000, name="huge"), graph.add("dense", units=10), graph.add("output"))
    path = tmp_path / "huge.nbproj"
    save_project(Project(graph, "huge", dataset=str(tmp_path / "photos")), path)
    recipe = Recipe("image", (1, 1000, 1000), "classification", tuple("0123456789"), image=ImageRecipe(1000, 1000, 1))
    save_checkpoint(torch.nn.Linear(4, 10), History(list("0123456789"), "classification"), path, recipe=recipe)
    return path


def test_the_terabyte_network_opens_flagged_and_is_refused_without_a_traceback(make_window, dialogs,  # noqa: F811
                                                                                 tmp_path):
    window = make_window()
    assert window.open_path(terabyte_project(tmp_path))  # its saved run is not restored: it cannot be built here
    training, summary = window.training, window.summary
    assert "The saved training run was not restored: The network needs about 3.6 TB for its weights" \
        in training.run_box.message.text()

    assert summary.memory.isVisibleTo(summary)
    assert summary.memory.text().startswith("Training memory: about ")
    assert "too little: lower the batch size or the layer sizes" in summary.memory.text()
    assert style.ERROR.name() in summary.memory.styleSheet()
    assert not training.start_action.isEnabled()
    assert training.start_action.toolTip().startswith("Cannot train yet: Training needs about ")
    training.start_or_resume()  # F5 does nothing either
    assert training.state == "idle" and training.worker is None

    dialogs.chosen_file = str(tmp_path / "huge.py")
    assert not window.export_as("code")
    (warning,) = dialogs.warnings
    assert "The network needs about 3.6 TB for its weights" in warning
    assert not (tmp_path / "huge.py").exists()

    huge = window.document.graph.node_named("huge")
    window.document.push(SetParams(huge.id, {**huge.params, "units": 16}))  # small enough: allowed again
    assert training.start_action.isEnabled()
    assert summary.memory.styleSheet() == "" and "too little" not in summary.memory.text()


def test_a_batch_too_large_for_the_memory_free_disables_train_until_it_is_lowered(make_window,  # noqa: F811
                                                                                  monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 16 * GB)
    graph = Graph()
    graph.chain(graph.add("input", kind="vector", shape=(784,)), *[graph.add("dense", units=4096) for _ in range(40)],
                graph.add("dense", units=10), graph.add("output"))
    window = make_window(Document(Project(graph, "wide")))
    document, training = window.document, window.training
    document.push(SetTraining(document.project, {"batch_size": 65536}))
    assert not training.start_action.isEnabled()
    assert "at batch 65,536" in training.start_action.toolTip()
    assert "this computer has 16.0 GB free" in window.summary.memory.text()
    document.push(SetTraining(document.project, {"batch_size": 64}))
    assert training.start_action.isEnabled()
    assert training.run_box.message.text() == ""
