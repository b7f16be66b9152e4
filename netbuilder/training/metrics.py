"""Loss and quality measures of a model on a set of samples."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from netbuilder.common.contracts import TASKS
from netbuilder.data.base import Task
from netbuilder.data.stream import StreamedImages
from netbuilder.common.text import SHOWN_NAME_CHARACTERS, shown



def cross_entropy_loss(outputs: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    return F.cross_entropy(outputs, targets, label_smoothing=label_smoothing)


def mse_loss(outputs: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Label smoothing spreads class probabilities; a regression has none to spread."""
    return F.mse_loss(outputs, targets.view_as(outputs))


# The loss of each contracts.TASKS loss name; the code export writes these very functions into its
# training script.
LOSSES = {"cross_entropy": cross_entropy_loss, "mse": mse_loss}


def task_loss(outputs: torch.Tensor, targets: torch.Tensor, task: Task,
              label_smoothing: float = 0.0) -> torch.Tensor:
    """The loss the Output's task names (contracts.TASKS): cross-entropy on raw scores for
    classification, mean squared error for regression."""
    return LOSSES[TASKS[task].loss](outputs, targets, label_smoothing)


# A confusion matrix holds classes² counts, in memory and in every epoch of the saved history: up
# to this many classes it is kept (8 MB); beyond, only each class's accuracy.
MAX_CONFUSION_CLASSES = 1000


@dataclass
class Evaluation:
    loss: float
    accuracy: float | None  # fraction correct; None for regression
    # int64 (classes, classes): rows are true classes, columns predictions; None for regression
    # and above MAX_CONFUSION_CLASSES classes
    confusion: np.ndarray | None
    per_class_accuracy: np.ndarray  # fraction of each true class predicted right; NaN without samples
    predictions: np.ndarray  # predicted class per sample (int64), or the raw outputs for regression
    # float32 (samples, classes) softmax; None for regression and where there is no confusion matrix
    # (whose cells it lets a user open)
    probabilities: np.ndarray | None = None


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, task: Task,
             batch_size: int = 512, between_chunks: Callable[[], None] | None = None) -> Evaluation:
    """Run `model` over all of `x` in eval mode on the model's device, in full precision.

    The model's train/eval mode is restored afterwards, so this can run between epochs.
    `between_chunks` is called before each chunk of `batch_size` samples and may raise to
    abandon the evaluation (a stopped training run does not wait for a whole validation pass).
    Each chunk's scores are reduced as they come, so that memory grows with the samples and the
    classes, never with their product, unless there are few enough classes to keep probabilities.
    """
    if len(x) == 0:
        raise ValueError("evaluate needs at least one sample")
    device = next(model.parameters(), torch.empty(0)).device
    # the targets of a reconstruction of streamed images are those images: read chunk by chunk
    targets = y if isinstance(y, StreamedImages) else y.to(device)
    classify = TASKS[task].metric == "accuracy"
    was_training = model.training
    model.eval()
    loss_sum, predicted, kept = 0.0, [], []
    try:
        for start in range(0, len(x), batch_size):
            if between_chunks is not None:
                between_chunks()
            scores = model(x[start:start + batch_size].to(device)).float()
            chunk_targets = targets[start:start + batch_size].to(device)
            if classify and scores.shape[1] <= int(chunk_targets.max()):
                raise ValueError(f"The data has labels up to {int(targets.max())} but the network outputs only "
                                 f"{scores.shape[1]} scores: give the last Dense layer {int(targets.max()) + 1} units.")
            # sums over chunks, divided once: exactly the mean over all samples, a short last chunk included
            loss_sum += float(_summed_loss(scores, chunk_targets, task))
            if not classify:
                predicted.append(scores.cpu())
                continue
            predicted.append(scores.argmax(dim=1))
            if scores.shape[1] <= MAX_CONFUSION_CLASSES:
                kept.append(torch.softmax(scores, dim=1).cpu())
    finally:
        model.train(was_training)
    if not classify:
        values = torch.cat(predicted)
        return Evaluation(loss_sum / values.numel(), None, None, np.zeros(0), values.numpy())
    predicted = torch.cat(predicted)
    classes = scores.shape[1]
    loss = loss_sum / len(x)
    correct = predicted == targets
    accuracy = float(correct.sum()) / len(x)
    totals = torch.bincount(targets, minlength=classes).cpu().numpy()
    right = torch.bincount(targets[correct], minlength=classes).cpu().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = right / totals
    if classes > MAX_CONFUSION_CLASSES:
        return Evaluation(loss, accuracy, None, per_class, predicted.cpu().numpy())
    confusion = torch.bincount(targets * classes + predicted, minlength=classes * classes)
    confusion = confusion.view(classes, classes).cpu().numpy()
    return Evaluation(loss, accuracy, confusion, per_class, predicted.cpu().numpy(), torch.cat(kept).numpy())


def _summed_loss(outputs: torch.Tensor, targets: torch.Tensor, task: Task) -> torch.Tensor:
    """task_loss summed over the samples instead of averaged (no label smoothing: evaluation
    measures the plain loss)."""
    if TASKS[task].loss == "cross_entropy":
        return F.cross_entropy(outputs, targets, reduction="sum")
    return F.mse_loss(outputs, targets.view_as(outputs), reduction="sum")


SHOWN_MATRIX_CLASSES = 20  # wider, a terminal table wraps into noise: each class's accuracy instead


def format_confusion(result: Evaluation, class_names: list[str]) -> str:
    """An aligned text table: one row per true class, one column per predicted class, and each
    class's accuracy at the end of its row; for more than SHOWN_MATRIX_CLASSES classes, one row
    per class with its accuracy. Class names are shown short and printable."""
    classes = len(result.per_class_accuracy)
    names = [shown(class_names[i] if i < len(class_names) else str(i), SHOWN_NAME_CHARACTERS) for i in range(classes)]
    if result.confusion is None or classes > SHOWN_MATRIX_CLASSES:
        width = max(len("class"), *(len(n) for n in names))
        rows = [f"{'class'.ljust(width)}  accuracy"]
        rows += [name.ljust(width) + _accuracy(value).rjust(10)
                 for name, value in zip(names, result.per_class_accuracy)]
        return "\n".join(rows)
    confusion = result.confusion
    label_width = max(len("true \\ predicted"), *(len(n) for n in names))
    cell = max(5, *(len(n) for n in names), len(str(int(confusion.max(initial=0)))))
    header = "true \\ predicted".ljust(label_width) + "".join(n.rjust(cell + 1) for n in names) + "  accuracy"
    lines = [header]
    for name, row, value in zip(names, confusion, result.per_class_accuracy):
        lines.append(name.ljust(label_width) + "".join(str(int(v)).rjust(cell + 1) for v in row)
                     + _accuracy(value).rjust(10))
    return "\n".join(lines)


def _accuracy(fraction: float) -> str:
    return "-" if np.isnan(fraction) else f"{100 * fraction:.1f}%"
