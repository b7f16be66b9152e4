import argparse
import functools
import io
import json
import sys

import pytest
import torch

from netbuilder.core.project import load_project, project_from_dict, save_project
from netbuilder.training.checkpoint import load_trained_model
from netbuilder.training.cli import add_commands


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="netbuilder")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.handler(args)


@pytest.fixture
def project_file(tmp_path):
    rows = ["x1,x2,label"] + [f"{(i % 2) * 4 + (i % 7) * 0.1},{-(i % 2) * 3 + (i % 5) * 0.1},{'yes' if i % 2 else 'no'}"
                              for i in range(80)]
    (tmp_path / "points.csv").write_text("\n".join(rows) + "\n")
    nodes = [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": [2]}},
             {"id": "b", "type": "dense", "name": "fc1", "params": {"units": 2}},
             {"id": "c", "type": "output", "name": "output1", "params": {"task": "classification"}}]
    project = project_from_dict({"format": "netbuilder-project", "version": 1, "name": "Points", "nodes": nodes,
                                 "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}],
                                 "dataset": str(tmp_path / "points.csv"),
                                 "training": {"epochs": 2, "batch_size": 16, "learning_rate": 0.05, "device": "cpu"}})
    path = tmp_path / "points.nbproj"
    save_project(project, path)
    return path


def test_train_prints_each_epoch_and_saves_beside_the_project(project_file, capsys):
    assert run_cli("train", project_file, "--epochs", 3) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('Training "Points" on points: 64 training and 16 validation samples, cpu, fp32')
    epochs = [line for line in out if line.startswith("epoch")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert all("val acc" in line and "samples/s" in line for line in epochs)
    assert out[-1] == f"Saved the weights to {project_file.with_suffix('.safetensors')}"
    trained = load_trained_model(load_project(project_file), project_file)
    assert trained.history.class_names == ["no", "yes"] and len(trained.history.epochs) == 3
    assert trained.recipe.class_names == ("no", "yes") and trained.recipe.table.columns == ("x1", "x2")


def test_with_label_smoothing_the_first_line_says_the_training_loss_carries_it(project_file, capsys):
    project = json.loads(project_file.read_text())
    project["training"]["label_smoothing"] = 0.1
    project_file.write_text(json.dumps(project))
    assert run_cli("train", project_file, "--epochs", 1) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("cpu, fp32, label smoothing 0.1 (in the training loss only)")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_live_batch_line_shows_progress_and_is_cleared_before_each_epoch(
        project_file, capsys, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run_cli("train", project_file, "--epochs", 2) == 0
    live = terminal.getvalue()
    assert "\repoch 1  batch 4/4  loss " in live and "samples/s" in live
    assert live.count("\r\033[K") == 2
    assert "batch" not in capsys.readouterr().out  # logs keep one line per epoch


def test_evaluate_prints_accuracy_and_the_confusion_matrix(project_file, tmp_path, capsys):
    assert run_cli("train", project_file, "--out", tmp_path / "weights") == 0
    capsys.readouterr()
    assert run_cli("evaluate", project_file, "--out", tmp_path / "weights") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Accuracy on 16 validation samples of ") and "%" in out[0]
    assert out[2].split()[-3:] == ["no", "yes", "accuracy"] and out[3].split()[0] == "no"


def test_evaluate_without_training_says_to_train_first(project_file, capsys):
    assert run_cli("evaluate", project_file) == 2
    err = capsys.readouterr().err
    assert err.startswith("netbuilder: ") and "train the model first" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("arguments, message", [
    (["--epochs", "0"], "epochs must be at least 1, not 0"),
    (["--data", "no-such-dataset"], 'There is no dataset "no-such-dataset"'),
    (["--device", "cuda"], "choose auto or cpu"),
])
def test_problems_print_one_line_and_exit_2(project_file, capsys, arguments, message):
    if arguments[0] == "--device" and torch.cuda.is_available():
        pytest.skip("this computer has CUDA")
    assert run_cli("train", project_file, *arguments) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not project_file.with_suffix(".safetensors").exists()


def test_a_damaged_project_is_one_line(tmp_path, capsys):
    (tmp_path / "bad.nbproj").write_text("{ not json")
    assert run_cli("train", tmp_path / "bad.nbproj") == 2
    assert capsys.readouterr().err == "netbuilder: bad.nbproj is damaged: it is not valid JSON at line 1, column 3\n"


@pytest.mark.parametrize("arguments, message", [
    (["--learning-rate", "abc"], "learning rate must be a number, not 'abc'"),
    (["--lr", "1e400"], "learning rate must be a finite number"),
    (["--epochs", "1" + "0" * 400], "epochs must be at most 10000"),
    (["--batch-size", "2.5"], "batch size must be a whole number"),
    (["--optimizer", "newton"], "optimizer must be one of adam, adamw, sgd, rmsprop, not 'newton'"),
    (["--schedule", "linear"], "schedule must be one of constant, step, cosine, one_cycle"),
    (["--validation-split", "0.95"], "validation split must be at most 0.9, not 0.95"),
    (["--label-smoothing", "-1"], "label smoothing must be at least 0"),
    (["--threads", "0"], "threads must be at least 1, not 0"),
])
def test_bad_setting_values_get_the_settings_own_one_line_message(project_file, capsys, arguments, message):
    assert run_cli("train", project_file, *arguments) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_every_training_setting_is_an_option_and_reaches_the_run(project_file, monkeypatch):
    from netbuilder.core.settings import SETTING_LIMITS
    from netbuilder.training import cli

    seen = {}

    class Recording(cli.TrainingSession):
        def __init__(self, project, dataset_spec=None, **options):
            seen["settings"], seen["threads"] = project.training, options["threads"]
            super().__init__(project, dataset_spec, **options)

    monkeypatch.setattr(cli, "TrainingSession", Recording)
    assert run_cli("train", project_file, "--optimizer", "sgd", "--learning-rate", "0.02", "--batch-size", "8",
                   "--epochs", "1", "--weight-decay", "0.001", "--momentum", "0.5", "--nesterov",
                   "--schedule", "step", "--validation-split", "0.25", "--early-stopping-patience", "2",
                   "--seed", "7", "--device", "cpu", "--precision", "fp32", "--no-augment",
                   "--label-smoothing", "0.1", "--threads", "1") == 0
    assert seen["settings"].to_dict() == {
        "optimizer": "sgd", "learning_rate": 0.02, "batch_size": 8, "epochs": 1, "weight_decay": 0.001,
        "momentum": 0.5, "nesterov": True, "schedule": "step", "validation_split": 0.25,
        "early_stopping_patience": 2, "seed": 7, "device": "cpu", "precision": "fp32", "augment": False,
        "label_smoothing": 0.1}
    assert set(seen["settings"].to_dict()) == set(SETTING_LIMITS) and seen["threads"] == 1
    assert run_cli("train", project_file, "--lr", "0.03", "--epochs", "1") == 0  # the old name still works
    assert seen["settings"].learning_rate == 0.03


def test_without_a_terminal_a_progress_line_is_printed_within_long_epochs(project_file, capsys, monkeypatch):
    from netbuilder.training import cli

    monkeypatch.setattr(cli, "PROGRESS_LINE_SECONDS", 0.0)  # every report, instead of every 10 s
    monkeypatch.setattr(cli, "TrainingSession", functools.partial(cli.TrainingSession, report_interval=0))
    assert run_cli("train", project_file, "--epochs", 1, "--batch-size", 4) == 0
    out = capsys.readouterr().out.splitlines()
    progress = [line for line in out if line.startswith("progress")]
    assert progress and all("epoch 1  batch " in line and "samples/s" in line and "left" in line
                            for line in progress)
    assert out.index(progress[-1]) < out.index(next(line for line in out if line.startswith("epoch 1/1")))


def test_the_measured_thread_choice_is_printed_and_threads_fixes_it(project_file, capsys, monkeypatch):
    from netbuilder.training import cli
    from netbuilder.training.events import ThreadsChosen

    assert cli._threads_line(ThreadsChosen(1, {2: 896.4, 1: 2117.0}, "drift")) == (
        "threads: 1 (timed again: the machine got busier or quieter; samples/s per thread count: "
        "1 → 2,117, 2 → 896)")
    assert run_cli("train", project_file, "--epochs", 1, "--threads", 1) == 0
    assert not any(line.startswith("threads:") for line in capsys.readouterr().out.splitlines())


def test_a_layer_health_problem_is_warned_about_once(project_file, capsys, monkeypatch):
    from netbuilder.training import cli
    from netbuilder.training.events import Finished, HealthReport, LayerHealth

    dead = LayerHealth("relu1", 0.97, 0.01, 0.0, "dead", "lower the learning rate, add BatchNorm before it, "
                                                        "or use LeakyReLU.")

    class DyingSession(cli.TrainingSession):
        def events(self):
            yield HealthReport(0.5, (dead,))
            yield HealthReport(1.0, (dead,))
            yield Finished("stopped", "Stopped at epoch 1, batch 9 of 9.")

    monkeypatch.setattr(cli, "TrainingSession", DyingSession)
    assert run_cli("train", project_file) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ['warning: layer "relu1": lower the learning rate, add BatchNorm before it, or use LeakyReLU.',
                   "netbuilder: Stopped at epoch 1, batch 9 of 9."]
