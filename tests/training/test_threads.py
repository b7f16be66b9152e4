"""The thread tuner keeps the fastest measured count and measures again when batch time drifts."""
import pytest
import torch

from netbuilder.training.threads import (DRIFT_WINDOW, DRIFT_WINDOW_SECONDS, DRIFT_WINDOWS, RECHECK_WINDOWS,
                                         TIMED_BATCHES, ThreadTuner, candidate_counts)


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def feed(tuner: ThreadTuner, seconds_per_sample: dict[int, float], batches: int, samples: int = 100):
    """Batches taking the time the current thread count takes; the decisions made."""
    decisions = []
    for _ in range(batches):
        decision = tuner.record(samples * seconds_per_sample[torch.get_num_threads()], samples)
        if decision is not None:
            decisions.append(decision)
    return decisions


def test_candidates_are_every_count_on_small_machines_and_powers_of_two_on_large_ones():
    assert candidate_counts(1) == [1]
    assert candidate_counts(2) == [1, 2]
    assert candidate_counts(4) == [1, 2, 4]
    assert candidate_counts(12) == [1, 2, 4, 8, 12]


def test_keeps_the_fastest_count_and_chooses_again_when_the_machine_gets_busy():
    tuner = ThreadTuner(cores=2)
    tuner.start()
    idle = {1: 0.004, 2: 0.0026}  # seconds per sample: two threads win on an idle machine
    (first,) = feed(tuner, idle, 2 * TIMED_BATCHES)
    assert (first.threads, first.reason) == (2, "start") and torch.get_num_threads() == 2
    assert first.samples_per_second == pytest.approx({1: 250, 2: 1 / 0.0026})
    assert 100 * 0.0026 * DRIFT_WINDOW > DRIFT_WINDOW_SECONDS  # so these windows are DRIFT_WINDOW batches

    assert feed(tuner, idle, 3 * DRIFT_WINDOW) == []  # steady: no new measurement
    busy = {1: 0.0047, 2: 0.011}  # another program took a core: two threads now wait for each other
    assert feed(tuner, busy, DRIFT_WINDOW) == []  # one slow window may be a hiccup
    decisions = feed(tuner, busy, DRIFT_WINDOWS * DRIFT_WINDOW + 2 * TIMED_BATCHES)
    assert [(d.threads, d.reason) for d in decisions] == [(1, "drift")] and torch.get_num_threads() == 1
    # only fewer threads were timed; two threads' speed is the slow windows' own
    assert decisions[0].samples_per_second == pytest.approx({2: 1 / 0.011, 1: 1 / 0.0047})

    busier = {1: 0.009, 2: 0.02}
    assert feed(tuner, busier, 4 * DRIFT_WINDOW) == []  # on one thread, busier: fewer threads do not exist
    quieter = {1: 0.004, 2: 0.0026}
    decisions = feed(tuner, quieter, DRIFT_WINDOWS * DRIFT_WINDOW + 2 * TIMED_BATCHES)
    assert [(d.threads, d.reason) for d in decisions] == [(2, "drift")]  # quieter: more threads win again


def test_windows_of_tiny_batches_last_long_enough_to_time():
    tuner = ThreadTuner(cores=2)
    tuner.start()
    quick = {1: 0.001, 2: 0.0008}  # about a millisecond a batch
    feed(tuner, quick, 2 * TIMED_BATCHES + round(DRIFT_WINDOW_SECONDS / 0.0008) + 1, samples=1)  # + the baseline
    slow = {1: 0.003, 2: 0.003}
    assert feed(tuner, slow, DRIFT_WINDOWS * DRIFT_WINDOW, samples=1) == []  # windows of 30 ms would have drifted
    assert feed(tuner, slow, 1000, samples=1)[0].reason == "drift"


def test_a_clearly_slower_count_is_dropped_after_one_batch():
    tuner = ThreadTuner(cores=2)
    tuner.start()
    (chosen,) = feed(tuner, {1: 0.001, 2: 0.01}, TIMED_BATCHES + 1)
    assert chosen.threads == 1 and chosen.samples_per_second[2] == pytest.approx(100)


def test_when_timing_again_keeps_the_count_the_next_round_waits_longer():
    tuner = ThreadTuner(cores=2)
    tuner.start()
    steady, hiccup = {1: 0.004, 2: 0.0026}, {1: 0.006, 2: 0.004}  # load comes and goes; 2 threads stay best
    rounds = 2 * TIMED_BATCHES
    assert [d.threads for d in feed(tuner, steady, rounds + DRIFT_WINDOW)] == [2]  # chosen; baseline window
    assert [d.reason for d in feed(tuner, hiccup, DRIFT_WINDOWS * DRIFT_WINDOW + rounds)] == ["drift"]
    feed(tuner, steady, DRIFT_WINDOW)  # the new baseline
    assert feed(tuner, hiccup, DRIFT_WINDOWS * DRIFT_WINDOW + rounds) == []  # now it takes twice as long
    assert [d.reason for d in feed(tuner, hiccup, DRIFT_WINDOWS * DRIFT_WINDOW + rounds)] == ["drift"]


def test_the_other_counts_are_timed_again_now_and_then_and_less_often_while_the_choice_holds():
    tuner = ThreadTuner(cores=2)
    tuner.start()
    busy = {1: 0.0047, 2: 0.011}
    assert [d.threads for d in feed(tuner, busy, 2 * TIMED_BATCHES + DRIFT_WINDOW)] == [1]  # and a baseline
    # the machine gets quiet, but one thread's batches take nearly as long as before: no drift
    quiet = {1: 0.004, 2: 0.0026}
    decisions = feed(tuner, quiet, (RECHECK_WINDOWS - 1) * DRIFT_WINDOW + TIMED_BATCHES)
    assert [(d.threads, d.reason) for d in decisions] == [(2, "recheck")]
    feed(tuner, quiet, DRIFT_WINDOW)  # the baseline on two threads
    decisions = feed(tuner, quiet, RECHECK_WINDOWS * DRIFT_WINDOW + TIMED_BATCHES)
    assert [(d.threads, d.reason) for d in decisions] == [(2, "recheck")]  # kept: the next waits twice as long
    feed(tuner, quiet, DRIFT_WINDOW)
    assert feed(tuner, quiet, RECHECK_WINDOWS * DRIFT_WINDOW + TIMED_BATCHES) == []


def test_a_fixed_count_is_set_and_never_measured():
    tuner = ThreadTuner(fixed=1, cores=8)
    tuner.start()
    assert torch.get_num_threads() == 1
    assert feed(tuner, {1: 0.01}, 50) == []
