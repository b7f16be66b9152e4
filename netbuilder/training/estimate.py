"""How long an epoch will take, known before training: a few training steps (forward, backward,
the project's optimiser) on a batch of random values through the compiled network in the
trainer's memory layout, timed, times the batches of an epoch. Token ids are zeros: id 0 is in
every vocabulary.

The steps are timed at each thread count the trainer's ThreadTuner would try, and the fastest
count's times count, as the trainer keeps the fastest count. Step times vary with what else the
machine does, so the times of every timing of a network are pooled (TimingPool): the figure is
their median, and while their middle half spans more than SURE_SPREAD of it the figure is a range,
and the network is timed again (up to MAX_TIMINGS) to narrow it.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

from ..core import memory
from ..core.analysis import analyze
from ..core.compile import CompileError, NotEnoughMemory, compile_graph, input_nodes
from ..core.graph import Graph
from ..core.settings import TrainingSettings

TIMED_STEPS = 5  # per thread count, after two untimed steps that allocate buffers and warm caches
SURE_SPREAD = 0.25  # a figure whose times' middle half spans more than this share of their median is a range
MAX_TIMINGS = 4  # an unsure network is timed at most this many times


def batch_times(graph: Graph, settings: TrainingSettings) -> list[float]:
    """The times of TIMED_STEPS training steps on a batch of the settings' size, on the CPU, at the
    thread count (of those the trainer tries) whose median is the fastest. Sets this thread's torch
    thread count and puts it back. Raises CompileError for a network with problems, NotEnoughMemory
    (before allocating) for one whose training would not fit in memory, and ValueError for one with
    several inputs (training feeds one)."""
    import torch

    from .threads import candidate_counts, usable_cores
    from .trainer import build_optimizer, training_layout

    analysis = analyze(graph)
    if not analysis.ok:
        raise CompileError(analysis)
    inputs = input_nodes(graph, analysis)
    if len(inputs) != 1:
        raise ValueError("training feeds one Input layer")
    too_large = memory.training_problem(graph, analysis, settings, memory.available_memory())
    if too_large:
        raise NotEnoughMemory(too_large)
    info = analysis.info[inputs[0]]
    shape = (settings.batch_size, *info.shape)
    batch = torch.zeros(shape, dtype=torch.long) if info.token_ids else torch.rand(shape)
    model = compile_graph(graph, analysis)
    layout = training_layout(model, torch.device("cpu"))
    model.to(memory_format=layout)
    if layout is torch.channels_last:
        batch = batch.contiguous(memory_format=layout)
    optimizer = build_optimizer(model, settings) if any(p.requires_grad for p in model.parameters()) else None
    threads_before = torch.get_num_threads()
    try:
        by_count = []
        for count in candidate_counts(usable_cores()):
            torch.set_num_threads(count)
            by_count.append(_step_times(model, batch, optimizer))
    finally:
        torch.set_num_threads(threads_before)
    return min(by_count, key=statistics.median)


def _step_times(model, batch, optimizer) -> list[float]:
    times = []
    for step in range(TIMED_STEPS + 2):
        start = time.perf_counter()
        loss = model(batch).float().square().mean()
        if optimizer is not None:
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if step >= 2:
            times.append(time.perf_counter() - start)
    return times


@dataclass
class TimingPool:
    """The step times of every timing of one network, and what they say together."""

    seconds: list[float] = field(default_factory=list)
    timings: int = 0

    def add(self, times: list[float]) -> None:
        self.seconds.extend(times)
        self.timings += 1

    def figure(self) -> tuple[float, float, float]:
        """(low, median, high) seconds per batch: the quartiles of the pooled times and their median."""
        low, median, high = statistics.quantiles(self.seconds, n=4) if len(self.seconds) > 1 else self.seconds * 3
        return low, median, high

    @property
    def sure(self) -> bool:
        low, median, high = self.figure()
        return high - low <= SURE_SPREAD * median

    @property
    def wants_another_timing(self) -> bool:
        return not self.sure and self.timings < MAX_TIMINGS


def duration_text(low: float, median: float, high: float, sure: bool) -> str:
    """"≈ 44 s" when sure, else "34–72 s" (both ends in the unit of the larger)."""
    if sure:
        return f"≈ {_in_unit(median, *_unit(median))}"
    unit = _unit(high)
    return f"{_in_unit(low, *unit).split()[0]}–{_in_unit(high, *unit)}"


def _unit(seconds: float) -> tuple[str, float, int]:
    """(name, seconds in one, decimals shown)."""
    if seconds < 1:
        return "ms", 1e-3, 0
    if seconds < 90:
        return "s", 1.0, 0
    if seconds < 90 * 60:
        return "min", 60.0, 0
    return "h", 3600.0, 1


def _in_unit(seconds: float, name: str, scale: float, decimals: int) -> str:
    return f"{seconds / scale:.{decimals}f} {name}"


def epoch_seconds(dataset: str, batch_size: int, batch_seconds: float) -> float | None:
    """An epoch's training time on a built-in dataset; None for the user's own data, whose size
    is known only once it is loaded."""
    samples = memory.builtin_epoch_samples(dataset)
    return None if samples is None else math.ceil(samples / batch_size) * batch_seconds
