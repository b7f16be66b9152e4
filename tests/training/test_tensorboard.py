"""A run written for TensorBoard reads back with TensorBoard's own reader: the curves, the learning
rate, per-class accuracy and the network's graph."""
import builtins

import pytest

from netbuilder.training.tensorboard import tensorboard_problem

pytest.importorskip("tensorboard", reason="TensorBoard is the optional extra this writes for")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def read_back(folder):
    (run,) = [path for path in folder.iterdir() if path.is_dir()]
    events = EventAccumulator(str(run))
    events.Reload()
    return run, events


def test_train_writes_the_runs_scalars_and_graph_for_tensorboard(tmp_path, capsys, cli, make_project, cluster_rows):
    (tmp_path / "train.csv").write_text(cluster_rows([30, 30, 30], seed=0))
    project = make_project(tmp_path / "points.nbproj", tmp_path / "train.csv",
                           [("dense", {"units": 8}), ("batchnorm", {}), ("relu", {}), ("dense", {"units": 3})],
                           {"kind": "vector", "shape": [2]}, epochs=3, validation_split=0.2)
    assert cli("train", project, "--tensorboard", tmp_path / "logs") == 0
    out = capsys.readouterr().out
    run, events = read_back(tmp_path / "logs")
    assert f"Wrote the run for TensorBoard to {run}" in out and run.name.startswith("points-")
    tags = events.Tags()["scalars"]
    for tag in ("epoch/train_loss", "epoch/val_loss", "epoch/train_accuracy", "epoch/val_accuracy",
                "epoch/learning_rate", "batch/loss", "batch/learning_rate"):
        assert tag in tags, tag
    assert [event.step for event in events.Scalars("epoch/val_accuracy")] == [1, 2, 3]
    assert {"per_class_accuracy/low", "per_class_accuracy/mid", "per_class_accuracy/high"} <= set(tags)
    assert all(0.0 <= event.value <= 1.0 for event in events.Scalars("per_class_accuracy/mid"))
    assert events.Tags()["graph"] and "dense1" in str(events.Graph())


def test_the_window_turns_it_on_for_a_run(tmp_path, make_blobs):
    from test_session import project

    from netbuilder.training.run import TrainingRun

    run = TrainingRun(project(epochs=2), dataset=make_blobs(count=120, val_count=30), report_interval=0, threads=1,
                      tensorboard=tmp_path / "logs")
    assert list(run.events())[-1].reason == "completed"
    _, events = read_back(tmp_path / "logs")
    assert len(events.Scalars("epoch/val_loss")) == 2 and events.Tags()["graph"]


def test_without_tensorboard_train_says_how_to_get_it(monkeypatch, tmp_path, capsys, cli, make_project, cluster_rows):
    real_import = builtins.__import__

    def without_tensorboard(name, *args, **kwargs):
        if name.startswith(("tensorboard", "torch.utils.tensorboard")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_tensorboard)
    assert "pip install tensorboard" in tensorboard_problem()
    (tmp_path / "train.csv").write_text(cluster_rows([5, 5, 5], seed=0))
    project = make_project(tmp_path / "p.nbproj", tmp_path / "train.csv", [("dense", {"units": 3})],
                           {"kind": "vector", "shape": [2]})
    assert cli("train", project, "--tensorboard", tmp_path / "logs") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install tensorboard" in err and not (tmp_path / "logs").exists()
