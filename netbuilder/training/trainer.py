"""The training engine: a Qt-free generator of events that the GUI runs on a thread and the CLI
iterates directly.

Speed comes from doing little per batch: the data stays in memory (on the training device when
it fits) and each batch is gathered by a slice of one random permutation, with no DataLoader;
losses and correct counts are accumulated on the device and read only at reporting intervals,
so a GPU is not synchronised after every batch. On a CPU, convolutional networks train with their
weights in the channels-last layout, which oneDNN's convolutions run fastest.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from netbuilder.common.contracts import TASKS
from netbuilder.core.analysis import analyze, class_count_problem
from netbuilder.core.compile import CompileError, compile_graph, input_nodes, output_node
from netbuilder.core.layers import format_shape
from netbuilder.core.memory import EVALUATION_BATCH, in_memory_limit
from netbuilder.core.project import Project
from netbuilder.core.settings import TrainingSettings
from netbuilder.data.augment import Augmentation
from netbuilder.data.base import Dataset, DataError, Task, train_val_split
from netbuilder.data.download import Progress
from netbuilder.data.stream import StreamedImages
from netbuilder.common.text import shown
from netbuilder.model.history import Report

from .control import RunControl, State, StopRequested, TrainingError
from .distributed import SINGLE_PROCESS, World
from .events import (BatchEnded, EpochEnded, Finished, HealthReport, SettingsChanged, Started, TrainingEvent,
                     ValidationSamples)
from .health import HEALTH_INTERVAL, HealthProbe
from .metrics import Evaluation, evaluate, task_loss
from .threads import ThreadTuner

# The fast (bfloat16) mode must leave the gradient pointing the same way as full precision:
# measured cosine similarity is 0.9994 for the CNN template and 0.99999 for the residual CNN.
_FAST_GRADIENT_AGREEMENT = 0.99
# Mild changes that keep what an image shows; no mirroring of grey images (digits, letters,
# sketches), since a mirrored 2 is no 2. Colour images are photos (CIFAR-10, a folder of one's
# own), which read the same mirrored: they are mirrored too, as every CIFAR-10 recipe does.
TRAINING_AUGMENTATION = Augmentation(rotation_degrees=10.0, shift_fraction=0.1, scale_fraction=0.1)
PHOTO_AUGMENTATION = replace(TRAINING_AUGMENTATION, horizontal_flip=True)


def training_augmentation(channels: int) -> Augmentation:
    """The random changes training makes to images of `channels` channels."""
    return PHOTO_AUGMENTATION if channels == 3 else TRAINING_AUGMENTATION
# Data larger than this share of free GPU memory stays in host memory and is copied per batch.
_GPU_DATA_SHARE = 0.5
# Compiling a network draws its initial weights from torch's global generator; runs started on
# several threads at once take turns, so each gets the weights of its own seed.
_GLOBAL_GENERATOR_LOCK = threading.Lock()


@dataclass
class _Best:
    """The weights with the lowest monitored loss so far (the initial weights before any epoch)."""

    state: dict[str, torch.Tensor]
    loss: float = math.inf
    epoch: int = 0


class _SmoothedLoss:
    """Exponential moving average of the reported losses, debiased so that the first reports are
    not pulled towards 0 (as in Adam's moment estimates)."""

    def __init__(self, decay: float = 0.9) -> None:
        self.decay, self.average, self.count = decay, 0.0, 0

    def add(self, loss: float) -> float:
        self.count += 1
        self.average = self.decay * self.average + (1 - self.decay) * loss
        return self.average / (1 - self.decay ** self.count)


@dataclass
class _Loop:
    """What a run carries from batch to batch and epoch to epoch (Trainer._setup makes it)."""
    device: torch.device
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    optimizer: torch.optim.Optimizer
    schedules: tuple  # (stepped after each epoch, stepped after each batch), as build_schedule gives them
    epochs: int
    batches: int
    last_end: int  # where the last batch of an epoch ends
    precision: str
    notes: tuple[str, ...]
    autocast: Callable
    augment: Callable[[torch.Tensor], torch.Tensor] | None
    training_model: torch.nn.Module  # the model, wrapped for a distributed run
    tuner: ThreadTuner
    best: _Best
    order_generator: torch.Generator
    samples_per_epoch: int  # of train_x, each epoch the next ones in turn (Dataset.samples_per_epoch)
    stale_epochs: int = 0
    samples_seen: int = 0
    train_seconds: float = 0.0
    paused_seconds: float = 0.0
    smoothed: _SmoothedLoss = field(default_factory=_SmoothedLoss)
    run_started: float = 0.0
    next_health: float = 0.0
    learning_rate: float = 0.0
    # the current epoch's
    epoch_started: float = 0.0
    last_report: float = 0.0
    correct: torch.Tensor | None = None
    epoch_loss_sum: float = 0.0
    epoch_samples: int = 0  # less a last batch too small to share among distributed ranks
    pending_losses: list = field(default_factory=list)  # since the last report, read at the next
    pending_sizes: list = field(default_factory=list)


class Trainer:
    """Trains `model` on `dataset` as `settings` say; `run()` yields the events of the run.

    `pause`, `resume`, `stop` and `change_settings` may be called from any thread at any time
    (see RunControl for what each does in each state). Stop takes effect within one batch, also
    during the fast mode's check and during validation; pause holds the run between two batches
    (blocked, not spinning) until resume or stop. The run draws its batch order and augmentation
    from its own generators seeded with `settings.seed` and leaves torch's global generator alone
    (dropout still draws from it: see docs/decisions.md). With early stopping on (patience > 0)
    the model ends with the weights of its best epoch; after a NaN loss, with the best weights so
    far. When the run ends the model is back on the CPU in eval mode, ready for predictions and
    saving, and torch's thread count is what it was before.

    `threads`: None lets the trainer time batches at several thread counts and keep the fastest,
    again whenever batch time drifts (ThreadTuner); a number fixes it.

    `world`: the processes this one trains with under torchrun (see distributed.py); each
    trains on its share of every batch, and all end with the same weights.
    """

    def __init__(self, model: torch.nn.Module, dataset: Dataset, settings: TrainingSettings, task: Task,
                 *, report_interval: float = 0.25, health_interval: float = HEALTH_INTERVAL,
                 threads: int | None = None, control: RunControl | None = None, world: World = SINGLE_PROCESS,
                 notes: tuple[str, ...] = ()):
        self.model = model
        self.dataset = dataset
        self.settings = settings
        self.task = task
        self.report_interval = report_interval  # seconds between BatchEnded events; 0: every batch
        self.health_interval = health_interval  # seconds between HealthReport events
        self.threads = world.threads(threads)
        self.control = control or RunControl()
        self.world = world
        self.notes = notes  # what came before the run that its person should know, first among Started's notes
        self.history: list[EpochEnded] = []
        self.reports: list[Report] = []  # what the curves draw of each BatchEnded
        self.changes: list[SettingsChanged] = []
        self._where = "before training started"  # for the message of a stop
        self._best: _Best | None = None  # of this run, once it has started
        self._loop: _Loop | None = None  # of this run, once it has started

    @property
    def learning_rate_now(self) -> float | None:
        """The rate the next batch trains at (the schedule's current one); None before the start.
        Read it while the run is paused: it changes with every batch."""
        return self._loop.optimizer.param_groups[0]["lr"] if self._loop is not None else None

    def stop(self) -> None:
        self.control.stop()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def change_settings(self, **changes) -> None:
        """While paused: new learning_rate, optimizer or weight_decay for the rest of the run."""
        self.control.change_settings(**changes)

    @property
    def state(self) -> State:
        return self.control.state

    @property
    def paused(self) -> bool:
        return self.control.state == "paused"

    def run(self) -> Iterator[TrainingEvent]:
        """Events up to and including one Finished; exceptions become Finished("failed")."""
        if not self.control.begin():
            yield Finished("stopped", "Stopped before training started.")
            return
        threads_before = torch.get_num_threads()
        self._where = "before training started"
        try:
            finished = yield from self._run()
        except StopRequested:
            finished = Finished("stopped", _with_kept(f"Stopped {self._where}.", self._keep_best()))
        except Exception as error:  # the user gets a readable reason, a bug report the traceback
            details = traceback.format_exc()
            finished = Finished("failed", _with_kept(describe_failure(error, self.settings), self._keep_best()),
                                details)
        finally:  # also when the consumer abandons the run
            torch.set_num_threads(threads_before)
            self.model.to("cpu", memory_format=torch.contiguous_format)  # plain tensors for saving
            self.model.eval()
            self.control.end()
        yield finished  # last, once the model is ready and the state is "finished"

    def _run(self) -> Generator[TrainingEvent, None, Finished]:
        loop = self._setup()
        self.control.training()
        loop.tuner.start()
        yield Started(loop.device.type, loop.precision, loop.samples_per_epoch, len(loop.val_x), loop.batches, loop.notes,
                      loop.epochs, loop.tuner.threads, tuple(self.dataset.class_names),
                      _validation_samples(self.dataset, loop.val_x, loop.val_y))
        loop.run_started = time.perf_counter()
        loop.next_health = loop.run_started + self.health_interval
        for epoch in range(1, loop.epochs + 1):
            finished = yield from self._epoch(loop, epoch)
            if finished is None:
                finished = yield from self._end_epoch(loop, epoch)
            if finished is not None:
                return finished
        if self.settings.early_stopping_patience and loop.best.epoch:
            self.model.load_state_dict(loop.best.state)
        return Finished("completed", self._summary(loop.best if self.settings.early_stopping_patience else None))

    def _setup(self) -> _Loop:
        """The data on the device, the optimizer, schedules, precision and thread tuner of a run."""
        model, world = self.model, self.world
        device = world.device(resolve_device(self.settings.device))
        self.history, self.reports, self.changes, self._best = [], [], [], None
        train_x, train_y, val_x, val_y = self._split()
        model.to(device, memory_format=training_layout(model, device))
        train_x, train_y = _place(train_x, device), _place(train_y, device)
        val_x, val_y = _place(val_x, device), _place(val_y, device)
        self._check_fit(train_x, train_y, device)
        optimizer = build_optimizer(model, self.settings)
        samples_per_epoch = self.dataset.epoch_size(len(train_x))
        batches, last_end = self._batches(samples_per_epoch, self.settings.batch_size)
        schedules = build_schedule(optimizer, self.settings, batches)
        check = min(self.settings.batch_size, 256)
        precision, precision_notes = self._choose_precision(train_x[:check], train_y[:check], device)
        # what loading found (streaming, skipped files) comes first, then where the weights came from
        notes = tuple(self.dataset.notes) + self.notes + precision_notes
        autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if precision == "fast" \
            else contextlib.nullcontext
        augment = self._augmentation(device)
        if self.settings.augment and augment is None:
            notes += ("Augmentation applies to images only, so this run trains without it.",)
        if self.dataset.no_validation and not len(val_x):
            notes += (self.dataset.no_validation,)
        # Threads matter on the CPU only; a GPU run keeps the count it found.
        tuner = ThreadTuner(self.threads if device.type == "cpu" else torch.get_num_threads())
        best = self._best = _Best(_snapshot(model))
        self._loop = _Loop(device, train_x, train_y, val_x, val_y, optimizer, schedules, self.settings.epochs, batches,
                           last_end, precision, notes, autocast, augment, world.wrap(model, device), tuner, best,
                           torch.Generator().manual_seed(self.settings.seed), samples_per_epoch)
        return self._loop

    def _epoch(self, loop: _Loop, epoch: int) -> Generator[TrainingEvent, None, Finished | None]:
        """One epoch's batches, with the reports, health checks and thread choices between them;
        a Finished when the loss stopped being a number."""
        model, world, batches, batch_size = self.model, self.world, loop.batches, self.settings.batch_size
        loop.epoch_started = time.perf_counter()
        model.train()
        order = self._epoch_order(loop, epoch).to(loop.train_x.device)
        loop.correct = torch.zeros((), dtype=torch.int64, device=loop.device)
        loop.epoch_loss_sum, loop.epoch_samples = 0.0, 0
        loop.last_report = loop_started = time.perf_counter()
        for batch in range(batches):
            self._where = f"at epoch {epoch}, batch {batch + 1} of {batches}"
            changed = self._changes_between_batches(loop, epoch, batch)
            if changed is not None:
                yield changed
            batch_started = time.perf_counter()
            batch_indices = order[batch * batch_size:loop.last_end if batch + 1 == batches else (batch + 1) * batch_size]
            indices = world.shard(batch_indices)
            probe = HealthProbe(model) if batch_started >= loop.next_health else None
            with probe or contextlib.nullcontext():
                self._step(loop, indices, len(batch_indices))
            now = time.perf_counter()
            position = epoch - 1 + (batch + 1) / batches
            if probe is not None:  # its hooks slowed this batch: not a fair timing
                loop.next_health = now + self.health_interval
                yield HealthReport(position, probe.layers())
            elif (chosen := loop.tuner.record(now - batch_started, len(indices))) is not None:
                yield chosen
            if world.report_due(now - loop.last_report >= self.report_interval or batch + 1 == batches):
                report = self._report(loop, epoch, batch, position, now, loop_started)
                if isinstance(report, Finished):
                    return report
                yield report
                loop.last_report = time.perf_counter()
        loop.train_seconds += time.perf_counter() - loop_started
        if loop.schedules[0] is not None:
            loop.schedules[0].step()
        return None

    def _changes_between_batches(self, loop: _Loop, epoch: int, batch: int) -> SettingsChanged | None:
        """Wait while paused; the settings changed meanwhile, applied and recorded, if any took effect."""
        waited, changes = self.world.between_batches(self.control)
        loop.train_seconds -= waited
        loop.paused_seconds += waited
        if not changes:
            return None
        loop.optimizer, loop.schedules, changed = self._apply_changes(changes, loop.optimizer, loop.schedules,
                                                                      loop.batches)
        if not changed:
            return None
        event = SettingsChanged(epoch - 1 + batch / loop.batches, epoch, loop.samples_seen + sum(loop.pending_sizes),
                                changed)
        self.changes.append(event)
        return event

    def _step(self, loop: _Loop, indices: torch.Tensor, batch_samples: int) -> None:
        """One training step on the samples at `indices` (this process's share of a batch of
        `batch_samples`); its loss is held for the next report, read without a sync."""
        inputs = loop.train_x.index_select(0, indices).to(loop.device, non_blocking=True)
        targets = loop.train_y.index_select(0, indices).to(loop.device, non_blocking=True)
        if loop.augment is not None:
            inputs = loop.augment(inputs)
            if TASKS[self.task].target_is_input:  # the shifted image is what to give back
                targets = inputs
        with loop.autocast():
            outputs = loop.training_model(inputs)
            loss = task_loss(outputs, targets, self.task, self.settings.label_smoothing)
        loop.optimizer.zero_grad(set_to_none=True)
        self.world.for_gradient(loss, len(indices), batch_samples).backward()
        loop.learning_rate = loop.optimizer.param_groups[0]["lr"]
        loop.optimizer.step()
        if loop.schedules[1] is not None:
            loop.schedules[1].step()
        loop.pending_losses.append(loss.detach())
        loop.pending_sizes.append(len(indices))
        if TASKS[self.task].has_classes:
            loop.correct += (outputs.argmax(dim=1) == targets).sum()

    def _report(self, loop: _Loop, epoch: int, batch: int, position: float, now: float,
                loop_started: float) -> BatchEnded | Finished:
        """The losses held since the last report, read in the one sync per report: a BatchEnded,
        or a Finished (the best weights put back) when one of them is not a number."""
        losses, sizes = self.world.losses(loop.pending_losses, loop.pending_sizes)
        bad = np.flatnonzero(~np.isfinite(losses))
        if len(bad):
            failed_batch = batch + 2 - len(losses) + int(bad[0])
            self.model.load_state_dict(loop.best.state)
            return Finished("nan_loss", nan_message(losses[bad[0]], epoch, failed_batch, loop.best, self.settings))
        reported = sum(sizes)
        loop.samples_seen += reported
        mean_loss = float(np.dot(losses, sizes) / reported)
        loop.epoch_loss_sum += mean_loss * reported
        loop.epoch_samples += reported
        training_time = loop.train_seconds + now - loop_started
        elapsed = now - loop.run_started - loop.paused_seconds
        progress = loop.samples_seen / (loop.epochs * loop.samples_per_epoch)
        smoothed_loss = loop.smoothed.add(mean_loss)
        self.reports.append(Report(position, mean_loss, smoothed_loss, loop.learning_rate))
        loop.pending_losses, loop.pending_sizes = [], []  # `sizes` may be the list held until now
        return BatchEnded(epoch, batch + 1, loop.batches, mean_loss, loop.samples_seen,
                          loop.samples_seen / training_time if training_time > 0 else 0.0,
                          position, smoothed_loss, loop.learning_rate, elapsed,
                          elapsed * (1 - progress) / progress, progress)

    def _end_epoch(self, loop: _Loop, epoch: int) -> Generator[TrainingEvent, None, Finished | None]:
        """Validation, the epoch's figures, the best weights so far and early stopping."""
        train_loss = loop.epoch_loss_sum / loop.epoch_samples
        self._where = f"during the validation of epoch {epoch}"
        validation = evaluate(self.model, loop.val_x, loop.val_y, self.task,
                              max(self.settings.batch_size, EVALUATION_BATCH),
                              self.control.check_stop) if len(loop.val_x) else None
        train_accuracy = int(self.world.total(loop.correct)) / loop.epoch_samples \
            if TASKS[self.task].has_classes else None
        ended = _epoch_ended(epoch, loop.epochs, train_loss, train_accuracy, validation, loop.learning_rate,
                             time.perf_counter() - loop.epoch_started)
        self.history.append(ended)
        yield ended
        monitored = self.world.leaders(ended.val_loss if validation else train_loss)
        if monitored < loop.best.loss:  # False for NaN, which never counts as an improvement
            loop.best, loop.stale_epochs = _Best(_snapshot(self.model), monitored, epoch), 0
            self._best = loop.best
        else:
            loop.stale_epochs += 1
        patience = self.settings.early_stopping_patience
        if patience and loop.stale_epochs >= patience and epoch < loop.epochs:
            self.model.load_state_dict(loop.best.state)
            monitored_name = _monitored_name(validation)
            return Finished("early_stopping", f"The {monitored_name} has not improved for {patience} "
                            f"epoch{'s' * (patience > 1)}: stopped after epoch {epoch} and kept the weights of "
                            f"epoch {loop.best.epoch} ({monitored_name} {loop.best.loss:.4f}).")
        return None

    def _apply_changes(self, changes: dict, optimizer: torch.optim.Optimizer, schedules: tuple, batches: int):
        """The optimizer and schedules to go on with after the user changed settings while paused,
        and the changes that took effect as (setting, before, after); for the learning rate,
        the rate in use before and after (what the curves show), not the schedule's base.

        The run stays the same run: a new optimizer is built on the same parameters at the rate
        the schedule has reached and its schedule continues from the same step; a new learning
        rate rescales the schedule (its base and its current rate alike), so a cosine schedule
        halfway down stays halfway down, from the new height.
        """
        before = self.settings
        rate_before = optimizer.param_groups[0]["lr"]
        changed = [(name, getattr(before, name), value) for name, value in changes.items()
                   if getattr(before, name) != value]
        if "optimizer" in changes and changes["optimizer"] != before.optimizer:
            optimizer, schedules = self._switch_optimizer(changes["optimizer"], optimizer, schedules, batches)
        if "learning_rate" in changes:
            _scale_learning_rate(changes["learning_rate"] / self.settings.learning_rate, optimizer, schedules)
        if "weight_decay" in changes:
            for group in optimizer.param_groups:
                group["weight_decay"] = changes["weight_decay"]
        self.settings = self.settings.replace(**changes)
        rate_after = optimizer.param_groups[0]["lr"]
        changed = tuple((name, rate_before, rate_after) if name == "learning_rate" else (name, was, value)
                        for name, was, value in changed)
        return optimizer, schedules, changed

    def _switch_optimizer(self, name: str, optimizer: torch.optim.Optimizer, schedules: tuple,
                          batches: int) -> tuple[torch.optim.Optimizer, tuple]:
        """A new optimizer `name` on the same parameters, at the rate the schedule has reached, its
        schedule continuing from the same step."""
        rate = optimizer.param_groups[0]["lr"]
        states = [schedule.state_dict() if schedule is not None else None for schedule in schedules]
        self.settings = self.settings.replace(optimizer=name)
        optimizer = build_optimizer(self.model, self.settings)
        schedules = build_schedule(optimizer, self.settings, batches)
        for schedule, state in zip(schedules, states):
            if schedule is not None:
                schedule.load_state_dict(state)
        for group in optimizer.param_groups:
            group["lr"] = rate
        return optimizer, schedules

    @staticmethod
    def _epoch_order(loop: _Loop, epoch: int) -> torch.Tensor:
        """The rows of train_x that `epoch` trains on, shuffled: all of them, or with
        samples_per_epoch the next that many after the previous epoch's, wrapping round to the start."""
        count, per_epoch = len(loop.train_x), loop.samples_per_epoch
        shuffled = torch.randperm(per_epoch, generator=loop.order_generator)
        return shuffled if per_epoch == count else (shuffled + (epoch - 1) * per_epoch) % count

    def _batches(self, size: int, batch_size: int) -> tuple[int, int]:
        """The number of batches per epoch and where the last one ends.

        BatchNorm cannot measure batch statistics on one sample ("Expected more than 1 value per
        channel"), so with batch-statistics layers a last batch that would leave a process one
        sample joins the batch before it (65 samples at batch 64: one batch of 65). Joining rather
        than dropping it keeps every sample in every epoch and changes one batch's size by less
        than one process's share.
        """
        world = self.world
        batches = world.batches(size, batch_size)
        last_end = min(size, batches * batch_size)
        layer = _batch_statistics_layer(self.model)
        if layer is None:
            return batches, last_end
        if batches > 1 and (last_end - (batches - 1) * batch_size) // world.size < 2:
            batches -= 1
        if (min(batch_size, last_end) if batches == 1 else batch_size) // world.size < 2:
            per_process = " per process" if world.distributed else ""
            raise TrainingError(f'BatchNorm layer "{layer}" needs batches of at least 2 samples{per_process} to '
                                f"measure its statistics, but this run gives it "
                                f"{min(batch_size, size) // world.size}: raise the batch size (now {batch_size})"
                                + (" or add training data" if size < 2 * world.size else "") + ".")
        return batches, last_end

    def _split(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The training and validation tensors; a share of the training data is held out when the
        dataset has no validation set of its own."""
        data = self.dataset
        if len(data.train_x) == 0:
            raise TrainingError(f'The dataset "{data.name}" has no training samples.')
        if len(data.val_x) or data.no_validation or self.settings.validation_split == 0 or len(data.train_x) < 2:
            return data.train_x, data.train_y, data.val_x, data.val_y
        labels = None if data.train_y.is_floating_point() else data.train_y.numpy()
        train, val = train_val_split(len(data.train_x), self.settings.validation_split, self.settings.seed, labels)
        train, val = torch.from_numpy(train), torch.from_numpy(val)
        return _rows(data.train_x, train), data.train_y[train], _rows(data.train_x, val), data.train_y[val]

    def _check_fit(self, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> None:
        """Run two samples through the model, and explain a mismatch between data and network
        before it surfaces as an error deep inside PyTorch."""
        data = self.dataset
        if not x.is_floating_point() and len(x):
            _check_vocabularies(self.model, int(x.max()), data)
        self.model.eval()
        try:
            with torch.no_grad():
                outputs = self.model(x[:2].to(device))
        except Exception as error:  # whatever PyTorch raises, the cause is the data's shape or type
            raise TrainingError(
                f'The data does not fit the network: samples of "{data.name}" are '
                f"{format_shape(tuple(x.shape[1:]))} {_dtype_name(x)}, and the network fails on them "
                f"({_first_line(error)}). Make the Input layer's shape match the data.") from None
        if TASKS[self.task].has_classes:
            if y.is_floating_point():
                raise TrainingError(f'The Output layer is set to classification, but "{data.name}" has '
                                    "continuous targets: set the Output's task to regression.")
            scores = outputs.shape[1] if outputs.dim() == 2 else None
            classes = max(data.num_classes, int(y.max()) + 1)
            if scores is None:
                raise TrainingError(f"A classification network must output one score per class, but this one "
                                    f"outputs {format_shape(tuple(outputs.shape[1:]))} per sample.")
            if scores < classes:
                raise TrainingError(f'"{data.name}" has {classes} classes but the network outputs {scores} '
                                    f"scores: give the last Dense layer {classes} units.")
        elif not y.is_floating_point():
            raise TrainingError(f'The Output layer is set to regression, but "{data.name}" has class labels: set the '
                                "Output's task to classification.")
        elif TASKS[self.task].target_is_input and outputs.shape[1:] != y.shape[1:]:
            raise TrainingError(f"A {self.task} network must give back its input, but this one turns "
                                f"{format_shape(tuple(y.shape[1:]))} samples into {format_shape(tuple(outputs.shape[1:]))}: "
                                "make the last layer's output the Input's shape.")
        elif outputs[0].numel() != y[0].numel():
            raise TrainingError(f"The network predicts {outputs[0].numel()} value(s) per sample but "
                                f'"{data.name}" has {y[0].numel()} target(s): give the last Dense layer '
                                f"{y[0].numel()} unit(s).")

    def _choose_precision(self, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> tuple[str, tuple[str, ...]]:
        """"fast" only where the hardware has bfloat16 and the model's gradients survive it."""
        if self.settings.precision != "fast":
            return "fp32", ()
        if not bfloat16_supported(device):
            return "fp32", (f"This {device.type.upper()} has no fast bfloat16 arithmetic, so training "
                            "runs in full precision.",)
        agreement = _gradient_agreement(self.model, x, y, self.task, device, self.control.check_stop)
        if agreement < _FAST_GRADIENT_AGREEMENT:
            return "fp32", ("Fast precision changed this network's gradients too much "
                            f"(agreement {agreement:.3f} < {_FAST_GRADIENT_AGREEMENT}), so training runs "
                            "in full precision.",)
        return "fast", ()

    def _augmentation(self, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor] | None:
        if not self.settings.augment or self.dataset.kind != "image":
            return None
        generator = torch.Generator(device).manual_seed(self.settings.seed + self.world.rank)
        return lambda images: training_augmentation(images.shape[1])(images, generator)

    def _keep_best(self) -> str:
        """After a stop or a failure: put back the best epoch's weights, so that what is kept is
        what the history vouches for (not a half-trained epoch); 'kept the weights of epoch N' for
        the message, or '' when no epoch ended."""
        best = self._best
        if best is None or not best.epoch:
            return ""
        try:
            self.model.load_state_dict(best.state)
        except Exception:  # noqa: BLE001 - a model too broken to take its own weights back...
            self._best, self.history = None, []  # ...is not kept: without epochs, kept_run keeps nothing
            return ""
        return f"kept the weights of epoch {best.epoch}, the best so far"

    def _summary(self, best: _Best | None) -> str:
        last = self.history[-1]
        if last.val_accuracy is not None:
            result = f"validation accuracy {100 * last.val_accuracy:.1f}%"
        elif last.val_loss is not None:
            result = f"validation loss {last.val_loss:.4f}"
        else:
            result = f"training loss {last.train_loss:.4f}"
        kept = f"; kept the weights of epoch {best.epoch}, the best" if best and best.epoch != last.epoch else ""
        return f"Trained {last.epoch} epoch{'s' * (last.epoch > 1)}: {result}{kept}."


def resolve_device(choice: str) -> torch.device:
    """ "auto": CUDA when available, else the CPU."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise TrainingError("The device is set to CUDA, but this computer's PyTorch sees no CUDA GPU: "
                            "choose auto or cpu.")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda")


def bfloat16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def build_optimizer(model: torch.nn.Module, settings: TrainingSettings) -> torch.optim.Optimizer:
    """Momentum and Nesterov apply to SGD only: RMSprop's momentum is a different, rarely wanted
    knob that would change its default behaviour."""
    params, rate, decay = list(model.parameters()), settings.learning_rate, settings.weight_decay
    if not params:
        raise TrainingError("The network has no weights to train: add a layer that learns (Dense, Conv, LSTM, "
                            "Embedding, ...) between the Input and the Output.")
    if settings.optimizer == "sgd":
        if settings.nesterov and settings.momentum == 0:
            raise TrainingError("Nesterov momentum needs a momentum above 0: raise the momentum or turn Nesterov off.")
        return torch.optim.SGD(params, lr=rate, momentum=settings.momentum, nesterov=settings.nesterov,
                               weight_decay=decay)
    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}
    return optimizers[settings.optimizer](params, lr=rate, weight_decay=decay)


def _scale_learning_rate(factor: float, optimizer: torch.optim.Optimizer, schedules: tuple) -> None:
    """The current rate and the schedules' anchors alike, so a schedule keeps its shape from the new height."""
    for group in optimizer.param_groups:
        for key in ("lr", "initial_lr", "max_lr", "min_lr"):  # the last three: schedules' anchors
            if key in group:
                group[key] *= factor
    for schedule in schedules:
        if schedule is not None:
            schedule.base_lrs = [rate * factor for rate in schedule.base_lrs]


def build_schedule(optimizer: torch.optim.Optimizer, settings: TrainingSettings, batches: int):
    """(schedule stepped after each epoch, schedule stepped after each batch); at most one is set.

    step: the rate drops tenfold after each third of the epochs; cosine: it falls smoothly to 0
    over the run; one_cycle: it rises to the set rate over the first 30% of the run, then falls.
    """
    total = settings.epochs * batches
    if settings.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, settings.epochs // 3), gamma=0.1), None
    if settings.schedule == "cosine":
        return None, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if settings.schedule == "one_cycle":
        # Momentum cycling is off so that the user's momentum setting means what it says.
        return None, torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.learning_rate,
                                                         total_steps=total, cycle_momentum=False)
    return None, None


def nan_message(loss: float, epoch: int, batch: int, best: _Best, settings: TrainingSettings) -> str:
    what = "NaN" if math.isnan(loss) else "infinite"
    kept = f"kept the weights of epoch {best.epoch}" if best.epoch else "restored the initial weights"
    return (f"The loss became {what} at epoch {epoch}, batch {batch}: lower the learning rate "
            f"(now {settings.learning_rate:g}) or add BatchNorm. Training stopped and {kept}.")


def describe_failure(error: Exception, settings: TrainingSettings) -> str:
    if isinstance(error, (TrainingError, DataError)):
        return str(error)
    if isinstance(error, (MemoryError, torch.cuda.OutOfMemoryError)):
        return (f"Out of memory: lower the batch size (now {settings.batch_size}) or make the network smaller.")
    return f"Training stopped on an error: {_first_line(error)}"


def _gradient_agreement(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, task: Task,
                        device: torch.device, check_stop: Callable[[], None]) -> float:
    """Cosine similarity of the gradients of one batch computed in bfloat16 and in full precision.

    Eval mode keeps dropout identical in both passes and batch norm statistics untouched.
    """
    model.eval()
    gradients = []
    for fast in (False, True):
        check_stop()
        model.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            loss = task_loss(model(x), y, task)
        loss.backward()
        gradients.append(torch.cat([p.grad.flatten().float() for p in model.parameters() if p.grad is not None]))
    model.zero_grad(set_to_none=True)
    return float(F.cosine_similarity(gradients[0], gradients[1], dim=0))


def _rows(x: torch.Tensor | StreamedImages, indices: torch.Tensor) -> torch.Tensor | StreamedImages:
    """The samples at `indices`; of streamed images, the rows that will be read, still unread."""
    return x.subset(indices) if isinstance(x, StreamedImages) else x[indices]


def _place(tensor: torch.Tensor | StreamedImages, device: torch.device) -> torch.Tensor | StreamedImages:
    """Keep data on the training device when it fits, else in (pinned) host memory; streamed
    images stay where they are, each batch is copied as it is read."""
    if device.type == "cpu" or isinstance(tensor, StreamedImages):
        return tensor
    free, _ = torch.cuda.mem_get_info(device)
    if tensor.numel() * tensor.element_size() < _GPU_DATA_SHARE * free:
        return tensor.to(device)
    return tensor.pin_memory()


def training_layout(model: torch.nn.Module, device: torch.device) -> torch.memory_format:
    """Channels-last for 2-D convolutions on a CPU. Only the layout changes, not the values; the
    CNN template trains 1.3 times faster in fp32 and 1.6 times in the fast mode, the residual CNN
    1.2 and 1.3 times (measured on a 2-core AMD EPYC). GPUs keep their layout: not measured there."""
    if device.type == "cpu" and any(parameter.dim() == 4 for parameter in model.parameters()):
        return torch.channels_last
    return torch.preserve_format


def _validation_samples(dataset: Dataset, x: torch.Tensor | StreamedImages,
                        y: torch.Tensor | StreamedImages) -> ValidationSamples | None:
    if len(x) == 0:
        return None
    # streamed images stay streamed (a reconstruction's targets are the images): the gallery reads the few it shows
    samples = x if isinstance(x, StreamedImages) else x.cpu().numpy().copy()
    targets = y if isinstance(y, StreamedImages) else y.cpu().numpy().copy()
    return ValidationSamples(samples, targets, dataset.kind,
                             tuple(dataset.vocabulary or ()))


def _epoch_ended(epoch: int, epochs: int, train_loss: float, train_accuracy: float | None,
                 validation: Evaluation | None, learning_rate: float, seconds: float) -> EpochEnded:
    if validation is None:
        return EpochEnded(epoch, epochs, train_loss, train_accuracy, None, None, learning_rate, seconds)
    classification = validation.accuracy is not None
    return EpochEnded(epoch, epochs, train_loss, train_accuracy, validation.loss, validation.accuracy,
                      learning_rate, seconds,
                      confusion=validation.confusion if classification else None,
                      per_class_accuracy=validation.per_class_accuracy if classification else None,
                      val_predictions=validation.predictions, val_probabilities=validation.probabilities)


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _refuse_continuous_labels(dataset: Dataset) -> None:
    """Labels that are numbers with fractions (0.37, 1.92, ...) are measurements, not classes: a
    classifier would get one class per distinct value and advice about its unit count."""
    numbers = []
    for name in dataset.class_names:
        try:
            numbers.append(float(name))
        except ValueError:
            return
    if len(numbers) > 2 and not all(number.is_integer() for number in numbers if math.isfinite(number)):
        examples = ", ".join(shown(name, 20) for name in dataset.class_names[:3])
        raise TrainingError(f'The Output is set to classification, but the labels of "{shown(dataset.name)}" are '
                            f"{len(numbers):,} different numbers ({examples}, ...), which look like continuous "
                            "targets: set the Output's task to regression, or give class labels.")


def _check_vocabularies(model: torch.nn.Module, highest_id: int, data: Dataset) -> None:
    """Token ids beyond an Embedding's vocabulary fail inside PyTorch as 'index out of range':
    name the layer and the size it needs instead (every id the data's vocabulary can give)."""
    needed = max(highest_id + 1, len(data.vocabulary or ()))
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Embedding) and module.num_embeddings < needed:
            raise TrainingError(f'"{shown(data.name)}" has {needed:,} token ids (its words, padding and the unknown '
                                f'word), but Embedding "{name}" has a vocabulary of {module.num_embeddings:,}: raise '
                                f"its vocabulary to at least {needed:,}.")


def _batch_statistics_layer(model: torch.nn.Module) -> str | None:
    """The name of the first layer that normalises with the statistics of each training batch."""
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            return name or type(module).__name__
    return None


def _with_kept(message: str, kept: str) -> str:
    return f"{message.rstrip('.')}; {kept}." if kept else message


def _monitored_name(validation) -> str:
    return "validation loss" if validation else "training loss"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _dtype_name(tensor: torch.Tensor) -> str:
    return "token ids" if not tensor.is_floating_point() else "values"


def prepare(project: Project, dataset_spec: str | None = None, progress: Progress | None = None,
            *, dataset: Dataset | None = None) -> tuple[torch.fx.GraphModule, Dataset, Task]:
    """The compiled model, its dataset shaped for the Input layer, and the Output layer's task.

    `dataset_spec` overrides the project's dataset; `dataset` is one already loaded (still fitted
    to the Input). The initial weights come from the project's seed. Raises CompileError,
    DataError or TrainingError with a message for the user.
    """
    graph = project.graph
    analysis = analyze(graph)
    if not analysis.ok:
        raise CompileError(analysis)
    inputs = input_nodes(graph, analysis)
    if len(inputs) != 1:
        raise TrainingError(f"Training feeds one Input layer, but this network has {len(inputs)}: "
                            "remove the others.")
    spec = project.dataset if dataset_spec is None else dataset_spec
    if dataset is None and not spec.strip():
        raise DataError("No dataset is chosen: choose one (for example the built-in digits) before training.")
    from netbuilder.data.catalog import load_dataset  # pulls in every loader; only when training
    from netbuilder.data.builtin import known_sample_shape
    from netbuilder.data.fit import fit_to_input, refuse_mismatch, targets_for_task

    task = graph.nodes[output_node(graph)].params["task"]  # the Output decides; the data is never asked
    input_info = analysis.info[inputs[0]]
    if dataset is None and (shape := known_sample_shape(spec)) is not None:  # before generating or downloading it
        refuse_mismatch(spec.strip(), "image", shape, input_info.shape, input_info.token_ids)
    loaded = dataset if dataset is not None else \
        load_dataset(spec, progress=progress, task=task, input_shape=input_info.shape,
                     in_memory_limit=in_memory_limit())
    dataset = targets_for_task(fit_to_input(loaded, input_info.shape, input_info.token_ids), task)
    if TASKS[task].has_classes:
        _refuse_continuous_labels(dataset)
    if TASKS[dataset.task].has_classes:
        problem = class_count_problem(graph, analysis, dataset.num_classes)
        if problem and problem.severity == "error":  # spare scores train, as the window's warning says
            raise TrainingError(f"{problem.message}.")
    with _GLOBAL_GENERATOR_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(project.training.seed)
        model = compile_graph(graph, analysis)
    return model, dataset, task
