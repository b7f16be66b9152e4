"""Training on several processes with PyTorch's DistributedDataParallel, started by torchrun.

`torchrun --nproc-per-node N -m netbuilder train PROJECT` starts N copies of the command; each
finds its place in the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, ...). The
trainer asks a `World` at the few points where several processes must act as one:

- each rank takes its share (every N-th sample) of each batch of the one permutation all ranks
  draw from the same seed, so the project's batch size stays the global batch and a run on N
  processes follows the same curve as a run on one (DDP averages the ranks' gradients);
- the losses it reports are summed over all ranks (weighted by their sample counts), the
  validation loss that decides early stopping is rank 0's, and a stop asked for on any rank
  stops all of them at the same batch, so no rank waits forever in a collective;
- the data is prepared by rank 0 first (a download or generation fills the cache) and by the
  others after it, from the cache.

A single process gets `SINGLE_PROCESS`, whose methods change nothing. Gradients travel over
nccl between GPUs (each rank on its LOCAL_RANK device) or gloo between CPU processes; the
small decisions (stop, report) always travel over gloo, so agreeing on them never waits for a GPU.
"""
from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from netbuilder.common.text import shown_within

from .control import RunControl, StopRequested, TrainingError
from .threads import usable_cores


class World:
    """One process alone: every method leaves the single-process run exactly as it is."""

    rank = 0
    size = 1
    backend = ""

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def leader(self) -> bool:
        """The rank that logs and saves."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        return device

    def threads(self, requested: int | None) -> int | None:
        return requested

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The module that trains: `model` itself, or its DistributedDataParallel wrapper."""
        return model

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        return indices

    def batches(self, size: int, batch_size: int) -> int:
        return -(-size // batch_size)

    def for_gradient(self, loss: torch.Tensor, samples: int, batch_samples: int) -> torch.Tensor:
        """The loss to differentiate, given this rank's `samples` of the batch's `batch_samples`."""
        return loss

    def between_batches(self, control: RunControl) -> tuple[float, dict[str, object]]:
        """Hold while paused and raise StopRequested on a stop (RunControl.checkpoint)."""
        return control.checkpoint()

    def report_due(self, due: bool) -> bool:
        return due

    def losses(self, losses: list[torch.Tensor], sizes: list[int]) -> tuple[np.ndarray, list[int]]:
        """Mean loss and sample count of each batch since the last report (the one device sync)."""
        return torch.stack(losses).float().cpu().numpy(), sizes

    def total(self, count: torch.Tensor) -> torch.Tensor:
        return count

    def leaders(self, value: float) -> float:
        """Rank 0's `value`, so that every rank takes the same decision on it."""
        return value

    @contextlib.contextmanager
    def leader_first(self) -> Iterator[None]:
        yield

    def close(self, succeeded: bool) -> None:
        pass


SINGLE_PROCESS = World()


@dataclass
class _Placement:
    rank: int
    size: int
    local_rank: int
    local_size: int


class DistributedWorld(World):
    """This process's place among `size` processes, with the process group joined."""

    def __init__(self, placement: _Placement, backend: str) -> None:
        import torch.distributed as dist

        self.rank, self.size, self.backend = placement.rank, placement.size, backend
        self.local_rank, self.local_size = placement.local_rank, placement.local_size
        if backend == "nccl":
            if self.local_size > torch.cuda.device_count():
                raise TrainingError(f"{self.local_size} processes on this machine but {torch.cuda.device_count()} "
                                    f"GPUs: start at most one process per GPU (--nproc-per-node "
                                    f"{torch.cuda.device_count()}), or set the device to cpu.")
            torch.cuda.set_device(self.local_rank)
        try:
            dist.init_process_group(backend)
        except (RuntimeError, ValueError) as error:  # an unreachable or misspelt rendezvous endpoint
            raise TrainingError(f"Could not join the other training processes ({backend}): "
                                f"{str(error).strip().splitlines()[0] if str(error).strip() else error!r}") from None
        # Dropout draws from torch's global generator (see docs/decisions.md): one stream per
        # rank, or every rank would drop the same units of its different samples.
        torch.manual_seed(torch.initial_seed() + self.rank)
        self._dist = dist
        self._decisions = dist.new_group(backend="gloo") if backend != "gloo" else None

    def device(self, device: torch.device) -> torch.device:
        return torch.device("cuda", self.local_rank) if device.type == "cuda" else device

    def threads(self, requested: int | None) -> int | None:
        """The processes on one machine share its cores; measuring thread counts would time each
        rank against the others' changing load, so each takes its fixed share."""
        return requested if requested is not None else max(1, usable_cores() // self.local_size)

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        return indices[self.rank::self.size]

    def batches(self, size: int, batch_size: int) -> int:
        """A last batch too small to give every rank a sample is left out (an empty batch has no
        mean loss)."""
        full, rest = divmod(size, batch_size)
        return full + (rest >= self.size)

    def for_gradient(self, loss: torch.Tensor, samples: int, batch_samples: int) -> torch.Tensor:
        """DDP averages the ranks' gradients with equal weights; weighting each rank's mean loss
        by its share of the batch makes that average the gradient of the batch's mean loss, as
        on one process, also when the batch splits unevenly."""
        return loss * (samples * self.size / batch_samples)

    def between_batches(self, control: RunControl) -> tuple[float, dict[str, object]]:
        """A stop on any rank stops all. Pausing and changing settings are for a run in the
        window, which a distributed run is not: they are not offered."""
        if self._agree(control.state == "stopping"):
            raise StopRequested
        return 0.0, {}

    def report_due(self, due: bool) -> bool:
        return self._agree(due)

    def losses(self, losses: list[torch.Tensor], sizes: list[int]) -> tuple[np.ndarray, list[int]]:
        local = torch.stack(losses).float()
        counts = torch.tensor(sizes, dtype=torch.float32, device=local.device)
        totals = torch.stack([local * counts, counts])
        self._dist.all_reduce(totals)
        weighted, counts = totals.cpu().numpy()
        return weighted / counts, [int(count) for count in counts]

    def total(self, count: torch.Tensor) -> torch.Tensor:
        count = count.clone()
        self._dist.all_reduce(count)
        return count

    def leaders(self, value: float) -> float:
        shared = torch.tensor([value], dtype=torch.float64)
        self._dist.broadcast(shared, 0, group=self._decisions)
        return float(shared)

    @contextlib.contextmanager
    def leader_first(self) -> Iterator[None]:
        """Rank 0 runs the block before the others (which then find its results in the cache);
        the others wait for it even when it fails, and then fail in the same way."""
        if not self.leader:
            self._dist.barrier(group=self._decisions)
        try:
            yield
        finally:
            if self.leader:
                self._dist.barrier(group=self._decisions)

    def close(self, succeeded: bool) -> None:
        """After a run that ended well, leave the group together: a rank that left while another
        still used its connections would abort. After a failure or an interrupt the other ranks
        may be anywhere; this one leaves at once, and torchrun, seeing it fail, ends the others.

        The run's DistributedDataParallel wrapper may still be alive in a reference cycle (a
        generator's frame), and its reducer holds the process group: collected here, the group
        and its gloo threads end now, rather than at interpreter exit, where a joinable thread
        destroyed during finalisation aborts the process ("terminate called without an active
        exception", seen once in CI on rank 1 after a run that had ended well). Measured: one
        wrapper alive on each rank when the run returns, none after the collection."""
        gc.collect()
        if succeeded:
            self._dist.barrier(group=self._decisions)
        self._dist.destroy_process_group()

    def _agree(self, flag: bool) -> bool:
        """True on every rank when it is true on any."""
        shared = torch.tensor([int(flag)], dtype=torch.int32)
        self._dist.all_reduce(shared, op=self._dist.ReduceOp.MAX, group=self._decisions)
        return bool(shared)


def launched_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def join(device_choice: str) -> World:
    """This process's World: DistributedWorld when torchrun started more than one, else
    SINGLE_PROCESS. The backend follows the training device: nccl for CUDA, gloo for the CPU."""
    if not launched_by_torchrun():
        return SINGLE_PROCESS
    placement = _placement_from_environment()
    if placement.size == 1:
        return SINGLE_PROCESS
    from .trainer import resolve_device

    backend = "nccl" if resolve_device(device_choice).type == "cuda" else "gloo"
    return DistributedWorld(placement, backend)


def _placement_from_environment() -> _Placement:
    """Where torchrun placed this process; variables set by hand that no torchrun would set are a
    TrainingError naming them (they would fail, or wait for processes that never come, inside
    torch.distributed)."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    defaults = {"LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": os.environ["WORLD_SIZE"]}
    texts = [os.environ.get(name, defaults.get(name, "")) for name in names]
    numbers = [int(text) if text.isascii() and text.strip().isdigit() and len(text) < 10 else None
               for text in texts]
    if None not in numbers:
        rank, size, local_rank, local_size = numbers
        if rank < size and local_rank < local_size <= size:
            return _Placement(rank, size, local_rank, local_size)
    given = ", ".join(f"{name}={shown_within(text, 20)}" for name, text in zip(names, texts))
    raise TrainingError(f"The torchrun variables do not describe a place among the processes ({given}): start "
                        "the run with torchrun, or unset them to train in this process alone.")


def describe(world: World) -> str:
    """The first line of a distributed run."""
    hardware = "one GPU each" if world.backend == "nccl" else "CPU"
    return f"Distributed training: {world.size} processes, {world.backend} backend ({hardware})"
