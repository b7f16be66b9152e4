"""Downloading a file from a list of mirrors, verified, never leaving a half-written file behind."""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from netbuilder.common.text import byte_size
from netbuilder.common.text import shown

from .base import DataError, Progress

_CHUNK_BYTES = 64 * 1024
_USER_AGENT = "netbuilder (dataset download)"
# The datasets netbuilder downloads are tens of MB; a mirror sending more is sending something else.
MAX_DOWNLOAD_BYTES = 1024**3


def download_file(urls: Sequence[str], destination: Path, *, md5: str | None = None,
                  sha256: str | None = None, progress: Progress | None = None,
                  timeout: float = 30.0) -> None:
    """Fetch `destination` from the first of `urls` that delivers it whole and with the right checksum.

    `progress` gets (bytes so far, file size, message); if it raises, nothing is kept.

    Mirrors are tried in order. The file is written to a temporary file beside `destination`
    and renamed only once complete and verified, so an interrupted or corrupt download is
    never mistaken for a good file. Raises DataError listing what went wrong with each mirror.
    """
    destination = Path(destination)
    expected_digests = {name: value.lower() for name, value in (("md5", md5), ("sha256", sha256)) if value}
    failures = []
    for url in urls:
        try:
            _download_verified(url, destination, expected_digests, progress, timeout)
            return
        except _MirrorFailed as failure:
            failures.append(f"{url}: {failure}")
    raise DataError(f"Could not download {destination.name}:\n" + "\n".join(f"  {line}" for line in failures))


class _MirrorFailed(Exception):
    """One mirror did not deliver a good copy; the next one may."""


def _download_verified(url: str, destination: Path, expected_digests: dict[str, str],
                       progress: Progress | None, timeout: float) -> None:
    digests = {name: hashlib.new(name) for name in expected_digests}
    message = f"Downloading {destination.name} from {urlsplit(url).netloc or url}"
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part",
                                                  dir=destination.parent)
        os.close(handle)
    except OSError as error:
        raise _unwritable(destination.parent, error) from error
    temporary = Path(temporary_name)
    try:
        with temporary.open("wb") as output:
            _copy_response(url, output, digests, progress, message, timeout)
            output.flush()
            os.fsync(output.fileno())
        for name, expected in expected_digests.items():
            actual = digests[name].hexdigest()
            if actual != expected:
                raise _MirrorFailed(f"the file is damaged or not the expected one "
                                    f"({name} checksum {actual} instead of {expected})")
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def _unwritable(folder: Path, error: OSError) -> DataError:
    # The disk, not the mirror, is at fault: no point trying the other mirrors.
    return DataError(f"Cannot write to {folder}: {error.strerror or error}.")


def _copy_response(url: str, output, digests: dict, progress: Progress | None, message: str,
                   timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    done = total = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            if total > MAX_DOWNLOAD_BYTES:
                raise _MirrorFailed(f"it offers {byte_size(total)}, more than any dataset file netbuilder reads")
            if progress:
                progress(0, total, message)
            while chunk := response.read(_CHUNK_BYTES):
                if done + len(chunk) > MAX_DOWNLOAD_BYTES:
                    raise _MirrorFailed(f"it sent more than {byte_size(MAX_DOWNLOAD_BYTES)}, more than any "
                                        "dataset file netbuilder reads")
                _write(output, chunk)
                for digest in digests.values():
                    digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total, message)
    except urllib.error.HTTPError as error:
        raise _MirrorFailed(f"the server answered {error.code} {shown(error.reason)}") from error
    except urllib.error.URLError as error:
        raise _MirrorFailed(f"no connection ({shown(error.reason)})") from error
    except (http.client.HTTPException, OSError, ValueError) as error:
        if done:
            raise _MirrorFailed(f"the connection broke off after {done} of {total or '?'} bytes") from error
        raise _MirrorFailed(f"the download failed ({shown(error or type(error).__name__)})") from error
    if total and done != total:
        raise _MirrorFailed(f"the connection broke off after {done} of {total} bytes")


def _write(output, chunk: bytes) -> None:
    try:
        output.write(chunk)
    except OSError as error:
        raise _unwritable(Path(output.name).parent, error) from error
