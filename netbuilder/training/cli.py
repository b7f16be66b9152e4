"""`netbuilder train`, `evaluate` and `predict`: headless training, testing and trying of a project.

Problems a user can cause (a bad project, data that does not fit, missing weights) print one
line to stderr and exit with status 2; tracebacks are never shown.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from netbuilder.core.compile import CompileError
from netbuilder.core.layers import ParamError
from netbuilder.core.project import Project, ProjectFileError, load_project
from netbuilder.data.base import DataError
from netbuilder.data.catalog import load_for_model

from .checkpoint import History, load_trained_model, save_checkpoint
from .events import BatchEnded, EpochEnded, Finished, Started
from .metrics import evaluate, format_confusion
from .predict import format_rows, predict_files, prediction_rows
from .trainer import Trainer, TrainingError, prepare

USER_ERRORS = (ProjectFileError, CompileError, DataError, TrainingError, ParamError)
FAILED = 2


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `train`, `evaluate` and `predict`; each sets `handler(args) -> exit status`."""
    train = subparsers.add_parser("train", help="train a project's network and save the weights beside it")
    train.add_argument("project", help="project file (.nbproj)")
    _add_data_argument(train)
    train.add_argument("--epochs", type=int, metavar="N")
    train.add_argument("--batch-size", type=int, metavar="N")
    train.add_argument("--lr", type=float, metavar="X", help="learning rate")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"))
    train.add_argument("--precision", choices=("fp32", "fast"), help="fast: bfloat16 where it keeps the gradients")
    _add_out_argument(train, "folder for the weights and history (default: beside the project)")
    train.set_defaults(handler=train_command)

    test = subparsers.add_parser("evaluate", help="print the accuracy and confusion matrix of the trained weights")
    test.add_argument("project", help="project file (.nbproj)")
    _add_data_argument(test)
    _add_out_argument(test, "folder holding the weights, if not beside the project")
    test.set_defaults(handler=evaluate_command)

    predict = subparsers.add_parser("predict", help="print the trained model's top classes for images, CSV rows "
                                                    "or lines of text")
    predict.add_argument("project", help="project file (.nbproj)")
    predict.add_argument("files", nargs="+", metavar="FILE",
                         help="images (png, jpg, ...), CSV files (one prediction per row) or text files (per line)")
    predict.add_argument("--top", type=int, default=3, metavar="K", help="classes to show per sample (default 3)")
    predict.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    _add_out_argument(predict, "folder holding the weights, if not beside the project")
    predict.set_defaults(handler=predict_command)


def _add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="NAME|PATH",
                        help="built-in dataset, CSV file or folder (default: the project's dataset)")


def _add_out_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--out", metavar="DIR", help=help_text)


def train_command(args: argparse.Namespace) -> int:
    try:
        project = load_project(args.project)
        project.training = project.training.replace(**_setting_changes(args))
        model, dataset, task = prepare(project, args.data, _progress_printer())
    except USER_ERRORS as error:
        return _fail(error)
    trainer = Trainer(model, dataset, project.training, task)
    latest_speed = 0.0
    show_batches = sys.stderr.isatty()  # a live line on a terminal; logs get one line per epoch
    try:
        for event in trainer.run():
            if isinstance(event, Started):
                print(_started_line(project, dataset.name, event))
                for note in event.notes:
                    print(f"note: {note}")
            elif isinstance(event, BatchEnded):
                latest_speed = event.samples_per_second
                if show_batches:
                    print(f"\repoch {event.epoch}  batch {event.batch}/{event.batches}  loss {event.loss:.4f}  "
                          f"{latest_speed:,.0f} samples/s", end="", file=sys.stderr, flush=True)
            elif isinstance(event, EpochEnded):
                if show_batches:
                    print("\r\033[K", end="", file=sys.stderr, flush=True)  # clear the live line
                print(_epoch_line(event, latest_speed), flush=True)
            elif isinstance(event, Finished):
                finished = event
    except KeyboardInterrupt:
        print("netbuilder: interrupted; nothing was saved", file=sys.stderr)
        return 130
    if finished.reason not in ("completed", "early_stopping"):
        print(f"netbuilder: {_one_line(finished.message)}", file=sys.stderr)
        return FAILED
    history = History(dataset.class_names, task, args.data or project.dataset, trainer.history)
    try:
        weights = save_checkpoint(model, history, args.project, args.out, recipe=dataset.recipe)
    except OSError as error:
        return _fail(f"cannot save the weights: {error.strerror or error}")
    print(finished.message)
    print(f"Saved the weights to {weights}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """The trained model on data read as its recipe says: its own validation data by default."""
    try:
        project = load_project(args.project)
        trained = load_trained_model(project, args.project, args.out)
        spec = args.data or trained.history.dataset or project.dataset
        samples = load_for_model(spec, trained.recipe, trained_on=args.data is None, progress=_progress_printer())
        result = evaluate(trained.model, samples.inputs, samples.targets, trained.recipe.task)
    except USER_ERRORS as error:
        return _fail(error)
    for note in samples.notes:
        print(f"note: {note}", file=sys.stderr)
    if trained.recipe.task != "classification":
        print(f"Mean squared error on {samples.description}: {result.loss:.4f}")
        return 0
    print(f"Accuracy on {samples.description}: {100 * result.accuracy:.2f}% (loss {result.loss:.4f})")
    print()
    print(format_confusion(result.confusion, list(trained.recipe.class_names)))
    return 0


def predict_command(args: argparse.Namespace) -> int:
    if args.top < 1:
        return _fail(f"--top must be at least 1, not {args.top}")
    try:
        trained = load_trained_model(load_project(args.project), args.project, args.out)
        raw, prediction = predict_files(trained, args.files)
    except USER_ERRORS as error:
        return _fail(error)
    print(format_rows(prediction_rows(raw, prediction, args.top), args.json))
    return 0


def _setting_changes(args: argparse.Namespace) -> dict:
    given = {"epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.lr,
             "device": args.device, "precision": args.precision}
    return {name: value for name, value in given.items() if value is not None}


def _started_line(project: Project, dataset_name: str, started: Started) -> str:
    precision = "bfloat16 (fast)" if started.precision == "fast" else "fp32"
    validation = f"{started.val_samples:,} validation" if started.val_samples else "no validation"
    smoothing = project.training.label_smoothing
    # a smoothed training loss stays well above zero while the plain validation loss need not: say why
    smoothing_note = f", label smoothing {smoothing:g} (in the training loss only)" if smoothing else ""
    return (f'Training "{project.name}" on {dataset_name}: {started.train_samples:,} training and {validation} '
            f"samples, {started.device}, {precision}{smoothing_note}")


def _epoch_line(epoch: EpochEnded, samples_per_second: float) -> str:
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


def _progress_printer():
    """Progress of loading or generating data, on a terminal only (logs stay clean)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, message: str) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{message}: {100 * done // max(total, 1)}%", end=end, file=sys.stderr, flush=True)
    return show


def _fail(error: Exception | str) -> int:
    print(f"netbuilder: {_one_line(str(error))}", file=sys.stderr)
    return FAILED


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    """`python -m netbuilder.training.cli train|evaluate|predict ...`, the same commands without the app."""
    parser = argparse.ArgumentParser(prog="netbuilder")
    add_commands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
