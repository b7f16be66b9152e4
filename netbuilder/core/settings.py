"""Training settings stored in a project file: plain, validated data (the trainer reads them)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from netbuilder.common.contracts import TASKS
from .layers.base import Param, ParamError

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "step", "cosine", "one_cycle")

# The limits live with the fields so that the project loader and the GUI refuse the same values.
SETTING_LIMITS: dict[str, Param] = {p.name: p for p in (
    Param("optimizer", str, "adam", choices=OPTIMIZERS),
    Param("learning_rate", float, 1e-3, min=1e-7, max=10.0),
    Param("batch_size", int, 64, min=1, max=65536),
    Param("epochs", int, 3, min=1, max=10000),
    Param("weight_decay", float, 0.0, min=0.0, max=1.0),
    Param("momentum", float, 0.9, min=0.0, max=0.999),
    Param("nesterov", bool, False),
    Param("schedule", str, "cosine", choices=SCHEDULES, help="how the learning rate changes over the run"),
    Param("validation_split", float, 0.1, min=0.0, max=0.9,
          help="fraction of training data held out when the dataset has no validation set"),
    Param("early_stopping_patience", int, 0, min=0, max=1000, help="epochs without improvement; 0 = off"),
    Param("seed", int, 0, min=0, max=2**31 - 1),
    Param("device", str, "auto", choices=("auto", "cpu", "cuda")),
    Param("precision", str, "fp32", choices=("fp32", "fast"), help="fast: bfloat16 autocast where supported"),
    Param("augment", bool, False),
    Param("label_smoothing", float, 0.0, min=0.0, max=0.5,
          help="classification: train towards 1 - s on the true class and s spread over all classes "
               "(Keras's label_smoothing), so the network does not grow overconfident; the training "
               "loss includes it, the validation loss stays plain cross-entropy"),
    Param("start_from_weights", bool, False,
          help="start the run from the model's current weights (the checkpoint beside the project) rather than "
               "fresh ones: every weight whose layer name and shape still match is loaded; layers that changed "
               "(a new head of 10 classes instead of 1000) start fresh"),
)}


# What each schedule does with the learning rate (training.trainer.build_schedule), for its tooltip:
# the schedules take no settings of their own, so none is disabled for them.
SCHEDULE_HELP = {
    "constant": "constant: the learning rate stays as set for the whole run",
    "step": "step: the learning rate drops tenfold after each third of the epochs",
    "cosine": "cosine: the rate falls smoothly to 0, so short runs end settled and vary less",
    "one_cycle": "one_cycle: the rate rises to the set rate over the first 30% of the run, then falls towards 0",
}


def unused_settings(optimizer: str, task: str | None = None) -> dict[str, str]:
    """The settings the chosen optimizer or the Output's task ignores, each with why (the training
    panel disables them): momentum and Nesterov are SGD's alone (see training.trainer.build_optimizer);
    label smoothing needs classes to spread over (training.metrics.mse_loss ignores it)."""
    unused = {}
    if optimizer != "sgd":
        why = f"applies to the SGD optimizer only, not {optimizer}"
        unused |= {"momentum": f"Momentum {why}", "nesterov": f"Nesterov momentum {why}"}
    if task in TASKS and not TASKS[task].has_classes:
        unused["label_smoothing"] = f"Label smoothing applies to classification only, not {task}"
    return unused


def _default(name: str):
    """A setting's default, written once: in its Param above."""
    return SETTING_LIMITS[name].default


@dataclass
class TrainingSettings:
    """One field per SETTING_LIMITS entry, in the same order; each default is the Param's."""

    optimizer: str = _default("optimizer")
    learning_rate: float = _default("learning_rate")
    batch_size: int = _default("batch_size")
    epochs: int = _default("epochs")
    weight_decay: float = _default("weight_decay")
    momentum: float = _default("momentum")
    nesterov: bool = _default("nesterov")
    schedule: str = _default("schedule")
    validation_split: float = _default("validation_split")
    early_stopping_patience: int = _default("early_stopping_patience")
    seed: int = _default("seed")
    device: str = _default("device")
    precision: str = _default("precision")
    augment: bool = _default("augment")
    label_smoothing: float = _default("label_smoothing")
    start_from_weights: bool = _default("start_from_weights")

    @classmethod
    def from_dict(cls, data: dict) -> "TrainingSettings":
        """Settings from plain data; unknown keys or bad values raise ParamError naming them."""
        unknown = set(data) - set(SETTING_LIMITS)
        if unknown:
            raise ParamError(f"unknown training setting {', '.join(sorted(unknown))}")
        return cls(**{name: SETTING_LIMITS[name].coerce(value) for name, value in data.items()})

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes) -> "TrainingSettings":
        return TrainingSettings.from_dict({**self.to_dict(), **changes})

