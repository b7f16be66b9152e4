"""Reading IDX files, the format of MNIST and Fashion-MNIST, plain or gzip-compressed."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from .base import DataError

# Third byte of the magic number -> element type (big-endian on disk).
_ELEMENT_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
# Far above the largest real IDX file (MNIST's training images are 47 MB), low enough that a
# hostile "gzip bomb" cannot exhaust memory.
_MAX_DECOMPRESSED_BYTES = 2 * 1024**3


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file, gzip-compressed or not (told apart by content, not name)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror or error}).") from error
    return decode_idx(data, path.name)


def decode_idx(data: bytes, source: str) -> np.ndarray:
    """Decode the bytes of an IDX file; `source` names the file in error messages."""
    if data[:2] == _GZIP_MAGIC:
        data = _gunzip(data, source)
    if len(data) < 4:
        raise DataError(f"{source}: is not an IDX file (only {len(data)} bytes long).")
    if data[0] != 0 or data[1] != 0 or data[2] not in _ELEMENT_TYPES or data[3] == 0:
        raise DataError(f"{source}: is not an IDX file (its first bytes {data[:4].hex(' ')} are not "
                        f"an IDX magic number such as 00 00 08 03).")
    dtype = _ELEMENT_TYPES[data[2]]
    rank = data[3]
    header_size = 4 + 4 * rank
    if len(data) < header_size:
        raise DataError(f"{source}: is cut short: the header announces {rank} dimensions "
                        f"but the file ends after {len(data)} bytes.")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    expected_size = header_size + int(np.prod(shape, dtype=object)) * dtype.itemsize
    if len(data) != expected_size:
        dims = "×".join(map(str, shape))
        problem = "is cut short" if len(data) < expected_size else "has extra bytes at the end"
        raise DataError(f"{source}: {problem}: a {dims} array needs {expected_size} bytes "
                        f"but the file has {len(data)}.")
    return np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))


def _gunzip(data: bytes, source: str) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        result = decompressor.decompress(data, _MAX_DECOMPRESSED_BYTES)
    except zlib.error as error:
        raise DataError(f"{source}: is a damaged gzip file ({error}); download it again.") from error
    if decompressor.unconsumed_tail:
        raise DataError(f"{source}: unpacks to more than {_MAX_DECOMPRESSED_BYTES // 1024**3} GB, "
                        f"far more than any IDX dataset.")
    if not decompressor.eof:
        raise DataError(f"{source}: is a gzip file that is cut short; download it again.")
    return result

