"""Importing ONNX files: netbuilder's own ONNX export of each imported zoo model imports again and
computes what the ONNX file computes (onnxruntime) and what the original model computes."""
from __future__ import annotations

import warnings

import pytest
import torch

from netbuilder.core.project import load_project
from netbuilder.export.exporting import export_project
from netbuilder.importing.onnx_file import import_onnx
from netbuilder.importing.project_file import save_imported
from netbuilder.importing.report import ImportFailure

from .test_python_import import imported, one_thread, random_input  # noqa: F401 - fixtures

ROUND_TRIPS = ["keras_cnn", "mnist_mlp", "resnet18", "mobilenet_v3"]


def exported_onnx(result, folder):
    project_file = folder / "imported.nbproj"
    save_imported(result, project_file, "zoo.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_project(load_project(project_file), project_file, "onnx", folder / "model.onnx")
    return folder / "model.onnx"


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_an_exported_onnx_file_imports_with_the_same_outputs(imported, name, tmp_path):
    model, shape, result = imported[name]
    again = import_onnx(exported_onnx(result, tmp_path))
    x = random_input(model, shape)
    with torch.no_grad():
        assert torch.allclose(again.model(x), model(x), atol=1e-4, rtol=0)
    assert again.largest_difference <= 1e-4


def test_an_onnx_recurrent_layer_is_reported_not_dropped(imported, tmp_path):
    _, _, result = imported["lstm_text"]
    with pytest.raises(ImportFailure) as failure:
        import_onnx(exported_onnx(result, tmp_path))
    assert failure.value.unsupported and all(item.where.startswith("node_") for item in failure.value.unsupported)


def test_a_file_that_is_no_onnx_model_is_refused_in_one_line(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x00\x01 not protobuf")
    with pytest.raises(ImportFailure, match=r"^model.onnx is not an ONNX model netbuilder can read"):
        import_onnx(path)
