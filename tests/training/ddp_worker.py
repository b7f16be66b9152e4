"""Run by torchrun in test_distributed.py (not a test module): trains on each rank and writes
what the test compares to OUT/rank<N>.pt."""
import sys

import torch

from netbuilder.core.settings import TrainingSettings
from netbuilder.data.base import Dataset
from netbuilder.training.distributed import SINGLE_PROCESS, join
from netbuilder.training.events import BatchEnded, Finished
from netbuilder.training.trainer import Trainer

# 203 samples: the last global batch of 11 splits unevenly (6 + 5).
SETTINGS = TrainingSettings(epochs=3, batch_size=32, learning_rate=0.05, optimizer="sgd", momentum=0.9, device="cpu",
                            validation_split=0.0)


def points() -> Dataset:
    generator = torch.Generator().manual_seed(3)
    labels = torch.arange(203) % 3
    x = torch.randn(3, 4, generator=generator)[labels] * 2 + torch.randn(203, 4, generator=generator)
    return Dataset("points", "vector", x, labels, x[:0], labels[:0], ["a", "b", "c"])


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def train(world, stop_after_batches: int | None = None):
    trainer = Trainer(model(), points(), SETTINGS, "classification", report_interval=0, threads=1, world=world)
    finished = None
    for event in trainer.run():
        if isinstance(event, BatchEnded) and stop_after_batches and event.batch == stop_after_batches:
            trainer.stop()
        if isinstance(event, Finished):
            finished = event
    return trainer, finished


if __name__ == "__main__":
    world = join("cpu")
    trainer, finished = train(world)
    # A stop asked for on rank 1 alone, after its 3rd batch, stops both ranks at the same batch.
    stopper, stopped = train(world, stop_after_batches=3 if world.rank == 1 else None)
    result = {"weights": trainer.model.state_dict(), "losses": [report[:2] for report in trainer.reports], "reason": finished.reason,
              "stopped": stopped.reason, "stopped_message": stopped.message}
    if world.rank == 0:
        single, _ = train(SINGLE_PROCESS)
        result["single_losses"] = [report[:2] for report in single.reports]
        result["single_weights"] = single.model.state_dict()
    torch.save(result, f"{sys.argv[1]}/rank{world.rank}.pt")
    world.close(succeeded=True)
