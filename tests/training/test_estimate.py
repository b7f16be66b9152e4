"""The epoch-time estimate: real training steps on the compiled network, timed."""
import math

import pytest

from netbuilder.core.compile import CompileError
from netbuilder.core.graph import Graph
from netbuilder.core.project import load_template
from netbuilder.core.settings import TrainingSettings
from netbuilder.training import estimate
from netbuilder.training.estimate import TimingPool, batch_times, duration_text, epoch_seconds


def _small_network():
    graph = Graph()
    graph.chain(graph.add("input", kind="vector", shape=(8,)), graph.add("dense"), graph.add("dense", units=3),
                graph.add("output"))
    return graph


def test_a_batch_is_timed_for_images_vectors_and_token_ids():
    assert len(batch_times(load_template("2-cnn").graph, TrainingSettings(batch_size=8))) == estimate.TIMED_STEPS
    assert all(t > 0 for t in batch_times(_small_network(), TrainingSettings(batch_size=16, optimizer="sgd")))
    tokens = Graph()
    tokens.chain(tokens.add("input", kind="tokens", shape=(6,)), tokens.add("embedding"), tokens.add("lstm"),
                 tokens.add("dense", units=2), tokens.add("output"))
    assert all(t > 0 for t in batch_times(tokens, TrainingSettings(batch_size=4)))


def test_a_network_with_problems_is_not_timed():
    graph = Graph()
    graph.chain(graph.add("input"), graph.add("dense"), graph.add("output"))  # an image into Dense
    with pytest.raises(CompileError):
        batch_times(graph, TrainingSettings(batch_size=8))


def test_an_epoch_is_the_batches_of_the_training_set_and_unknown_for_the_users_own_data():
    assert epoch_seconds("digits", 64, 0.01) == pytest.approx(math.ceil(60_000 / 64) * 0.01)  # of the 180,000 held
    assert epoch_seconds(" MNIST ", 100, 0.5) == pytest.approx(600 * 0.5)
    assert epoch_seconds("/home/me/flowers.csv", 64, 0.01) is None


def test_steps_are_timed_at_each_thread_count_the_trainer_tries_and_the_fastest_counts(monkeypatch):
    """The trainer keeps the fastest thread count, so the estimate times with it; this thread's
    count is put back afterwards."""
    import torch

    from netbuilder.training import threads

    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    seen, medians = [], {1: 0.3, 2: 0.1}
    monkeypatch.setattr(estimate, "_step_times", lambda *_: seen.append(torch.get_num_threads())
                        or [medians[torch.get_num_threads()]] * estimate.TIMED_STEPS)
    before = torch.get_num_threads()
    assert batch_times(_small_network(), TrainingSettings(batch_size=16)) == [0.1] * estimate.TIMED_STEPS
    assert seen == [1, 2] and torch.get_num_threads() == before


def test_agreeing_times_give_one_figure_and_no_second_timing():
    pool = TimingPool()
    pool.add([0.044, 0.045, 0.043, 0.044, 0.046])
    low, median, high = pool.figure()
    assert median == 0.044 and pool.sure and not pool.wants_another_timing
    assert duration_text(*(1000 * x for x in pool.figure()), pool.sure) == "≈ 44 s"


def test_times_that_disagree_give_a_range_and_are_timed_again_up_to_the_limit():
    """The 34 to 72 s jumps of a busy machine: a range, narrowed by pooling further timings."""
    pool = TimingPool()
    pool.add([0.034, 0.072, 0.040, 0.070, 0.036])
    assert not pool.sure and pool.wants_another_timing
    low, median, high = pool.figure()
    assert duration_text(1000 * low, 1000 * median, 1000 * high, pool.sure) == f"{1000 * low:.0f}–{1000 * high:.0f} s"
    for _ in range(estimate.MAX_TIMINGS - 1):
        pool.add([0.044, 0.045, 0.044, 0.043, 0.044])
    assert pool.sure and pool.figure()[1] == 0.044  # the agreeing timings outweigh the noisy one
    noisy = TimingPool()
    for _ in range(estimate.MAX_TIMINGS):
        noisy.add([0.01, 0.1, 0.01, 0.1, 0.05])
    assert not noisy.sure and not noisy.wants_another_timing  # the range stays; no endless timing


@pytest.mark.parametrize("low, median, high, sure, text", [
    (40, 44, 48, True, "≈ 44 s"), (34, 44, 72, False, "34–72 s"), (0.004, 0.01, 0.012, False, "4–12 ms"),
    (60, 100, 200, False, "1–3 min"), (3000, 6000, 7000, False, "0.8–1.9 h"), (5000, 6000, 7000, True, "≈ 1.7 h")])
def test_durations_are_in_one_unit_for_both_ends_of_a_range(low, median, high, sure, text):
    assert duration_text(low, median, high, sure) == text
