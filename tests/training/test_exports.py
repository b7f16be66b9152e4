"""Exports checked by the programs that consume them: onnxruntime, torch.jit.load without netbuilder,
torch.export.load, plain python running the training script, and safetensors readers."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from netbuilder.core.project import load_project, project_to_dict, save_project
from netbuilder.training.checkpoint import History, load_trained_model, save_checkpoint
from netbuilder.training.export_formats import EXPORT_FORMATS
from netbuilder.training.exports import WRITERS, ExportError, export_project, export_source, import_weights

from netbuilder.__main__ import main as netbuilder_cli
from test_checkpoint import HISTORY, RECIPE, project as vector_project

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((REPO / "resources" / "templates").glob("*.nbproj"))
TOLERANCE = 1e-5


def run_cli(*argv) -> int:
    return netbuilder_cli([str(arg) for arg in argv])


def template(name: str):
    return load_project(next(path for path in TEMPLATES if path.stem == name))


def model_outputs(source, batch: int):
    inputs = source.example_inputs(batch)
    with torch.no_grad():
        return inputs, source.model(*inputs)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.stem)
def test_onnx_gives_torchs_outputs_at_batch_1_and_7(path, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    project = load_project(path)
    export_project(project, None, "onnx", tmp_path / "net.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    source = export_source(project, None)
    for batch in (1, 7):
        inputs, expected = model_outputs(source, batch)
        feed = {name: tensor.numpy() for name, tensor in zip(source.input_names, inputs)}
        (got,) = session.run(["output"], feed)
        np.testing.assert_allclose(got, expected.numpy(), atol=TOLERANCE, rtol=0)


def test_onnx_refuses_weights_beyond_its_2_gb_file_limit_before_converting(tmp_path, monkeypatch, capsys):
    """A network over 2 GB would convert for minutes and end in protobuf's EncodeError; the limit is
    lowered here so that the test does not need 2 GB of weights."""
    from netbuilder.training import exports

    monkeypatch.setattr(exports, "ONNX_MAX_WEIGHT_BYTES", 100_000)  # the MLP template's weights: 398 KB
    monkeypatch.setattr(exports, "_convert", lambda *args: pytest.fail("converted a network ONNX cannot hold"))
    assert run_cli("export", TEMPLATES[0], "--format", "onnx", "--out", tmp_path / "net.onnx") == 2
    assert "an ONNX file holds at most 2 GB: export as pt2" in capsys.readouterr().err
    assert not (tmp_path / "net.onnx").exists()


def test_every_format_has_a_writer():
    assert WRITERS.keys() == EXPORT_FORMATS.keys()


def test_a_missing_onnx_package_names_the_extra_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # `import onnxscript` now raises ImportError
    with pytest.raises(ExportError, match=r"onnxscript.*pip install netbuilder\[export\]"):
        export_project(template("1-mlp"), None, "onnx", tmp_path / "net.onnx")
    assert run_cli("export", TEMPLATES[0], "--format", "onnx", "--out", tmp_path / "net.onnx") == 2
    assert "pip install netbuilder[export]" in capsys.readouterr().err
    assert not (tmp_path / "net.onnx").exists()


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.stem)
def test_torchscript_gives_the_same_outputs(path, tmp_path):
    project = load_project(path)
    export_project(project, None, "torchscript", tmp_path / "net.pt")
    loaded = torch.jit.load(str(tmp_path / "net.pt"))
    source = export_source(project, None)
    for batch in (1, 7):
        inputs, expected = model_outputs(source, batch)
        torch.testing.assert_close(loaded(*inputs), expected, atol=TOLERANCE, rtol=0)


def test_torchscript_loads_where_netbuilder_is_not_installed(tmp_path):
    project = template("5-residual-cnn")
    export_project(project, None, "torchscript", tmp_path / "net.pt")
    inputs, expected = model_outputs(export_source(project, None), 3)
    torch.save({"input": inputs[0], "expected": expected}, tmp_path / "check.pt")
    # netbuilder made unimportable, the repository off sys.path: only torch reads the file
    script = ("import sys; sys.modules['netbuilder'] = None; import torch\n"
              "sys.path = [p for p in sys.path if not p.startswith(%r)]\n"
              "check = torch.load('check.pt')\n"
              "model = torch.jit.load('net.pt')\n"
              "assert torch.allclose(model(check['input']), check['expected'], atol=1e-5)\n"
              "print('loaded without netbuilder')") % str(REPO)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "loaded without netbuilder" in done.stdout


@pytest.mark.parametrize("name", ["4-row-lstm", "5-residual-cnn"])
def test_a_pt2_program_takes_any_batch_size(name, tmp_path):
    project = template(name)
    export_project(project, None, "pt2", tmp_path / "net.pt2")
    program = torch.export.load(str(tmp_path / "net.pt2")).module()
    source = export_source(project, None)
    for batch in (1, 7):
        inputs, expected = model_outputs(source, batch)
        torch.testing.assert_close(program(*inputs), expected, atol=TOLERANCE, rtol=0)


def trained_vector_project(tmp_path):
    """A project with a checkpoint whose weights differ from the initial ones."""
    path = tmp_path / "pets.nbproj"
    project = vector_project()
    source = export_source(project, None)
    with torch.no_grad():
        for parameter in source.model.parameters():
            parameter.add_(1.5)
    save_checkpoint(source.model, HISTORY, path, recipe=RECIPE)
    return project, path, source.model


def test_exports_of_a_trained_project_carry_its_trained_weights(tmp_path):
    project, path, trained = trained_vector_project(tmp_path)
    result = export_project(project, path, "torchscript", tmp_path / "out.pt")
    assert result.trained and "the trained weights" in result.message
    inputs = torch.randn(5, 4)
    torch.testing.assert_close(torch.jit.load(str(tmp_path / "out.pt"))(inputs), trained(inputs))


def test_an_untrained_project_exports_its_initial_weights_and_says_so(tmp_path):
    result = export_project(vector_project(), tmp_path / "never-trained.nbproj", "torchscript", tmp_path / "out")
    assert not result.trained
    assert "untrained initial weights: There are no trained weights for never-trained.nbproj" in result.message
    assert result.files == [tmp_path / "out.pt"]  # the format's suffix is added


def test_safetensors_is_the_whole_trained_model_in_one_file(tmp_path):
    project, path, trained = trained_vector_project(tmp_path)
    (tmp_path / "export").mkdir()
    export_project(project, path, "safetensors", tmp_path / "export" / "model.safetensors")
    with safe_open(str(tmp_path / "export" / "model.safetensors"), "pt") as file:
        metadata = file.metadata()
        tensors = {key: file.get_tensor(key) for key in file.keys()}
    assert json.loads(metadata["project"]) == project_to_dict(project)
    assert json.loads(metadata["recipe"]) == RECIPE.to_dict()
    for key, value in trained.state_dict().items():
        assert torch.equal(tensors[key], value)
    # netbuilder reads it back as a checkpoint: weights, recipe and history together
    reloaded = load_trained_model(project, tmp_path / "export" / "model.nbproj")
    assert reloaded.recipe == RECIPE and isinstance(reloaded.history, History)


class _NotScriptable(torch.nn.Module):
    def forward(self, x):
        return sum(part for part in (x,))  # generator expressions have no TorchScript form


def test_a_layer_without_a_form_in_the_format_is_named(tmp_path):
    source = export_source(vector_project(), None)
    source.model.fc1 = _NotScriptable()
    with pytest.raises(ExportError, match='Layer "fc1".*no form in TorchScript'):
        WRITERS["torchscript"](source, tmp_path / "net.pt")
    assert not (tmp_path / "net.pt").exists()


def test_the_code_export_trains_with_plain_python(tmp_path):
    project = template("1-mlp")
    result = export_project(project, None, "code", tmp_path / "digits.py")
    assert result.files == [tmp_path / "digits.py", tmp_path / "digits_train.py"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "digits_train.py", "--samples", "64", "--epochs", "1"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "epoch 1/1  loss" in done.stdout
    weights = torch.load(tmp_path / "digits_weights.pt", weights_only=True)
    assert weights.keys() == export_source(project, None).model.state_dict().keys()


def test_the_training_script_uses_the_projects_settings(tmp_path):
    project = template("1-mlp")
    project.training = project.training.replace(optimizer="sgd", learning_rate=0.05, momentum=0.5, batch_size=17,
                                                schedule="step", augment=True)
    export_project(project, None, "code", tmp_path / "net.py")
    script = (tmp_path / "net_train.py").read_text()
    assert "torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.5" in script
    assert "batch_size, epochs = 17," in script
    assert "StepLR" in script
    assert "also applies augmentation" in script  # what the plain loop leaves out is said


def test_export_code_stays_an_alias_of_the_code_format(tmp_path, capsys):
    assert run_cli("export-code", TEMPLATES[0], "--out", tmp_path / "net.py") == 0
    assert (tmp_path / "net_train.py").exists()
    assert run_cli("export-code", TEMPLATES[0]) == 0
    assert "class Net(nn.Module)" in capsys.readouterr().out


class _RunsCode:
    """A pickle that creates a file when unpickled: what a hostile .pt file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_a_crafted_pickle_is_refused_without_running_code(tmp_path, capsys, suffix):
    marker = tmp_path / "code-ran"
    hostile = tmp_path / f"weights{suffix}"
    torch.save({"fc1.weight": _RunsCode(marker)}, hostile)
    plain_pickle = tmp_path / f"plain{suffix}"
    plain_pickle.write_bytes(pickle.dumps(_RunsCode(marker)))
    project_path = tmp_path / "pets.nbproj"
    save_project(vector_project(), project_path)
    for file in (hostile, plain_pickle):
        with pytest.raises(ExportError, match="refused"):
            import_weights(vector_project(), file, tmp_path / "out.safetensors")
        assert run_cli("import-weights", project_path, file, "--out", tmp_path / "out.safetensors") == 2
    assert not marker.exists()
    assert "never runs" in capsys.readouterr().err
    assert not (tmp_path / "out.safetensors").exists()


def test_plain_pt_weights_are_imported_after_a_fit_check(tmp_path):
    source = export_source(vector_project(), None)
    torch.save(source.model.state_dict(), tmp_path / "good.pt")
    import_weights(vector_project(), tmp_path / "good.pt", tmp_path / "model.safetensors")
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as file:
        assert torch.equal(file.get_tensor("fc1.weight"), source.model.fc1.weight)
    torch.save({"fc1.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(ExportError, match="does not fit the network"):
        import_weights(vector_project(), tmp_path / "other.pt", tmp_path / "model.safetensors")


def test_safetensors_weights_import_and_other_files_are_refused(tmp_path):
    source = export_source(vector_project(), None)
    export_project(vector_project(), None, "safetensors", tmp_path / "shared.safetensors")
    result = import_weights(vector_project(), tmp_path / "shared.safetensors", tmp_path / "again.safetensors")
    assert result.files == [tmp_path / "again.safetensors"]
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    with pytest.raises(ExportError, match=r"reads weights from \.safetensors, \.pt, \.pth"):
        import_weights(vector_project(), tmp_path / "weights.bin", tmp_path / "out.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(b"\0" * 16)
    with pytest.raises(ExportError, match="not a safetensors file"):
        import_weights(vector_project(), tmp_path / "broken.safetensors", tmp_path / "out.safetensors")
    assert source.model.state_dict().keys() == {"fc1.weight", "fc1.bias"}


def test_a_network_with_problems_is_refused_on_the_command_line(tmp_path, capsys):
    save_project(vector_project(shape=(2, 3)), tmp_path / "broken.nbproj")  # a vector Input of 2 sizes
    assert run_cli("export", tmp_path / "broken.nbproj", "--format", "onnx", "--out", tmp_path / "x.onnx") == 2
    assert "cannot be built yet" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()
