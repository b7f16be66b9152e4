"""Importing torch.export programs (.pt2): the ATen graph read back as the layers and blocks the
model's .py file gives, with its weights."""
from __future__ import annotations

import warnings

import pytest
import torch

from netbuilder.importing.exported_program import import_pt2
from netbuilder.importing.report import ImportFailure

from .test_python_import import MODELS, graph_form, imported, one_thread, random_input  # noqa: F401 - fixtures


def saved_program(model: torch.nn.Module, shape, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.export's notes about the LSTM's flat weights
        program = torch.export.export(model, (random_input(model, shape)[:1],))
    torch.export.save(program, path)
    return path


@pytest.mark.parametrize("name", MODELS)
def test_a_pt2_file_imports_as_the_graph_of_its_python_class_with_its_weights(imported, name, tmp_path):
    model, shape, from_python = imported[name]
    result = import_pt2(saved_program(model, shape, tmp_path / "model.pt2"))
    # (a .pt2 file names no forward's parameters: its blocks' ports are x, x1, x2, ...)
    assert graph_form(result.project.graph, port_names=False) == graph_form(from_python.project.graph, port_names=False)
    x = random_input(model, shape)
    with torch.no_grad():
        assert torch.allclose(result.model(x), model(x), atol=1e-5, rtol=0)
    assert result.parameters == sum(p.numel() for p in model.parameters())


class Cumulative(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.cumsum(x, dim=1))


def test_an_operator_without_a_layer_is_reported_with_where_it_is_in_the_code(tmp_path):
    with pytest.raises(ImportFailure) as failure:
        import_pt2(saved_program(Cumulative().eval(), (8,), tmp_path / "model.pt2"))
    (item,) = failure.value.unsupported
    assert item.operation == "aten.cumsum" and item.where.startswith("test_pt2_import.py line ")


def test_a_file_that_is_no_program_is_refused_in_one_line(tmp_path):
    path = tmp_path / "model.pt2"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ImportFailure, match=r"^model.pt2 is not a torch.export program netbuilder can read"):
        import_pt2(path)
