"""How much memory a network needs to be built, trained and run, and how much this computer has
free, known before anything is allocated (no torch, no Qt).

Training holds the weights twice (the model and a copy of the best epoch's weights, which early
stopping and a NaN stop go back to), one gradient per weight, the optimiser's state (Adam and
AdamW two values per weight, SGD with momentum and RMSprop one) and the temporary values of its
step (torch's foreach implementation works on all the weights at once: one more), what autograd
keeps of each batch for the backward pass, the dataset, which stays in memory, and torch's own
runtime. The figures err high (bench/memory_estimate.py measures 1.1-1.8 times a real run's peak): refusing a
run that would just have fitted costs a smaller batch, running out of memory a killed process.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..common.contracts import DIGITS_FRESH_EPOCHS, DIGITS_PER_EPOCH, DIGITS_VALIDATION
from ..common.text import byte_size
from .analysis import Analysis, NodeInfo, Problem
from .blocks import INPUT_PORT, INSTANCE, OUTPUT_PORT
from .graph import Graph
from .settings import TrainingSettings

FLOAT_BYTES = 4
# A recurrent layer keeps, for every time step, each gate's values and its states (per direction
# and layer), not only the output the graph sees: gates + 2 (cell state and output) vectors of
# hidden_size, about three times over (before and after each nonlinearity, and the gradients).
_RECURRENT_STATES = 2
_RECURRENT_COPIES = 3
# What torch itself takes once it has trained a batch (code, thread pools, the allocator's
# caches): 80-97 MB measured with a tiny network of each kind.
RUNTIME_BYTES = 128 * 2**20
# Evaluation batches on the validation data are at least this large (the trainer evaluates in
# batches this size or the training batch size, whichever is larger); they run without autograd,
# so only a few of a layer's values are alive at a time.
EVALUATION_BATCH = 512


@dataclass(frozen=True)
class BuiltinCounts:
    """The samples of a built-in dataset, held in memory as the Input's values."""

    per_epoch: int  # training samples an epoch takes
    validation: int
    epochs_held: int = 1  # epochs of training samples held, each epoch taking the next (the digits)

    @property
    def held(self) -> int:
        return self.per_epoch * self.epochs_held + self.validation


BUILTIN_SAMPLES = {"digits": BuiltinCounts(DIGITS_PER_EPOCH, DIGITS_VALIDATION, DIGITS_FRESH_EPOCHS),
                   "mnist": BuiltinCounts(60_000, 10_000), "fashion-mnist": BuiltinCounts(60_000, 10_000),
                   "cifar-10": BuiltinCounts(50_000, 10_000)}

# Image data whose float tensors would take more than this share of the free memory is streamed:
# the rest of the run (weights, activations, torch) then keeps most of what is free.
IN_MEMORY_SHARE = 0.25
# Optimiser values kept per weight (momentum and Nesterov apply to SGD only, see build_optimizer).
_OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "rmsprop": 1}
REMEDY = "lower the batch size or the layer sizes"


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes a training run holds at its peak, by what holds them."""

    batch_size: int
    weights: int
    best_copy: int  # of the weights, for early stopping and a NaN stop to go back to
    gradients: int
    optimizer: int
    activations: int  # kept for the backward pass of one batch
    data: int | None  # the dataset in memory; None when unknown until it is loaded (the user's files)
    runtime: int  # torch's own
    streamed: bool = False  # `data` is a streamed dataset's labels and batches in the making, not its samples

    @property
    def total(self) -> int:
        return (self.weights + self.best_copy + self.gradients + self.optimizer + self.activations
                + (self.data or 0) + self.runtime)

    def describe(self) -> str:
        """'about 1.2 GB at batch 64 (weights 372 KB + best copy 372 KB, gradients …, optimizer …,
        activations …, data …, torch …)'"""
        parts = [f"weights {byte_size(self.weights)} + best copy {byte_size(self.best_copy)}",
                 f"gradients {byte_size(self.gradients)}",
                 f"optimizer {byte_size(self.optimizer)}", f"activations {byte_size(self.activations)}",
                 f"data {byte_size(self.data)}{' streamed' if self.streamed else ''}" if self.data is not None
                 else "data not counted until loaded",
                 f"torch {byte_size(self.runtime)}"]
        return f"about {byte_size(self.total)} at batch {self.batch_size:,} ({', '.join(parts)})"


def activation_bytes(info: NodeInfo, batch_size: int) -> int:
    """Memory of a layer's output for one batch (float32 values, int64 token ids)."""
    return math.prod(info.shape) * batch_size * (8 if info.token_ids else FLOAT_BYTES)


def weight_bytes(analysis: Analysis) -> int:
    """The float32 weights of the network: what building it allocates."""
    return analysis.total_params * FLOAT_BYTES


def _kept_bytes(graph: Graph, analysis: Analysis, node_id: str, batch_size: int) -> int:
    """What one layer keeps of a batch for the backward pass: its output (or its input, which
    the previous layer counts), and half as much again for the gradients alive at a time in the
    backward pass (in integers: no float overflow for absurd shapes). A block keeps what each
    layer inside it keeps, once per repetition."""
    node, info = graph.nodes[node_id], analysis.info[node_id]
    if node.type_id == INSTANCE:
        definition, inner = graph.blocks[node.params["block"]], analysis.inner[node_id]
        ports = {INPUT_PORT, OUTPUT_PORT}  # their values are the layers' around them, counted there
        return node.params["repeat"] * sum(_kept_bytes(definition.graph, inner, inner_id, batch_size)
                                           for inner_id in inner.info
                                           if definition.graph.nodes[inner_id].type_id not in ports)
    output = activation_bytes(info, batch_size)
    kept = output + output // 2
    params, spec = graph.nodes[node_id].params, graph.nodes[node_id].spec
    kept += spec.inner_values(params, info.in_shapes) * batch_size * FLOAT_BYTES
    gates = getattr(spec, "gates", None)
    if gates is not None:  # a recurrent layer: every step's gates and states, per layer and direction
        steps = info.in_shapes[0][0]
        directions = 2 if params["bidirectional"] else 1
        kept += (steps * (gates + _RECURRENT_STATES) * params["hidden_size"] * directions * params["num_layers"]
                 * batch_size * FLOAT_BYTES * _RECURRENT_COPIES)
    return kept


def _evaluation_bytes(analysis: Analysis, batch_size: int) -> int:
    """The most a forward pass without autograd holds at once: the largest layer's input and
    output, and as much again for the copies in other memory layouts that oneDNN's kernels make
    (measured: up to 2.4 times the largest output, the deep CNN of bench/memory_estimate.py --quick)."""
    return max((activation_bytes(info, batch_size) * 4 for info in analysis.info.values()), default=0)


def data_bytes(analysis: Analysis, graph: Graph, samples: int) -> int:
    """`samples` samples of the Input's shape, with their labels (int64 or float32 each)."""
    return (_input_bytes(analysis, graph) + 8) * samples


def _input_bytes(analysis: Analysis, graph: Graph) -> int:
    """One sample's float values, as the Input layers take them."""
    inputs = [analysis.info[n] for n in analysis.order if graph.nodes[n].spec.is_source and n in analysis.info]
    return sum(activation_bytes(info, 1) for info in inputs)


def in_memory_limit() -> int | None:
    """The most bytes of image data held as float tensors: beyond, it is streamed from stored
    pixels batch by batch (data/stream.py); None where the free memory is unknown."""
    available = available_memory()
    return None if available is None else int(IN_MEMORY_SHARE * available)


def stream_bytes(analysis: Analysis, graph: Graph, samples: int, batch_size: int) -> int:
    """A dataset of `samples` streamed from stored pixels (data/stream.py): the labels of all, and
    the inputs being built: a training batch and a validation chunk, each read as uint8 pixels
    (a quarter of the floats; these pages of the cache count, the rest is the system's file cache,
    given back under pressure), their floats and the copy put back in the batch's order."""
    per_sample = _input_bytes(analysis, graph)
    return samples * 8 + (batch_size + max(batch_size, EVALUATION_BATCH)) * per_sample * 9 // 4


def builtin_samples(dataset: str) -> int | None:
    """Training plus validation samples of a built-in dataset; None for the user's own data."""
    counts = BUILTIN_SAMPLES.get(dataset.strip().lower())
    return None if counts is None else counts.held


def builtin_epoch_samples(dataset: str) -> int | None:
    """The training samples an epoch of a built-in dataset takes; None for the user's own data."""
    counts = BUILTIN_SAMPLES.get(dataset.strip().lower())
    return None if counts is None else counts.per_epoch


def training_memory(graph: Graph, analysis: Analysis, settings: TrainingSettings,
                    samples: int | None = None, processes: int = 1, streamed: bool = False) -> TrainingMemory:
    """The peak memory of training the (valid) network with `settings`; `samples` in memory if
    known (`streamed`: read batch by batch from stored pixels instead, `stream_bytes`). `processes` that share this memory train one share of each batch each, with a whole
    model each (distributed training on one machine's CPUs). The fast (bfloat16) mode counts as
    full precision, which keeps more."""
    batch = max(1, -(-settings.batch_size // processes))
    weights = weight_bytes(analysis)
    if settings.optimizer == "sgd":
        states = 1 if settings.momentum > 0 else 0
    else:
        states = _OPTIMIZER_STATES[settings.optimizer]
    states += 1  # the step's temporaries
    kept = sum(_kept_bytes(graph, analysis, node_id, batch) for node_id in analysis.info)
    activations = max(kept, _evaluation_bytes(analysis, max(batch, EVALUATION_BATCH)))
    if samples is None:
        data = None
    elif streamed:
        data = processes * stream_bytes(analysis, graph, samples, batch)
    else:
        data = processes * data_bytes(analysis, graph, samples)
    return TrainingMemory(settings.batch_size, processes * weights, processes * weights, processes * weights,
                          processes * states * weights, processes * activations, data,
                          processes * RUNTIME_BYTES, streamed)


def inference_bytes(analysis: Analysis, batch_size: int) -> int:
    """Running the network without training: its weights and one batch's activations."""
    return weight_bytes(analysis) + _evaluation_bytes(analysis, batch_size)


def will_stream(graph: Graph, analysis: Analysis, samples: int | None, available: int | None) -> bool:
    """Whether a built-in dataset of `samples` images, not loaded yet, will be streamed once it is:
    its float tensors would take more than IN_MEMORY_SHARE of the `available` memory, the loader's
    rule (`in_memory_limit`)."""
    if samples is None or available is None:
        return False
    return _input_bytes(analysis, graph) * samples > int(IN_MEMORY_SHARE * available)


def training_problem(graph: Graph, analysis: Analysis, settings: TrainingSettings, available: int | None,
                     samples: int | None = None, processes: int = 1, where: str = "this computer",
                     loaded: bool = False, streamed: bool = False) -> Problem | None:
    """The refusal when training needs more than is `available` (None: unknown, never refused);
    the arguments are training_memory's. `loaded`: the network is built and the data loaded
    already, so only the rest must still fit (the message counts them in what was free); before
    that, data the loader will stream counts as streamed."""
    if available is None:
        return None
    streamed = streamed or (not loaded and will_stream(graph, analysis, samples, available))
    needed = training_memory(graph, analysis, settings, samples, processes, streamed)
    in_memory = needed.weights + (0 if streamed else needed.data or 0) if loaded else 0
    if needed.total - in_memory <= available:
        return None
    return Problem("Training", f"needs {needed.describe()}; {where} has {byte_size(available + in_memory)} free",
                   REMEDY)


def building_problem(analysis: Analysis, available: int | None) -> Problem | None:
    """The refusal when the network's weights alone do not fit in the `available` memory."""
    weights = weight_bytes(analysis)
    if available is None or weights <= available:
        return None
    return Problem("The network", f"needs about {byte_size(weights)} for its weights "
                   f"({analysis.total_params:,} parameters); this computer has {byte_size(available)} free",
                   "lower the layer sizes")


# --- memory available --------------------------------------------------------------------------
PROC_MEMINFO = Path("/proc/meminfo")
CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")


def available_memory(meminfo: Path = PROC_MEMINFO, cgroup: Path = CGROUP_ROOT,
                     self_cgroup: Path = SELF_CGROUP) -> int | None:
    """Bytes this process can still allocate without swapping or being killed: the system's
    available memory, or what is left under a limit on its control group (a container's, a
    systemd slice's) when that is lower. None when this system does not say."""
    system = _meminfo_available(meminfo) if meminfo.exists() else _platform_available()
    known = [value for value in (system, *_cgroup_available(cgroup, self_cgroup)) if value is not None]
    return min(known) if known else None


def _meminfo_available(path: Path) -> int | None:
    try:
        for line in path.read_text(encoding="ascii", errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name == "MemAvailable":
                number, *unit = value.split()
                return int(number) * (1024 if unit == ["kB"] else 1)
    except (OSError, ValueError):
        pass
    return None


def _read_number(path: Path) -> int | None:
    """The integer in a cgroup file; None for "max" (no limit), a missing or unreadable file."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
        return int(text)
    except (OSError, ValueError):
        return None


def _stat_value(path: Path, key: str) -> int:
    try:
        for line in path.read_text(encoding="ascii", errors="replace").splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _cgroup_available(root: Path, self_cgroup: Path) -> list[int]:
    """What is left under each memory limit on this process's control group and the groups above
    it, cgroup v2 (memory.max) or v1 (memory/memory.limit_in_bytes): the limit less the usage,
    not counting inactive file cache, which the kernel reclaims first (as `docker stats` does)."""
    v2, v1 = _own_groups(self_cgroup)
    left = []
    for folders, limit_name, usage_name, inactive in (
            ([root / part for part in v2], "memory.max", "memory.current", "inactive_file"),
            ([root / "memory" / part for part in v1], "memory.limit_in_bytes", "memory.usage_in_bytes",
             "total_inactive_file")):
        for folder in folders:
            limit = _read_number(folder / limit_name)
            if limit is None or limit >= 2**60:  # v2 writes no limit as "max", v1 as a huge number
                continue
            usage = max(0, (_read_number(folder / usage_name) or 0) - _stat_value(folder / "memory.stat", inactive))
            left.append(max(0, limit - usage))
    return left


def _own_groups(self_cgroup: Path) -> tuple[list[str], list[str]]:
    """The v2 and v1 memory control groups of this process and every group above it, as paths
    relative to their hierarchy's root (inside a container, whose root is its own: "")."""
    v2, v1 = "", ""
    try:
        for line in self_cgroup.read_text(encoding="ascii", errors="replace").splitlines():
            number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
            if number == "0" and controllers == "":
                v2 = path
            elif "memory" in controllers.split(","):
                v1 = path
    except OSError:
        pass

    def with_ancestors(path: str) -> list[str]:
        parts = [part for part in path.split("/") if part and part not in (".", "..")]
        return ["/".join(parts[:depth]) for depth in range(len(parts), -1, -1)]

    return with_ancestors(v2), with_ancestors(v1)


def _platform_available() -> int | None:
    """macOS and other Unixes through sysconf, Windows through GlobalMemoryStatusEx."""
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong)] + [
                (name, ctypes.c_ulonglong) for name in ("total_physical", "available_physical", "total_file",
                                                        "available_file", "total_virtual", "available_virtual",
                                                        "available_extended")]

        status = MemoryStatus()
        status.length = ctypes.sizeof(MemoryStatus)
        return int(status.available_physical) if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)) \
            else None
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
