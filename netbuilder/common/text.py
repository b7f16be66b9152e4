"""Showing values a user or a file supplied inside messages; Qt-, torch- and core-free, so every
layer can use it."""
from __future__ import annotations

import unicodedata

SHOWN_CHARACTERS = 100  # a 50 MB bad value must not come back as a 50 MB message
SHOWN_NAME_CHARACTERS = 40  # a class name in a table column


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """`value` as text that is safe to print and short: at most `limit` characters (the middle
    is elided), control and format characters (terminal escape sequences, bidi overrides,
    NUL) and lone surrogates written as escapes, so a message can neither rewrite the terminal
    nor fail to encode."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit and text.isprintable():  # nothing to escape (isprintable is False for each class escaped)
        return text
    if len(text) > limit:
        head = (limit - 1) // 2
        text = text[:head] + "…" + text[len(text) - (limit - 1 - head):]
    return "".join(_escaped(character) for character in text)


def shown_within(value: object, width: int) -> str:
    """`shown(value)` in at most `width` characters of output, escapes included (`shown`'s limit
    counts the value's characters, each of which may escape to ten): for messages that promise
    a length whatever the value holds."""
    for limit in range(width, 0, -1):
        text = shown(value, limit)
        if len(text) <= width:
            return text
    return ""


def printable(text: str) -> str:
    """Text for a terminal, whatever names from the user's files it holds (class names, file
    names, column names): its line breaks kept, every other control or format character written
    as an escape, as `shown` writes them. For whole outputs (tables, reports), which `shown`
    would cut short."""
    return "\n".join("".join(_escaped(character) for character in line) for line in text.split("\n"))


def _escaped(character: str) -> str:
    if character == " " or unicodedata.category(character) not in ("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn"):
        return character
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def byte_size(size: int) -> str:
    """A number of bytes for people: '1.6 MB' (units of 1024, like the system monitors; in
    integers, so that no size is too large to print)."""
    for power, unit in ((5, "PB"), (4, "TB"), (3, "GB"), (2, "MB"), (1, "KB")):
        scale = 1024**power
        if size >= scale:
            tenths, rest = divmod(size * 10, scale)
            tenths += 2 * rest > scale or (2 * rest == scale and tenths % 2)  # half to even, as format() does
            return f"{tenths // 10}.{tenths % 10} {unit}"
    return f"{size} bytes"


def format_shape(shape: tuple[int, ...]) -> str:
    """(32, 26, 26) -> '32×26×26', the way every message and view shows a shape."""
    return "×".join(str(size) for size in shape) if shape else "scalar"


MESSAGE_CHARACTERS = 400  # a message quoting a huge value still reads as about two lines


def one_line(message: str) -> str:
    """A message for a terminal: one line, printable, at most MESSAGE_CHARACTERS long, whatever
    values from the user's files it quotes."""
    return shown(" ".join(line.strip() for line in message.splitlines() if line.strip()), MESSAGE_CHARACTERS)
