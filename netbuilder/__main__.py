"""Command line: `netbuilder [PROJECT]` opens the app; subcommands do headless work.

Qt and torch are imported only by the commands that need them, so `summary` stays quick.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys


def _summary(args: argparse.Namespace) -> int:
    from .core.analysis import analyze
    from .core.project import ProjectFileError, load_project
    from .core.summary import summary_text
    from .common.text import one_line, shown

    try:
        project = load_project(args.project)
    except ProjectFileError as error:
        print(f"netbuilder: {one_line(str(error))}", file=sys.stderr)
        return 2
    analysis = analyze(project.graph)
    print(summary_text(project.graph, analysis, title=f"{shown(project.name)} ({shown(args.project)})",
                       training=project.training, dataset=project.dataset))
    return 0 if analysis.ok else 1


class CommandParser(argparse.ArgumentParser):
    """argparse, with its error messages bounded like every other message: an option's bad value
    is quoted in full by argparse itself (a 5,000-digit number would fill the terminal).

    A command's options may stand anywhere among its positionals (`predict PROJECT --top 1 a.png`),
    as in every common command line: each command's own parser parses intermixed."""

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._subparsers is not None or self._intermixing:  # the top parser, or intermixed parsing's own passes
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False

    def error(self, message: str):
        from .common.text import one_line

        super().error(one_line(message))


def build_parser(with_training: bool = True, prog: str = "netbuilder") -> argparse.ArgumentParser:
    """The headless commands; `netbuilder [PROJECT]` without one opens the app.

    Training and export commands import torch (about 2 s), so `summary` leaves them out.
    """
    parser = CommandParser(prog=prog, description="Design, train and try neural networks.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    summary = commands.add_parser("summary", help="print the layer table and problems of a project")
    summary.add_argument("project")
    summary.set_defaults(handler=_summary)
    if with_training:
        from .training.cli import add_commands

        add_commands(commands)
    return parser


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netbuilder", epilog=f"headless commands: {', '.join(COMMANDS)} "
                                     "(netbuilder COMMAND --help)")
    parser.add_argument("project", nargs="?", help="project file (.nbproj) to open")
    parser.add_argument("--screenshot", metavar="PNG", help="open the window, save a screenshot and exit")
    return parser


TRAINING_COMMANDS = ("train", "evaluate", "predict", "export", "export-code", "import-weights", "runs")
COMMANDS = ("summary", *TRAINING_COMMANDS)


def main(argv: list[str] | None = None) -> int:
    """`netbuilder`: the app, or a headless command when one is named."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        return cli_main(argv, prog="netbuilder")
    args = _gui_parser().parse_args(argv)
    from .gui.app import run_gui

    return run_gui(args.project, args.screenshot)


def cli_main(argv: list[str] | None = None, prog: str = "netbuilder-cli") -> int:
    """`netbuilder-cli`: the headless commands only, so that its --help lists them.

    Exit status: 0 done, 1 the project has problems (summary) or netbuilder failed, 2 the input
    or the command line is at fault (the message says how), 130 interrupted.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        training = not argv or argv[0] not in COMMANDS or argv[0] in TRAINING_COMMANDS
        args = build_parser(with_training=training, prog=prog).parse_args(argv)
        from .common.error_log import command_output_to_log

        with command_output_to_log(args.command):  # torch, when the command uses it, is imported by now
            return args.handler(args)
    except KeyboardInterrupt:
        print("netbuilder: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT  # as a shell reports a command that Ctrl+C ended
    except Exception as error:  # noqa: BLE001 - the last net: commands turn the errors they expect into messages
        return _unexpected(error)


def _unexpected(error: Exception) -> int:
    """One line for an error no command expected, the traceback in the log for a bug report."""
    import traceback

    from .common.error_log import write_error_log
    from .common.text import one_line, shown

    if isinstance(error, BrokenPipeError):  # the reader went away (`| head`): nothing left to say
        # open for the rest of the process, so that the exit's final flush does not fail again
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 1
    if isinstance(error, OSError):  # a file the command touched, outside the cases it checks first
        where = f"{shown(error.filename)}: " if error.filename else ""
        print(f"netbuilder: {one_line(where + (error.strerror or str(error)))}", file=sys.stderr)
        return 2
    if isinstance(error, MemoryError) or _allocation_failed(error):
        print("netbuilder: out of memory: make the network, the batch size or the data smaller", file=sys.stderr)
        return 2
    log = write_error_log(traceback.format_exc())
    details = f"; the details are in {log}" if log else ""
    print(f"netbuilder: {one_line(f'unexpected error ({type(error).__name__}: {shown(error)})')}{details}",
          file=sys.stderr)
    return 1


def _allocation_failed(error: Exception) -> bool:
    """PyTorch's allocators report running out of memory as a RuntimeError (OutOfMemoryError on a
    GPU), not as Python's MemoryError."""
    text = str(error)
    return isinstance(error, RuntimeError) and (type(error).__name__ == "OutOfMemoryError"
                                                or "can't allocate memory" in text or "Cannot allocate memory" in text)


if __name__ == "__main__":
    sys.exit(main())
