"""The words a person reads about a training run, the same on the terminal (`netbuilder train`)
and in the window's training panel; torch-free, so that the window opens without torch."""
from __future__ import annotations

from pathlib import Path

from netbuilder.core.project import Project, project_to_dict
from netbuilder.common.text import one_line, shown

from .events import (
    BatchEnded,
    EpochEnded,
    SettingsChanged,
    Started,
    ThreadsChosen,
    TrainingEvent,
)


def graph_structure(project: Project) -> dict:
    """What training depends on in a project's graph: layers, parameters and wires, not positions."""
    data = project_to_dict(project)
    return {"nodes": [{key: value for key, value in node.items() if key != "position"} for node in data["nodes"]],
            "edges": data["edges"]}


def saved_texts(path: Path, intended: Path) -> list[str]:
    """Weights saved at `path`, meant for `intended`: the conflict (if any) first."""
    lines = []
    if path != intended:
        lines.append(one_line(f"Another run saved {intended.name} while this one trained: it is kept, and this "
                              f"run's weights are in {path.name} (rename it to {intended.name} to use them)."))
    lines.append(f"Saved the weights, history and data recipe to {shown(path)}")
    return lines


def kept_run_text(run) -> str:
    """A kept run (netbuilder.runs.RunInfo), as the person is told when it ends."""
    return f"Kept this run as {shown(run.id)} in {shown(run.folder.parent.name)} (netbuilder-cli runs PROJECT lists them)"


def duration(seconds: float | None) -> str:
    """A time span for people: '42 s', '3 min 07 s', '1 h 05 min'; '…' while not known."""
    if seconds is None:
        return "…"
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def started_text(project: Project, dataset_name: str, started: Started) -> str:
    precision = "bfloat16 (fast)" if started.precision == "fast" else "fp32"
    validation = f"{started.val_samples:,} validation" if started.val_samples else "no validation"
    smoothing = project.training.label_smoothing
    # a smoothed training loss stays well above zero while the plain validation loss need not: say why
    smoothing_note = f", label smoothing {smoothing:g} (in the training loss only)" if smoothing else ""
    return (f'Training "{shown(project.name)}" on {dataset_name}: {started.train_samples:,} training and {validation} '
            f"samples, {started.epochs} epoch{'s' * (started.epochs != 1)}, {started.device}, {precision}"
            f"{smoothing_note}")


def progress_text(batch: BatchEnded) -> str:
    """Where the run is within an epoch."""
    parts = [f"progress {100 * batch.progress:3.0f}%", f"epoch {batch.epoch}  batch {batch.batch}/{batch.batches}",
             f"loss {batch.loss:.4f}", f"{batch.samples_per_second:,.0f} samples/s"]
    if batch.remaining_seconds is not None:
        parts.append(f"{duration(batch.remaining_seconds)} left")
    return "  ".join(parts)


def epoch_text(epoch: EpochEnded, samples_per_second: float) -> str:
    width = len(str(epoch.epochs))
    parts = [f"epoch {epoch.epoch:>{width}}/{epoch.epochs}", f"loss {epoch.train_loss:.4f}"]
    if epoch.train_accuracy is not None:
        parts.append(f"acc {100 * epoch.train_accuracy:5.1f}%")
    if epoch.val_loss is not None:
        parts.append(f"val loss {epoch.val_loss:.4f}")
    if epoch.val_accuracy is not None:
        parts.append(f"val acc {100 * epoch.val_accuracy:5.1f}%")
    parts += [f"lr {epoch.learning_rate:.3g}", f"{epoch.seconds:.1f} s", f"{samples_per_second:,.0f} samples/s"]
    return "  ".join(parts)


def threads_text(chosen: ThreadsChosen) -> str:
    why = "timed at the start" if chosen.reason == "start" else "timed again: the machine got busier or quieter"
    speeds = ", ".join(f"{count} → {speed:,.0f}" for count, speed in sorted(chosen.samples_per_second.items()))
    return f"threads: {chosen.threads} ({why}; samples/s per thread count: {speeds})"


def change_text(change: SettingsChanged) -> str:
    return f"At epoch {change.position:.2f}: {change.label}"


def saved_run_text(history) -> list[str]:
    """A saved run, reopened: what it was and the settings changed during it."""
    epochs = len(history.epochs)
    return [f"The saved run: {epochs} epoch{'s' * (epochs != 1)} on {history.dataset or 'its dataset'}.",
            *(change_text(change) for change in history.changes)]


def is_news(event: TrainingEvent, threads_in_use: int | None) -> bool:
    """A thread choice is told when the count changes: re-timing that keeps it is routine."""
    return not isinstance(event, ThreadsChosen) or event.threads != threads_in_use


def rate_change_text(schedule: str, base_rate: float, rate_now: float) -> str:
    """Beside the paused run's learning rate: which rate it is, and what changing it does."""
    if schedule == "constant":
        return "The learning rate stays at the value you set for the rest of the run."
    return (f"The {schedule.replace('_', '-')} schedule has brought the rate from {base_rate:.3g} to "
            f"{rate_now:.3g}. A new rate applies from now on, and the rest of the schedule is scaled "
            f"by the same factor.")
