"""MNIST and Fashion-MNIST: found in the cache or a folder, downloaded on first use, read from IDX files."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netbuilder.common.app_dirs import cache_dir
from netbuilder.common.text import format_shape

from .base import DataError, Dataset, Progress, RawDataset
from .download import download_file
from .idx import read_idx
from .recipe import digit_recipe, image_recipe

# Role -> the standard file name. The test files serve as the validation set.
IDX_FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "val_images": "t10k-images-idx3-ubyte.gz",
    "val_labels": "t10k-labels-idx1-ubyte.gz",
}


@dataclass(frozen=True)
class IdxCollection:
    """A dataset published as the four standard IDX files."""

    name: str
    title: str
    class_names: tuple[str, ...]
    mirrors: tuple[str, ...]
    md5: Mapping[str, str]  # standard file name -> published checksum
    digits: bool  # made like MNIST's digits, so new images are digit-normalised the same way


COLLECTIONS = {
    "mnist": IdxCollection(
        name="mnist",
        title="MNIST",
        class_names=tuple(str(digit) for digit in range(10)),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        digits=True,
    ),
    "fashion-mnist": IdxCollection(
        name="fashion-mnist",
        title="Fashion-MNIST",
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        digits=False,
    ),
}


def load_mnist(name: str = "mnist", folder: str | Path | None = None, **options) -> Dataset:
    """MNIST or Fashion-MNIST as tensors, read through its recipe (options: see `read_mnist`)."""
    return read_mnist(name, folder, **options).build()


def read_mnist(name: str = "mnist", folder: str | Path | None = None, *, download: bool = True,
               progress: Progress | None = None, mirrors: Sequence[str] | None = None,
               md5: Mapping[str, str] | None = None, timeout: float = 30.0) -> RawDataset:
    """MNIST or Fashion-MNIST (`name`) as stored, from `folder` (default: the cache), downloading
    missing files.

    `mirrors` and `md5` replace the published mirror list and checksums (tests use a local server).
    """
    if name not in COLLECTIONS:
        raise DataError(f'There is no dataset called "{name}"; choose one of {", ".join(COLLECTIONS)}.')
    collection = COLLECTIONS[name]
    folder = Path(folder) if folder is not None else cache_dir() / collection.name
    found = find_idx_files(folder)
    missing = [role for role in IDX_FILE_NAMES if role not in found]
    if missing and not download:
        raise DataError(_put_files_here(collection.title, folder, "are not there"))
    for role in missing:
        file_name = IDX_FILE_NAMES[role]
        urls = [mirror.rstrip("/") + "/" + file_name for mirror in (mirrors or collection.mirrors)]
        try:
            download_file(urls, folder / file_name, md5=(md5 or collection.md5).get(file_name),
                          progress=progress, timeout=timeout)
        except DataError as error:
            raise DataError(_put_files_here(collection.title, folder, "could not be downloaded")
                            + f"\n\nWhat went wrong:\n{error}") from error
        found[role] = folder / file_name
    return _read_collection(found, collection.name, list(collection.class_names), str(folder), progress,
                            digits=collection.digits)


def _put_files_here(title: str, folder: Path, problem: str) -> str:
    names = "\n".join(f"  {file_name}" for file_name in IDX_FILE_NAMES.values())
    return (f"The {title} files {problem}. Put these four files (from any {title} mirror) into "
            f"{folder}:\n{names}\nor use the built-in \"digits\" dataset, which works offline.")


def find_idx_files(folder: str | Path) -> dict[str, Path]:
    """The standard IDX files present in `folder`, by role; compressed or not, as archives unpack them."""
    folder = Path(folder)
    found = {}
    for role, file_name in IDX_FILE_NAMES.items():
        unpacked = file_name.removesuffix(".gz")
        for candidate in (file_name, unpacked, unpacked.replace("-idx", ".idx")):
            if (folder / candidate).is_file():
                found[role] = folder / candidate
                break
    return found


def load_idx_folder(folder: str | Path, *, progress: Progress | None = None) -> Dataset:
    """An IDX folder (`read_idx_folder`) as tensors, read through its recipe."""
    return read_idx_folder(folder, progress=progress).build()


def read_idx_folder(folder: str | Path, *, progress: Progress | None = None) -> RawDataset:
    """Any MNIST-style dataset given as the four standard IDX files in one folder (classes 0..max label)."""
    folder = Path(folder)
    found = find_idx_files(folder)
    if len(found) < len(IDX_FILE_NAMES):
        missing = ", ".join(IDX_FILE_NAMES[role] for role in IDX_FILE_NAMES if role not in found)
        raise DataError(f"{folder} lacks {missing} (IDX datasets need all four standard files).")
    return _read_collection(found, folder.name, None, str(folder), progress, digits=False)


def _read_collection(paths: dict[str, Path], name: str, class_names: list[str] | None, source: str,
                     progress: Progress | None, *, digits: bool) -> RawDataset:
    if progress:
        progress(0, 0, f"Reading {name}")
    train_x, train_y = _read_pair(paths["train_images"], paths["train_labels"])
    val_x, val_y = _read_pair(paths["val_images"], paths["val_labels"])
    if train_x.shape[1:] != val_x.shape[1:]:
        raise DataError(f"{paths['train_images'].name} holds {format_shape(train_x.shape[1:])} images but "
                        f"{paths['val_images'].name} holds {format_shape(val_x.shape[1:])} images; both must be the same size.")
    if len(np.unique(train_y)) < 2:
        label = int(train_y[0]) if len(train_y) else None
        raise DataError(f"{paths['train_labels'].name}: every image has the label {label}; a classification needs "
                        f"at least two classes." if label is not None else
                        f"{paths['train_labels'].name}: holds no labels; a classification needs images of at least "
                        f"two classes.")
    if class_names is None:
        class_count = int(max(train_y.max(initial=0), val_y.max(initial=0))) + 1
        class_names = [str(label) for label in range(class_count)]
    for labels_path, labels in ((paths["train_labels"], train_y), (paths["val_labels"], val_y)):
        if labels.size and labels.max() >= len(class_names):
            raise DataError(f"{labels_path.name} contains label {int(labels.max())}, but this dataset "
                            f"has only {len(class_names)} classes (0 to {len(class_names) - 1}).")
    recipe = digit_recipe(class_names) if digits else image_recipe(class_names, *train_x.shape[1:])
    return RawDataset(name, recipe, train_x, train_y, val_x, val_y, source=source)


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path)  # they become float32
    labels = read_idx(labels_path, loaded_bytes_per_value=8)  # they become int64
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(f"{images_path.name}: expected 8-bit grey images (count×height×width), "
                        f"found a {format_shape(images.shape)} array of {images.dtype}.")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{labels_path.name}: expected a list of 8-bit labels, "
                        f"found a {format_shape(labels.shape)} array of {labels.dtype}.")
    if len(images) != len(labels):
        raise DataError(f"{images_path.name} holds {len(images)} images but {labels_path.name} "
                        f"holds {len(labels)} labels; they must match one to one.")
    return images, labels.astype(np.int64)
