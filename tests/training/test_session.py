"""A training session: preparation and training as one stream of events, and its controls."""
import threading

import numpy as np
import pytest
import torch

from netbuilder.core.project import project_from_dict
from netbuilder.training.events import (BatchEnded, EpochEnded, Finished, HealthReport, Preparing,
                                        SettingsChanged, Started, ThreadsChosen)
from netbuilder.training.session import TrainingSession
from netbuilder.training.threads import candidate_counts, usable_cores

FINISH_WITHIN = 20  # seconds; only reached when something hangs


def project(dataset="", hidden=16, epochs=2, features=4, **training):
    nodes = [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": [features]}},
             {"id": "b", "type": "dense", "name": "fc1", "params": {"units": hidden}},
             {"id": "r", "type": "relu", "name": "relu1", "params": {}},
             {"id": "c", "type": "dense", "name": "fc2", "params": {"units": 3}},
             {"id": "o", "type": "output", "name": "output1", "params": {"task": "classification"}}]
    edges = [{"source": s, "target": t} for s, t in (("a", "b"), ("b", "r"), ("r", "c"), ("c", "o"))]
    return project_from_dict({"format": "netbuilder-project", "version": 1, "nodes": nodes, "edges": edges,
                              "dataset": dataset, "training": {"epochs": epochs, "batch_size": 16,
                                                               "learning_rate": 0.01, "device": "cpu", **training}})


def of_type(events, kind):
    return [e for e in events if isinstance(e, kind)]


def test_a_session_prepares_trains_and_reports_what_the_panels_show(make_blobs):
    data = make_blobs(count=240, val_count=60)
    session = TrainingSession(project(), dataset=data, report_interval=0, health_interval=0, threads=1)
    events = list(session.events())

    assert isinstance(events[0], Preparing)
    started = of_type(events, Started)[0]
    assert (started.epochs, started.threads, started.class_names) == (2, 1, ("class 0", "class 1", "class 2"))
    assert np.array_equal(started.validation.x, data.val_x.numpy()) and started.validation.kind == "vector"
    batches = of_type(events, BatchEnded)
    assert [b.position for b in batches[:2]] == [1 / 15, 2 / 15] and batches[-1].position == 2.0
    assert batches[-1].progress == 1.0 and batches[-1].remaining_seconds == 0.0
    assert all(0 < b.learning_rate <= 0.01 and np.isfinite(b.smoothed_loss) for b in batches)
    assert batches[0].smoothed_loss == batches[0].loss  # debiased: the first report is the loss itself
    epoch = of_type(events, EpochEnded)[-1]
    assert epoch.confusion.sum() == 60 and np.trace(epoch.confusion) / 60 == epoch.val_accuracy
    assert epoch.val_probabilities.shape == (60, 3)
    assert np.allclose(epoch.val_probabilities.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(epoch.val_predictions, epoch.val_probabilities.argmax(axis=1))
    assert len(of_type(events, HealthReport)) > 0 and events[-1].reason == "completed"
    assert session.state == "finished" and not session.model.training

    history = session.history()
    assert history.class_names == ["class 0", "class 1", "class 2"] and len(history.epochs) == 2
    assert history.reports == [(b.position, b.loss, b.smoothed_loss, b.learning_rate) for b in batches]


def test_preparation_errors_become_a_failed_finish(make_blobs):
    events = list(TrainingSession(project(dataset="")).events())
    assert events[-1].reason == "failed" and "No dataset is chosen" in events[-1].message
    assert of_type(events, Started) == []

    events = list(TrainingSession(project(), dataset=make_blobs(features=5)).events())
    assert events[-1].reason == "failed" and "Input" in events[-1].message


def test_stop_during_data_generation_abandons_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path))
    session = TrainingSession(project(dataset="digits", features=784))  # 190,000 digits: minutes of work
    events = []
    for event in session.events():
        events.append(event)
        if isinstance(event, Preparing) and event.done > 0:
            session.stop()
    assert events[-1] == Finished("stopped", "Stopped while preparing the data.")
    assert session.model is None and list(tmp_path.glob("digits-*.npz")) == []


def test_stop_ends_the_session_even_while_a_loader_reports_no_progress(make_blobs, monkeypatch):
    from netbuilder.training import session as session_module

    release = threading.Event()

    def silent_loader(*args, **options):  # like reading a big CSV file: no progress calls
        release.wait(FINISH_WITHIN)
        raise AssertionError("the session waited for the loader")

    monkeypatch.setattr(session_module, "prepare", silent_loader)
    session = TrainingSession(project(), dataset=make_blobs())
    threading.Timer(0.2, session.stop).start()
    try:
        assert list(session.events())[-1] == Finished("stopped", "Stopped while preparing the data.")
        assert session.state == "finished"
    finally:
        release.set()


def test_stop_before_the_session_starts():
    session = TrainingSession(project(dataset="digits"))
    session.stop()
    assert list(session.events()) == [Finished("stopped", "Stopped before training started.")]


def test_a_pause_before_the_start_holds_the_run_before_its_first_batch(make_blobs):
    session = TrainingSession(project(), dataset=make_blobs(), report_interval=0, threads=1)
    session.pause()
    received = []
    worker = threading.Thread(target=lambda: received.extend(session.events()), daemon=True)
    worker.start()
    while not of_type(received, Started):
        worker.join(0.01)
    assert session.state == "paused"
    session.resume()
    worker.join(20)
    assert received[-1].reason == "completed"


def train_with_a_change(make_blobs, changes, *, schedule="cosine", optimizer="adam"):
    """Pause after the first epoch's fifth report, change settings, resume; the session's events."""
    session = TrainingSession(project(epochs=4, schedule=schedule, optimizer=optimizer), dataset=make_blobs(),
                              report_interval=0, threads=1)
    events = []
    for event in session.events():
        events.append(event)
        if isinstance(event, BatchEnded) and event.epoch == 2 and event.batch == 5:
            session.pause()
            session.change_settings(**changes)
            threading.Timer(0.05, session.resume).start()
    return session, events


def test_a_new_learning_rate_rescales_the_schedule_and_the_run_goes_on(make_blobs):
    _, plain = train_with_a_change(make_blobs, {})
    session, changed = train_with_a_change(make_blobs, {"learning_rate": 0.001})
    (change,) = of_type(changed, SettingsChanged)
    batches = of_type(changed, Started)[0].batches_per_epoch
    rate_then = [b.learning_rate for b in of_type(plain, BatchEnded)][batches + 5]  # the next batch's, unchanged
    ((name, rate_before, rate_after),) = change.changes  # the rates in use, not the schedule's base
    assert name == "learning_rate" and rate_before == pytest.approx(rate_then)
    assert rate_after == pytest.approx(rate_then / 10) and change.label.startswith("lr ")
    assert change.epoch == 2 and change.position == pytest.approx(1 + 5 / batches)
    plain_rates = [b.learning_rate for b in of_type(plain, BatchEnded)]
    new_rates = [b.learning_rate for b in of_type(changed, BatchEnded)]
    assert len(plain_rates) == len(new_rates) == 4 * batches  # the same run: no batch repeated or skipped
    done = batches + 5
    assert new_rates[:done] == plain_rates[:done]
    assert new_rates[done:] == pytest.approx([rate / 10 for rate in plain_rates[done:]])  # same cosine, a tenth
    assert changed[-1].reason == "completed" and session.history().changes == [change]


def test_a_new_optimizer_continues_from_the_same_schedule_step(make_blobs):
    _, plain = train_with_a_change(make_blobs, {}, schedule="one_cycle")
    _, changed = train_with_a_change(make_blobs, {"optimizer": "sgd", "weight_decay": 0.01}, schedule="one_cycle")
    assert of_type(changed, SettingsChanged)[0].changes == (("optimizer", "adam", "sgd"), ("weight_decay", 0.0, 0.01))
    assert [b.learning_rate for b in of_type(changed, BatchEnded)] == pytest.approx(
        [b.learning_rate for b in of_type(plain, BatchEnded)])
    assert changed[-1].reason == "completed"


def test_the_thread_count_is_chosen_by_timing_unless_fixed(make_blobs):
    threads_before = torch.get_num_threads()
    events = list(TrainingSession(project(epochs=3), dataset=make_blobs(count=480), report_interval=0,
                                  health_interval=1e9).events())
    chosen = of_type(events, ThreadsChosen)
    if usable_cores() > 1:
        assert chosen[0].reason == "start"
        assert set(chosen[0].samples_per_second) == set(candidate_counts(usable_cores()))
        assert chosen[0].threads == max(chosen[0].samples_per_second, key=chosen[0].samples_per_second.get)
    else:  # one core: nothing to choose
        assert chosen == []
    fixed = list(TrainingSession(project(), dataset=make_blobs(), threads=1).events())
    assert of_type(fixed, ThreadsChosen) == [] and of_type(fixed, Started)[0].threads == 1
    assert torch.get_num_threads() == threads_before  # the run gives the process its setting back


def test_a_run_leaves_torch_global_generator_as_it_was(make_blobs):
    """The GUI thread (and any other) draws from the same global generator: a run must not reseed it."""
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    events = list(TrainingSession(project(seed=5), dataset=make_blobs(), threads=1).events())
    assert events[-1].reason == "completed"
    assert torch.equal(torch.get_rng_state(), before)


def test_a_running_session_refuses_a_second_stream_and_runs_again_once_finished(make_blobs):
    session = TrainingSession(project(epochs=1), dataset=make_blobs(), threads=1)
    first = session.events()
    next(first)
    assert list(session.events()) == [
        Finished("failed", "This training session is already running: stop it before starting it again.")]
    assert list(first)[-1].reason == "completed"
    again = list(session.events())
    assert again[-1].reason == "completed" and len(of_type(again, EpochEnded)) == 1


def test_a_dropped_event_stream_ends_the_session(make_blobs):
    session = TrainingSession(project(epochs=1), dataset=make_blobs(), threads=1)
    stream = session.events()
    next(stream)  # preparing
    stream.close()
    assert session.state == "finished"
    stream = session.events()
    assert isinstance(next(stream), Preparing) and next(stream) and session.state == "running"
    stream.close()  # during training
    assert session.state == "finished" and not session.model.training
