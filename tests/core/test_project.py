"""Project files: round trips, atomic saves, and clear errors for anything malformed."""
import json
import re
import os

import pytest
from hypothesis import given, settings, strategies as st

from netbuilder.core.project import (FORMAT, VERSION, Project, ProjectFileError, load_project, load_template,
                                     project_from_bytes, project_to_dict, save_project)
from netbuilder.core.settings import SETTING_LIMITS, TrainingSettings

CNN_BYTES = json.dumps(project_to_dict(load_template("2-cnn"))).encode()


def test_save_and_reopen_gives_the_identical_project(tmp_path):
    project = load_template("5-residual-cnn")
    project.training = project.training.replace(epochs=7, optimizer="sgd", nesterov=True)
    path = tmp_path / "net.nbproj"
    save_project(project, path)
    assert project_to_dict(load_project(path)) == project_to_dict(project)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    path = tmp_path / "net.nbproj"
    save_project(load_template("1-mlp"), path)
    original = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_project(load_template("2-cnn"), path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["net.nbproj"]


def test_a_project_saved_before_runs_could_start_from_weights_still_starts_fresh(tmp_path):
    data = json.loads(CNN_BYTES)
    del data["training"]["start_from_weights"]  # as every project file written before the setting
    assert not project_from_bytes(json.dumps(data).encode(), "old.nbproj").training.start_from_weights
    project = load_template("2-cnn")
    project.training = project.training.replace(start_from_weights=True)
    save_project(project, tmp_path / "net.nbproj")
    assert load_project(tmp_path / "net.nbproj").training.start_from_weights


def test_training_settings_defaults_match_their_limits():
    assert TrainingSettings().to_dict() == {name: p.default for name, p in SETTING_LIMITS.items()}


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.pop("nodes"), '"nodes" is missing'),
    (lambda d: d.update(format="other"), "not a netbuilder project"),
    (lambda d: d.update(version=VERSION + 1), "newer netbuilder"),
    (lambda d: d["nodes"][1].update(type="conv9d"), "node 2: unknown layer type 'conv9d'"),
    (lambda d: d["nodes"][1]["params"].update(filters=-3), 'node 2 ("conv1"): filters must be at least 1'),
    (lambda d: d["nodes"][1].update(name="conv 1"), "not a valid name"),
    (lambda d: d["nodes"][2].update(name="conv1"), "used twice"),
    (lambda d: d["nodes"][1].update(position=["a", 1]), "position must be two numbers"),
    (lambda d: d["edges"].append({"source": "n3", "target": "n2"}), "edge 17: Conv2d \"conv1\" already has its input"),
    (lambda d: d["edges"].append({"source": "n99", "target": "n2"}), "must be nodes of this graph"),
    (lambda d: d["training"].update(epochs="many"), "training settings: epochs must be a whole number"),
    (lambda d: d.update(name=5), '"name" has the wrong type'),
])
def test_malformed_files_say_what_is_wrong_and_where(mutate, message):
    data = json.loads(CNN_BYTES)
    mutate(data)
    with pytest.raises(ProjectFileError, match=re.escape(message)):
        project_from_bytes(json.dumps(data).encode(), "net.nbproj")


def test_unreadable_and_non_json_files(tmp_path):
    with pytest.raises(ProjectFileError, match="There is no project file .*missing.nbproj"):
        load_project(tmp_path / "missing.nbproj")
    with pytest.raises(ProjectFileError, match="line 1, column 2"):
        project_from_bytes(b"{,}", "x")
    with pytest.raises(ProjectFileError, match="not UTF-8"):
        project_from_bytes(b"\xff\xfe\x00", "x")
    with pytest.raises(ProjectFileError, match="not valid JSON"):
        project_from_bytes(b'{"a": NaN}', "x")


def test_renamed_layer_types_load_through_their_alias():
    data = json.loads(CNN_BYTES)
    dense = next(n for n in data["nodes"] if n["type"] == "dense")
    dense["type"] = "linear"
    project = project_from_bytes(json.dumps(data).encode(), "old.nbproj")
    assert project.graph.nodes[dense["id"]].type_id == "dense"


def test_a_new_project_is_empty_and_valid_json():
    data = project_to_dict(Project())
    assert data["format"] == FORMAT and data["nodes"] == [] and data["dataset"] == "digits"


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_or_truncated_files_only_give_project_file_errors(data):
    raw = bytearray(CNN_BYTES)
    for _ in range(data.draw(st.integers(1, 4))):
        choice = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        index = data.draw(st.integers(0, len(raw) - 1))
        if choice == "flip":
            raw[index] = data.draw(st.integers(0, 255))
        elif choice == "cut":
            del raw[index:]
            if not raw:
                break
        else:
            raw[index:index] = data.draw(st.sampled_from([b"0", b"-", b"\"", b"[", b"{}", b"null", b"1e999"]))
    try:
        project_from_bytes(bytes(raw), "fuzzed.nbproj")
    except ProjectFileError:
        pass


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["nodes", "edges", "training", "name", "dataset", "version"]), json_values, st.integers(0, 13))
def test_any_json_in_any_field_only_gives_project_file_errors(field, value, node_index):
    data = json.loads(CNN_BYTES)
    if field == "nodes" and isinstance(value, dict):
        data["nodes"][node_index] = value
    else:
        data[field] = value
    try:
        project_from_bytes(json.dumps(data).encode(), "fuzzed.nbproj")
    except ProjectFileError:
        pass
