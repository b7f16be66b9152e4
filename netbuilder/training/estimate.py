"""How long an epoch will take, known before training: a few training steps (forward, backward,
the project's optimiser) on a batch of random values through the compiled network in the
trainer's memory layout, timed, times the batches of an epoch. Token ids are zeros: id 0 is in
every vocabulary."""
from __future__ import annotations

import math
import statistics
import time

from ..core import memory
from ..core.analysis import analyze
from ..core.compile import CompileError, NotEnoughMemory, compile_graph, input_nodes
from ..core.graph import Graph
from ..core.settings import TrainingSettings

TIMED_STEPS = 5  # after two untimed steps that allocate buffers and warm caches; the median counts


def seconds_per_batch(graph: Graph, settings: TrainingSettings) -> float:
    """The median time of one training step on a batch of the settings' size, on the CPU. Raises
    CompileError for a network with problems, NotEnoughMemory (before allocating) for one whose
    training would not fit in memory, and ValueError for one with several inputs (training feeds
    one)."""
    import torch

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
    return statistics.median(times)


def epoch_seconds(dataset: str, batch_size: int, batch_seconds: float) -> float | None:
    """An epoch's training time on a built-in dataset; None for the user's own data, whose size
    is known only once it is loaded."""
    samples = memory.BUILTIN_SAMPLES.get(dataset.strip().lower())  # (training, validation)
    return None if samples is None else math.ceil(samples[0] / batch_size) * batch_seconds
