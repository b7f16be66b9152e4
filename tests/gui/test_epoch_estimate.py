"""The status bar's epoch time: timed off the GUI thread, once per network, and kept current."""
import threading

import pytest

from netbuilder.core.commands import MoveNodes, RemoveNodes, SetTraining
from netbuilder.core.project import load_template
from netbuilder.gui.document import Document
from netbuilder.gui.epoch_estimate import EpochEstimate
from netbuilder.training import estimate


@pytest.fixture
def timings(monkeypatch):
    """Replaces the timing with 10 ms a batch, recording the thread and batch size of each call."""
    calls = []

    def fake(graph, settings):
        calls.append((threading.current_thread(), settings.batch_size))
        return [0.01] * estimate.TIMED_STEPS

    monkeypatch.setattr(estimate, "batch_times", fake)
    return calls


def test_an_epoch_is_timed_off_the_gui_thread_once_per_network(qtbot, timings):
    document = Document(load_template("2-cnn"))
    estimate_ = EpochEstimate(document)
    qtbot.waitUntil(lambda: estimate_.text != "", timeout=5000)
    assert estimate_.text == "≈ 9 s per epoch on digits"  # 938 batches of 64 at 10 ms
    assert [thread is threading.main_thread() for thread, _ in timings] == [False]

    first = next(iter(document.graph.nodes))
    document.push(MoveNodes({first: ((0, 0), (50, 50))}))  # the same network: no timing again
    document.push(SetTraining(document.project, {"batch_size": 128}))
    qtbot.waitUntil(lambda: estimate_.text == "≈ 5 s per epoch on digits", timeout=5000)
    document.undo_stack.undo()
    qtbot.waitUntil(lambda: estimate_.text == "≈ 9 s per epoch on digits", timeout=5000)
    assert [batch for _, batch in timings] == [64, 128]


def test_no_estimate_while_the_network_has_an_error(qtbot, timings):
    document = Document(load_template("2-cnn"))
    estimate_ = EpochEstimate(document)
    qtbot.waitUntil(lambda: estimate_.text != "", timeout=5000)
    (flatten,) = [n for n in document.graph.nodes.values() if n.type_id == "flatten"]

    document.push(RemoveNodes([flatten.id]))  # Dense is left without an input: an error

    qtbot.waitUntil(lambda: estimate_.text == "", timeout=5000)
    assert len(timings) == 1


def test_a_network_too_large_for_the_memory_free_is_not_timed_and_says_so(qtbot, monkeypatch):
    from netbuilder.core import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 2**30)  # the real batch_times refuses first
    document = Document(load_template("2-cnn"))
    document.push(SetTraining(document.project, {"batch_size": 65536}))
    estimate_ = EpochEstimate(document)
    qtbot.waitUntil(lambda: estimate_.text != "", timeout=20000)
    assert estimate_.text == "Too large to train in the memory free"


def test_a_closed_windows_estimate_times_nothing_more(qtbot, timings):
    """A timing started after the window closed would still be inside torch when Python exits."""
    document = Document(load_template("2-cnn"))
    estimate_ = EpochEstimate(document)
    qtbot.waitUntil(lambda: estimate_.text != "", timeout=5000)
    document.push(SetTraining(document.project, {"batch_size": 128}))  # queues a timing

    estimate_.shutdown()
    estimate_.update_now()  # as the settle timer or a finished timing would call it

    for thread in threading.enumerate():
        if thread.name == "epoch-estimate":
            thread.join()
    assert not estimate_._settle.isActive()
    assert [batch for _, batch in timings] == [64]
