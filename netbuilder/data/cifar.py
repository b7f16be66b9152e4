"""CIFAR-10: found in the cache or a folder the user gives, downloaded once, read from its binary
version (`cifar-10-binary.tar.gz`: records of one label byte and 32×32 red, green and blue planes).

The binary version, not the python one: that is pickled, and netbuilder never unpickles a file.
"""
from __future__ import annotations

import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from netbuilder.common.app_dirs import cache_dir
from netbuilder.common.files import FileReadError, read_bounded
from netbuilder.common.text import byte_size

from .base import DataError, Progress, RawDataset
from .download import download_file
from .recipe import image_recipe

NAME = "cifar-10"
ARCHIVE = "cifar-10-binary.tar.gz"
ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
MIRRORS = (
    "https://www.cs.toronto.edu/~kriz/",
    "https://storage.googleapis.com/s4tf-hosted-binaries/datasets/CIFAR10/",
    "http://www.cs.toronto.edu/~kriz/",
)
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_FILES = tuple(f"data_batch_{number}.bin" for number in range(1, 6))
TEST_FILE = "test_batch.bin"
BATCH_FOLDER = "cifar-10-batches-bin"  # where the archive keeps the batch files
SIZE = 32
_RECORD_BYTES = 1 + 3 * SIZE * SIZE
# A batch file holds 10,000 records (30.7 MB); one far larger is something else.
_MAX_BATCH_BYTES = 64 * 1024 * 1024


def read_cifar10(folder: str | Path | None = None, *, download: bool = True, progress: Progress | None = None,
                 mirrors: Sequence[str] | None = None, md5: str | None = None,
                 timeout: float = 30.0) -> RawDataset:
    """CIFAR-10 as stored (uint8 (N, 32, 32, 3) RGB), its test set as the validation set, from
    `folder` (default: the cache) holding the batch files (or their folder, or the archive), else
    downloaded there once. `mirrors` and `md5` replace the published ones (tests use a local server)."""
    folder = Path(folder) if folder is not None else cache_dir() / NAME
    batches = find_cifar_files(folder)
    if batches is None and not (folder / ARCHIVE).is_file():
        if not download:
            raise DataError(_put_files_here(folder, "are not there"))
        urls = [mirror.rstrip("/") + "/" + ARCHIVE for mirror in (mirrors or MIRRORS)]
        try:
            download_file(urls, folder / ARCHIVE, md5=md5 or ARCHIVE_MD5, progress=progress, timeout=timeout)
        except DataError as error:
            raise DataError(_put_files_here(folder, "could not be downloaded")
                            + f"\n\nWhat went wrong:\n{error}") from error
    if progress:
        progress(0, 0, "Reading CIFAR-10")
    contents = _batch_bytes(batches) if batches is not None else _archive_batches(folder / ARCHIVE)
    train = [_records(name, contents[name]) for name in TRAIN_FILES]
    train_x, train_y = np.concatenate([images for images, _ in train]), np.concatenate([labels for _, labels in train])
    val_x, val_y = _records(TEST_FILE, contents[TEST_FILE])
    recipe = image_recipe(CLASS_NAMES, SIZE, SIZE, 3)
    return RawDataset(NAME, recipe, train_x, train_y, val_x, val_y, source=str(folder))


def find_cifar_files(folder: str | Path) -> dict[str, Path] | None:
    """The six batch files in `folder` or in its cifar-10-batches-bin folder, by name; None when any is missing."""
    folder = Path(folder)
    for place in (folder, folder / BATCH_FOLDER):
        found = {name: place / name for name in (*TRAIN_FILES, TEST_FILE) if (place / name).is_file()}
        if len(found) == len(TRAIN_FILES) + 1:
            return found
    return None


def holds_cifar(folder: str | Path) -> bool:
    """Whether `folder` holds CIFAR-10's batch files or its archive."""
    return find_cifar_files(folder) is not None or (Path(folder) / ARCHIVE).is_file()


def _batch_bytes(paths: dict[str, Path]) -> dict[str, bytes]:
    contents = {}
    for name, path in paths.items():
        try:
            contents[name] = read_bounded(path, _MAX_BATCH_BYTES, "CIFAR-10 batch file")
        except FileReadError as error:
            raise DataError(str(error)) from None
    return contents


def _archive_batches(archive: Path) -> dict[str, bytes]:
    """The batch files inside the archive, read by their expected names only (nothing is extracted)."""
    wanted = {f"{BATCH_FOLDER}/{name}": name for name in (*TRAIN_FILES, TEST_FILE)}
    contents = {}
    try:
        with tarfile.open(archive, "r:gz") as bundle:
            for member in bundle:
                name = wanted.get(member.name)
                if name is None or not member.isfile() or member.size > _MAX_BATCH_BYTES:
                    continue
                contents[name] = bundle.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"{archive}: is not a readable CIFAR-10 archive ({error}). Delete it to download it "
                        "again.") from None
    missing = [name for name in wanted.values() if name not in contents]
    if missing:
        raise DataError(f"{archive}: lacks {', '.join(missing)}; it is not the binary version of CIFAR-10.")
    return contents


def _records(name: str, content: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) RGB and int64 labels of one batch file."""
    if not content or len(content) % _RECORD_BYTES:
        raise DataError(f"{name}: holds {byte_size(len(content))}, not whole CIFAR-10 records of {_RECORD_BYTES:,} "
                        "bytes (one label, 32×32 red, green and blue); the file is damaged.")
    records = np.frombuffer(content, np.uint8).reshape(-1, _RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CLASS_NAMES):
        raise DataError(f"{name}: holds the label {int(labels.max())}; CIFAR-10's are 0 to {len(CLASS_NAMES) - 1}. "
                        "The file is damaged or not CIFAR-10's.")
    images = np.ascontiguousarray(records[:, 1:].reshape(-1, 3, SIZE, SIZE).transpose(0, 2, 3, 1))
    return images, labels


def _put_files_here(folder: Path, problem: str) -> str:
    return (f"The CIFAR-10 files {problem}. Put {ARCHIVE} (the binary version, from any CIFAR-10 mirror), or the "
            f"six files it holds ({', '.join((*TRAIN_FILES, TEST_FILE))}), into {folder}.")
