import argparse
import io
import json
import sys

import pytest
import torch

from netbuilder.core.project import load_project, project_from_dict, save_project
from netbuilder.model.checkpoint import load_trained_model
from netbuilder.training import run as training_run
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
    assert out[0].startswith('Training "Points" on points: 64 training and 16 validation samples, 3 epochs, cpu, fp32')
    epochs = [line for line in out if line.startswith("epoch")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert all("val acc" in line and "samples/s" in line for line in epochs)
    assert out[-1] == f"Saved the weights, history and data recipe to {project_file.with_suffix('.safetensors')}"
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
    assert "epoch 1  batch 4/4  loss " in live and "samples/s" in live and "\rprogress" in live
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

    seen = {}

    class Recording(training_run.TrainingSession):
        def __init__(self, project, dataset_spec=None, **options):
            seen["settings"], seen["threads"] = project.training, options["threads"]
            super().__init__(project, dataset_spec, **options)

    monkeypatch.setattr(training_run, "TrainingSession", Recording)
    assert run_cli("train", project_file, "--optimizer", "sgd", "--learning-rate", "0.02", "--batch-size", "8",
                   "--epochs", "1", "--weight-decay", "0.001", "--momentum", "0.5", "--nesterov",
                   "--schedule", "step", "--validation-split", "0.25", "--early-stopping-patience", "2",
                   "--seed", "7", "--device", "cpu", "--precision", "fp32", "--no-augment",
                   "--label-smoothing", "0.1", "--from-weights", "--threads", "1") == 0
    assert seen["settings"].to_dict() == {
        "optimizer": "sgd", "learning_rate": 0.02, "batch_size": 8, "epochs": 1, "weight_decay": 0.001,
        "momentum": 0.5, "nesterov": True, "schedule": "step", "validation_split": 0.25,
        "early_stopping_patience": 2, "seed": 7, "device": "cpu", "precision": "fp32", "augment": False,
        "label_smoothing": 0.1, "start_from_weights": True}
    assert set(seen["settings"].to_dict()) == set(SETTING_LIMITS) and seen["threads"] == 1
    assert run_cli("train", project_file, "--lr", "0.03", "--epochs", "1") == 0  # the old name still works
    assert seen["settings"].learning_rate == 0.03


def test_without_a_terminal_a_progress_line_is_printed_within_long_epochs(project_file, capsys, monkeypatch):
    from netbuilder.training import cli

    monkeypatch.setattr(cli, "PROGRESS_LINE_SECONDS", 0.0)  # every report, instead of every 10 s
    every_batch = training_run.TrainingSession
    monkeypatch.setattr(training_run, "TrainingSession",
                        lambda *args, **options: every_batch(*args, **{**options, "report_interval": 0}))
    assert run_cli("train", project_file, "--epochs", 1, "--batch-size", 4) == 0
    out = capsys.readouterr().out.splitlines()
    progress = [line for line in out if line.startswith("progress")]
    assert progress and all("epoch 1  batch " in line and "samples/s" in line and "left" in line
                            for line in progress)
    assert out.index(progress[-1]) < out.index(next(line for line in out if line.startswith("epoch 1/1")))


def test_the_measured_thread_choice_is_printed_and_threads_fixes_it(project_file, capsys, monkeypatch):
    from netbuilder.training.events import ThreadsChosen

    from netbuilder.training.run_text import threads_text

    assert threads_text(ThreadsChosen(1, {2: 896.4, 1: 2117.0}, "drift")) == (
        "threads: 1 (timed again: the machine got busier or quieter; samples/s per thread count: "
        "1 → 2,117, 2 → 896)")
    assert run_cli("train", project_file, "--epochs", 1, "--threads", 1) == 0
    assert not any(line.startswith("threads:") for line in capsys.readouterr().out.splitlines())


def test_a_layer_health_problem_is_warned_about_once(project_file, capsys, monkeypatch):
    from netbuilder.training.events import Finished, HealthReport, LayerHealth

    dead = LayerHealth("relu1", 0.97, 0.01, 0.0, "dead", "lower the learning rate, add BatchNorm before it, "
                                                        "or use LeakyReLU.")

    class DyingSession(training_run.TrainingSession):
        def events(self):
            yield HealthReport(0.5, (dead,))
            yield HealthReport(1.0, (dead,))
            yield Finished("stopped", "Stopped at epoch 1, batch 9 of 9.")

    monkeypatch.setattr(training_run, "TrainingSession", DyingSession)
    assert run_cli("train", project_file) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ['warning: layer "relu1": lower the learning rate, add BatchNorm before it, or use LeakyReLU.',
                   "netbuilder: Stopped at epoch 1, batch 9 of 9."]


# --- keeping the user's work ---------------------------------------------------------------------

def _nan_from_epoch(epoch: int, monkeypatch, batches_per_epoch: int) -> None:
    """The training loss becomes NaN from the first batch of `epoch` on."""
    from netbuilder.training import trainer

    calls = {"count": 0}
    real_loss = trainer.task_loss

    def loss(outputs, targets, task, label_smoothing=0.0):
        calls["count"] += 1
        value = real_loss(outputs, targets, task, label_smoothing)
        return value * float("nan") if calls["count"] > (epoch - 1) * batches_per_epoch else value

    monkeypatch.setattr(trainer, "task_loss", loss)


def test_a_nan_loss_saves_the_best_weights_so_far_as_it_says(project_file, capsys, monkeypatch):
    _nan_from_epoch(3, monkeypatch, batches_per_epoch=4)  # 64 training samples at batch 16
    assert run_cli("train", project_file, "--epochs", 5) == 2
    captured = capsys.readouterr()
    assert "The loss became NaN at epoch 3, batch 1" in captured.err and "kept the weights of epoch" in captured.err
    assert captured.out.splitlines()[-1] == f"Saved the weights, history and data recipe to {project_file.with_suffix('.safetensors')}"
    trained = load_trained_model(load_project(project_file), project_file)
    assert [epoch.epoch for epoch in trained.history.epochs] == [1, 2]
    assert all(torch.isfinite(p).all() for p in trained.model.parameters())


def test_a_nan_loss_in_the_first_epoch_saves_nothing_and_says_so(project_file, capsys, monkeypatch):
    _nan_from_epoch(1, monkeypatch, batches_per_epoch=4)
    assert run_cli("train", project_file) == 2
    assert "restored the initial weights" in capsys.readouterr().err
    assert not project_file.with_suffix(".safetensors").exists()


def _signal_after_epoch(monkeypatch, *signals_to_send, after: int = 1) -> None:
    """Send the signals to this process as the CLI prints the line of epoch `after`, as a user's
    Ctrl+C (or a service manager's SIGTERM) would arrive mid-run."""
    import os

    from netbuilder.training import cli

    real_line = cli.epoch_text

    def line(epoch, speed):
        if epoch.epoch == after:
            for number in signals_to_send:
                os.kill(os.getpid(), number)
        return real_line(epoch, speed)

    monkeypatch.setattr(cli, "epoch_text", line)


@pytest.mark.parametrize("signal_name, status", [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_or_sigterm_stops_and_saves_the_best_weights_so_far(project_file, capsys, monkeypatch,
                                                                    signal_name, status):
    import signal

    # whatever the suite started with: Python's default, or SIG_IGN when run as a background job
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    _signal_after_epoch(monkeypatch, getattr(signal, signal_name))
    assert run_cli("train", project_file, "--epochs", 50) == status
    captured = capsys.readouterr()
    assert "stopping after this batch; the best epoch so far is saved" in captured.err
    assert "Traceback" not in captured.err
    assert "Stopped at epoch 2, batch 1 of 4; kept the weights of epoch 1, the best so far." in captured.err
    assert captured.out.splitlines()[-1].startswith("Saved the weights, history and data recipe to ")
    trained = load_trained_model(load_project(project_file), project_file)
    assert [epoch.epoch for epoch in trained.history.epochs] == [1]
    assert {number: signal.getsignal(number) for number in before} == before  # the handlers are put back


def test_a_second_ctrl_c_quits_at_once_without_saving(project_file, capsys, monkeypatch):
    import signal

    _signal_after_epoch(monkeypatch, signal.SIGINT, signal.SIGINT)
    assert run_cli("train", project_file, "--epochs", 50) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "netbuilder: interrupted; nothing was saved"
    assert not project_file.with_suffix(".safetensors").exists()


@pytest.mark.parametrize("command", ["train", "export", "export-code", "import-weights"])
def test_where_a_command_writes_is_checked_before_it_works(project_file, tmp_path, capsys, monkeypatch, command):

    started = []
    monkeypatch.setattr(training_run, "TrainingSession", lambda *args, **kwargs: started.append(args))
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    out = {"train": blocker, "export": tmp_path / "missing" / "net.pt", "export-code": tmp_path,
           "import-weights": tmp_path / "missing" / "w.safetensors"}[command]
    arguments = {"train": [], "export": ["--format", "torchscript"], "export-code": [],
                 "import-weights": [tmp_path / "no.safetensors"]}[command]
    assert run_cli(command, project_file, *arguments, "--out", out) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert {"train": "is a file, not a folder", "export": "does not exist: create it first",
            "export-code": "is a folder: give a file name", "import-weights": "does not exist"}[command] in err
    assert not started and blocker.read_text() == "keep me"


def test_events_never_go_into_a_file_the_run_reads(project_file, capsys):
    before = project_file.read_bytes()
    assert run_cli("train", project_file, "--events-jsonl", project_file) == 2
    assert "is also the file this command reads" in capsys.readouterr().err
    assert project_file.read_bytes() == before


# --- training edge cases --------------------------------------------------------------------------

def test_classifying_continuous_targets_says_to_choose_regression(tmp_path, capsys):
    rows = ["x1,x2,label"] + [f"{i * 0.1},{i * 0.2},{(i * 37 % 100) / 50:.2f}" for i in range(60)]
    (tmp_path / "measured.csv").write_text("\n".join(rows) + "\n")
    project = json.loads(json.dumps(_points_document(tmp_path / "measured.csv")))
    save_project(project_from_dict(project), tmp_path / "measured.nbproj")
    assert run_cli("train", tmp_path / "measured.nbproj") == 2
    err = capsys.readouterr().err
    assert "look like continuous targets: set the Output's task to regression" in err and len(err.splitlines()) == 1


def _points_document(data):
    nodes = [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": [2]}},
             {"id": "b", "type": "dense", "name": "fc1", "params": {"units": 2}},
             {"id": "c", "type": "output", "name": "output1", "params": {"task": "classification"}}]
    return {"format": "netbuilder-project", "version": 1, "name": "Measured", "nodes": nodes,
            "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}], "dataset": str(data),
            "training": {"epochs": 1, "batch_size": 16, "device": "cpu"}}


def test_ctrl_c_before_the_first_epoch_ends_says_nothing_was_saved(project_file, capsys, monkeypatch):
    import os
    import signal

    from netbuilder.training import cli

    real_started_line = cli.started_text

    def started_line(*args):
        os.kill(os.getpid(), signal.SIGINT)
        return real_started_line(*args)

    monkeypatch.setattr(cli, "started_text", started_line)
    assert run_cli("train", project_file, "--epochs", 50) == 130
    err = capsys.readouterr().err.splitlines()
    assert err[-2:] == ["netbuilder: Stopped at epoch 1, batch 1 of 4.",
                        "netbuilder: nothing was saved: no epoch had ended"]
    assert not project_file.with_suffix(".safetensors").exists()
