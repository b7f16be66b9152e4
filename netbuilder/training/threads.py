"""Choosing torch's thread count by measuring it, and choosing again when the machine changes.

More threads are not always faster: on a 2-core machine the CNN template trains at about 3,900
samples/s on 2 threads when idle, but at 900 when one other process is busy (OpenMP threads wait
for each other by spinning and the busy process steals one of them), where 1 thread still gives
2,100. So the trainer times real training batches at each candidate count, keeps the fastest,
and times again when batches become much slower or faster than they were just after choosing
(another program started or ended). No batch is wasted: the timed batches are training batches.
"""
from __future__ import annotations

import os
import statistics

import torch

from .events import ThreadsChosen

# Batches timed per candidate, after one untimed batch that lets the new thread pool settle.
TIMED_BATCHES = 3
# Batch time per sample is watched over windows of this many batches...
DRIFT_WINDOW = 20
# ...and the counts are timed again when a window's median moves this far from the baseline.
DRIFT_LIMIT = 0.3


def usable_cores() -> int:
    """CPUs this process may run on (a container or taskset may allow fewer than the machine has)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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
        self._timed: list[tuple[float, int]] = []  # (seconds, samples) of the current candidate
        self._skip = 0  # untimed batches left before timing the current candidate
        self._reason = "start"
        self._baseline: float | None = None  # median seconds per sample just after choosing
        self._window: list[float] = []

    @property
    def threads(self) -> int:
        return torch.get_num_threads()

    def start(self) -> None:
        """Set the fixed count, or begin the first round of timing."""
        if self.fixed is not None:
            torch.set_num_threads(self.fixed)
        elif len(self.candidates) > 1:
            self._begin_round("start")

    def record(self, seconds: float, samples: int) -> ThreadsChosen | None:
        if self.fixed is not None or len(self.candidates) == 1 or samples == 0:
            return None
        if self._queue:
            return self._time_candidate(seconds, samples)
        per_sample = seconds / samples
        if self._baseline is None:
            self._window.append(per_sample)
            if len(self._window) == DRIFT_WINDOW:
                self._baseline, self._window = statistics.median(self._window), []
            return None
        self._window.append(per_sample)
        if len(self._window) < DRIFT_WINDOW:
            return None
        median, self._window = statistics.median(self._window), []
        if abs(median - self._baseline) > DRIFT_LIMIT * self._baseline:
            self._begin_round("drift")
        return None

    def _begin_round(self, reason: str) -> None:
        self._reason, self._speeds, self._baseline, self._window = reason, {}, None, []
        self._queue = list(self.candidates)
        self._switch_to(self._queue[0])

    def _switch_to(self, count: int) -> None:
        torch.set_num_threads(count)
        self._timed, self._skip = [], 1

    def _time_candidate(self, seconds: float, samples: int) -> ThreadsChosen | None:
        if self._skip:
            self._skip -= 1
            return None
        self._timed.append((seconds, samples))
        if len(self._timed) < TIMED_BATCHES:
            return None
        count = self._queue.pop(0)
        self._speeds[count] = sum(n for _, n in self._timed) / max(sum(s for s, _ in self._timed), 1e-9)
        if self._queue:
            self._switch_to(self._queue[0])
            return None
        best = max(self._speeds, key=self._speeds.get)
        torch.set_num_threads(best)
        return ThreadsChosen(best, dict(self._speeds), self._reason)
