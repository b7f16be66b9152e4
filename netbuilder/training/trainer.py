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
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from netbuilder.core.analysis import analyze, class_count_problem
from netbuilder.core.compile import CompileError, compile_graph, input_nodes, output_node
from netbuilder.core.layers import format_shape
from netbuilder.core.project import Project
from netbuilder.core.settings import TrainingSettings
from netbuilder.data.augment import Augmentation
from netbuilder.data.base import Dataset, DataError, Task, train_val_split
from netbuilder.data.download import Progress

from .events import BatchEnded, EpochEnded, Finished, Started, TrainingEvent
from .metrics import evaluate, task_loss

# The fast (bfloat16) mode must leave the gradient pointing the same way as full precision:
# measured cosine similarity is 0.9994 for the CNN template and 0.99999 for the residual CNN.
_FAST_GRADIENT_AGREEMENT = 0.99
# Mild changes that keep what an image shows; no mirroring, since a mirrored 2 is no 2.
TRAINING_AUGMENTATION = Augmentation(rotation_degrees=10.0, shift_fraction=0.1, scale_fraction=0.1)
# Data larger than this share of free GPU memory stays in host memory and is copied per batch.
_GPU_DATA_SHARE = 0.5


class TrainingError(Exception):
    """Training cannot start or go on; the message says why and what to change."""


@dataclass
class _Best:
    """The weights with the lowest monitored loss so far (the initial weights before any epoch)."""

    state: dict[str, torch.Tensor]
    loss: float = math.inf
    epoch: int = 0


class Trainer:
    """Trains `model` on `dataset` as `settings` say; `run()` yields the events of the run.

    `pause`, `resume` and `stop` may be called from any thread. Stop takes effect before the
    next batch; pause holds the run between two batches (blocked, not spinning) until resume or
    stop. The run seeds torch's global generator with `settings.seed`, so the same seed, data and
    initial weights give the same losses. With early stopping on (patience > 0) the model ends
    with the weights of its best epoch; after a NaN loss, with the best weights so far. When the
    run ends the model is back on the CPU in eval mode, ready for predictions and saving.
    """

    def __init__(self, model: torch.nn.Module, dataset: Dataset, settings: TrainingSettings, task: Task,
                 *, report_interval: float = 0.25):
        self.model = model
        self.dataset = dataset
        self.settings = settings
        self.task = task
        self.report_interval = report_interval  # seconds between BatchEnded events; 0: every batch
        self.history: list[EpochEnded] = []
        self._stop_requested = threading.Event()
        self._not_paused = threading.Event()
        self._not_paused.set()

    def stop(self) -> None:
        self._stop_requested.set()
        self._not_paused.set()  # wake a paused run so that it can stop

    def pause(self) -> None:
        self._not_paused.clear()

    def resume(self) -> None:
        self._not_paused.set()

    @property
    def paused(self) -> bool:
        return not self._not_paused.is_set()

    def run(self) -> Iterator[TrainingEvent]:
        """Events up to and including one Finished; exceptions become Finished("failed")."""
        try:
            yield from self._run()
        except Exception as error:  # the user gets a readable reason, a bug report the traceback
            yield Finished("failed", describe_failure(error, self.settings), traceback.format_exc())
        finally:
            self.model.to("cpu", memory_format=torch.contiguous_format)  # plain tensors for saving
            self.model.eval()

    def _run(self) -> Iterator[TrainingEvent]:
        settings, model, task = self.settings, self.model, self.task
        device = resolve_device(settings.device)
        self.history = []
        torch.manual_seed(settings.seed)
        train_x, train_y, val_x, val_y = self._split()
        model.to(device, memory_format=_training_layout(model, device))
        train_x, train_y = _place(train_x, device), _place(train_y, device)
        val_x, val_y = _place(val_x, device), _place(val_y, device)
        self._check_fit(train_x, train_y, device)
        optimizer = build_optimizer(model, settings)
        size, batch_size = len(train_x), settings.batch_size
        batches = math.ceil(size / batch_size)
        epoch_schedule, batch_schedule = build_schedule(optimizer, settings, batches)
        check = min(batch_size, 256)
        precision, notes = self._choose_precision(train_x[:check], train_y[:check], device)
        autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if precision == "fast" \
            else contextlib.nullcontext
        augment = self._augmentation(device)
        if settings.augment and augment is None:
            notes += ("Augmentation applies to images only, so this run trains without it.",)
        yield Started(device.type, precision, size, len(val_x), batches, notes)

        order_generator = torch.Generator().manual_seed(settings.seed)
        best = _Best(_snapshot(model))
        stale_epochs = 0
        samples_seen, train_seconds = 0, 0.0
        classification = task == "classification"
        for epoch in range(1, settings.epochs + 1):
            epoch_started = time.perf_counter()
            model.train()
            order = torch.randperm(size, generator=order_generator).to(train_x.device)
            correct = torch.zeros((), dtype=torch.int64, device=device)
            pending_losses: list[torch.Tensor] = []
            pending_sizes: list[int] = []
            epoch_loss_sum = 0.0
            last_report = loop_started = time.perf_counter()
            for batch in range(batches):
                if not self._not_paused.is_set():
                    train_seconds -= self._wait_while_paused()
                if self._stop_requested.is_set():
                    yield Finished("stopped", f"Stopped at epoch {epoch}, batch {batch + 1} of {batches}.")
                    return
                indices = order[batch * batch_size:(batch + 1) * batch_size]
                inputs = train_x.index_select(0, indices).to(device, non_blocking=True)
                targets = train_y.index_select(0, indices).to(device, non_blocking=True)
                if augment is not None:
                    inputs = augment(inputs)
                with autocast():
                    outputs = model(inputs)
                    loss = task_loss(outputs, targets, task, settings.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                learning_rate = optimizer.param_groups[0]["lr"]
                optimizer.step()
                if batch_schedule is not None:
                    batch_schedule.step()
                pending_losses.append(loss.detach())
                pending_sizes.append(len(indices))
                if classification:
                    correct += (outputs.argmax(dim=1) == targets).sum()
                now = time.perf_counter()
                if now - last_report < self.report_interval and batch + 1 < batches:
                    continue
                losses = torch.stack(pending_losses).float().cpu().numpy()  # the one sync per report
                bad = np.flatnonzero(~np.isfinite(losses))
                if len(bad):
                    failed_batch = batch + 2 - len(losses) + int(bad[0])
                    model.load_state_dict(best.state)
                    yield Finished("nan_loss", nan_message(losses[bad[0]], epoch, failed_batch, best, settings))
                    return
                samples_seen += sum(pending_sizes)
                epoch_loss_sum += float(np.dot(losses, pending_sizes))
                elapsed = train_seconds + now - loop_started
                yield BatchEnded(epoch, batch + 1, batches, float(np.dot(losses, pending_sizes) / sum(pending_sizes)),
                                 samples_seen, samples_seen / elapsed if elapsed > 0 else 0.0)
                pending_losses.clear()
                pending_sizes.clear()
                last_report = time.perf_counter()
            train_seconds += time.perf_counter() - loop_started
            if epoch_schedule is not None:
                epoch_schedule.step()

            train_loss = epoch_loss_sum / size
            validation = evaluate(model, val_x, val_y, task, max(batch_size, 512)) if len(val_x) else None
            ended = EpochEnded(epoch, settings.epochs, train_loss,
                               int(correct) / size if classification else None,
                               validation.loss if validation else None,
                               validation.accuracy if validation else None,
                               learning_rate, time.perf_counter() - epoch_started)
            self.history.append(ended)
            yield ended

            monitored = ended.val_loss if validation else train_loss
            if monitored < best.loss:  # False for NaN, which never counts as an improvement
                best, stale_epochs = _Best(_snapshot(model), monitored, epoch), 0
            else:
                stale_epochs += 1
            patience = settings.early_stopping_patience
            if patience and stale_epochs >= patience and epoch < settings.epochs:
                model.load_state_dict(best.state)
                yield Finished("early_stopping", f"The {_monitored_name(validation)} has not improved for "
                               f"{patience} epoch{'s' * (patience > 1)}: stopped after epoch {epoch} and kept "
                               f"the weights of epoch {best.epoch} ({_monitored_name(validation)} {best.loss:.4f}).")
                return
        if settings.early_stopping_patience and best.epoch:
            model.load_state_dict(best.state)
        yield Finished("completed", self._summary(best if settings.early_stopping_patience else None))

    def _split(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The training and validation tensors; a share of the training data is held out when the
        dataset has no validation set of its own."""
        data = self.dataset
        if len(data.train_x) == 0:
            raise TrainingError(f'The dataset "{data.name}" has no training samples.')
        if len(data.val_x) or self.settings.validation_split == 0 or len(data.train_x) < 2:
            return data.train_x, data.train_y, data.val_x, data.val_y
        labels = None if data.train_y.is_floating_point() else data.train_y.numpy()
        train, val = train_val_split(len(data.train_x), self.settings.validation_split, self.settings.seed, labels)
        train, val = torch.from_numpy(train), torch.from_numpy(val)
        return data.train_x[train], data.train_y[train], data.train_x[val], data.train_y[val]

    def _check_fit(self, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> None:
        """Run two samples through the model, and explain a mismatch between data and network
        before it surfaces as an error deep inside PyTorch."""
        data = self.dataset
        self.model.eval()
        try:
            with torch.no_grad():
                outputs = self.model(x[:2].to(device))
        except Exception as error:  # whatever PyTorch raises, the cause is the data's shape or type
            raise TrainingError(
                f'The data does not fit the network: samples of "{data.name}" are '
                f"{format_shape(tuple(x.shape[1:]))} {_dtype_name(x)}, and the network fails on them "
                f"({_first_line(error)}). Make the Input layer's shape match the data.") from None
        if self.task == "classification":
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
        elif outputs[0].numel() != y[0].numel() or not y.is_floating_point():
            raise TrainingError(f"The network predicts {outputs[0].numel()} value(s) per sample but "
                                f'"{data.name}" has {y[0].numel()} target(s): give the last Dense layer '
                                f"{y[0].numel()} unit(s), or set the Output's task to classification "
                                "for class labels.")

    def _choose_precision(self, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> tuple[str, tuple[str, ...]]:
        """"fast" only where the hardware has bfloat16 and the model's gradients survive it."""
        if self.settings.precision != "fast":
            return "fp32", ()
        if not bfloat16_supported(device):
            return "fp32", (f"This {device.type.upper()} has no fast bfloat16 arithmetic, so training "
                            "runs in full precision.",)
        agreement = _gradient_agreement(self.model, x, y, self.task, device)
        if agreement < _FAST_GRADIENT_AGREEMENT:
            return "fp32", ("Fast precision changed this network's gradients too much "
                            f"(agreement {agreement:.3f} < {_FAST_GRADIENT_AGREEMENT}), so training runs "
                            "in full precision.",)
        return "fast", ()

    def _augmentation(self, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor] | None:
        if not self.settings.augment or self.dataset.kind != "image":
            return None
        generator = torch.Generator(device).manual_seed(self.settings.seed)
        return lambda images: TRAINING_AUGMENTATION(images, generator)

    def _wait_while_paused(self) -> float:
        started = time.perf_counter()
        self._not_paused.wait()
        return time.perf_counter() - started

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
    params, rate, decay = model.parameters(), settings.learning_rate, settings.weight_decay
    if settings.optimizer == "sgd":
        if settings.nesterov and settings.momentum == 0:
            raise TrainingError("Nesterov momentum needs a momentum above 0: raise the momentum or turn Nesterov off.")
        return torch.optim.SGD(params, lr=rate, momentum=settings.momentum, nesterov=settings.nesterov,
                               weight_decay=decay)
    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}
    return optimizers[settings.optimizer](params, lr=rate, weight_decay=decay)


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
                        device: torch.device) -> float:
    """Cosine similarity of the gradients of one batch computed in bfloat16 and in full precision.

    Eval mode keeps dropout identical in both passes and batch norm statistics untouched.
    """
    model.eval()
    gradients = []
    for fast in (False, True):
        model.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            loss = task_loss(model(x), y, task)
        loss.backward()
        gradients.append(torch.cat([p.grad.flatten().float() for p in model.parameters() if p.grad is not None]))
    model.zero_grad(set_to_none=True)
    return float(F.cosine_similarity(gradients[0], gradients[1], dim=0))


def _place(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Keep data on the training device when it fits, else in (pinned) host memory."""
    if device.type == "cpu":
        return tensor
    free, _ = torch.cuda.mem_get_info(device)
    if tensor.numel() * tensor.element_size() < _GPU_DATA_SHARE * free:
        return tensor.to(device)
    return tensor.pin_memory()


def _training_layout(model: torch.nn.Module, device: torch.device) -> torch.memory_format:
    """Channels-last for 2-D convolutions on a CPU. Only the layout changes, not the values; the
    CNN template trains 1.3 times faster in fp32 and 1.6 times in the fast mode, the residual CNN
    1.2 and 1.3 times (measured on a 2-core AMD EPYC). GPUs keep their layout: not measured there."""
    if device.type == "cpu" and any(parameter.dim() == 4 for parameter in model.parameters()):
        return torch.channels_last
    return torch.preserve_format


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _monitored_name(validation) -> str:
    return "validation loss" if validation else "training loss"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _dtype_name(tensor: torch.Tensor) -> str:
    return "token ids" if not tensor.is_floating_point() else "values"


def prepare(project: Project, dataset_spec: str | None = None,
            progress: Progress | None = None) -> tuple[torch.fx.GraphModule, Dataset, Task]:
    """The compiled model, its dataset shaped for the Input layer, and the Output layer's task.

    `dataset_spec` overrides the project's dataset. The initial weights come from the project's
    seed. Raises CompileError, DataError or TrainingError with a message for the user.
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
    if not spec.strip():
        raise DataError("No dataset is chosen: choose one (for example the built-in digits) before training.")
    from netbuilder.data.catalog import load_dataset  # pulls in every loader; only when training
    from netbuilder.data.fit import fit_to_input

    task = graph.nodes[output_node(graph)].params["task"]  # the Output decides; the data is never asked
    input_info = analysis.info[inputs[0]]
    dataset = fit_to_input(load_dataset(spec, progress=progress, task=task), input_info.shape, input_info.token_ids)
    if dataset.task == "classification":
        problem = class_count_problem(graph, analysis, dataset.num_classes)
        if problem:
            raise TrainingError(f"{problem.message}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(project.training.seed)
        model = compile_graph(graph, analysis)
    return model, dataset, task
