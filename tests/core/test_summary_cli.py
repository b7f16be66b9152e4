"""The headless commands a user runs from a terminal."""
import subprocess
import sys
from pathlib import Path

import pytest

from netbuilder.__main__ import main
from netbuilder.core.graph import Graph
from netbuilder.core.project import Project, save_project
from netbuilder.core.summary import summary_text

TEMPLATES = Path(__file__).parents[2] / "resources" / "templates"


@pytest.mark.parametrize(("template", "total"), [
    ("1-mlp", "101,770"), ("2-cnn", "93,482"), ("2-cnn-article", "93,322"), ("3-lstm-text", "686,154"),
    ("4-row-lstm", "82,186"), ("5-residual-cnn", "19,274"),
])
def test_summary_prints_each_templates_parameter_count(template, total, capsys):
    assert main(["summary", f"{TEMPLATES}/{template}.nbproj"]) == 0
    out = capsys.readouterr().out
    assert f"Total params: {total}" in out
    assert "Output shape" in out


@pytest.mark.parametrize(("template", "keras_total", "reason"), [
    ("2-cnn", "93,802", "BatchNorm's moving mean and variance"), ("3-lstm-text", "685,770", "one bias vector per gate"),
    ("4-row-lstm", "81,674", "one bias vector per gate"), ("5-residual-cnn", "19,402", "BatchNorm's moving mean"),
])
def test_summary_gives_the_count_keras_shows_and_why_it_differs(template, keras_total, reason, capsys):
    main(["summary", f"{TEMPLATES}/{template}.nbproj"])
    note = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Note:"))
    assert f"Keras shows {keras_total} parameters" in note
    assert reason in note


def test_summary_has_no_keras_note_where_keras_counts_the_same(capsys):
    graph = Graph()
    graph.chain(graph.add("input", kind="sequence", shape=(5, 3)), graph.add("gru", hidden_size=4),
                graph.add("dense", units=2), graph.add("output"))
    print(summary_text(graph))
    assert "Keras shows" not in capsys.readouterr().out


def test_summary_of_the_cnn_lists_every_layer_with_shape_and_params(capsys):
    main(["summary", f"{TEMPLATES}/2-cnn.nbproj"])
    lines = capsys.readouterr().out.splitlines()
    conv2 = next(line for line in lines if line.startswith("conv2 "))
    assert conv2.split() == ["conv2", "Conv2d", "64×11×11", "18,432", "4.46", "M"]  # as the summary panel shows it


def test_summary_of_an_invalid_graph_lists_problems_and_exits_1(tmp_path, capsys):
    graph = Graph()
    graph.chain(graph.add("input", shape=(1, 28, 28)), graph.add("dense", "fc1", units=10), graph.add("output"))
    save_project(Project(graph), tmp_path / "bad.nbproj")
    assert main(["summary", str(tmp_path / "bad.nbproj")]) == 1
    assert 'error: Dense "fc1" needs a flat input but receives 1×28×28: insert Flatten' in capsys.readouterr().out


def test_a_damaged_file_gives_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "broken.nbproj").write_text("{ not json")
    assert main(["summary", str(tmp_path / "broken.nbproj")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("netbuilder: broken.nbproj is damaged") and "Traceback" not in err


def test_export_code_writes_runnable_pytorch(tmp_path):
    out = tmp_path / "net.py"
    assert main(["export-code", f"{TEMPLATES}/2-cnn.nbproj", "--out", str(out)]) == 0
    run = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "torch.Size([2, 10])"
