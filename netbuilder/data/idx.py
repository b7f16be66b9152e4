"""Reading IDX files, the format of MNIST and Fashion-MNIST, plain or gzip-compressed."""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netbuilder.common.files import FileReadError, read_bounded
from netbuilder.common.text import byte_size, format_shape, shown

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
# The guard counts what the values become in memory (images: 4-byte float32; labels: 8-byte
# int64), not the file's bytes, so a small gzip file that declares billions of values is refused
# from its header before anything is allocated. 2 GB is 10 times MNIST's training images (47
# million values, 188 MB as float32).
MAX_LOADED_BYTES = 2 * 1024**3
FLOAT32_BYTES = 4
# The largest file that can hold MAX_LOADED_BYTES of values (8-byte doubles) with its header.
_MAX_FILE_BYTES = 2 * MAX_LOADED_BYTES + 4 + 4 * 255


@dataclass(frozen=True)
class _Header:
    dtype: np.dtype
    shape: tuple[int, ...]
    size: int  # bytes of the header itself

    @property
    def file_size(self) -> int:
        return self.size + math.prod(self.shape) * self.dtype.itemsize


def read_idx(path: str | Path, loaded_bytes_per_value: int = FLOAT32_BYTES) -> np.ndarray:
    """The array stored in an IDX file, gzip-compressed or not (told apart by content, not name),
    refused when its values would take more than MAX_LOADED_BYTES once loaded at
    `loaded_bytes_per_value` each."""
    path = Path(path)
    try:
        data = read_bounded(path, _MAX_FILE_BYTES, "IDX file")
    except FileReadError as error:
        raise DataError(str(error)) from None
    return decode_idx(data, path.name, loaded_bytes_per_value)


def decode_idx(data: bytes, source: str, loaded_bytes_per_value: int = FLOAT32_BYTES) -> np.ndarray:
    """Decode the bytes of an IDX file; `source` names the file in error messages."""
    source = shown(source)
    if data[:2] == _GZIP_MAGIC:
        data = _gunzip(data, source, loaded_bytes_per_value)
    header = _header(data, source, loaded_bytes_per_value)
    if len(data) != header.file_size:
        dims = format_shape(header.shape)
        problem = "is cut short" if len(data) < header.file_size else "has extra bytes at the end"
        raise DataError(f"{source}: {problem}: a {dims} array needs {header.file_size} bytes "
                        f"but the file has {len(data)}.")
    return np.frombuffer(data, dtype=header.dtype, offset=header.size).reshape(header.shape).astype(
        header.dtype.newbyteorder("="))


def _header(data: bytes, source: str, loaded_bytes_per_value: int) -> _Header:
    """The header at the start of `data`, checked against the memory its values would take."""
    if len(data) < 4:
        raise DataError(f"{source}: is not an IDX file (only {len(data)} bytes long).")
    if data[0] != 0 or data[1] != 0 or data[2] not in _ELEMENT_TYPES or data[3] == 0:
        raise DataError(f"{source}: is not an IDX file (its first bytes {data[:4].hex(' ')} are not "
                        f"an IDX magic number such as 00 00 08 03).")
    rank = data[3]
    size = 4 + 4 * rank
    if len(data) < size:
        raise DataError(f"{source}: is cut short: the header announces {rank} dimensions "
                        f"but the file ends after {len(data)} bytes.")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    loaded = math.prod(shape) * loaded_bytes_per_value
    if loaded > MAX_LOADED_BYTES:
        raise DataError(f"{source}: declares a {format_shape(shape)} array, {byte_size(loaded)} once "
                        f"loaded as {8 * loaded_bytes_per_value}-bit numbers; netbuilder loads at most "
                        f"{byte_size(MAX_LOADED_BYTES)} per file.")
    return _Header(_ELEMENT_TYPES[data[2]], shape, size)


def _gunzip(data: bytes, source: str, loaded_bytes_per_value: int) -> bytes:
    """Unpack a gzip file only as far as its IDX header allows: the header first, checked, then at
    most one byte more than the array it declares (so extra bytes are still noticed)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    unpacked = bytearray()
    pending = data

    def unpack_to(size: int) -> None:
        nonlocal pending
        while len(unpacked) < size:
            chunk = inflater.decompress(pending, size - len(unpacked))
            pending = inflater.unconsumed_tail
            if not chunk:
                return
            unpacked.extend(chunk)

    try:
        unpack_to(4)
        if len(unpacked) == 4 and unpacked[:2] == b"\0\0":
            unpack_to(4 + 4 * unpacked[3])
        header = _header(bytes(unpacked), source, loaded_bytes_per_value)
        unpack_to(header.file_size + 1)
    except zlib.error as error:
        raise DataError(f"{source}: is a damaged gzip file ({shown(error)}); download it again.") from None
    if len(unpacked) <= header.file_size and not inflater.eof:
        raise DataError(f"{source}: is a gzip file that is cut short; download it again.")
    return bytes(unpacked)
