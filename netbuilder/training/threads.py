"""Choosing torch's thread count by measuring it, and choosing again when the machine changes.

More threads are not always faster: on a 2-core machine the CNN template trains at about 3,900
samples/s on 2 threads when idle, but at 900 when one other process is busy (OpenMP threads wait
for each other by spinning and the busy process steals one of them), where 1 thread still gives
2,100. So the trainer times real training batches at each candidate count, keeps the fastest,
and times again when batches become much slower or faster than they were just after choosing
(another program started or ended), and now and then anyway. No batch is wasted: the timed
batches are training batches.
"""
from __future__ import annotations

import statistics

import torch

from netbuilder.common.machine import usable_cores

from .events import ThreadsChosen

# Batches timed per candidate (their median counts, so the first batch on a new thread pool,
# which starts its threads, does not decide)...
TIMED_BATCHES = 3
# ...but a candidate whose first batch takes this many times the best candidate's time is
# dropped at once: beside a busy process the wrong count can be ten times slower.
CLEARLY_SLOWER = 2.0
# Batch time per sample is watched over windows of at least this many batches and seconds (tiny
# batches of a small network take a millisecond, too short to time alone), and the counts are
# timed again when DRIFT_WINDOWS windows in a row have their median this far from the baseline
# (one window could be a moment's hiccup, not a changed machine). When timing again keeps the
# same count, the machine's load merely fluctuates: the next round then waits for twice as many
# drifted windows (up to MAX_DRIFT_WINDOWS), so a noisy machine is not timed over and over.
DRIFT_WINDOW = 10
DRIFT_WINDOW_SECONDS = 0.5
DRIFT_LIMIT = 0.3
DRIFT_WINDOWS = 2
MAX_DRIFT_WINDOWS = 8  # so a real change is noticed within 8 windows (about 4 s or more) at worst
# On one thread, batch time hardly depends on the machine's load (2,550 samples/s idle, 2,117
# beside a busy process), so a machine that became quiet again shows no drift. The other counts
# are therefore also timed after RECHECK_WINDOWS windows on one choice, twice as long after each
# recheck that keeps it, up to MAX_RECHECK_WINDOWS.
RECHECK_WINDOWS = 8
MAX_RECHECK_WINDOWS = 64


def candidate_counts(cores: int) -> list[int]:
    """1, 2, 4, ... and `cores` itself: every count on small machines, few on large ones."""
    counts, count = [], 1
    while count < cores:
        counts.append(count)
        count *= 2
    return counts + [cores]


class ThreadTuner:
    """Feeds on the time of each training batch and sets torch's thread count.

    `fixed`: use that many threads and never measure. Call `record` after every batch (with the
    batch's seconds and sample count); it returns a ThreadsChosen when it has decided.
    """

    def __init__(self, fixed: int | None = None, cores: int | None = None) -> None:
        self.fixed = fixed
        self.candidates = candidate_counts(cores or usable_cores())
        self._speeds: dict[int, float] = {}
        self._queue: list[int] = []  # candidates still to time in the current round
        self._timed: list[float] = []  # seconds per sample of the current candidate's batches
        self._reason = "start"
        self._baseline: float | None = None  # median seconds per sample just after choosing
        self._window: list[float] = []
        self._window_seconds = 0.0
        self._drifted_windows = 0
        self._windows_to_drift = DRIFT_WINDOWS
        self._windows_on_choice = 0
        self._windows_to_recheck = RECHECK_WINDOWS
        self._chosen: int | None = None  # the count the last round chose

    @property
    def threads(self) -> int:
        return torch.get_num_threads()

    def start(self) -> None:
        """Set the fixed count, or begin the first round of timing."""
        if self.fixed is not None:
            torch.set_num_threads(self.fixed)
        elif len(self.candidates) > 1:
            self._begin_round("start", self.candidates, {})

    def record(self, seconds: float, samples: int) -> ThreadsChosen | None:
        if self.fixed is not None or len(self.candidates) == 1 or samples == 0:
            return None
        if self._queue:
            return self._time_candidate(seconds / samples)
        self._window.append(seconds / samples)
        self._window_seconds += seconds
        if len(self._window) < DRIFT_WINDOW or self._window_seconds < DRIFT_WINDOW_SECONDS:
            return None
        median, self._window, self._window_seconds = statistics.median(self._window), [], 0.0
        self._windows_on_choice += 1
        if self._baseline is None:
            self._baseline = median
        elif self._windows_on_choice >= self._windows_to_recheck:
            current = torch.get_num_threads()
            self._begin_round("recheck", [count for count in self.candidates if count != current],
                              {current: 1 / median})
        elif abs(median - self._baseline) > DRIFT_LIMIT * self._baseline:
            self._drifted_windows += 1
            if self._drifted_windows >= self._windows_to_drift:
                self._drifted(median)
        else:
            self._drifted_windows = 0
        return None

    def _drifted(self, median: float) -> None:
        """Batches became slower or faster for a while: time the counts that could now be faster.

        Busier (slower) can only favour fewer threads, quieter (faster) only more, so only those
        are timed; the current count's speed is the drifted window's. With none to try (already
        at 1 and busier), the new speed simply becomes the baseline.
        """
        current = torch.get_num_threads()
        slower = median > self._baseline
        others = [count for count in self.candidates if (count < current if slower else count > current)]
        if others:
            self._begin_round("drift", others, {current: 1 / median})
        else:
            self._baseline, self._drifted_windows = median, 0

    def _begin_round(self, reason: str, counts: list[int], known: dict[int, float]) -> None:
        self._reason, self._speeds, self._baseline, self._drifted_windows = reason, dict(known), None, 0
        self._window, self._window_seconds, self._windows_on_choice = [], 0.0, 0
        self._queue = list(counts)
        self._switch_to(self._queue[0])

    def _switch_to(self, count: int) -> None:
        torch.set_num_threads(count)
        self._timed = []

    def _time_candidate(self, seconds_per_sample: float) -> ThreadsChosen | None:
        self._timed.append(seconds_per_sample)
        fastest = max(self._speeds.values(), default=0.0)
        clearly_slower = fastest and seconds_per_sample > CLEARLY_SLOWER / fastest
        if len(self._timed) < TIMED_BATCHES and not clearly_slower:
            return None
        count = self._queue.pop(0)
        self._speeds[count] = 1 / max(statistics.median(self._timed), 1e-12)
        if self._queue:
            self._switch_to(self._queue[0])
            return None
        best = max(self._speeds, key=self._speeds.get)
        if best != self._chosen:
            self._windows_to_drift, self._windows_to_recheck = DRIFT_WINDOWS, RECHECK_WINDOWS
        elif self._reason == "drift":
            self._windows_to_drift = min(2 * self._windows_to_drift, MAX_DRIFT_WINDOWS)
        elif self._reason == "recheck":
            self._windows_to_recheck = min(2 * self._windows_to_recheck, MAX_RECHECK_WINDOWS)
        self._chosen = best
        torch.set_num_threads(best)
        return ThreadsChosen(best, dict(self._speeds), self._reason)
