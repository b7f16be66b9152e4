"""`netbuilder-cli import`: a model file in, a project with its trained weights out, or the import
report on standard error."""
from __future__ import annotations

import textwrap

import torch

from netbuilder.__main__ import cli_main
from netbuilder.core.project import load_project
from netbuilder.model.checkpoint import load_trained_model

MODEL = textwrap.dedent("""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, classes=10, width=16):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, width, 3), nn.ReLU(), nn.MaxPool2d(2))
            self.fc = nn.Linear(width * 13 * 13, classes)

        def forward(self, x):
            return self.fc(torch.flatten(self.features(x), 1))

    class Sorted(Net):
        def forward(self, x):
            return torch.sort(super().forward(x), dim=1).values
    """)


def test_import_writes_a_project_whose_trained_model_is_the_imported_one(tmp_path, capsys):
    (tmp_path / "model.py").write_text(MODEL)
    out = tmp_path / "net.nbproj"
    status = cli_main(["import", f"{tmp_path / 'model.py'}:Net", "--input-shape", "1,28,28", "--arg", "classes=4",
                       "--arg", "width=8", "--out", str(out)])
    assert status == 0
    said = capsys.readouterr().out
    assert said.startswith("Imported Net: 5,492 parameters") and "match the model's" in said
    project = load_project(out)
    assert project.graph.node_named("features").type_id == "block"
    trained = load_trained_model(project, out)
    assert trained.recipe.class_names == ("0", "1", "2", "3") and trained.recipe.input_shape == (1, 28, 28)
    assert trained.recipe.image.digits  # drawings are read as MNIST's digits were made
    assert trained.model(torch.zeros(1, 1, 28, 28)).shape == (1, 4)


def test_a_model_with_an_operation_without_a_layer_prints_the_report_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "model.py").write_text(MODEL)
    out = tmp_path / "net.nbproj"
    status = cli_main(["import", f"{tmp_path / 'model.py'}:Sorted", "--input-shape", "1,28,28", "--out", str(out)])
    assert status == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("netbuilder: Sorted uses 1 operation that no netbuilder layer computes")
    assert lines[1] == "• torch.sort at model.py line 16, in forward"
    assert not out.exists()


def test_a_pt2_file_takes_no_shape_or_arguments(tmp_path, capsys):
    status = cli_main(["import", str(tmp_path / "model.pt2"), "--input-shape", "4", "--out", str(tmp_path / "m.nbproj")])
    assert status == 2
    assert "a .pt2 file holds its input shape" in capsys.readouterr().err
