"""Pause, resume, stop and settings changes, in every order, from another thread."""
import threading

import pytest
import torch
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from netbuilder.core.layers import ParamError
from netbuilder.training.control import RunControl, StopRequested, TrainingError
from netbuilder.training.events import EpochEnded, Finished, SettingsChanged, Started
from netbuilder.training.trainer import Trainer, bfloat16_supported

FINISH_WITHIN = 20  # seconds; only reached when a run hangs


def run_in_thread(trainer: Trainer):
    """Start trainer.run() on a worker thread; returns (thread, received events)."""
    received: list = []
    worker = threading.Thread(target=lambda: received.extend(trainer.run()), daemon=True)
    worker.start()
    return worker, received


def finished_run(worker: threading.Thread, received: list) -> list:
    worker.join(FINISH_WITHIN)
    assert not worker.is_alive(), "the run hung"
    assert [e for e in received if isinstance(e, Finished)] == [received[-1]]
    return received


@pytest.fixture
def trainer(make_blobs, make_mlp, settings):
    return Trainer(make_mlp(), make_blobs(val_count=30), settings, "classification", report_interval=0, threads=1)


def test_stop_then_pause_ends_the_run_instead_of_holding_it(trainer):
    trainer.stop()
    trainer.pause()
    events = finished_run(*run_in_thread(trainer))
    assert events == [Finished("stopped", "Stopped before training started.")]


def test_pause_after_a_stop_during_the_run_does_not_hold_it(trainer):
    events = trainer.run()
    next(events), next(events)
    trainer.stop()
    trainer.pause()
    assert trainer.state == "stopping"
    assert next(events).reason == "stopped" and trainer.state == "finished"


def test_a_second_run_trains_all_epochs_after_a_stopped_one(trainer):
    events = trainer.run()
    next(events), next(events)
    trainer.stop()
    assert list(events)[-1].reason == "stopped"
    second = list(trainer.run())
    assert second[-1].reason == "completed" and len([e for e in second if isinstance(e, EpochEnded)]) == 3


def test_stop_while_paused_wakes_and_ends_the_run(trainer):
    trainer.pause()
    worker, received = run_in_thread(trainer)
    threading.Timer(0.2, trainer.stop).start()
    events = finished_run(worker, received)
    assert [type(e) for e in events] == [Started, Finished] and events[-1].reason == "stopped"


def test_calls_after_the_end_change_nothing(trainer):
    assert list(trainer.run())[-1].reason == "completed"
    for call in (trainer.pause, trainer.resume, trainer.stop, trainer.pause):
        call()
        assert trainer.state == "finished"
    with pytest.raises(TrainingError, match="only while training is paused"):
        trainer.change_settings(learning_rate=0.1)


def test_resume_before_the_start_cancels_an_earlier_pause(trainer):
    trainer.pause()
    trainer.resume()
    events = finished_run(*run_in_thread(trainer))
    assert events[-1].reason == "completed"


def test_the_state_follows_the_run(trainer):
    assert trainer.state == "idle"
    events = trainer.run()
    next(events)
    assert trainer.state == "running"
    trainer.pause()
    assert trainer.state == "paused"
    trainer.resume()
    next(events)
    trainer.stop()
    assert trainer.state == "stopping"
    list(events)
    assert trainer.state == "finished"


ACTIONS = st.lists(st.tuples(st.sampled_from(["pause", "resume", "stop", "change"]),
                             st.floats(0, 0.02)), max_size=8)


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_any_sequence_of_calls_from_another_thread_ends_with_one_finished(make_blobs, make_mlp, settings, actions):
    trainer = Trainer(make_mlp(), make_blobs(count=120), settings.replace(epochs=2), "classification",
                      report_interval=0, threads=1)
    worker, received = run_in_thread(trainer)
    for action, delay in actions:
        threading.Event().wait(delay)
        if action == "change":
            try:
                trainer.change_settings(learning_rate=0.005)
            except TrainingError:  # not paused at that moment
                pass
        else:
            getattr(trainer, action)()
    trainer.stop()  # a paused run without a resume would wait for the user forever
    events = finished_run(worker, received)
    assert trainer.state == "finished"
    assert events[-1].reason in ("completed", "stopped")
    assert not any(isinstance(e, Started) for e in events[1:])  # Started comes first, if at all
    for change in (e for e in events if isinstance(e, SettingsChanged)):
        ((name, rate_before, rate_after),) = change.changes  # the rates in use, which the schedule lowers
        assert name == "learning_rate" and rate_after == pytest.approx(rate_before / 2)


def test_changing_a_setting_needs_a_pause_and_a_valid_value():
    control = RunControl()
    with pytest.raises(TrainingError, match="pause it first"):
        control.change_settings(learning_rate=0.01)
    control.begin()
    control.pause()
    control.training()
    assert control.state == "paused"
    with pytest.raises(ParamError, match="learning rate must be at most 10"):
        control.change_settings(learning_rate=100.0)
    with pytest.raises(ParamError, match="optimizer must be one of"):
        control.change_settings(optimizer="newton")
    with pytest.raises(ParamError, match="batch size cannot change during a run"):
        control.change_settings(batch_size=8)
    control.change_settings(learning_rate=0.01)
    control.change_settings(weight_decay=0.1)
    control.resume()
    assert control.checkpoint()[1] == {"learning_rate": 0.01, "weight_decay": 0.1}
    control.stop()
    with pytest.raises(StopRequested):
        control.checkpoint()


class ControlMachine(RuleBasedStateMachine):
    """The user's calls and the run's steps in any order: the state is always the one the
    transition table in control.py gives, and no call blocks or fails where it should not."""

    def __init__(self):
        super().__init__()
        self.control = RunControl()
        self.state, self.pause_pending, self.stopped_before_start = "idle", False, False

    @rule()
    def pause(self):
        self.control.pause()
        if self.state == "running":
            self.state = "paused"
        elif self.state in ("idle", "preparing"):
            self.pause_pending = True

    @rule()
    def resume(self):
        self.control.resume()
        if self.state == "paused":
            self.state = "running"
        elif self.state in ("idle", "preparing"):
            self.pause_pending = False

    @rule()
    def stop(self):
        self.control.stop()
        if self.state == "idle":
            self.state, self.stopped_before_start = "finished", True
        elif self.state in ("preparing", "running", "paused"):
            self.state = "stopping"

    @rule()
    def change_settings(self):
        if self.state == "paused":
            self.control.change_settings(learning_rate=0.01)
        else:
            with pytest.raises(TrainingError):
                self.control.change_settings(learning_rate=0.01)

    @precondition(lambda self: self.state in ("idle", "finished"))
    @rule()
    def begin(self):
        began = self.control.begin()
        if self.state == "finished" and self.stopped_before_start:
            assert not began
            self.stopped_before_start = False
        else:
            assert began
            self.state = "preparing"

    @precondition(lambda self: self.state in ("preparing", "stopping"))
    @rule()
    def start_training(self):
        if self.state == "stopping":
            with pytest.raises(StopRequested):
                self.control.training()
            return
        self.control.training()
        self.state, self.pause_pending = ("paused" if self.pause_pending else "running"), False

    @precondition(lambda self: self.state in ("running", "stopping"))  # paused: it would hold, as it should
    @rule()
    def checkpoint(self):
        if self.state == "stopping":
            with pytest.raises(StopRequested):
                self.control.checkpoint()
        else:
            self.control.checkpoint()

    @precondition(lambda self: self.state not in ("idle", "finished"))
    @rule()
    def end(self):
        self.control.end()
        self.state, self.pause_pending = "finished", False

    @invariant()
    def same_state(self):
        assert self.control.state == self.state


TestControlMachine = ControlMachine.TestCase
TestControlMachine.settings = hypothesis_settings(max_examples=150, stateful_step_count=30, deadline=None)


class StopsInside(torch.nn.Module):
    """A small network that asks its trainer to stop when `when(self, inputs)` holds during a
    forward pass, and counts the passes in which it holds."""

    def __init__(self, when):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        self.when, self.trainer, self.calls = when, None, 0

    def forward(self, x):
        if self.when(self, x):
            self.calls += 1
            self.trainer.stop()
        return self.linear(x)


def test_a_stop_during_validation_ends_it_after_the_current_chunk(make_blobs, settings):
    # in eval mode without gradients on more than the data check's two samples: validation
    model = StopsInside(lambda module, x: not module.training and not torch.is_grad_enabled() and len(x) > 2)
    data = make_blobs(count=64, val_count=3000)  # six chunks of 512
    model.trainer = Trainer(model, data, settings, "classification", threads=1)
    events = list(model.trainer.run())
    assert events[-1] == Finished("stopped", "Stopped during the validation of epoch 1.")
    assert model.calls == 1


@pytest.mark.skipif(not bfloat16_supported(torch.device("cpu")), reason="this CPU has no bfloat16")
def test_a_stop_during_the_fast_mode_check_ends_it_before_its_second_pass(make_blobs, settings):
    model = StopsInside(lambda module, x: not module.training and torch.is_grad_enabled())
    model.trainer = Trainer(model, make_blobs(), settings.replace(precision="fast"), "classification", threads=1)
    events = list(model.trainer.run())
    assert events == [Finished("stopped", "Stopped before training started.")] and model.calls == 1
