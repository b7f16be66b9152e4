"""Image folders: one subfolder per class, the folder names are the class names."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from netbuilder.common.files import MB, FileReadError, read_bounded
from netbuilder.common.text import byte_size, shown

from .base import DataError, Dataset, Progress, train_val_split
from .image_size import declared_size
from .recipe import image_recipe, model_inputs
from .stream import StreamedImages, cached_pixels, decode_into

# OpenCV's decoders write their own warnings to the terminal ("PNG input buffer is incomplete"):
# read_image says which file is unreadable, in netbuilder's words, instead.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
_INDEX_PROGRESS_EVERY = 1000  # files found between progress reports while indexing
# A 100-megapixel photo decodes to 300 MB in colour; every image is shrunk to the input size anyway.
MAX_IMAGE_PIXELS = 100_000_000
MAX_IMAGE_FILE_BYTES = 256 * MB
_JPEG_START = b"\xff\xd8"


@dataclass(frozen=True)
class FolderIndex:
    """The images of a folder of class folders, in order: each file, its class index and its
    listing entry (path relative to the folder, size, modification time in ns)."""

    folder: Path
    class_names: list[str]
    files: list[str]  # paths as text: 60,000 pathlib objects would cost seconds to make and sort
    labels: np.ndarray  # int64 class index of each file
    listing: list[tuple[str, int, int]]


def index_folder(folder: str | Path, progress: Progress | None = None, min_classes: int = 2) -> FolderIndex:
    """Every image file under `folder`/<class>/, classes in sorted folder-name order; `progress`
    hears how many were found (it may raise to stop)."""
    folder = Path(folder)
    files, labels, listing = [], [], []
    files_by_class = _files_by_class(folder, min_classes)
    for label, (class_name, entries) in enumerate(files_by_class.items()):
        for entry in entries:
            stat = entry.stat()
            files.append(entry.path)
            labels.append(label)
            listing.append((f"{class_name}/{entry.name}", stat.st_size, stat.st_mtime_ns))
            if progress and len(files) % _INDEX_PROGRESS_EVERY == 0:
                progress(len(files), 0, f"Indexing {folder.name}: {len(files):,} images found")
    return FolderIndex(folder, list(files_by_class), files, np.asarray(labels, dtype=np.int64), listing)


def load_image_folder(folder: str | Path, *, size: int | tuple[int, int] = 28, color: bool | None = None,
                      resize: str = "area", val_fraction: float = 0.2, seed: int = 0, skip_unreadable: bool = True,
                      stream: bool | None = None, in_memory_limit: int | None = None,
                      progress: Progress | None = None) -> Dataset:
    """Every image under `folder`/<class>/, read through an image recipe of `size` (height, width)
    and `resize` method, as `predict` reads a new image for the trained model.

    `color`: True reads 3 channels, False grey, None what the images are (colour when the first
    image of a class is). A conversion (colour read as grey, grey repeated into 3 channels) is
    said in the dataset's notes. Each class is split on its own into training and validation
    (`val_fraction`, shuffled by `seed`). An unreadable image is left out and counted in the notes,
    or with `skip_unreadable` False a DataError naming it.

    `stream`: True keeps the pixels in a uint8 cache on disk (built once, `stream.cached_pixels`)
    and builds each batch's floats when training asks for it; False reads everything into float
    tensors; None streams when those tensors would take more than `in_memory_limit` bytes.
    """
    folder = Path(folder)
    height, width = (size, size) if isinstance(size, int) else size
    if height < 1 or width < 1:
        raise DataError(f"The image size must be positive, not {height}×{width}.")
    index = index_folder(folder, progress)
    in_colour = _in_colour(index)
    channels = (3 if in_colour else 1) if color is None else (3 if color else 1)
    recipe = image_recipe(index.class_names, height, width, channels, resize=resize)
    notes = [] if color is None or color == in_colour else [_conversion_note(folder, in_colour, height, width)]
    float_bytes = len(index.files) * channels * height * width * 4
    if stream is None:
        stream = in_memory_limit is not None and float_bytes > in_memory_limit
    if stream:
        pixels, problems, built = cached_pixels(folder, index.files, index.listing, recipe.image, progress)
    else:
        pixels = np.empty((len(index.files), height, width, channels), np.uint8)
        problems = decode_into(pixels, index.files, recipe.image, progress, f"Reading images from {folder.name}")
    rows, skipped = _readable_rows(index, problems, skip_unreadable)
    notes += skipped
    labels = index.labels[rows]
    train, val = train_val_split(len(rows), val_fraction, seed, groups=labels)
    y = torch.from_numpy(labels)
    if stream:
        x = StreamedImages(recipe, pixels, rows)
        notes.append(f"Streaming from disk: {len(rows):,} images, cache {byte_size(pixels.nbytes)}"
                     f"{' (built now)' if built else ''}; in memory they would take {byte_size(float_bytes)}.")
        train_x, val_x = x.subset(train), x.subset(val)
    else:
        x = model_inputs(recipe, pixels[rows] if len(rows) < len(pixels) else pixels)
        train_x, val_x = x[train], x[val]
    return Dataset(name=folder.name, kind="image", train_x=train_x, train_y=y[train], val_x=val_x,
                   val_y=y[val], class_names=list(index.class_names), source=str(folder), notes=notes,
                   recipe=recipe)


def _readable_rows(index: FolderIndex, problems: list[str | None], skip_unreadable: bool) -> tuple[np.ndarray, list[str]]:
    """The rows of the images that were read, and the note counting those left out; a DataError
    when one may not be left out, or when a class is left with none."""
    readable = np.array([problem is None for problem in problems], dtype=bool)
    unreadable = np.flatnonzero(~readable)
    if len(unreadable) and not skip_unreadable:
        raise DataError(f"{problems[int(unreadable[0])]} Remove it, or choose to skip unreadable images.")
    labels = index.labels[readable]
    empty = [name for label, name in enumerate(index.class_names) if not np.any(labels == label)]
    if empty:
        raise DataError(f'No readable image in the class folder "{empty[0]}" of {index.folder}.')
    if not len(unreadable):
        return np.flatnonzero(readable), []
    first = index.listing[int(unreadable[0])][0]
    return np.flatnonzero(readable), [f"Skipped {len(unreadable)} unreadable image{'s' * (len(unreadable) > 1)}, "
                                      f"e.g. {first}."]


def _in_colour(index: FolderIndex) -> bool:
    """Whether the folder's images are in colour, judged by the first readable image of each class."""
    first_of_class = np.flatnonzero(np.diff(index.labels, prepend=-1))
    for start in first_of_class:
        for path in index.files[start:start + 3]:
            try:
                picture = read_image(Path(path))
            except DataError:
                continue
            if picture is not None:
                if picture.ndim == 3 and picture.shape[2] >= 3 and not _grey_colours(picture):
                    return True
                break
    return False


def _grey_colours(picture: np.ndarray) -> bool:
    """An RGB file whose three channels are equal holds a grey image."""
    return bool(np.array_equal(picture[..., 0], picture[..., 1]) and np.array_equal(picture[..., 1], picture[..., 2]))


def _conversion_note(folder: Path, in_colour: bool, height: int, width: int) -> str:
    if in_colour:
        return (f"The images of {folder.name} are in colour, and the network's Input takes 1 channel: they are read "
                f"as grey (0.299 R + 0.587 G + 0.114 B). Set the Input's shape to 3×{height}×{width} to train on "
                "their colours.")
    return (f"The images of {folder.name} are grey, and the network's Input takes 3 channels: each is read as three "
            f"equal channels. Set the Input's shape to 1×{height}×{width} for a network a third the size at its "
            "first layer.")


def read_labelled_images(folder: str | Path) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Every image under `folder`/<class>/ as read from disk (`read_image`), its class folder's
    name, and its path relative to `folder`; one class folder is enough (a test set may lack some)."""
    folder = Path(folder)
    images, labels, names = [], [], []
    for label, entries in _files_by_class(folder, min_classes=1).items():
        for entry in entries:
            path = Path(entry.path)
            image = read_image(path)
            if image is None:
                raise DataError(f"{path}: is not an image that can be read (damaged, or not really "
                                f"{path.suffix.lower()}).")
            images.append(image)
            labels.append(label)
            names.append(f"{label}/{entry.name}")
    return images, labels, names


def _files_by_class(folder: Path, min_classes: int = 2) -> dict[str, list[os.DirEntry]]:
    """Each class folder's image files (their directory entries), sorted by name."""
    if not folder.is_dir():
        raise DataError(f"{folder}: is not a folder.")
    class_folders = sorted(path for path in folder.iterdir() if path.is_dir() and not path.name.startswith("."))
    files_by_class = {}
    for class_folder in class_folders:
        if not class_folder.name.isprintable():
            # It becomes a class name, printed and saved with the model: bytes that are not UTF-8
            # (read as lone surrogates) or control characters would break both.
            raise DataError(f'The class folder "{shown(class_folder.name)}" in {shown(str(folder))} has a name that is '
                            f"not printable text: rename it.")
        with os.scandir(class_folder) as entries:
            files = sorted((entry for entry in entries
                            if entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES),
                           key=lambda entry: entry.name)
        if not files:
            raise DataError(f'The class folder "{class_folder.name}" in {folder} holds no images '
                            f'({", ".join(IMAGE_SUFFIXES)}). Add images or remove the folder.')
        files_by_class[class_folder.name] = files
    if len(files_by_class) < min_classes:
        least = "at least two" if min_classes == 2 else "at least one"
        raise DataError(f"{folder}: an image dataset needs one subfolder per class, {least}, each "
                        f"holding that class's images (found {len(files_by_class)} class folder"
                        f"{'s' * (len(files_by_class) != 1)}).")
    return files_by_class


def read_image(path: Path) -> np.ndarray | None:
    """Pixels as the file holds them: grey (H, W), RGB (H, W, 3) or, with transparency, RGBA
    (H, W, 4), 8- or 16-bit; `recipe.model_inputs` composites the transparency and converts to what
    the model reads. None if the file is not an image that can be decoded. A file that cannot be
    read at all (a folder, a FIFO, above MAX_IMAGE_FILE_BYTES) or that declares more than
    MAX_IMAGE_PIXELS pixels is a DataError: its size is checked from the header before OpenCV
    allocates anything.

    Bytes + imdecode rather than cv2.imread, which cannot open non-ASCII paths on Windows.
    """
    try:
        encoded = read_bounded(path, MAX_IMAGE_FILE_BYTES, "image file")
    except FileReadError as error:
        raise DataError(str(error)) from None
    size = declared_size(encoded)
    if size is None:
        return None
    if size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise DataError(f"{shown(str(path))}: declares {size[0]:,}×{size[1]:,} pixels; netbuilder reads images of "
                        f"up to {MAX_IMAGE_PIXELS // 1_000_000} megapixels (it shrinks them to the network's input "
                        f"anyway).")
    # A JPEG has no transparency, and only the ordinary decoding turns a camera's photo upright
    # (EXIF orientation); every other format is decoded with its alpha channel and bit depth.
    flags = cv2.IMREAD_ANYCOLOR if encoded[:2] == _JPEG_START else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imdecode(np.frombuffer(encoded, dtype=np.uint8), flags)
    except cv2.error:
        return None
    if image is None or image.dtype.kind not in "uf":
        return None
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    elif image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    if encoded[:2] != _JPEG_START and any(marker in encoded for marker in _EXIF_MARKERS):
        image = np.ascontiguousarray(_upright(image, _exif_orientation(encoded)))
    return image


def _upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels turned as their EXIF orientation says, as PIL.ImageOps.exif_transpose does
    (tested against it); OpenCV's ordinary decoding does this for JPEG only."""
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1]
    if orientation == 5:
        return image.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(image, -1)
    if orientation == 7:
        return np.rot90(image, -1)[::-1]
    if orientation == 8:
        return np.rot90(image, 1)
    return image


_EXIF_MARKERS = (b"eXIf", b"EXIF", b"Exif")  # PNG's EXIF chunk, WebP's, and the block's own header
_ORIENTATION_TAG = 0x0112


def _exif_orientation(encoded: bytes) -> int:
    """The EXIF orientation a PNG, WebP or TIFF file declares (1, upright, when none or unreadable)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(encoded)) as picture:
            orientation = picture.getexif().get(_ORIENTATION_TAG, 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return 1
    return orientation if isinstance(orientation, int) else 1
