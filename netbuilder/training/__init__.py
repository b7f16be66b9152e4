"""Qt-free training: the trainer as a generator of events, metrics, the run, the command line
(the trained model it saves is netbuilder.model's).

The names below are imported on first use (PEP 562), so that the GUI can import the light
modules (events, control) at start-up without pulling in torch through this package.
"""
from importlib import import_module

_HOMES = {"BatchEnded": "events", "EpochEnded": "events", "Finished": "events",
          "Started": "events", "TrainingEvent": "events", "Evaluation": "metrics", "evaluate": "metrics",
          "TrainingSession": "session", "Trainer": "trainer", "TrainingError": "trainer", "prepare": "trainer"}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
