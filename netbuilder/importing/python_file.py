"""Loading a model from a Python file: the file runs as the user's own code (importing a .py file
executes it, as `python model.py` would), its class is built with the constructor arguments given,
and its forward is traced with torch.fx. Errors become ImportFailure messages, never tracebacks."""
from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from typing import Any

from torch import nn

from netbuilder.common.text import one_line, shown

from .report import ImportFailure


def parse_argument(text: str) -> tuple[str, Any]:
    """`name=value` from the command line or the dialog: the value as a Python literal (64, 0.5,
    True, (3, 3), 'relu'), or as the text itself when it is none (relu)."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals or not name.isidentifier():
        raise ImportFailure(f"constructor argument {shown(text)!r} must read name=value, e.g. classes=10")
    try:
        return name, ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return name, value.strip()


def load_model(path: str | Path, class_name: str, arguments: dict[str, Any]) -> nn.Module:
    """Run the file, build `class_name(**arguments)` and put it in eval mode."""
    path = Path(path)
    module = _run_file(path)
    model_class = getattr(module, class_name, None)
    if not (inspect.isclass(model_class) and issubclass(model_class, nn.Module)):
        found = sorted(name for name, value in vars(module).items()
                       if inspect.isclass(value) and issubclass(value, nn.Module) and value.__module__ == module.__name__)
        listed = f"; it defines {', '.join(found)}" if found else "; it defines no nn.Module class"
        raise ImportFailure(f"{shown(path.name)} has no nn.Module class {shown(class_name)}{listed}.")
    try:
        model = model_class(**arguments)
    except Exception as error:  # noqa: BLE001 - the user's constructor may raise anything
        raise ImportFailure(f"{class_name}({_arguments_text(arguments)}) failed{_user_line(error, path)}: "
                            f"{type(error).__name__}: {one_line(shown(error, 300))}") from None
    return model.eval()


def _run_file(path: Path):
    if not path.is_file():
        raise ImportFailure(f"{shown(str(path))} is not a file.")
    name = f"netbuilder_imported_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportFailure(f"{shown(path.name)} cannot be read as Python (it must end in .py).")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # its own imports of files beside it work, as with `python model.py`
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise ImportFailure(f"{shown(path.name)} line {error.lineno}: {one_line(shown(error.msg))} "
                            "(a syntax error).") from None
    except (Exception, SystemExit) as error:  # noqa: BLE001 - the user's code may raise anything (Ctrl+C stays Ctrl+C)
        raise ImportFailure(f"running {shown(path.name)} failed{_user_line(error, path)}: "
                            f"{type(error).__name__}: {one_line(shown(error, 300))}") from None
    finally:
        sys.path.remove(folder)
    return module


def _arguments_text(arguments: dict[str, Any]) -> str:
    return shown(", ".join(f"{name}={value!r}" for name, value in arguments.items()), 120)


def _user_line(error: BaseException, path: Path) -> str:
    """' at line N' of the user's file where the error was raised, as deep as it is in that file."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if Path(frame.filename).resolve() == path.resolve()]
    return f" at line {lines[-1]}" if lines else ""
