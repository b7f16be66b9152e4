"""Exports checked by the programs that consume them: onnxruntime, torch.jit.load without netbuilder,
torch.export.load, plain python running the exported code without netbuilder, and safetensors readers."""
import json
import os
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx  # the export packages are netbuilder's own dependencies: a missing one fails here, never skips
import onnxruntime
import pytest
import torch
from safetensors import safe_open

from netbuilder.__main__ import main as netbuilder_cli
from netbuilder.core.project import load_project, project_from_dict, project_to_dict, save_project
from netbuilder.data.recipe import Recipe, TableRecipe, TextRecipe, digit_recipe
from netbuilder.export.exporting import ExportError, export_project, export_source
from netbuilder.export.formats import EXPORT_FORMATS
from netbuilder.export.onnx_file import RECIPE_KEY
from netbuilder.export.weights import import_weights
from netbuilder.model.checkpoint import History, load_trained_model, save_checkpoint
from netbuilder.training.events import EpochEnded
from netbuilder.inference.predict import predict_files

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((REPO / "resources" / "templates").glob("*.nbproj"))
TOLERANCE = 1e-5


HISTORY = History(class_names=["cat", "dog", "eel"], task="classification", dataset="pets.csv",
                  epochs=[EpochEnded(1, 2, 0.9, 0.6, 0.8, 0.65, 1e-3, 0.5)])
RECIPE = Recipe("vector", (4,), "classification", ("cat", "dog", "eel"),
                table=TableRecipe(("a", "b", "c", "d"), "pet", "standard", (0.0, 1.0, 2.0, 3.0), (1.0, 2.0, 3.0, 4.0)))
DIGITS = [str(digit) for digit in range(10)]


def vector_project(shape=(4,)):
    nodes = [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": list(shape)}},
             {"id": "b", "type": "dense", "name": "fc1", "params": {"units": 3}},
             {"id": "c", "type": "output", "name": "output1", "params": {"task": "classification"}}]
    edges = [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}]
    return project_from_dict({"format": "netbuilder-project", "version": 1, "nodes": nodes, "edges": edges})


def without_netbuilder(args, cwd, **kwargs) -> subprocess.CompletedProcess:
    """`python ARGS` in a process where `import netbuilder` fails (it is installed here, so it is
    blocked, and the repository is off the path): what runs uses nothing of the app."""
    blocker = ("import runpy, sys; sys.modules['netbuilder'] = None; "
               f"sys.path = [p for p in sys.path if not p.startswith({str(REPO)!r})]; "
               "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", blocker, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, **kwargs)


def run_cli(*argv) -> int:
    return netbuilder_cli([str(arg) for arg in argv])


def template(name: str):
    return load_project(next(path for path in TEMPLATES if path.stem == name))


def model_outputs(source, batch: int):
    inputs = source.example_inputs(batch)
    with torch.no_grad():
        return inputs, source.model(*inputs)


# The text template reads 200 tokens, and its two LSTMs export to ONNX in half a minute at that length;
# the same layers export alike at 20.
SHORTER_INPUTS = {"3-lstm-text": (20,)}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.stem)
def test_onnx_gives_torchs_outputs_at_batch_1_and_7(path, tmp_path):
    project = load_project(path)
    if path.stem in SHORTER_INPUTS:
        (input_node,) = [node for node in project.graph.nodes.values() if node.type_id == "input"]
        project.graph.replace_params(input_node.id, {**input_node.params, "shape": SHORTER_INPUTS[path.stem]})
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
    from netbuilder.export import onnx_file

    monkeypatch.setattr(onnx_file, "ONNX_MAX_WEIGHT_BYTES", 100_000)  # the MLP template's weights: 398 KB
    monkeypatch.setattr(onnx_file, "convert", lambda *args: pytest.fail("converted a network ONNX cannot hold"))
    assert run_cli("export", TEMPLATES[0], "--format", "onnx", "--out", tmp_path / "net.onnx") == 2
    assert "an ONNX file holds at most 2 GB: export as pt2" in capsys.readouterr().err
    assert not (tmp_path / "net.onnx").exists()


@pytest.mark.parametrize("export_format", EXPORT_FORMATS.values(), ids=lambda export_format: export_format.name)
def test_every_format_has_a_writer(export_format):
    assert callable(export_format.writer())


def test_the_packaged_app_carries_every_writer_the_registry_imports_by_name():
    """PyInstaller finds imports by reading them; the registry's are names, so the spec lists them."""
    spec = (REPO / "packaging" / "netbuilder.spec").read_text()
    for export_format in EXPORT_FORMATS.values():
        assert f'"netbuilder.export.{export_format.writer_name.split(":")[0]}"' in spec
    assert '"onnxscript"' not in spec  # no longer excluded: the ONNX export needs it


def test_the_export_packages_are_installed_with_netbuilder():
    """The ONNX export never asks a user to install anything: its packages are main dependencies."""
    import tomllib

    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for package in ("onnx", "onnxruntime", "onnxscript"):
        assert any(dependency.split(">")[0].split("=")[0].strip() == package for dependency in dependencies)


def test_a_missing_onnx_package_is_a_damaged_installation(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # `import onnxscript` now raises ImportError
    with pytest.raises(ExportError, match=r"onnxscript package, which netbuilder installs with itself.*reinstall"):
        export_project(template("1-mlp"), None, "onnx", tmp_path / "net.onnx")
    assert run_cli("export", TEMPLATES[0], "--format", "onnx", "--out", tmp_path / "net.onnx") == 2
    assert "pip install" not in capsys.readouterr().err
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


@pytest.mark.parametrize("name", ["4-row-lstm", "5-residual-cnn", "6-resnet", "7-mobilenet"])
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
        EXPORT_FORMATS["torchscript"].writer()(source, tmp_path / "net.pt")
    assert not (tmp_path / "net.pt").exists()


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


# --- every export carries the recipe --------------------------------------------------------------------
def test_every_export_of_a_trained_model_carries_its_recipe(tmp_path):
    project, path, _ = trained_vector_project(tmp_path)
    export_project(project, path, "onnx", tmp_path / "net.onnx")
    metadata = {entry.key: entry.value for entry in onnx.load(str(tmp_path / "net.onnx")).metadata_props}
    export_project(project, path, "torchscript", tmp_path / "net.pt")
    extra_files = {"recipe.json": ""}
    torch.jit.load(str(tmp_path / "net.pt"), _extra_files=extra_files)
    pt2 = export_project(project, path, "pt2", tmp_path / "net.pt2")
    assert pt2.files == [tmp_path / "net.pt2", tmp_path / "net_recipe.json"]
    recipes = [metadata[RECIPE_KEY], extra_files["recipe.json"], (tmp_path / "net_recipe.json").read_text()]
    for text in recipes:
        assert Recipe.from_dict(json.loads(text)) == RECIPE


def test_untrained_weights_are_exported_without_a_recipe_they_do_not_have(tmp_path):
    result = export_project(vector_project(), None, "pt2", tmp_path / "net.pt2")
    assert result.files == [tmp_path / "net.pt2"] and "untrained initial weights" in result.message


# --- the code export runs without netbuilder -------------------------------------------------------------
def trained_digit_project(tmp_path):
    """The CNN template with changed weights and the digits' recipe, saved with its checkpoint."""
    project, path = template("2-cnn"), tmp_path / "digits.nbproj"
    save_project(project, path)
    model = export_source(project, None).model
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3.0)  # sharper, more varied probabilities than the initial ones
    save_checkpoint(model, History(DIGITS, "classification", "digits"), path, recipe=digit_recipe(DIGITS))
    return project, path


def drawn_digit(path: Path, seven: bool) -> Path:
    """A dark digit on a light background, not 28×28: the recipe's reading (inverting, cropping,
    centring) decides what the model sees."""
    image = np.full((61, 47), 235, np.uint8)
    if seven:
        cv2.polylines(image, [np.array([[8, 10], [38, 10], [18, 52]])], False, 20, 4)
    else:
        cv2.line(image, (24, 8), (22, 54), 30, 5)
    cv2.imwrite(str(path), image)
    return path


def ink_in_alpha(path: Path) -> Path:
    """Black ink drawn only through transparency, as many drawing programs save a digit."""
    image = np.zeros((50, 40, 4), np.uint8)
    cv2.polylines(image, [np.array([[8, 8], [32, 8], [14, 44]])], False, (0, 0, 0, 255), 4)
    cv2.imwrite(str(path), image)
    return path


CHECK = '''import importlib.util, json, sys
def load(name):
    spec = importlib.util.spec_from_file_location(name, name + ".py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
net, preprocess = load("net"), load("net_preprocess")
samples, names = preprocess.read_samples(sys.argv[1:])
outputs = net.load_model()(preprocess.inputs(samples))
print(json.dumps({"names": names, "probabilities": preprocess.probabilities(outputs).tolist()}))
'''


def test_the_exported_code_gives_the_apps_probabilities_for_a_png_without_netbuilder(tmp_path):
    project, path = trained_digit_project(tmp_path)
    result = export_project(project, path, "code", tmp_path / "net.py")
    assert [file.name for file in result.files] == ["net.py", "net_weights.pt", "net_preprocess.py", "net_train.py"]
    images = [drawn_digit(tmp_path / "seven.png", seven=True), drawn_digit(tmp_path / "one.png", seven=False),
              ink_in_alpha(tmp_path / "transparent.png")]
    (tmp_path / "check.py").write_text(CHECK)

    done = without_netbuilder(["check.py", *images], tmp_path)

    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    _, app = predict_files(load_trained_model(project, path), images)
    assert exported["names"] == ["seven.png", "one.png", "transparent.png"]
    np.testing.assert_allclose(exported["probabilities"], app.probabilities, atol=1e-5, rtol=0)
    assert not np.allclose(app.probabilities[0], app.probabilities[1], atol=1e-3)  # the images do differ


def trained_text_project(tmp_path):
    """The LSTM text template with a small vocabulary's recipe, saved with its checkpoint."""
    project, path = template("3-lstm-text"), tmp_path / "reviews.nbproj"
    save_project(project, path)
    vocabulary = ("<pad>", "<unk>", "good", "bad", "film", "plot", "don't", "like")
    recipe = Recipe("tokens", (200,), "classification", ("negative", "positive"),
                    text=TextRecipe(vocabulary, 200, "review", "sentiment"))
    save_checkpoint(export_source(project, None).model, History(["negative", "positive"], "classification",
                                                                "reviews.csv"), path, recipe=recipe)
    return project, path


@pytest.mark.parametrize("kind", ["rows", "texts"])
def test_the_exported_code_reads_rows_and_texts_as_the_app_does_without_netbuilder(kind, tmp_path):
    if kind == "rows":
        project, path, _ = trained_vector_project(tmp_path)
        data = tmp_path / "pets.csv"
        data.write_text("d,pet,a,b,c\n4,cat,1,2,3\n-1.5,dog,0.25,7,2e3\n")  # columns found by name
    else:
        project, path = trained_text_project(tmp_path)
        data = tmp_path / "reviews.txt"
        data.write_text("A good film, I don't like the plot\n\nbad BAD bad unknown words\n")
    export_project(project, path, "code", tmp_path / "net.py")
    (tmp_path / "check.py").write_text(CHECK)

    done = without_netbuilder(["check.py", data], tmp_path)

    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    app_rows, app = predict_files(load_trained_model(project, path), [data])
    assert exported["names"] == app_rows.names
    np.testing.assert_allclose(exported["probabilities"], app.probabilities, atol=1e-5, rtol=0)


def test_the_exported_module_loads_its_weights_and_answers_for_files(tmp_path):
    project, path = trained_digit_project(tmp_path)
    export_project(project, path, "code", tmp_path / "net.py")
    image = drawn_digit(tmp_path / "seven.png", seven=True)
    _, app = predict_files(load_trained_model(project, path), [image])

    done = without_netbuilder(["net.py", image], tmp_path)

    assert done.returncode == 0, done.stderr
    best, probability = app.top(0, 1)[0]
    assert done.stdout.startswith(f"seven.png [('{best}', {round(probability, 4)})")


def test_the_exported_training_script_trains_on_raw_images_without_netbuilder(tmp_path):
    project, path = trained_digit_project(tmp_path)
    export_project(project, path, "code", tmp_path / "net.py")
    before = torch.load(tmp_path / "net_weights.pt", weights_only=True)
    for digit, seven in (("7", True), ("1", False)):
        (tmp_path / "data" / digit).mkdir(parents=True)
        for copy in range(3):
            drawn_digit(tmp_path / "data" / digit / f"{copy}.png", seven)

    done = without_netbuilder(["net_train.py", "data", "--epochs", "1"], tmp_path)

    assert done.returncode == 0, done.stderr
    assert "epoch 1/1  loss" in done.stdout
    after = torch.load(tmp_path / "net_weights.pt", weights_only=True)
    assert after.keys() == before.keys()
    assert not torch.equal(after["fc2.weight"], before["fc2.weight"])  # trained, and saved where net.py loads


def test_the_exported_training_script_trains_the_autoencoder_on_its_own_images_without_netbuilder(tmp_path):
    project, path = template("9-autoencoder"), tmp_path / "autoencoder.nbproj"
    save_project(project, path)
    recipe = replace(digit_recipe(DIGITS), task="reconstruction", class_names=())  # as targets_for_task makes it
    save_checkpoint(export_source(project, None).model, History([], "reconstruction", "digits"), path, recipe=recipe)
    export_project(project, path, "code", tmp_path / "net.py")
    before = torch.load(tmp_path / "net_weights.pt", weights_only=True)
    (tmp_path / "data" / "more").mkdir(parents=True)
    for name, seven in (("seven.png", True), ("one.png", False), ("more/seven.png", True)):
        drawn_digit(tmp_path / "data" / name, seven)
    (tmp_path / "data" / "notes.txt").write_text("not an image")
    torch.save({"inputs": torch.randn(6, 1, 28, 28)}, tmp_path / "data.pt")

    for data in ("data", "data.pt"):  # images from any folder, or tensors without targets
        done = without_netbuilder(["net_train.py", data, "--epochs", "1"], tmp_path)

        assert done.returncode == 0, done.stderr
        assert "epoch 1/1  loss" in done.stdout
    after = torch.load(tmp_path / "net_weights.pt", weights_only=True)
    assert after.keys() == before.keys()
    assert not torch.equal(after["decoder.conv1.weight"], before["decoder.conv1.weight"])


def test_the_training_script_of_untrained_weights_trains_on_tensors_without_netbuilder(tmp_path):
    export_project(vector_project(), None, "code", tmp_path / "net.py")
    assert not (tmp_path / "net_preprocess.py").exists()  # no recipe before training
    torch.save({"inputs": torch.randn(20, 4), "targets": torch.arange(20) % 3}, tmp_path / "data.pt")

    done = without_netbuilder(["net_train.py", "data.pt", "--epochs", "2"], tmp_path)

    assert done.returncode == 0, done.stderr
    assert "epoch 2/2  loss" in done.stdout
    assert torch.load(tmp_path / "net_weights.pt", weights_only=True).keys() == {"fc1.weight", "fc1.bias"}


def test_the_training_script_is_the_trainers_own_optimizer_schedule_and_loss(tmp_path):
    import inspect

    from netbuilder.training.metrics import cross_entropy_loss
    from netbuilder.training.trainer import build_optimizer, build_schedule

    project = template("1-mlp")
    project.training = project.training.replace(optimizer="sgd", learning_rate=0.05, momentum=0.5, batch_size=17,
                                                schedule="step", augment=True)
    export_project(project, None, "code", tmp_path / "net.py")
    script = (tmp_path / "net_train.py").read_text()
    for function in (build_optimizer, build_schedule, cross_entropy_loss):
        assert inspect.getsource(function) in script
    assert "'optimizer': 'sgd'" in script and "'learning_rate': 0.05" in script and "'batch_size': 17" in script
    assert "also applies augmentation" in script  # what the plain loop leaves out is said


# --- weights from elsewhere: nothing silently changed -------------------------------------------------------
@pytest.mark.parametrize("make", [lambda weight: weight.to(torch.int8),
                                  lambda weight: torch.quantize_per_tensor(weight, 0.1, 0, torch.qint8),
                                  lambda weight: weight > 0],
                         ids=["int8", "qint8", "bool"])
def test_integer_and_quantised_weights_are_refused_naming_the_tensor(tmp_path, make, capsys):
    state = export_source(vector_project(), None).model.state_dict()
    state["fc1.weight"] = make(state["fc1.weight"])
    torch.save(state, tmp_path / "small.pt")
    save_project(vector_project(), tmp_path / "pets.nbproj")
    assert run_cli("import-weights", tmp_path / "pets.nbproj", tmp_path / "small.pt", "--out",
                   tmp_path / "out.safetensors") == 2
    error = capsys.readouterr().err
    assert '"fc1.weight"' in error and str(state["fc1.weight"].dtype).removeprefix("torch.") in error
    assert "float32" in error and not (tmp_path / "out.safetensors").exists()


def test_float64_weights_are_converted_and_the_conversion_is_said(tmp_path):
    state = {key: value.double() for key, value in export_source(vector_project(), None).model.state_dict().items()}
    torch.save(state, tmp_path / "double.pt")
    result = import_weights(vector_project(), tmp_path / "double.pt", tmp_path / "model.safetensors")
    assert "Converted float64 → float32 for fc1.weight, fc1.bias." in result.message
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as file:
        assert torch.equal(file.get_tensor("fc1.weight"), state["fc1.weight"].float())


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".safetensors"])
def test_an_empty_weights_file_is_refused_as_empty(tmp_path, suffix):
    (tmp_path / f"empty{suffix}").write_bytes(b"")
    with pytest.raises(ExportError, match=r"is empty \(0 bytes\)") as refused:
        import_weights(vector_project(), tmp_path / f"empty{suffix}", tmp_path / "out.safetensors")
    assert "code" not in str(refused.value)


# --- other libraries' output stays off the terminal ------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("format_name, name", [("code", "1-mlp"), ("torchscript", "4-row-lstm"),
                                               ("pt2", "5-residual-cnn"), ("onnx", "4-row-lstm"),
                                               ("onnx", "5-residual-cnn"), ("safetensors", "3-lstm-text")])
def test_the_terminal_shows_only_the_apps_lines_when_exporting(format_name, name, tmp_path):
    """4-row-lstm has an LSTM and 5-residual-cnn an Add: torch printed its log lines on the terminal
    exporting them to ONNX. They go to the log file."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NETBUILDER_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-c", "import sys; from netbuilder.__main__ import cli_main; sys.exit(cli_main())",
               "export", next(path for path in TEMPLATES if path.stem == name), "--format", format_name,
               "--out", tmp_path / "net"]
    done = subprocess.run(list(map(str, command)), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    (line,) = done.stdout.splitlines()
    assert line.startswith("Wrote net") and "with untrained initial weights: There are no trained weights" in line
    if format_name == "onnx":  # what torch printed is kept for a bug report
        assert "torchvision" in (tmp_path / "data" / "logs" / "netbuilder.log").read_text()
