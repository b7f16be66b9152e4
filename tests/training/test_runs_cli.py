"""`netbuilder runs`, and --run for evaluate, predict and export: every run a person trained on the
command line is listed, compared and usable by its id or name; bad input gets one line."""
import json
import re

import pytest

from netbuilder.runs import RunStore
from netbuilder.runs.record import RUN_FILE

SMALL = [("dense", {"units": 3})]
LARGER = [("dense", {"units": 16}), ("relu", {}), ("dense", {"units": 3})]


def accuracy(text: str) -> float:
    return float(re.search(r"Accuracy on .*?: ([\d.]+)%", text).group(1))


@pytest.fixture
def two_runs(tmp_path, capsys, cli, make_project, cluster_rows):
    """points.nbproj trained twice: first a one-layer network barely trained, then a larger one trained
    well. Returns the project file and the two runs' ids."""
    (tmp_path / "train.csv").write_text(cluster_rows([40, 40, 40], seed=0))
    path = tmp_path / "points.nbproj"
    make_project(path, tmp_path / "train.csv", SMALL, {"kind": "vector", "shape": [2]}, epochs=1,
                 learning_rate=1e-6)
    assert cli("train", path) == 0
    make_project(path, tmp_path / "train.csv", LARGER, {"kind": "vector", "shape": [2]}, epochs=20)
    assert cli("train", path) == 0
    out = capsys.readouterr().out
    first, second = re.findall(r"Kept this run as (\S+) in points.runs", out)
    return path, first, second


def test_runs_lists_every_run_with_what_changed_and_marks_the_model(two_runs, cli, capsys):
    path, first, second = two_runs
    assert cli("runs", path) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[0] == first and lines[2].split()[:2] == ["*", second]
    assert "+ ReLU, + Dense, dense1 units 3 → 16" in lines[2] and "lr 1e-6 → 0.02" in lines[2]
    assert lines[-1].startswith("2 runs, ")


def test_runs_json_is_for_scripts(two_runs, cli, capsys):
    path, first, second = two_runs
    assert cli("runs", path, "--json") == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(run["id"], run["model"], run["epochs"]) for run in listing["runs"]] == [(first, False, 1),
                                                                                     (second, True, 20)]
    assert listing["runs"][1]["best_val_accuracy"] > listing["runs"][0]["best_val_accuracy"]
    assert listing["bytes"] == sum(run["bytes"] for run in listing["runs"]) > 0


def test_diff_prints_the_summary_and_each_difference(two_runs, cli, capsys):
    path, first, second = two_runs
    assert cli("runs", path, "--diff", first, second) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"From {first} to {second}: + ReLU, + Dense")
    assert "setting learning_rate: 1e-6 → 0.02" in out and "setting epochs: 1 → 20" in out
    assert "+ relu2 (ReLU)" in out and "~ dense1 (Dense): units 3 → 16" in out
    assert cli("runs", path, "--diff", first, second, "--json") == 0
    diff = json.loads(capsys.readouterr().out)
    assert [layer["name"] for layer in diff["added"]] == ["relu2", "dense3"]


def test_run_selects_a_runs_own_network_and_weights_for_evaluate_predict_and_export(two_runs, cli, capsys, tmp_path):
    path, first, second = two_runs
    data = tmp_path / "train.csv"
    assert cli("evaluate", path, "--data", data) == 0
    latest = accuracy(capsys.readouterr().out)
    RunStore(path).update(first, name="barely trained")
    assert cli("evaluate", path, "--data", data, "--run", "barely trained") == 0
    assert accuracy(capsys.readouterr().out) < latest == 100.0
    (tmp_path / "points.csv").write_text("x,y\n10.0,0.0\n")
    assert cli("predict", path, tmp_path / "points.csv", "--run", second, "--top", "1", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["top"][0]["class"] == "high"
    assert cli("export", path, "--format", "safetensors", "--out", tmp_path / "first.safetensors", "--run", first) == 0
    assert "with the trained weights" in capsys.readouterr().out


def test_an_unknown_run_or_a_pruned_one_gets_one_line(two_runs, cli, capsys, tmp_path):
    path, first, second = two_runs
    assert cli("evaluate", path, "--run", "nope") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'has no run "nope"' in err and second in err
    assert RunStore(path).prune(keep_last=1) > 0
    assert cli("export", path, "--format", "code", "--out", tmp_path / "net.py", "--run", first) == 2
    assert "no weights any more (they were pruned)" in capsys.readouterr().err
    assert cli("runs", path, "--diff", first, "nope") == 2


def test_a_corrupt_run_file_is_named_and_the_other_runs_still_listed(two_runs, cli, capsys):
    path, first, second = two_runs
    (path.parent / "points.runs" / first / RUN_FILE).write_bytes(b"\x00garbage")
    assert cli("runs", path) == 0
    captured = capsys.readouterr()
    assert [line.split()[1] for line in captured.out.splitlines()[1:-1]] == [second]
    assert captured.err.count("\n") == 1 and first in captured.err and "its files are kept" in captured.err


def test_a_project_without_runs_says_how_to_get_one(tmp_path, cli, capsys, make_project, cluster_rows):
    (tmp_path / "train.csv").write_text(cluster_rows([5, 5, 5], seed=0))
    path = make_project(tmp_path / "new.nbproj", tmp_path / "train.csv", SMALL, {"kind": "vector", "shape": [2]})
    assert cli("runs", path) == 0
    assert capsys.readouterr().out.startswith("No runs kept yet")
    assert cli("runs", tmp_path / "missing.nbproj") == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_an_old_project_trained_again_keeps_its_old_weights_as_its_first_run(tmp_path, cli, capsys, make_project,
                                                                             cluster_rows):
    import shutil

    (tmp_path / "train.csv").write_text(cluster_rows([10, 10, 10], seed=0))
    path = make_project(tmp_path / "old.nbproj", tmp_path / "train.csv", SMALL, {"kind": "vector", "shape": [2]},
                        epochs=1)
    assert cli("train", path) == 0
    shutil.rmtree(tmp_path / "old.runs")  # as a project trained before runs were kept
    old_weights = path.with_suffix(".safetensors").read_bytes()
    assert cli("train", path) == 0
    capsys.readouterr()
    first, second = RunStore(path).runs().runs
    assert first.weights_path.read_bytes() == old_weights and "before netbuilder kept every run" in first.note
    assert RunStore(path).runs().current == second.id


def test_runs_are_named_starred_used_pruned_and_deleted_from_the_command_line(two_runs, cli, capsys, tmp_path):
    path, first, second = two_runs
    assert cli("runs", path, "--name", second, "larger") == 0
    assert cli("runs", path, "--star", "larger") == 0
    assert cli("runs", path, "--prune", "0") == 0  # the first run's weights go; the starred model's stay
    assert "every history is kept" in capsys.readouterr().out
    runs = {run.id: run for run in RunStore(path).runs().runs}
    assert (runs[second].name, runs[second].starred, runs[second].has_weights) == ("larger", True, True)
    assert not runs[first].has_weights and RunStore(path).history(first).epochs
    assert cli("runs", path, "--use", first) == 2
    assert "no weights any more" in capsys.readouterr().err
    assert cli("runs", path, "--delete", first) == 0
    assert capsys.readouterr().out.startswith("Deleted 1 run, freeing ")
    assert [run.id for run in RunStore(path).runs().runs] == [second]


def test_using_a_run_whose_network_differs_says_what_changed_and_changes_nothing(two_runs, cli, capsys):
    path, first, second = two_runs
    weights = path.with_suffix(".safetensors").read_bytes()
    assert cli("runs", path, "--use", first) == 2
    err = capsys.readouterr().err
    assert "trained on another network than the project's now (changed since: + ReLU, + Dense, dense1 units 3 → 16" in err
    assert path.with_suffix(".safetensors").read_bytes() == weights


@pytest.mark.parametrize("argv, message", [
    (["--name", "RUN", "two\nlines"], "one line of text"),
    (["--name", "RUN", "\x1b[2J"], "one line of text"),
    (["--prune", "-1"], "N must be 0 or more"),
    (["--delete", "RUN", "nope"], 'has no run "nope"'),
])
def test_bad_changes_get_one_line_and_change_nothing(two_runs, cli, capsys, argv, message):
    path, first, second = two_runs
    before = sorted((p.relative_to(path.parent), p.read_bytes()) for p in path.parent.rglob("*") if p.is_file())
    assert cli("runs", path, *[first if arg == "RUN" else arg for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "\x1b" not in err
    assert sorted((p.relative_to(path.parent), p.read_bytes()) for p in path.parent.rglob("*") if p.is_file()) == before
