"""Reading and writing files safely; Qt-, torch- and core-free, so every layer (core, data,
training) can use it.

Every file netbuilder reads goes through `read_bounded`, and every JSON document through
`parse_json`: whatever the file holds (a FIFO, /dev/zero, gigabytes, deep nesting, a lone
surrogate), reading ends quickly, within a known amount of memory, in one FileReadError whose
message is short and printable.
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from .text import byte_size, shown

MB = 1024 * 1024
# Deeper than any file netbuilder writes (a project nests 4 levels) and far below Python's
# recursion limit, so code that walks what was read can never overflow the stack.
MAX_JSON_DEPTH = 64
# A JSON "\ud800".."\udfff" escape: only these can put a lone surrogate into a parsed string.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
# Python refuses to convert longer digit strings (a denial-of-service guard); say so plainly.
_MAX_INT_DIGITS = 4300
REPLACEMENT_CHARACTER = "\ufffd"


class FileReadError(Exception):
    """A file cannot be read or parsed; the message (short, printable) says which file and why."""


class FileMissingError(FileReadError):
    """The file does not exist (callers may say what creates it)."""


def read_bounded(path: str | os.PathLike, limit: int, what: str) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; `what` names the kind of file
    in messages ("project file").

    Anything else is refused without blocking: a FIFO or device (opened non-blocking, checked
    with fstat before one byte is read), a folder, or a file above `limit` (by its size, and by
    reading at most limit + 1 bytes, since a file can grow while it is read).
    """
    path = Path(path)
    name = shown(str(path))
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise FileMissingError(f"There is no {what} {name}.") from None
    except IsADirectoryError:
        raise FileReadError(f"{name} is a folder, not {_a(what)}.") from None
    except OSError as error:
        raise FileReadError(f"Cannot read {name}: {shown(error.strerror or error)}.") from None
    except ValueError:  # a NUL character, which no file name can hold (a path from a damaged file)
        raise FileMissingError(f"There is no {what} {name}.") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise FileReadError(f"{name} is {_kind_of(info.st_mode)}, not {_a(what)}: choose the file itself.")
        too_large = FileReadError(f"{name} is larger than {byte_size(limit)}, more than any {what} "
                                  f"netbuilder reads.")
        if info.st_size > limit:
            raise too_large
        # One read of the whole file where the system allows it (no second copy to join); a file
        # that says it is empty (as those in /proc do) is read in small pieces.
        piece = max(info.st_size + 1, 64 * 1024)
        chunks, remaining = [], limit + 1
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, piece))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        if remaining <= 0:
            raise too_large
        return b"".join(chunks)
    except OSError as error:
        raise FileReadError(f"Cannot read {name}: {shown(error.strerror or error)}.") from None
    finally:
        os.close(descriptor)


def _a(what: str) -> str:
    return f"{'an' if what[:1].lower() in 'aeiou' else 'a'} {what}"


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def parse_json(raw: bytes | str, source: str, *, allow_non_finite: bool = False) -> Any:
    """The JSON document in `raw`, hardened: `source` names it in messages.

    Refused with a FileReadError: text that is not UTF-8, invalid JSON (with the line and column),
    NaN and Infinity (not JSON, and no netbuilder value may be either) including numbers too large
    for a float, integers of thousands of digits, and nesting deeper than MAX_JSON_DEPTH. Lone
    surrogates ("\\ud800", half of a UTF-16 pair, which no text contains but which a cut
    JavaScript string writes) become U+FFFD, as any UTF-8 decoder does with broken text: the
    file still opens, and nothing unencodable enters the program to crash printing or saving.
    `allow_non_finite` accepts NaN and Infinity, for records of measurements (a diverged loss).
    """
    source = shown(source)
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FileReadError(f"{source} is damaged: it is not UTF-8 text") from None
    else:
        text = raw
    try:
        document = json.loads(text, parse_constant=float if allow_non_finite else _refuse_constant,
                              parse_float=float if allow_non_finite else _finite_float, parse_int=_bounded_int)
    except json.JSONDecodeError as error:
        raise FileReadError(f"{source} is damaged: it is not valid JSON at line {error.lineno}, "
                            f"column {error.colno}") from None
    except RecursionError:
        raise FileReadError(f"{source} is damaged: it nests too deeply") from None
    except ValueError as error:  # from the hooks below
        raise FileReadError(f"{source} is damaged: it is not valid JSON ({shown(error)})") from None
    # Strictly decoded bytes hold no surrogate, so only a "\\udxxx" escape can bring one in.
    repair = _SURROGATE_ESCAPE.search(text) is not None or (isinstance(raw, str) and _has_surrogate(raw))
    return _checked(document, source, repair)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {shown(text, 40)} is too large")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise ValueError(f"a whole number of {len(text):,} digits")
    return int(text)


def _checked(document: Any, source: str, repair_surrogates: bool) -> Any:
    """`document` with its nesting depth checked and, when asked, lone surrogates replaced;
    walked without recursion so depth cannot overflow the stack (only containers are visited:
    a string's surrogates are replaced by the container holding it)."""
    fixed = _without_surrogates(document) if repair_surrogates and isinstance(document, str) else document
    pending = [(fixed, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)) and depth > MAX_JSON_DEPTH:
            raise FileReadError(f"{source} is damaged: it nests more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(value, dict):
            if repair_surrogates:
                items = [(_without_surrogates(key), _without_surrogates(item) if isinstance(item, str) else item)
                         for key, item in value.items()]
                value.clear()
                value.update(items)
            pending.extend((item, depth + 1) for item in value.values() if isinstance(item, (dict, list)))
        elif isinstance(value, list):
            if repair_surrogates:
                value[:] = [_without_surrogates(item) if isinstance(item, str) else item for item in value]
            pending.extend((item, depth + 1) for item in value if isinstance(item, (dict, list)))
    return fixed


def _without_surrogates(text: str) -> str:
    if not _has_surrogate(text):
        return text
    return "".join(REPLACEMENT_CHARACTER if "\ud800" <= character <= "\udfff" else character for character in text)


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= character <= "\udfff" for character in text)


# A temporary file this old beside its target was left by a crash (a save takes seconds at most).
_STALE_TEMPORARY_SECONDS = 3600


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename over `path`.

    A crash mid-save leaves the previous file intact. The file keeps its permissions (a new one
    gets the usual ones for the user's umask, not the temporary file's 0600), a symbolic link is
    written through to its target rather than replaced, and temporary files that an earlier crash
    left beside it are removed.
    """
    if "\0" in str(path):  # (os functions raise ValueError for it): callers handle a path refused as OSError
        raise OSError(errno.EINVAL, "a file name cannot hold a NUL character")
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    _remove_stale_temporaries(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove_stale_temporaries(path: Path) -> None:
    now = time.time()
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - leftover.stat().st_mtime > _STALE_TEMPORARY_SECONDS:
                leftover.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: it does no harm
