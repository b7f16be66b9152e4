"""`netbuilder train`, `evaluate` and `predict`: headless training, testing and trying of a project.

Problems a user can cause (a bad project, data that does not fit, missing weights) print one
line to stderr and exit with status 2; tracebacks are never shown.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from netbuilder.common.contracts import TASKS
from netbuilder.core.analysis import analyze
from netbuilder.core.compile import NotEnoughMemory
from netbuilder.core.layers import Param, ParamError
from netbuilder.core.memory import weight_bytes
from netbuilder.core.project import Project, load_project
from netbuilder.core.settings import SETTING_LIMITS
from netbuilder.data.catalog import load_for_model
from netbuilder.common.text import byte_size, one_line, printable, shown
from netbuilder.inference.live import predict_drawing_files
from netbuilder.inference.predict import format_rows, predict_files, prediction_rows
from netbuilder.model.checkpoint import TrainedModel, checkpoint_path, load_trained_model
from netbuilder.runs import RunError, RunStore

from .distributed import World, describe, join
from .events import BatchEnded, EpochEnded, Finished, HealthReport, Preparing, Started, ThreadsChosen
from .metrics import evaluate, format_confusion
from .outputs import check_json_lines_file, check_output_folder
from .run import TrainingRun
from .run_text import epoch_text, is_news, progress_text, started_text, threads_text
from .runs_text import diff_json, runs_json, runs_table
from .session import USER_ERRORS, TrainingSession, memory_problem
from .tensorboard import tensorboard_problem
from .threads import usable_cores

FAILED = 2
# Option names other than the setting's own, kept for scripts written when they were the only ones.
_OPTION_ALIASES = {"learning_rate": ("--lr",)}
# On/off settings whose two options say more than --SETTING and --no-SETTING would: (on, off, off's help).
_SWITCH_OPTIONS = {"start_from_weights": ("--from-weights", "--fresh",
                                          "start the run from fresh weights, whatever the project says")}
THREADS = Param("threads", int, 0, min=1, max=1024)
PROGRESS_LINE_SECONDS = 10.0  # without a terminal: a progress line this often within an epoch


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `train`, `evaluate`, `predict`, the exports and `runs`; each sets `handler(args) -> exit status`."""
    train = subparsers.add_parser(
        "train", help="train a project's network and save the weights beside it",
        epilog="On several processes or machines: torchrun --nproc-per-node N -m netbuilder train PROJECT "
               "(gloo between CPU processes, nccl between GPUs; see the README).")
    train.add_argument("project", help="project file (.nbproj)")
    _add_data_argument(train)
    _add_setting_options(train)
    train.add_argument("--threads", metavar="N", help="torch threads (default: measured, and measured again "
                                                     "when the machine gets busier or quieter)")
    _add_out_argument(train, "folder for the weights and history (default: beside the project)")
    train.add_argument("--events-jsonl", metavar="FILE",
                       help="also write every training event to FILE, one JSON object a line (rank 0 only), "
                            "for a program that shows the run live")
    train.add_argument("--tensorboard", metavar="DIR",
                       help="also write the run's curves and network graph as TensorBoard event files under DIR "
                            "(needs the tensorboard package)")
    train.set_defaults(handler=train_command)

    test = subparsers.add_parser("evaluate", help="print the accuracy and confusion matrix of the trained weights")
    test.add_argument("project", help="project file (.nbproj)")
    _add_data_argument(test)
    _add_out_argument(test, "folder holding the weights, if not beside the project")
    _add_run_argument(test)
    test.set_defaults(handler=evaluate_command)

    predict = subparsers.add_parser("predict", help="print the trained model's top classes for images, CSV rows "
                                                    "or lines of text")
    predict.add_argument("project", help="project file (.nbproj)")
    predict.add_argument("files", nargs="*", metavar="FILE",
                         help="images (png, jpg, ...), CSV files (one prediction per row) or text files (per line)")
    predict.add_argument("--strokes", nargs="+", metavar="DRAWING", default=[],
                         help="drawings saved as strokes (JSON), read exactly as the Draw panel reads them")
    predict.add_argument("--top", type=int, default=3, metavar="K", help="classes to show per sample (default 3)")
    predict.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    _add_out_argument(predict, "folder holding the weights, if not beside the project")
    _add_run_argument(predict)
    predict.set_defaults(handler=predict_command)

    _add_export_commands(subparsers)
    _add_runs_command(subparsers)


def _add_export_commands(subparsers: argparse._SubParsersAction) -> None:
    from netbuilder.export.formats import EXPORT_FORMATS

    export = subparsers.add_parser("export", help="write the network, with its trained weights if any, in a "
                                                  "format for use outside netbuilder")
    export.add_argument("project", help="project file (.nbproj)")
    export.add_argument("--format", required=True, choices=list(EXPORT_FORMATS),
                        help="; ".join(f"{export_format.name}: {export_format.description}"
                                       for export_format in EXPORT_FORMATS.values()))
    export.add_argument("--out", required=True, metavar="FILE", help="file to write")
    _add_run_argument(export)
    export.set_defaults(handler=export_command)
    code = subparsers.add_parser("export-code", help="write the network as standalone PyTorch files "
                                                     "(export --format code)")
    code.add_argument("project", help="project file (.nbproj)")
    code.add_argument("--out", metavar="FILE", help="file to write (default: print the module)")
    code.set_defaults(handler=export_command, format="code", run=None)

    weights = subparsers.add_parser("import-weights", help="check weights from a .pt/.pth/.safetensors file "
                                    "against the network and write them as a safetensors export")
    weights.add_argument("project", help="project file (.nbproj)")
    weights.add_argument("weights", metavar="FILE", help="weights (.pt and .pth files are read without running code)")
    weights.add_argument("--out", required=True, metavar="FILE", help="safetensors file to write")
    weights.set_defaults(handler=import_weights_command)
    _add_import_command(subparsers)


def _add_import_command(subparsers: argparse._SubParsersAction) -> None:
    imported = subparsers.add_parser("import", help="open a PyTorch model as a project with its weights: an "
                                                    "nn.Module class in a .py file (the file runs as your code), or "
                                                    "a torch.export .pt2 or an ONNX file")
    imported.add_argument("model", metavar="FILE.py:CLASS|FILE.pt2|FILE.onnx",
                          help="the Python file and its model class (model.py:Net), or a .pt2 or .onnx file")
    imported.add_argument("--input-shape", metavar="SIZES",
                          help="for a .py file: the input's sizes without the batch, e.g. 1,28,28 (token ids: the "
                               "sequence length)")
    imported.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                          help="for a .py file: a constructor argument, as a Python literal (10, 0.5, (3, 3)) or "
                               "text; repeatable")
    imported.add_argument("--out", required=True, metavar="FILE.nbproj",
                          help="project to write; the weights go beside it (FILE.safetensors)")
    imported.set_defaults(handler=import_command)


def _add_runs_command(subparsers: argparse._SubParsersAction) -> None:
    runs = subparsers.add_parser("runs", help="list the project's kept training runs, say what changed between two, "
                                              "use, name, star, delete or prune them")
    runs.add_argument("project", help="project file (.nbproj)")
    runs.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    action = runs.add_mutually_exclusive_group()
    action.add_argument("--diff", nargs=2, metavar=("A", "B"), help="what changed from run A to run B (ids or names)")
    action.add_argument("--use", metavar="RUN", help="make RUN's weights the project's model (what predict, evaluate, "
                                                     "export and the Draw panel use); they must fit the network now")
    action.add_argument("--name", nargs=2, metavar=("RUN", "NAME"), help="name a run (\"\" removes its name)")
    action.add_argument("--star", metavar="RUN", help="star a run: pruning keeps its weights")
    action.add_argument("--unstar", metavar="RUN", help="take a run's star away")
    action.add_argument("--delete", nargs="+", metavar="RUN", help="delete runs (the project's model stays)")
    action.add_argument("--prune", type=int, metavar="N", help="keep the weights of starred runs, the last N and the "
                                                              "project's model only; every run's history stays")
    _add_out_argument(runs, "folder holding the weights and runs, if not beside the project")
    runs.set_defaults(handler=runs_command)


def _add_run_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", metavar="NAME", help="use this kept run's network and weights (its id or name; "
                                                     "default: the project's model, the latest run)")


def _add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="NAME|PATH",
                        help="built-in dataset, CSV file or folder (default: the project's dataset)")


def _add_out_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--out", metavar="DIR", help=help_text)


def train_command(args: argparse.Namespace) -> int:
    try:
        project = load_project(args.project)
        project.training = project.training.replace(**_setting_changes(args))
        threads = None if args.threads is None else _thread_count(args.threads)
        too_large = memory_problem(project, args.data)  # before a disk is asked for room for its weights
        if too_large:
            raise NotEnoughMemory(too_large)
        # Where the run writes is checked now, not after an hour of training.
        reads = (args.project, args.data or project.dataset)
        weights = checkpoint_path(args.project, args.out)
        check_output_folder(weights.parent, weights.name, reads=reads,
                            size=weight_bytes(analyze(project.graph)))
        if args.events_jsonl:
            check_json_lines_file(args.events_jsonl, reads=(*reads, weights))
        if args.tensorboard is not None and (tensorboard_problem() or not args.tensorboard.strip()):
            return _fail(tensorboard_problem() or "--tensorboard needs a folder to write the run's event files in")
        world = join(project.training.device)
    except USER_ERRORS as error:
        return _fail(error)
    status = FAILED
    try:
        if world.leader:
            status = _train(args, project, threads, world)
        else:  # under torchrun, rank 0 alone logs (every rank sees the same figures) and saves
            with open(os.devnull, "w") as silent, contextlib.redirect_stdout(silent), \
                    contextlib.redirect_stderr(silent):
                status = _train(args, project, threads, world)
        return status
    finally:
        world.close(succeeded=status == 0)


@contextlib.contextmanager
def _stop_on_signals(session: TrainingSession):
    """Ctrl+C or SIGTERM stop the run at the end of the current batch, so that the best weights so
    far are saved; a second Ctrl+C quits at once, saving nothing. Yields the signal received
    (a list, empty while none came)."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield received
        return

    def stop(number: int, frame) -> None:
        if received and number == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(number)
        session.stop()
        print("\nnetbuilder: stopping after this batch; the best epoch so far is saved "
              "(Ctrl+C again quits without saving)", file=sys.stderr, flush=True)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _train(args: argparse.Namespace, project: Project, threads: int | None, world: World) -> int:
    say = _run_output()
    if world.distributed:
        say(describe(world))
    try:
        run = TrainingRun(project, args.project, dataset_spec=args.data, out=args.out, threads=threads, world=world,
                          tensorboard=args.tensorboard)
    except OSError as error:
        return _fail(f"cannot write the TensorBoard files in {shown(args.tensorboard)}: {error.strerror or error}")
    presenter = _TerminalPresenter(run, say)
    try:
        with _event_writer(args.events_jsonl if world.leader else None) as write_event, \
                _stop_on_signals(run.session) as signals:
            for event in run.events():
                write_event(event)
                presenter.show(event)
    except KeyboardInterrupt:
        presenter.end_live_line()
        print("netbuilder: interrupted; nothing was saved", file=sys.stderr)
        return 128 + signal.SIGINT  # as a shell reports a command that Ctrl+C ended
    presenter.end_live_line()
    return _finish(run, presenter.finished, signals, world, say)


class _TerminalPresenter:
    """The run's events as lines on the terminal: one method per kind of event."""

    def __init__(self, run: TrainingRun, say: Callable[[str], None]):
        self.run, self.say = run, say
        self.show_preparation = _progress_printer()
        self.latest_speed = 0.0
        self.show_batches = sys.stderr.isatty()  # a live line on a terminal; logs get one line per epoch...
        self.last_progress_line = time.monotonic()  # ...and a progress line every PROGRESS_LINE_SECONDS within one
        self.warned: set[tuple[str, str]] = set()
        self.threads_in_use: int | None = None
        self.live_line = False  # a live batch line is on the terminal
        self.finished: Finished | None = None
        self._handlers = {Preparing: self.preparing, Started: self.started, BatchEnded: self.batch,
                          EpochEnded: self.epoch, ThreadsChosen: self.threads, HealthReport: self.health,
                          Finished: self.finish}

    def show(self, event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def end_live_line(self) -> None:
        self.live_line = _clear_live_line(self.live_line)

    def preparing(self, event: Preparing) -> None:
        if self.show_preparation and event.total:
            self.show_preparation(event.done, event.total, event.message)

    def started(self, event: Started) -> None:
        self.say(started_text(self.run.project, self.run.session.dataset.name, event))
        for note in event.notes:
            self.say(f"note: {note}")

    def batch(self, event: BatchEnded) -> None:
        self.latest_speed = event.samples_per_second
        if self.show_batches:
            print(f"\r{progress_text(event)}", end="", file=sys.stderr, flush=True)
            self.live_line = True
        elif time.monotonic() - self.last_progress_line >= PROGRESS_LINE_SECONDS and event.batch < event.batches:
            self.say(progress_text(event))
            self.last_progress_line = time.monotonic()

    def epoch(self, event: EpochEnded) -> None:
        self.end_live_line()
        self.say(epoch_text(event, self.latest_speed))
        self.last_progress_line = time.monotonic()

    def threads(self, event: ThreadsChosen) -> None:
        if is_news(event, self.threads_in_use):
            self.threads_in_use = event.threads
            self.end_live_line()
            self.say(threads_text(event))

    def health(self, event: HealthReport) -> None:
        for layer in event.layers:
            if layer.problem and (layer.layer, layer.problem) not in self.warned:
                self.warned.add((layer.layer, layer.problem))
                self.end_live_line()
                print(one_line(f'warning: layer "{layer.layer}": {layer.advice}'), file=sys.stderr, flush=True)

    def finish(self, event: Finished) -> None:
        self.finished = event


def _finish(run: TrainingRun, finished: Finished, signals: list[int], world: World,
            say: Callable[[str], None]) -> int:
    """The run's last message, its kept weights saved, and the command's exit status."""
    succeeded = finished.reason in ("completed", "early_stopping")
    if succeeded:
        say(finished.message)
    else:
        print(f"netbuilder: {one_line(finished.message)}", file=sys.stderr)
    trained = run.kept()
    if trained is not None:  # also after a stop, a NaN loss or a failure: the best epoch's weights
        try:
            saved = run.save(trained)
        except OSError as error:
            return _fail(f"cannot save the weights: {error.strerror or error}")
        for line in saved.warnings:
            print(f"netbuilder: {line}", file=sys.stderr)
        for line in saved.reports:
            say(line)
    if run.tensorboard is not None:
        if run.tensorboard.graph_problem:
            print(f"netbuilder: {one_line(run.tensorboard.graph_problem)}", file=sys.stderr)
        say(f"Wrote the run for TensorBoard to {run.tensorboard.folder} (tensorboard --logdir {run.tensorboard.folder.parent})")
    if signals:
        if trained is None and world.leader:
            print("netbuilder: nothing was saved: no epoch had ended", file=sys.stderr)
        return 128 + signals[0]  # as a shell reports a command that the signal ended
    return 0 if succeeded else FAILED


@contextlib.contextmanager
def _event_writer(path: str | None):
    """A function writing each event as a JSON line to `path`, flushed at once for a live reader."""
    if path is None:
        yield lambda event: None
        return
    from .event_stream import event_line

    with open(path, "a", encoding="utf-8") as stream:
        def write(event) -> None:
            stream.write(event_line(event) + "\n")
            stream.flush()
        yield write


def evaluate_command(args: argparse.Namespace) -> int:
    """The trained model on data read as its recipe says: its own validation data by default."""
    try:
        project = load_project(args.project)
        trained = _trained_model(args, project)
        spec = args.data or trained.history.dataset or project.dataset
        samples = load_for_model(spec, trained.recipe, trained_on=args.data is None, progress=_progress_printer())
        result = evaluate(trained.model, samples.inputs, samples.targets, trained.recipe.task)
    except USER_ERRORS as error:
        return _fail(error)
    for note in samples.notes:
        print(one_line(f"note: {note}"), file=sys.stderr)
    if not TASKS[trained.recipe.task].has_classes:
        _say(f"{TASKS[trained.recipe.task].loss_title.capitalize()} on {samples.description}: {result.loss:.4f}")
        return 0
    _say(f"Accuracy on {samples.description}: {100 * result.accuracy:.2f}% (loss {result.loss:.4f})\n\n"
         + format_confusion(result, list(trained.recipe.class_names)))
    return 0


def _add_setting_options(parser: argparse.ArgumentParser) -> None:
    """One option per training setting, named after it (--learning-rate, --no-augment, ...), with
    the limits and choices the project file and the app apply. Values are checked by the
    setting's Param, not by argparse, so a bad one gets the same one-line message as everywhere."""
    group = parser.add_argument_group("training settings (default: the project's)")
    for param in SETTING_LIMITS.values():
        flags = ["--" + param.name.replace("_", "-"), *_OPTION_ALIASES.get(param.name, ())]
        if param.name in _SWITCH_OPTIONS:
            on, off, off_help = _SWITCH_OPTIONS[param.name]
            switch = group.add_mutually_exclusive_group()
            switch.add_argument(on, dest=param.name, action="store_const", const=True, help=param.help)
            switch.add_argument(off, dest=param.name, action="store_const", const=False, help=off_help)
        elif param.kind is bool:
            group.add_argument(*flags, dest=param.name, action=argparse.BooleanOptionalAction, help=param.help)
        else:
            group.add_argument(*flags, dest=param.name, metavar=_value_hint(param), help=_limits_help(param))


def _value_hint(param: Param) -> str:
    if param.choices:
        return "{" + ",".join(param.choices) + "}"
    return "N" if param.kind is int else "X"


def _limits_help(param: Param) -> str | None:
    limits = f"{param.min:g} to {param.max:g}" if param.min is not None and param.max is not None else ""
    return "; ".join(part for part in (limits, param.help) if part) or None


def predict_command(args: argparse.Namespace) -> int:
    if args.top < 1:
        return _fail(f"--top must be at least 1, not {args.top}")
    if not args.files and not args.strokes:
        return _fail("give the files to predict, or drawings with --strokes")
    try:
        trained = _trained_model(args, load_project(args.project))
        raw, prediction = predict_files(trained, args.files) if args.files else \
            predict_drawing_files(trained, args.strokes)
    except USER_ERRORS as error:
        return _fail(error)
    rows = format_rows(prediction_rows(raw, prediction, args.top), args.json)
    if args.json:
        print(rows)  # ASCII JSON already: its escapes are JSON's
    else:
        _say(rows)
    return 0


def export_command(args: argparse.Namespace) -> int:
    from netbuilder.core.codegen import to_python

    from netbuilder.export.exporting import export_project

    try:
        project = load_project(args.project)
        if args.out is None:  # export-code without --out prints the module, as it always did
            print(to_python(project.graph, title=project.name), end="")
            return 0
        if args.run is None:
            result = export_project(project, args.project, args.format, args.out)
        else:  # the run's own network, whose weights are beside it in the run's folder
            run = RunStore(args.project).find_with_weights(args.run)
            result = export_project(RunStore(args.project).network(run), run.network_path, args.format, args.out)
    except USER_ERRORS as error:
        return _fail(error)
    _say(result.message)
    return 0


def _trained_model(args: argparse.Namespace, project: Project) -> TrainedModel:
    """The project's model, or with --run that kept run's network and weights."""
    if args.run is None:
        return load_trained_model(project, args.project, args.out)
    return RunStore(args.project, args.out).load_model(args.run)


def runs_command(args: argparse.Namespace) -> int:
    """The kept runs as a table (or JSON), what changed between two of them, or a change to them."""
    store = RunStore(args.project, args.out)
    try:
        project = load_project(args.project)  # a mistyped project name gets the project's message, not "no runs"
        if args.diff:
            _print_diff(store, *args.diff, as_json=args.json)
            return 0
        done = _change_runs(args, store, project)
        listing = store.runs()
        usage = store.disk_usage()
    except USER_ERRORS as error:
        return _fail(error)
    except OSError as error:
        return _fail(f"cannot change the runs in {shown(store.folder)}: {error.strerror or error}")
    if done:
        _say(done)
        return 0
    for problem in listing.problems:
        print(f"netbuilder: {one_line(problem)}", file=sys.stderr)
    print(runs_json(listing, usage) if args.json else printable(runs_table(listing, usage)))
    return 0


def _print_diff(store: RunStore, before_key: str, after_key: str, as_json: bool) -> None:
    before, after = store.find(before_key), store.find(after_key)
    diff = store.diff(before, after)
    if as_json:
        print(diff_json(before, after, diff))
    else:
        _say(f"From {before.title} to {after.title}: {diff.summary}\n" + "\n".join(diff.lines()))


def _change_runs(args: argparse.Namespace, store: RunStore, project: Project) -> str | None:
    """Carry out the change asked for, and say what was done; None when only a listing was asked for.
    Raises RunError (with a message for the person) or OSError."""
    if args.use:
        run = store.find(args.use)
        store.use(run, project)
        return f"The weights of run {run.title} are now the project's model."
    if args.name:
        run = store.update(args.name[0], name=args.name[1])
        return f"Run {run.id} is named {run.name!r}." if run.name else f"Run {run.id} has no name now."
    if args.star or args.unstar:
        run = store.update(args.star or args.unstar, starred=bool(args.star))
        return f"Run {run.title} is {'starred' if run.starred else 'not starred'}."
    if args.delete:
        freed = store.delete(args.delete)
        return f"Deleted {len(args.delete)} run{'s' * (len(args.delete) != 1)}, freeing {byte_size(freed)}."
    if args.prune is not None:
        if args.prune < 0:
            raise RunError(f"--prune keeps the last N runs' weights: N must be 0 or more, not {args.prune}")
        return f"Pruned the weights of older runs, freeing {byte_size(store.prune(args.prune))}; every history is kept."
    return None


def import_weights_command(args: argparse.Namespace) -> int:
    from netbuilder.export.weights import import_weights

    try:
        result = import_weights(load_project(args.project), args.weights, args.out)
    except USER_ERRORS as error:
        return _fail(error)
    _say(result.message)
    return 0


def import_command(args: argparse.Namespace) -> int:
    from netbuilder.importing.project_file import save_imported
    from netbuilder.importing.report import ImportFailure
    from netbuilder.importing.sources import project_path, request, run_request, summary

    try:
        out = project_path(args.out)
        wanted = request(args.model, args.input_shape, args.arg)
        imported = run_request(wanted)
        checkpoint = save_imported(imported, out, wanted.path.name)
    except ImportFailure as error:  # the report lists one operation a line
        print("\n".join(f"netbuilder: {printable(line)}" if index == 0 else printable(line)
                        for index, line in enumerate(str(error).splitlines())), file=sys.stderr)
        return FAILED
    except USER_ERRORS as error:
        return _fail(error)
    _say(summary(imported, out, checkpoint))
    return 0


def _thread_count(text: str) -> int:
    """--threads, at most the cores this process may use: more only wait for a core, and each
    needs a stack (1,024 of them end the process inside OpenMP where memory is limited)."""
    threads, cores = THREADS.coerce(text), usable_cores()
    if threads > cores:
        raise ParamError(f"threads must be at most {cores}, the cores netbuilder may use here, not {threads:,}.")
    return threads


def _setting_changes(args: argparse.Namespace) -> dict:
    """The settings given on the command line, as values for TrainingSettings.replace (which
    checks their limits); text that is no number raises ParamError."""
    changes = {}
    for param in SETTING_LIMITS.values():
        value = getattr(args, param.name)
        if value is None:
            continue
        if param.kind is float:
            try:
                value = float(value)
            except ValueError:
                raise ParamError(f"{param.label} must be a number, not {value!r}") from None
        changes[param.name] = value
    return changes


def _clear_live_line(shown: bool) -> bool:
    """Clear the terminal's live batch line if one is shown, so that the next line starts clean;
    False: none is shown now."""
    if shown:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    return False


def _progress_printer():
    """Progress of loading or generating data, on a terminal only (logs stay clean)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, message: str) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{message}: {100 * done // max(total, 1)}%", end=end, file=sys.stderr, flush=True)
    return show


def _say(text: str) -> None:
    """Standard output for people and scripts: names from the user's files (classes, columns,
    files) may hold control characters, which are written as escapes rather than run by the
    terminal."""
    print(printable(text), flush=True)


def _run_output():
    """`_say` for the lines of a training run: when standard output stops taking them (`| head`
    has exited, the log's disk is full), the run goes on to save its weights, without them."""
    broken = False

    def say(text: str) -> None:
        nonlocal broken
        if broken:
            return
        try:
            _say(text)
        except OSError:
            broken = True
            with contextlib.suppress(OSError, ValueError):  # what is still buffered goes nowhere, quietly
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return say


def _fail(error: Exception | str) -> int:
    print(f"netbuilder: {one_line(str(error))}", file=sys.stderr)
    return FAILED
