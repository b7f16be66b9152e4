"""Qt-free training: the trainer as a generator of events, metrics, checkpoints, command line."""
from .checkpoint import CheckpointError, History, load_checkpoint, save_checkpoint
from .events import BatchEnded, EpochEnded, Finished, Started, TrainingEvent
from .metrics import Evaluation, evaluate
from .session import TrainingSession
from .trainer import Trainer, TrainingError, prepare

__all__ = ["BatchEnded", "CheckpointError", "EpochEnded", "Evaluation", "Finished", "History", "Started", "Trainer",
           "TrainingError", "TrainingEvent", "TrainingSession", "evaluate", "load_checkpoint", "prepare",
           "save_checkpoint"]
