"""Loss and quality measures of a model on a set of samples."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from netbuilder.data.base import Task


def task_loss(outputs: torch.Tensor, targets: torch.Tensor, task: Task,
              label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy on raw scores for classification, mean squared error for regression."""
    if task == "classification":
        return F.cross_entropy(outputs, targets, label_smoothing=label_smoothing)
    return F.mse_loss(outputs, targets.view_as(outputs))


@dataclass
class Evaluation:
    loss: float
    accuracy: float | None  # fraction correct; None for regression
    confusion: np.ndarray  # int64 (classes, classes): rows are true classes, columns predictions
    per_class_accuracy: np.ndarray  # fraction of each true class predicted right; NaN without samples
    predictions: np.ndarray  # predicted class per sample (int64), or the raw outputs for regression
    probabilities: np.ndarray | None = None  # float32 (samples, classes) softmax; None for regression


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, task: Task,
             batch_size: int = 512, between_chunks: Callable[[], None] | None = None) -> Evaluation:
    """Run `model` over all of `x` in eval mode on the model's device, in full precision.

    The model's train/eval mode is restored afterwards, so this can run between epochs.
    `between_chunks` is called before each chunk of `batch_size` samples and may raise to
    abandon the evaluation (a stopped training run does not wait for a whole validation pass).
    """
    if len(x) == 0:
        raise ValueError("evaluate needs at least one sample")
    device = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for start in range(0, len(x), batch_size):
            if between_chunks is not None:
                between_chunks()
            outputs.append(model(x[start:start + batch_size].to(device)).float())
    finally:
        model.train(was_training)
    scores = torch.cat(outputs)
    targets = y.to(device)
    if task != "classification":
        loss = float(task_loss(scores, targets, task))
        return Evaluation(loss, None, np.zeros((0, 0), np.int64), np.zeros(0), scores.cpu().numpy())
    classes, highest = scores.shape[1], int(targets.max())
    if highest >= classes:
        raise ValueError(f"The data has labels up to {highest} but the network outputs only {classes} "
                         f"scores: give the last Dense layer {highest + 1} units.")
    # Per-batch losses would weight a short last batch wrongly; one loss over all outputs is exact.
    loss = float(task_loss(scores, targets, task))
    predicted = scores.argmax(dim=1)
    confusion = torch.bincount(targets * classes + predicted, minlength=classes * classes)
    confusion = confusion.view(classes, classes).cpu().numpy()
    per_class_total = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(confusion) / per_class_total
    accuracy = float(np.trace(confusion) / len(x))
    probabilities = torch.softmax(scores, dim=1).cpu().numpy()
    return Evaluation(loss, accuracy, confusion, per_class, predicted.cpu().numpy(), probabilities)


def format_confusion(confusion: np.ndarray, class_names: list[str]) -> str:
    """An aligned text table: one row per true class, one column per predicted class, and each
    class's accuracy at the end of its row."""
    names = [class_names[i] if i < len(class_names) else str(i) for i in range(len(confusion))]
    label_width = max(len("true \\ predicted"), *(len(n) for n in names))
    cell = max(5, *(len(n) for n in names), len(str(int(confusion.max(initial=0)))))
    header = "true \\ predicted".ljust(label_width) + "".join(n.rjust(cell + 1) for n in names) + "  accuracy"
    lines = [header]
    for index, (name, row) in enumerate(zip(names, confusion)):
        total = row.sum()
        accuracy = f"{100 * row[index] / total:.1f}%" if total else "-"
        lines.append(name.ljust(label_width) + "".join(str(int(v)).rjust(cell + 1) for v in row)
                     + accuracy.rjust(10))
    return "\n".join(lines)
