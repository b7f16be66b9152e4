"""One training run as a person follows it: the one service behind the window's training panel
and `netbuilder train`, which are two presenters of it.

A TrainingRun owns the snapshot of the project it trains (the canvas stays editable meanwhile),
the TrainingSession, the settings the run uses now (they change while paused), and keeping and
saving the run's weights beside the project, where a checkpoint another run saved meanwhile is
kept, not overwritten. Each saved run is also kept among the project's runs (netbuilder.runs), with
the network and settings it started with, its time and speed; and, when asked, its figures are
written for TensorBoard as they come. What a person reads for each event is in run_text, the same
words on the terminal and in the window.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from netbuilder.core.project import Project, project_from_dict, project_to_dict
from netbuilder.model.checkpoint import (FileVersion, TrainedModel, checkpoint_path, checkpoint_version, kept_run,
                                         save_checkpoint)
from netbuilder.runs import RunInfo, RunStore, run_id_for

from .control import CHANGEABLE_WHILE_PAUSED, State
from .distributed import SINGLE_PROCESS, World
from .events import BatchEnded, Finished, Started
from .run_text import graph_structure, kept_run_text, saved_texts
from .session import TrainingSession
from .tensorboard import TensorBoardLog
from .warm_start import StartWeights


@dataclass(frozen=True)
class SavedWeights:
    path: Path  # where the weights went
    intended: Path  # where they go when no other run saved there meanwhile
    run: RunInfo | None = None  # the run as kept among the project's runs
    run_problem: str = ""  # why it was not kept (the weights are saved all the same)

    @property
    def warnings(self) -> list[str]:
        """What went otherwise than asked: a conflict with another run, a run not kept."""
        *conflict, _ = saved_texts(self.path, self.intended)
        return conflict + ([self.run_problem] if self.run_problem else [])

    @property
    def reports(self) -> list[str]:
        """What was done, the weights' place last."""
        return [kept_run_text(self.run)] * (self.run is not None) + saved_texts(self.path, self.intended)[-1:]

    @property
    def texts(self) -> list[str]:
        """Everything the person is told, warnings first."""
        return self.warnings + self.reports


class TrainingRun:
    """One run of a snapshot of `project`, taken now (`name`: the snapshot's name, the
    window's title for a project without a file). `project_path` is the project's file, if it
    has one: weights are saved beside it (or in `out`), and a checkpoint saved there by another
    run while this one trains is kept. `tensorboard`: a TensorBoard log folder the run's figures
    and graph are written to as well (raises ImportError without TensorBoard, OSError when the
    folder cannot be made). The other arguments are TrainingSession's."""

    def __init__(self, project: Project, project_path: str | Path | None = None, *, name: str | None = None,
                 dataset_spec: str | None = None, dataset=None, out: str | Path | None = None,
                 threads: int | None = None, world: World = SINGLE_PROCESS, report_interval: float = 0.25,
                 tensorboard: str | Path | None = None):
        self.started = time.time()  # the run's id among the kept runs is this time
        self.samples_per_second: float | None = None  # the speed over the run so far, as last reported
        self.ended = ""  # the Finished reason, once finished
        self.project = project_from_dict(project_to_dict(project), name or project.name)
        self.structure = graph_structure(self.project)
        self.project_path = Path(project_path) if project_path is not None else None
        self.out = out
        self.world = world
        # the checkpoint as the run starts: one saved meanwhile by another run is kept
        self._found_checkpoint = checkpoint_version(self.project_path, out) if self.project_path else "any"
        self.settings = {name: getattr(self.project.training, name) for name in CHANGEABLE_WHILE_PAUSED}
        self.session = TrainingSession(self.project, dataset_spec, dataset=dataset, threads=threads, world=world,
                                       report_interval=report_interval, start_weights=self._start_weights())
        self.tensorboard = None
        if tensorboard is not None and world.leader:
            label = f"{Path(project_path).stem if project_path else self.project.name}-{run_id_for(self.started)}"
            self.tensorboard = TensorBoardLog(tensorboard, label, self.project.training.to_dict())

    def _start_weights(self) -> StartWeights | None:
        """The model's weights (where its checkpoint is: beside the project, or in `out`) when its
        settings say to start from them."""
        if not self.project.training.start_from_weights:
            return None
        return StartWeights(checkpoint_path(self.project_path, self.out) if self.project_path else None)

    @property
    def state(self) -> State:
        return self.session.state

    def events(self):
        """The session's events, noted on the way (speed, how it ended, TensorBoard)."""
        try:
            for event in self.session.events():
                self._note(event)
                yield event
        finally:  # also when the reader stops early (a window closed mid-run): what was written is kept
            if self.tensorboard is not None:
                self.tensorboard.close()

    def _note(self, event) -> None:
        if isinstance(event, BatchEnded):
            self.samples_per_second = event.samples_per_second
        elif isinstance(event, Finished):
            self.ended = event.reason
        if self.tensorboard is None:
            return
        if isinstance(event, Started) and self.session.model is not None and self.session.dataset is not None:
            model = _untouched(self.session.model)
            device = next(model.parameters(), torch.empty(0)).device
            self.tensorboard.write_graph(model, self.session.dataset.train_x[:2].to(device))
        self.tensorboard.write(event)

    def pause(self) -> None:
        self.session.pause()

    def resume(self) -> None:
        self.session.resume()

    def stop(self) -> None:
        self.session.stop()

    def paused_values(self) -> dict:
        """What a person sees and edits while paused: the settings in use, the learning rate as the
        schedule has brought it now rather than the base rate the schedule started from."""
        now = self.session.learning_rate_now()
        return {**self.settings, **({"learning_rate": now} if now is not None else {})}

    def change_settings(self, **values) -> None:
        """While paused: the values of CHANGEABLE_WHILE_PAUSED that differ from the run's now
        take effect when it resumes; a learning rate is the rate to train at from now on, the rest
        of the schedule scaled to it (paused_values shows it). Raises ParamError or TrainingError."""
        shown = self.paused_values()
        now = self.session.learning_rate_now()
        values = {name: value for name, value in values.items() if value != shown.get(name)}
        if "learning_rate" in values and now:  # as a new base rate, which scales the whole schedule
            values["learning_rate"] = self.settings["learning_rate"] * values["learning_rate"] / now
        changes = {name: value for name, value in values.items() if value != self.settings.get(name)}
        if changes:
            self.session.change_settings(**changes)
            self.settings.update(changes)

    def kept(self) -> TrainedModel | None:
        """What a finished run keeps (its best epoch's weights; also after a stop, a NaN loss or a
        failure), None when no epoch ended; other ranks of a distributed run keep nothing."""
        return kept_run(self.session) if self.world.leader else None

    def save(self, trained: TrainedModel, project_path: str | Path | None = None) -> SavedWeights:
        """Write `trained` beside `project_path` (default: the run's project file) and keep the run
        with the network and settings it started with. Raises OSError."""
        path = Path(project_path) if project_path is not None else self.project_path
        return save_trained(trained, self.project, path, self.out,
                            replaces=self._found_checkpoint if path == self.project_path else "any",
                            started=self.started, samples_per_second=self.samples_per_second, ended=self.ended)


def save_trained(trained: TrainedModel, network: Project, project_path: str | Path, out: str | Path | None = None, *,
                 replaces: FileVersion | None | Literal["any"] = "any", started: float | None = None,
                 samples_per_second: float | None = None, ended: str = "") -> SavedWeights:
    """The one way a trained model is saved as a project's model: its checkpoint beside the project
    (or in `out`; `replaces` as save_checkpoint's) and the run kept among the project's runs with
    `network`, the network and settings it was trained as. Weights from elsewhere than a TrainingRun
    (fine-tuning, a run on several processes) come here too; their start defaults to their epochs'
    time before now. Raises OSError when the weights cannot be saved."""
    store = RunStore(project_path, out)
    store.keep_unkept_checkpoint()  # weights no run holds (saved before runs were kept) are not overwritten unkept
    saved = save_checkpoint(trained.model, trained.history, project_path, out, recipe=trained.recipe,
                            replaces=replaces)
    intended = checkpoint_path(project_path, out)
    if started is None:
        started = time.time() - sum(epoch.seconds for epoch in trained.history.epochs)
    try:
        run = store.keep(trained, network, started=started, samples_per_second=samples_per_second, ended=ended,
                         current=saved == intended)
    except OSError as error:  # the weights are saved: the run is kept from them when the runs are next listed
        return SavedWeights(saved, intended, run_problem=f"The run was not kept among the project's runs "
                                                         f"({error.strerror or error}); its weights are saved.")
    return SavedWeights(saved, intended, run)


def _untouched(model: torch.nn.Module) -> torch.nn.Module:
    """A copy in eval mode to trace: tracing the model itself would update BatchNorm's statistics."""
    return copy.deepcopy(model).eval()
