"""Events written as JSON lines by a torchrun process read back as the same dataclasses."""
import math

import numpy as np
import pytest

from netbuilder.training.event_stream import event_line, read_event
from netbuilder.training.events import (BatchEnded, EpochEnded, Finished, HealthReport, LayerHealth, Preparing,
                                        SettingsChanged, Started, ThreadsChosen, ValidationSamples)

EVENTS = [
    Preparing(3, 10, "Reading digits"),
    Started("cpu", "fp32", 900, 100, 15, notes=("fast fell back",), epochs=2, threads=4, class_names=("a", "b")),
    BatchEnded(1, 3, 15, 0.75, 192, 1234.5, position=0.2, smoothed_loss=float("nan"), learning_rate=1e-3,
               elapsed_seconds=1.5, remaining_seconds=None, progress=0.1),
    EpochEnded(1, 2, 0.5, 0.8, 0.6, None, 1e-3, 2.0),
    SettingsChanged(0.5, 1, 64, (("learning_rate", 0.001, 0.0003), ("optimizer", "adam", "sgd"))),
    ThreadsChosen(2, {1: 100.0, 2: 180.5}, "start"),
    HealthReport(0.4, (LayerHealth("dense1", 0.9, 1.0, 1e-9, "dead", "lower the rate"),
                       LayerHealth("out", None, 2.0, 3.0))),
    Finished("failed", "It broke", details="Traceback ..."),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_every_event_type_reads_back_equal_from_one_line(event):
    line = event_line(event)
    assert "\n" not in line
    back = read_event(line)
    assert type(back) is type(event)
    for name, value in vars(event).items():
        again = getattr(back, name)
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(again)
        else:
            assert again == value and type(again) is type(value), name


def test_confusion_and_per_class_arrays_keep_their_values_dtype_and_shape():
    confusion = np.array([[5, 1], [0, 7]], dtype=np.int64)
    per_class = np.array([0.8, np.nan], dtype=np.float64)
    back = read_event(event_line(EpochEnded(2, 2, 0.1, 0.9, 0.2, 0.85, 1e-4, 1.0, confusion=confusion,
                                            per_class_accuracy=per_class)))
    assert back.confusion.dtype == np.int64 and np.array_equal(back.confusion, confusion)
    assert back.per_class_accuracy.dtype == np.float64
    assert np.array_equal(back.per_class_accuracy, per_class, equal_nan=True)


def test_validation_samples_and_per_sample_predictions_are_left_out():
    started = Started("cpu", "fp32", 10, 2, 1, validation=ValidationSamples(np.zeros((2, 3), np.float32),
                                                                            np.zeros(2, np.int64), "vector"))
    assert read_event(event_line(started)).validation is None
    epoch = EpochEnded(1, 1, 0.1, 0.9, 0.2, 0.8, 1e-3, 1.0, val_predictions=np.zeros(2, np.int64))
    assert read_event(event_line(epoch)).val_predictions is None


@pytest.mark.parametrize("line", ['{"event": "Nonsense", "fields": {}}', '[1, 2]', '"text"'])
def test_a_line_holding_no_event_is_refused(line):
    with pytest.raises(ValueError):
        read_event(line)


def test_the_train_command_writes_every_event_it_reports_as_lines_ending_with_finished(
        tmp_path, cli, make_project, cluster_rows):
    (tmp_path / "train.csv").write_text(cluster_rows([20, 20, 20], seed=0))
    project = make_project(tmp_path / "points.nbproj", tmp_path / "train.csv", [("dense", {"units": 3})],
                           {"kind": "vector", "shape": [2]}, epochs=2)
    assert cli("train", project, "--events-jsonl", tmp_path / "events.jsonl") == 0
    events = [read_event(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert sum(isinstance(event, Started) for event in events) == 1
    assert sum(isinstance(event, BatchEnded) for event in events) >= 2
    assert [event.epoch for event in events if isinstance(event, EpochEnded)] == [1, 2]
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed"


def test_an_events_file_that_cannot_be_written_is_one_line_before_training(tmp_path, cli, capsys, make_project,
                                                                             cluster_rows):
    (tmp_path / "train.csv").write_text(cluster_rows([20, 20, 20], seed=0))
    project = make_project(tmp_path / "points.nbproj", tmp_path / "train.csv", [("dense", {"units": 3})],
                           {"kind": "vector", "shape": [2]})
    assert cli("train", project, "--events-jsonl", tmp_path / "no-folder" / "events.jsonl") == 2
    error = capsys.readouterr().err
    assert error.startswith("netbuilder: The folder ") and "does not exist" in error and error.count("\n") == 1
