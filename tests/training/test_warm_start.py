"""Training from the model's weights (transfer learning): a run with start_from_weights on starts
where the saved model is, loads every tensor whose name and shape still match, starts changed layers
fresh and says so in its first note; without usable weights it starts fresh and says why."""
from __future__ import annotations

import textwrap

import pytest
import torch

from netbuilder.__main__ import cli_main
from netbuilder.core.compile import compile_graph
from netbuilder.core.project import load_project, project_from_dict, save_project
from netbuilder.model.checkpoint import load_trained_model, read_weights
from netbuilder.training.events import BatchEnded, Finished, Started
from netbuilder.training.metrics import task_loss
from netbuilder.training.run import TrainingRun
from netbuilder.training.warm_start import load_matching


def points_project(folder, head_units=2, epochs=1, **training):
    """Two well separated classes of points, a hidden layer and a head of `head_units`."""
    csv = folder / "points.csv"
    if not csv.exists():
        rows = ["x1,x2,label"] + [f"{(i % 2) * 4 + (i % 7) * 0.1},{(i % 5) * 0.1},{'yes' if i % 2 else 'no'}"
                                  for i in range(240)]
        csv.write_text("\n".join(rows) + "\n")
    nodes = [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": [2]}},
             {"id": "b", "type": "dense", "name": "fc1", "params": {"units": 8}},
             {"id": "d", "type": "dense", "name": "head", "params": {"units": head_units}},
             {"id": "c", "type": "output", "name": "output1", "params": {"task": "classification"}}]
    path = folder / "points.nbproj"
    save_project(project_from_dict({
        "format": "netbuilder-project", "version": 1, "name": "Points", "nodes": nodes,
        "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "d"}, {"source": "d", "target": "c"}],
        "dataset": str(csv),
        "training": {"epochs": epochs, "batch_size": 16, "device": "cpu", "learning_rate": 0.01, **training}}), path)
    return path


def run(path, **changes):
    """One run of the project at `path` (its settings changed by `changes`), saved like the window's:
    its Started note, its first batch's loss and how it finished."""
    project = load_project(path)
    project.training = project.training.replace(**changes)
    training = TrainingRun(project, path, threads=1, report_interval=0.0)
    started = first_loss = finished = None
    for event in training.events():
        if isinstance(event, Started):
            started = event
        elif isinstance(event, BatchEnded) and first_loss is None:
            first_loss = event.loss
        elif isinstance(event, Finished):
            finished = event
    assert finished.reason == "completed", finished.message
    training.save(training.kept())
    return started.notes, first_loss


def test_a_trained_model_retrained_from_its_weights_starts_at_its_trained_loss(tmp_path):
    path = points_project(tmp_path, epochs=12)
    notes, fresh_first_loss = run(path)
    assert not any("weights" in note for note in notes)  # the default: fresh weights, nothing said
    notes, warm_first_loss = run(path, epochs=1, start_from_weights=True)
    assert notes[0] == "Starting from the model's weights: all 4 tensors."
    assert warm_first_loss < 0.1 * fresh_first_loss  # measured: 0.012 against 0.684


def test_a_changed_head_keeps_the_bodys_weights_and_starts_fresh_itself(tmp_path):
    path = points_project(tmp_path)
    run(path)
    trained = read_weights(path.with_suffix(".safetensors"))
    points_project(tmp_path, head_units=3)  # the user replaced the head: 3 scores (one spare) instead of 2
    notes, _ = run(path, start_from_weights=True, learning_rate=1e-7)
    assert notes[0] == ("Starting from the model's weights: 2 of 4 tensors; head.weight and head.bias start fresh "
                        "(shape changed).")
    retrained = read_weights(path.with_suffix(".safetensors"))
    assert torch.allclose(retrained["fc1.weight"], trained["fc1.weight"], atol=1e-4)  # barely moved at 1e-7
    assert retrained["head.weight"].shape == (3, 8)


def test_matching_loads_by_name_and_shape_and_names_the_rest():
    project = project_from_dict({
        "format": "netbuilder-project", "version": 1, "name": "m",
        "nodes": [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": [2]}},
                  {"id": "b", "type": "dense", "name": "fc1", "params": {"units": 3}},
                  {"id": "c", "type": "output", "name": "output1", "params": {"task": "regression"}}],
        "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}]})
    model = compile_graph(project.graph)
    fresh_bias = model.state_dict()["fc1.bias"].clone()
    match = load_matching(model, {"fc1.weight": torch.ones(3, 2), "fc1.bias": torch.ones(4), "fc0.weight": torch.ones(1)})
    assert match.loaded == ("fc1.weight",) and match.reshaped == ("fc1.bias",) and match.absent == ()
    assert torch.equal(model.state_dict()["fc1.weight"], torch.ones(3, 2))
    assert torch.equal(model.state_dict()["fc1.bias"], fresh_bias)


@pytest.mark.parametrize("weights, said", [
    (None, "There are no model weights to start from (points.safetensors is missing): the run starts from fresh "
           "weights."),
    (b"not a checkpoint", "Cannot start from the model's weights, so the run starts from fresh weights: "
                          "points.safetensors is damaged (not a safetensors file): train again."),
])
def test_without_usable_weights_the_run_starts_fresh_and_says_why(tmp_path, weights, said):
    path = points_project(tmp_path)
    if weights is not None:
        path.with_suffix(".safetensors").write_bytes(weights)
    notes, _ = run(path, start_from_weights=True)
    assert notes[0] == said


def test_weights_of_which_none_fit_leave_the_network_fresh(tmp_path):
    path = points_project(tmp_path)
    run(path)
    project = load_project(path)
    for node in project.graph.nodes.values():  # every layer renamed: no name matches
        node.name = f"renamed_{node.name}"
    save_project(project, path)
    notes, _ = run(path, start_from_weights=True)
    assert notes[0] == ("None of the weights in points.safetensors fit this network (no layer name and shape match): "
                        "the run starts from fresh weights.")


def test_a_project_without_a_file_has_no_weights_beside_it(tmp_path):
    project = load_project(points_project(tmp_path))
    project.training = project.training.replace(start_from_weights=True)
    events = list(TrainingRun(project, threads=1).events())
    started = next(event for event in events if isinstance(event, Started))
    assert started.notes[0].startswith("This project has no file yet, so there are no model weights beside it")


def test_the_command_line_flags_override_the_projects_setting(tmp_path, capsys):
    path = points_project(tmp_path, start_from_weights=True)
    assert cli_main(["train", str(path), "--fresh", "--threads", "1"]) == 0
    assert "model weights" not in capsys.readouterr().out  # --fresh: not even looked for
    assert cli_main(["train", str(path), "--threads", "1"]) == 0  # the project's setting: on
    assert "note: Starting from the model's weights: all 4 tensors." in capsys.readouterr().out
    points_project(tmp_path)  # the setting off again
    assert cli_main(["train", str(path), "--from-weights", "--threads", "1"]) == 0
    assert "note: Starting from the model's weights: all 4 tensors." in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        cli_main(["train", str(path), "--from-weights", "--fresh"])
    assert refused.value.code == 2
    error = capsys.readouterr().err
    assert "not allowed with argument" in error and "Traceback" not in error


MODEL = textwrap.dedent("""
    from torch import nn

    class Classifier(nn.Module):
        def __init__(self, classes=3):
            super().__init__()
            self.hidden = nn.Linear(4, 16)
            self.act = nn.ReLU()
            self.out = nn.Linear(16, classes)

        def forward(self, x):
            return self.out(self.act(self.hidden(x)))
    """)


def test_an_imported_model_trains_from_its_weights(tmp_path, capsys):
    """Import a .py model, train one epoch: its first loss is the imported model's loss on that batch
    (one batch holds all the training data, so the shuffled order cannot change the loss)."""
    (tmp_path / "model.py").write_text(MODEL)
    rows = ["a,b,c,d,label"] + [f"{i % 3},{i % 5 * 0.2},{i % 7 * 0.1},{i % 2},{'xyz'[i % 3]}" for i in range(90)]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n")
    path = tmp_path / "imported.nbproj"
    assert cli_main(["import", f"{tmp_path / 'model.py'}:Classifier", "--input-shape", "4", "--out", str(path)]) == 0
    project = load_project(path)
    assert project.training.start_from_weights  # an imported project trains from its weights
    imported = load_trained_model(project, path).model
    project.dataset = str(tmp_path / "rows.csv")
    project.training = project.training.replace(epochs=1, batch_size=1000, validation_split=0.0, device="cpu")
    training = TrainingRun(project, path, threads=1, report_interval=0.0)
    events = list(training.events())
    started = next(event for event in events if isinstance(event, Started))
    first = next(event for event in events if isinstance(event, BatchEnded))
    assert started.notes[0] == "Starting from the model's weights: all 4 tensors."
    dataset = training.session.dataset
    with torch.no_grad():
        expected = float(task_loss(imported(dataset.train_x), dataset.train_y, "classification"))
    assert first.loss == pytest.approx(expected, rel=1e-4)
