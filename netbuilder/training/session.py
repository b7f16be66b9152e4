"""One training run of a project, preparation included, as one stream of events.

This is what the app and the command line drive: loading or generating the data and compiling
the network (Preparing events), then the Trainer's events, always ending with one Finished.
The control methods may be called from any thread, in any order, at any time; they act on the
preparation as well as on the training.
"""
from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Iterator

import torch

from netbuilder.core import memory
from netbuilder.core.analysis import Problem, analyze
from netbuilder.core.compile import CompileError, NotEnoughMemory
from netbuilder.core.layers import ParamError
from netbuilder.core.project import Project, ProjectFileError
from netbuilder.data.base import Dataset, DataError
from netbuilder.data.stream import StreamedImages
from netbuilder.model.checkpoint import CheckpointError, History
from netbuilder.runs import RunError

from .control import RunControl, State, StopRequested, TrainingError
from .distributed import SINGLE_PROCESS, World
from .events import Finished, Preparing, TrainingEvent
from .health import HEALTH_INTERVAL
from .trainer import Trainer, describe_failure, prepare, resolve_device
from .warm_start import StartWeights

# Problems of the user's project or data: their message is all the user needs (the window's runs
# and every command of the command line catch these).
USER_ERRORS = (ProjectFileError, CompileError, DataError, TrainingError, CheckpointError, ParamError, RunError)
# How often waiting for the data checks for a stop.
_STOP_POLL_SECONDS = 0.1


class TrainingSession:
    """One training run of `project` on its dataset (or `dataset_spec`, or an already loaded
    `dataset`, which is still fitted to the Input layer).

    `threads`: None lets the trainer choose torch's thread count and keep re-choosing; N fixes it.
    `world`: the processes that train together under torchrun; rank 0 prepares the data first.
    `start_weights`: the weights the run starts from where they fit (None: fresh weights); every
    rank reads the same file, so all start equal.
    After the run, `model` is the trained model (CPU, eval mode), None if preparation failed.
    """

    def __init__(self, project: Project, dataset_spec: str | None = None, *, dataset: Dataset | None = None,
                 report_interval: float = 0.25, health_interval: float = HEALTH_INTERVAL,
                 threads: int | None = None, world: World = SINGLE_PROCESS, start_weights: StartWeights | None = None):
        self.project = project
        self.start_weights = start_weights
        self.dataset_spec = dataset_spec
        self.report_interval = report_interval
        self.health_interval = health_interval
        self.threads = threads
        self.world = world
        self.model: torch.nn.Module | None = None
        self.dataset: Dataset | None = dataset
        self.task: str | None = None
        self._given_dataset = dataset
        self._control = RunControl()
        self._trainer: Trainer | None = None

    @property
    def control(self) -> RunControl:
        """The run's control surface, for what the methods below do not ask (whether it holds at a pause)."""
        return self._control

    @property
    def state(self) -> State:
        return self._control.state

    def pause(self) -> None:
        self._control.pause()

    def resume(self) -> None:
        self._control.resume()

    def stop(self) -> None:
        self._control.stop()

    def change_settings(self, **changes) -> None:
        """Only while paused: learning_rate, optimizer, weight_decay. Raises TrainingError when
        not paused, ParamError for a bad value; the run yields SettingsChanged when it resumes."""
        self._control.change_settings(**changes)

    def events(self) -> Iterator[TrainingEvent]:
        """Preparing*, Started, then the training's events, and always Finished last; never raises.

        Once a run has finished, calling this again starts another run from the beginning."""
        if self._control.state not in ("idle", "finished"):
            yield Finished("failed", "This training session is already running: stop it before starting it again.")
            return
        if not self._control.begin():
            yield Finished("stopped", "Stopped before training started.")
            return
        self.model, self._trainer = None, None
        try:
            model, dataset, task, notes = yield from self._prepare()
            self._control.check_stop()
        except GeneratorExit:  # the consumer dropped the stream: the session is over all the same
            self._control.end()
            raise
        except StopRequested:
            self._control.end()
            yield Finished("stopped", "Stopped while preparing the data.")
            return
        except USER_ERRORS as error:
            self._control.end()
            yield Finished("failed", str(error))
            return
        except Exception as error:  # a bug: a readable reason for the user, the traceback for a report
            self._control.end()
            yield Finished("failed", describe_failure(error, self.project.training), traceback.format_exc())
            return
        self.model, self.dataset, self.task = model, dataset, task
        self._trainer = Trainer(model, dataset, self.project.training, task, report_interval=self.report_interval,
                                health_interval=self.health_interval, threads=self.threads, control=self._control,
                                world=self.world, notes=notes)
        yield from self._trainer.run()

    def learning_rate_now(self) -> float | None:
        """The schedule's current learning rate, for showing while paused; None before training."""
        return self._trainer.learning_rate_now if self._trainer is not None else None

    def history(self) -> History:
        """The run's history so far, for save_checkpoint(model, history, project_path)."""
        trainer = self._trainer
        return History(list(self.dataset.class_names) if self.dataset else [], self.task or "",
                       self.dataset_spec or self.project.dataset or (self.dataset.name if self.dataset else ""),
                       list(trainer.history) if trainer else [], list(trainer.reports) if trainer else [],
                       list(trainer.changes) if trainer else [])

    def _prepare(self):
        """prepare() and the start weights (with the note that says how they were loaded) on a
        helper thread, its progress passed on as Preparing events as it comes (a progress callback
        cannot yield).

        A stop ends the session at once (StopRequested), whatever the loading is doing; the
        helper thread's next progress call raises (also once the session has ended), which
        abandons a download or generation, and a loader that reports no progress (a CSV file)
        finishes on its own, its result unused.
        """
        events: queue.SimpleQueue = queue.SimpleQueue()
        outcome: dict = {}
        abandoned = threading.Event()  # the session has moved on (ended its control): stop as after a stop

        def progress(done: int, total: int, message: str) -> None:
            if abandoned.is_set():
                raise StopRequested
            self._control.check_stop()
            events.put(Preparing(done, total, message))

        def work() -> None:
            try:
                too_large = self._memory_problem()
                if too_large:  # refused before the data is loaded or anything is allocated
                    raise NotEnoughMemory(too_large)
                with self.world.leader_first():  # a download or generation happens once, into the cache
                    prepared = prepare(self.project, self.dataset_spec, progress, dataset=self._given_dataset)
                too_large = self._memory_problem(prepared[1])
                if too_large:  # the user's own data, whose size was unknown until loaded
                    raise NotEnoughMemory(too_large)
                model = prepared[0]
                notes = (self.start_weights.load_into(model),) if self.start_weights is not None else ()
                outcome["result"] = (*prepared, notes)
            except BaseException as error:  # handed to the generator, which reports it
                outcome["error"] = error
            finally:
                events.put(None)

        yield Preparing(0, 0, "Preparing the data and the network")
        worker = threading.Thread(target=work, name="netbuilder-prepare", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    event = events.get(timeout=_STOP_POLL_SECONDS)
                except queue.Empty:
                    self._control.check_stop()
                    continue
                if event is None:
                    break
                yield event
        except BaseException:  # a stop, or the consumer dropped the stream
            abandoned.set()
            raise
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def _memory_problem(self, loaded: Dataset | None = None) -> Problem | None:
        return memory_problem(self.project, self.dataset_spec, self.world, given=self._given_dataset, loaded=loaded)


def memory_problem(project: Project, dataset_spec: str | None = None, world: World = SINGLE_PROCESS, *,
                   given: Dataset | None = None, loaded: Dataset | None = None) -> Problem | None:
    """Why this run would not fit in the training device's free memory, or None; before the
    data is `loaded` and the network built (the command line asks before checking where it
    writes), and again after. A GPU holds the network and its batches (data too large for it
    stays in host memory); on the CPU the data counts too, its size known before loading for the
    built-in datasets only (a dataset `given` already loaded is not counted; a streamed one counts
    its labels and the batches being built, not its samples), and the processes
    that train together on this machine each hold a whole model."""
    analysis = analyze(project.graph)
    if not analysis.ok:
        return None  # prepare() refuses it with its problems
    device = world.device(resolve_device(project.training.device))
    if device.type == "cuda":
        if loaded is not None:
            return None  # the GPU holds nothing yet: the first check stands
        free, _ = torch.cuda.mem_get_info(device)
        return memory.training_problem(project.graph, analysis, project.training, free,
                                       where=f"the GPU ({device})")
    streamed = loaded is not None and isinstance(loaded.train_x, StreamedImages)
    if loaded is not None:
        samples = len(loaded.train_x) + len(loaded.val_x)
    else:  # a dataset given already loaded is in memory already: not counted
        spec = project.dataset if dataset_spec is None else dataset_spec
        samples = None if given is not None else memory.builtin_samples(spec)
    return memory.training_problem(project.graph, analysis, project.training, memory.available_memory(),
                                   samples, processes=getattr(world, "local_size", 1), loaded=loaded is not None,
                                   streamed=streamed)
