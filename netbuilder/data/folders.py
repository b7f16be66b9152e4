"""Image folders: one subfolder per class, the folder names are the class names."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from netbuilder.common.files import MB, FileReadError, read_bounded
from netbuilder.common.text import shown

from .base import DataError, Dataset, Progress, train_val_split
from .image_size import declared_size
from .recipe import image_recipe, model_inputs

# OpenCV's decoders write their own warnings to the terminal ("PNG input buffer is incomplete"):
# read_image says which file is unreadable, in netbuilder's words, instead.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")
_PROGRESS_EVERY = 200  # images between progress reports
# A 100-megapixel photo decodes to 300 MB in colour; every image is shrunk to the input size anyway.
MAX_IMAGE_PIXELS = 100_000_000
MAX_IMAGE_FILE_BYTES = 256 * MB
_JPEG_START = b"\xff\xd8"


def load_image_folder(folder: str | Path, *, size: int | tuple[int, int] = 28, color: bool = False,
                      val_fraction: float = 0.2, seed: int = 0, skip_unreadable: bool = False,
                      progress: Progress | None = None) -> Dataset:
    """Every image under `folder`/<class>/, read through an image recipe of `size` (height, width),
    grey unless `color`, as `predict` reads a new image for the trained model.

    Each image goes through `model_inputs` as soon as it is read, so a folder of large photos
    never holds more than one of them at full size. Each class is split on its own into training
    and validation (`val_fraction`, shuffled by `seed`). An unreadable image is a DataError
    naming it, or, with `skip_unreadable`, left out and counted in the dataset's notes.
    """
    folder = Path(folder)
    height, width = (size, size) if isinstance(size, int) else size
    if height < 1 or width < 1:
        raise DataError(f"The image size must be positive, not {height}×{width}.")
    files_by_class = _files_by_class(folder)
    recipe = image_recipe(list(files_by_class), height, width, 3 if color else 1)
    total = sum(len(files) for files in files_by_class.values())
    images, labels, unreadable = [], [], []
    done = 0
    for label, files in enumerate(files_by_class.values()):
        for path in files:
            try:
                image = read_image(path)
            except DataError:
                if not skip_unreadable:
                    raise
                image = None
            if image is None:
                if not skip_unreadable:
                    raise DataError(f"{path}: is not an image that can be read (damaged, or not really "
                                    f"{path.suffix.lower()}). Remove it, or choose to skip unreadable images.")
                unreadable.append(path)
            else:
                images.append(model_inputs(recipe, [image]))
                labels.append(label)
            done += 1
            if progress and (done % _PROGRESS_EVERY == 0 or done == total):
                progress(done, total, f"Reading images from {folder.name}")
    labels = np.asarray(labels, dtype=np.int64)
    empty = [name for index, name in enumerate(files_by_class) if not np.any(labels == index)]
    if empty:
        raise DataError(f'No readable image in the class folder "{empty[0]}" of {folder}.')
    x, y = torch.cat(images), torch.from_numpy(labels)
    train, val = train_val_split(len(y), val_fraction, seed, groups=labels)
    notes = []
    if unreadable:
        notes.append(f"Skipped {len(unreadable)} unreadable image{'s' * (len(unreadable) > 1)}, "
                     f"e.g. {unreadable[0].relative_to(folder).as_posix()}.")
    return Dataset(name=folder.name, kind="image", train_x=x[train], train_y=y[train], val_x=x[val],
                   val_y=y[val], class_names=list(files_by_class), source=str(folder), notes=notes,
                   recipe=recipe)


def read_labelled_images(folder: str | Path) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Every image under `folder`/<class>/ as read from disk (`read_image`), its class folder's
    name, and its path relative to `folder`; one class folder is enough (a test set may lack some)."""
    folder = Path(folder)
    images, labels, names = [], [], []
    for label, files in _files_by_class(folder, min_classes=1).items():
        for path in files:
            image = read_image(path)
            if image is None:
                raise DataError(f"{path}: is not an image that can be read (damaged, or not really "
                                f"{path.suffix.lower()}).")
            images.append(image)
            labels.append(label)
            names.append(path.relative_to(folder).as_posix())
    return images, labels, names


def _files_by_class(folder: Path, min_classes: int = 2) -> dict[str, list[Path]]:
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
        files = sorted(path for path in class_folder.iterdir()
                       if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
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
        return image[..., 0]
    if image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return image
