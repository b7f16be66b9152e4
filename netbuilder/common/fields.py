"""One typed reader for the fields of parsed JSON: project files, recipes, checkpoint histories and
drawings all decide here what counts as a number, a whole number, a text or a list of them.

`read_field` raises FieldError, which says which field, what was wanted and what was found; each caller
turns it into its own message, since the file and the place to name differ.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

# Past this an int has no float at all (10**400 cannot be a weight, a size or a pen width)
LARGEST_FLOAT_INTEGER = 2**1023
# Counts (epochs, samples, confusion cells) stay far below this; it keeps them exact in int64
LARGEST_COUNT = 2**62


def is_number(value: object, finite: bool = True) -> bool:
    """A JSON number that converts to a float: not true/false; a float (NaN and the infinities only
    when not `finite`: a diverged loss is kept as measured) or an int a float can hold."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return not finite or math.isfinite(value)
    return isinstance(value, int) and abs(value) <= LARGEST_FLOAT_INTEGER


def is_count(value: object) -> bool:
    """A whole number from 0 (an int, not true/false)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < LARGEST_COUNT


Kind = Literal["number", "measured number", "count", "text", "flag", "object", "list", "texts", "numbers"]

# Each kind: the test a value must pass, and how a message names what was wanted
KINDS: dict[str, tuple[Callable[[object], bool], str]] = {
    "number": (is_number, "a number"),
    "measured number": (lambda value: is_number(value, finite=False), "a number"),  # NaN and infinities too
    "count": (is_count, "a whole number"),
    "text": (lambda value: isinstance(value, str), "text"),
    "flag": (lambda value: isinstance(value, bool), "true or false"),
    "object": (lambda value: isinstance(value, dict), "an object"),
    "list": (lambda value: isinstance(value, list), "a list"),
    "texts": (lambda value: isinstance(value, list) and all(isinstance(item, str) for item in value),
              "a list of texts"),
    "numbers": (lambda value: isinstance(value, list) and all(is_number(item) for item in value), "a list of numbers"),
}


class FieldError(ValueError):
    """A field of parsed JSON is missing or not of the kind wanted."""

    def __init__(self, name: str, wanted: str, value: object = None, missing: bool = False):
        self.name, self.wanted, self.value, self.missing = name, wanted, value, missing
        super().__init__(f"{name} is missing" if missing else f"{name} must be {wanted}")


_REQUIRED = object()


def read_field(document: Mapping, name: str, kind: Kind, *, default: Any = _REQUIRED,
               optional: bool = False) -> Any:
    """`document[name]` when it is of `kind` (see KINDS). When the field is absent: `default` if one
    is given; None if `optional` (which also reads null as None); else FieldError, as for a value
    of another kind."""
    test, wanted = KINDS[kind]
    if name not in document:
        if default is not _REQUIRED:
            return default
        if optional:
            return None
        raise FieldError(name, wanted, missing=True)
    value = document[name]
    if value is None and optional:
        return None
    if not test(value):
        raise FieldError(name, wanted, value)
    return value
