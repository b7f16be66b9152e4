"""netbuilder's own functions as standalone source, for the code export: the exported preprocessing
and training are the very functions the app runs (a change to them changes the export), written out
with what they use, so that the files run where netbuilder is not installed.

`bundled_source(functions)` follows each function's global names (the bytecode's, so attribute names
are not mistaken for them): netbuilder functions are written out in turn, modules and library
objects become imports, numbers, texts and compiled patterns become constants, and netbuilder's
exception classes become plain subclasses of their library base. Anything else is a TypeError naming
it, so that a function reaching for netbuilder's state fails the export tests, not a user.
"""
from __future__ import annotations

import ast
import dis
import inspect
import re
import textwrap
import types
from collections.abc import Callable, Iterable, Iterator

_CONSTANT_TYPES = (bool, int, float, str, bytes, type(None))


def bundled_source(functions: Iterable[Callable]) -> str:
    """Imports, constants, exception classes and functions, in an order that runs. The file needs
    `from __future__ import annotations` first: the annotations name netbuilder's types, left as text."""
    imports: dict[str, None] = {}  # dicts: ordered and without repeats
    definitions: dict[str, str] = {}
    pending, seen = list(functions), set()
    while pending:
        function = pending.pop()
        if function in seen:
            continue
        seen.add(function)
        source = textwrap.dedent(inspect.getsource(function))
        definitions[function.__name__] = source
        for name in [*_global_names(function.__code__), *_default_names(source)]:
            if name in definitions or name not in function.__globals__:  # defined, or a builtin
                continue
            value = function.__globals__[name]
            if isinstance(value, types.FunctionType) and _is_netbuilder(value):
                if value.__name__ != name:
                    raise TypeError(f"{function.__name__} uses {value.__name__} as {name}; bundle it by its own name")
                pending.append(value)
            else:
                statement, needs = _statement(name, value)
                imports.update(dict.fromkeys(needs))
                definitions.setdefault(name, statement)
    head = sorted(line for line in imports if line.startswith("import ")) + \
        sorted(line for line in imports if line.startswith("from "))
    values = "\n".join(text for text in definitions.values() if text and not text.startswith(("def ", "class ")))
    classes = [text for text in definitions.values() if text.startswith("class ")]
    functions_text = [text for text in reversed(definitions.values()) if text.startswith("def ")]
    parts = ["\n".join(head), values, "\n\n".join(classes + functions_text)]
    return "\n\n\n".join(part.strip("\n") for part in parts if part) + "\n"


def _global_names(code: types.CodeType) -> Iterator[str]:
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            yield instruction.argval
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):  # comprehensions, nested functions
            yield from _global_names(constant)


def _default_names(source: str) -> list[str]:
    """Names in the argument defaults (`limit=SHOWN_CHARACTERS`), which the module evaluated, not the function."""
    arguments = ast.parse(source).body[0].args
    defaults = [*arguments.defaults, *(value for value in arguments.kw_defaults if value is not None)]
    return [node.id for default in defaults for node in ast.walk(default) if isinstance(node, ast.Name)]


def _is_netbuilder(value: object) -> bool:
    return (getattr(value, "__module__", None) or "").split(".")[0] == "netbuilder"


def _statement(name: str, value: object) -> tuple[str, list[str]]:
    """The line that defines `name` as `value` in the bundle, and the imports it needs."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
        return "", [f"import {module}" if module == name else f"import {module} as {name}"]
    if isinstance(value, type) and issubclass(value, BaseException) and _is_netbuilder(value):
        base = next(cls for cls in value.__mro__ if not _is_netbuilder(cls))
        doc = inspect.getdoc(value) or name
        return f'class {name}({base.__name__}):\n    """{doc}"""\n', []
    if isinstance(value, _CONSTANT_TYPES) or (isinstance(value, (tuple, frozenset)) and all(
            isinstance(item, _CONSTANT_TYPES) for item in value)):
        return f"{name} = {value!r}\n", []
    if isinstance(value, re.Pattern):
        return f"{name} = re.compile({value.pattern!r}, {int(value.flags)})\n", ["import re"]
    if (isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)) and not _is_netbuilder(value)
            and getattr(value, "__module__", None)):
        return "", [f"from {value.__module__} import {value.__qualname__}" +
                    ("" if value.__qualname__ == name else f" as {name}")]
    raise TypeError(f"cannot bundle {name} ({type(value).__name__})")
