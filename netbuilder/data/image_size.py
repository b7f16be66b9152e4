"""The pixel size an image file declares, read from its header without decoding it.

A 100-byte PNG can declare 60,000×60,000 pixels, and OpenCV allocates them all (up to its own
limit of a gigapixel, gigabytes in colour) before noticing the data is missing. Reading the size
first lets a reader refuse such a file with a message instead. Only the formats netbuilder reads
are parsed (folders.IMAGE_SUFFIXES): PNG, JPEG, BMP, TIFF, WebP and the PNM family; for anything
else the size is unknown, and a reader should not decode the file.
"""
from __future__ import annotations

import re
import struct

# JPEG markers that start a frame and carry its size (SOF0-SOF15 less DHT, JPG and DAC).
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# JPEG markers that stand alone, without a length: TEM, RST0-7, SOI, EOI.
_JPEG_BARE_MARKERS = frozenset({0x01, *range(0xD0, 0xDA)})
_PNM_HEADER = re.compile(rb"P[1-6](?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)")


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as the file's header states it, or None for a format not read here or a
    header too damaged to state one."""
    try:
        for reader in (_png, _jpeg, _bmp, _tiff, _webp, _pnm):
            size = reader(data)
            if size is not None:
                return size
    except (struct.error, IndexError, ValueError):
        return None  # a header cut short
    return None


def _png(data: bytes) -> tuple[int, int] | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _bmp(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"BM":
        return None
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height means rows stored top-down


def _jpeg(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
        elif marker in _JPEG_BARE_MARKERS:
            position += 2
        elif marker in _JPEG_FRAME_MARKERS:
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            return width, height
        else:
            position += 2 + struct.unpack(">H", data[position + 2:position + 4])[0]
    return None


def _tiff(data: bytes) -> tuple[int, int] | None:
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(data[:4])
    if order is None:
        return None
    (directory,) = struct.unpack(order + "I", data[4:8])
    (entries,) = struct.unpack(order + "H", data[directory:directory + 2])
    found = {}
    for index in range(entries):
        entry = data[directory + 2 + 12 * index:directory + 14 + 12 * index]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257):  # ImageWidth, ImageLength: a SHORT or a LONG
            short = kind == 3
            found[tag] = struct.unpack(order + ("H" if short else "I"), entry[8:10] if short else entry[8:12])[0]
    return (found[256], found[257]) if len(found) == 2 else None


def _webp(data: bytes) -> tuple[int, int] | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _pnm(data: bytes) -> tuple[int, int] | None:
    match = _PNM_HEADER.match(data[:1024])
    return (int(match.group(1)), int(match.group(2))) if match else None
