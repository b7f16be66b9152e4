"""Command line: `netbuilder [PROJECT]` opens the app; subcommands do headless work.

Qt and torch are imported only by the commands that need them, so `summary` stays quick.
"""
from __future__ import annotations

import argparse
import sys


def _summary(args: argparse.Namespace) -> int:
    from .core.analysis import analyze
    from .core.project import ProjectFileError, load_project
    from .core.summary import summary_text
    from .text import shown

    try:
        project = load_project(args.project)
    except ProjectFileError as error:
        print(f"netbuilder: {error}", file=sys.stderr)
        return 2
    analysis = analyze(project.graph)
    print(summary_text(project.graph, analysis, title=f"{shown(project.name)} ({shown(args.project)})",
                       training=project.training, dataset=project.dataset))
    return 0 if analysis.ok else 1


def build_parser(with_training: bool = True, prog: str = "netbuilder") -> argparse.ArgumentParser:
    """The headless commands; `netbuilder [PROJECT]` without one opens the app.

    Training and export commands import torch (about 2 s), so `summary` leaves them out.
    """
    parser = argparse.ArgumentParser(prog=prog, description="Design, train and try neural networks.")
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


TRAINING_COMMANDS = ("train", "evaluate", "predict", "export", "export-code", "import-weights")
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
    """`netbuilder-cli`: the headless commands only, so that its --help lists them."""
    argv = sys.argv[1:] if argv is None else argv
    training = not argv or argv[0] not in COMMANDS or argv[0] in TRAINING_COMMANDS
    args = build_parser(with_training=training, prog=prog).parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
