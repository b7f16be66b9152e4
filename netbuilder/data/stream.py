"""Image datasets too large to hold as float tensors: their pixels as uint8 at the recipe's size,
in memory (IDX files) or in a memory-mapped cache on disk (image folders), turned into model input
batch by batch through `model_inputs`.

A folder's cache is decoded once, by worker processes (forkserver or spawn: they never share the
window's Qt state), into `<cache dir>/image-cache/`. Its name holds a digest of the folder's
listing (every file's path, size and modification time) and of the recipe's image part, so a
changed folder or another image size reads as a cache that does not exist yet, and building the
new one removes the folder's old ones.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import torch

from netbuilder.common.app_dirs import cache_dir
from netbuilder.common.files import write_atomic
from netbuilder.common.machine import usable_cores
from netbuilder.common.text import byte_size

from .base import DataError, Progress
from .recipe import ImageRecipe, Recipe, model_inputs

CACHE_FOLDER = "image-cache"
# Bumped when what a cache holds changes (stored_pixels, the layout): older caches are rebuilt.
_CACHE_VERSION = 1
# Images per task of a worker process, and tasks in flight per worker: enough to keep each busy,
# few enough that decoded pixels waiting to be written stay a few MB.
_CHUNK_IMAGES = 256
_TASKS_PER_WORKER = 2
# Fewer images than this decode in this process: starting workers (each imports torch and OpenCV)
# costs seconds.
WORKER_MIN_IMAGES = 4096


class StreamedImages:
    """The float32 input (N, *sample_shape) of an image dataset, built from its uint8 pixels
    (`stored_pixels` form, rows `rows` of `pixels`) through `model_inputs` when asked for: a batch
    costs its own size, whatever the dataset's.

    It offers the tensor operations training and evaluation use on a dataset's inputs: `len`,
    `shape`, `dtype`, `device`, `is_floating_point`, `index_select` along the first axis and
    indexing by an integer, a slice or indices (each gives a float tensor), `reshape` to another
    shape of the same values, and `subset` for a part of the rows (the training/validation split).
    """

    dtype = torch.float32
    device = torch.device("cpu")

    def __init__(self, recipe: Recipe, pixels: np.ndarray, rows: np.ndarray | None = None,
                 sample_shape: Sequence[int] | None = None):
        self.recipe = recipe.for_input("image", (recipe.image.channels, recipe.image.height, recipe.image.width))
        self.pixels = pixels
        self.rows = np.arange(len(pixels), dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
        self.sample_shape = tuple(sample_shape or self.recipe.input_shape)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.rows), *self.sample_shape))

    @property
    def nbytes(self) -> int:
        """The stored pixels of these rows (uint8), what the float tensor's quarter would be."""
        return len(self.rows) * int(np.prod(self.pixels.shape[1:]))

    def is_floating_point(self) -> bool:
        return True

    def index_select(self, dim: int, indices: torch.Tensor) -> torch.Tensor:
        if dim != 0:
            raise ValueError("streamed images are selected along their first axis only")
        return self._inputs(self.rows[np.asarray(indices)])

    def __getitem__(self, key) -> torch.Tensor:
        if isinstance(key, (int, np.integer)):
            return self._inputs(self.rows[[key]])[0]
        if isinstance(key, torch.Tensor):
            key = key.numpy()
        return self._inputs(self.rows[key])

    def reshape(self, *shape: int) -> StreamedImages:
        """The same rows read as samples of `shape[1:]` (the first size is -1 or the count)."""
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if int(np.prod(shape[1:])) != int(np.prod(self.sample_shape)) or shape[0] not in (-1, len(self.rows)):
            raise ValueError(f"cannot read {tuple(self.shape)} streamed images as {shape}")
        return StreamedImages(self.recipe, self.pixels, self.rows, shape[1:])

    def subset(self, indices: np.ndarray | torch.Tensor) -> StreamedImages:
        return StreamedImages(self.recipe, self.pixels, self.rows[np.asarray(indices)], self.sample_shape)

    def _inputs(self, rows: np.ndarray) -> torch.Tensor:
        # rows read in file order (a memory map's pages are then read forward), put back in the asked order
        order = np.argsort(rows, kind="stable")
        inputs = model_inputs(self.recipe, self.pixels[rows[order]])
        return inputs[torch.from_numpy(np.argsort(order, kind="stable"))].reshape(-1, *self.sample_shape)


# --- a folder's cache ---------------------------------------------------------------------------------------

def cache_path(folder: Path, listing: Sequence[tuple[str, int, int]], image: ImageRecipe) -> Path:
    """Where the pixels of `folder` as `image` reads them are cached, for this `listing` of its
    files (relative path, size, modification time in ns)."""
    digest = hashlib.sha256(json.dumps([_CACHE_VERSION, _image_key(image), list(listing)]).encode("utf-8"))
    return cache_dir() / CACHE_FOLDER / f"{_folder_key(folder)}-{digest.hexdigest()[:24]}.npy"


def cached_pixels(folder: Path, paths: Sequence[Path], listing: Sequence[tuple[str, int, int]],
                  image: ImageRecipe, progress: Progress | None = None,
                  workers: int | None = None) -> tuple[np.ndarray, list[str | None], bool]:
    """The pixels of every file of `paths` (uint8 (N, height, width, channels), memory-mapped),
    why each unreadable one could not be read (None for those read), and whether the cache was
    built now. Building it calls `progress`, which may raise to stop: nothing is then kept."""
    path = cache_path(folder, listing, image)
    cached = _read_cache(path, (len(paths), image.height, image.width, image.channels))
    if cached is not None:
        return (*cached, False)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8,
                                           shape=(len(paths), image.height, image.width, image.channels))
        problems = decode_into(pixels, paths, image, progress, f"Building the image cache of {folder.name}",
                               workers)
        pixels.flush()
        del pixels
        os.replace(partial, path)
        write_atomic(path.with_suffix(".json"), json.dumps({"problems": problems}).encode("utf-8"))
    except OSError as error:
        size = byte_size(len(paths) * image.height * image.width * image.channels)
        raise DataError(f"Cannot write the image cache of {folder.name} in {path.parent}: {error.strerror or error}. "
                        f"It needs {size} of disk space there.") from None
    finally:
        partial.unlink(missing_ok=True)
    for stale in path.parent.glob(f"{_folder_key(folder)}-*"):
        if stale.stem != path.stem:
            stale.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r"), problems, True


def _read_cache(path: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, list[str | None]] | None:
    """A complete cache at `path` of pixels of `shape` and its list of unreadable files; None when
    there is none, or it is incomplete or damaged (it is then built again)."""
    try:
        problems = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["problems"]
        pixels = np.load(path, mmap_mode="r")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pixels.shape != shape or pixels.dtype != np.uint8 or not isinstance(problems, list) or \
            len(problems) != shape[0] or not all(problem is None or isinstance(problem, str) for problem in problems):
        return None
    return pixels, problems


def decode_into(target: np.ndarray, paths: Sequence[Path], image: ImageRecipe, progress: Progress | None,
                message: str, workers: int | None = None) -> list[str | None]:
    """Every image of `paths` read and put in `stored_pixels` form into `target`'s rows (left as
    zeros for an unreadable one); why each unreadable one could not be read, None for the others.
    With `workers` (default: one per usable core, for WORKER_MIN_IMAGES or more images) the
    decoding runs in that many processes."""
    if workers is None:
        workers = usable_cores() if len(paths) >= WORKER_MIN_IMAGES else 0
    chunks = [(start, [str(path) for path in paths[start:start + _CHUNK_IMAGES]])
              for start in range(0, len(paths), _CHUNK_IMAGES)]
    problems: list[str | None] = [None] * len(paths)
    done = 0

    def store(start: int, pixels: np.ndarray, chunk_problems: list[str | None]) -> None:
        nonlocal done
        target[start:start + len(pixels)] = pixels
        problems[start:start + len(pixels)] = chunk_problems
        done += len(pixels)
        if progress:
            progress(done, len(paths), message)

    if workers < 1:
        for start, chunk in chunks:
            store(start, *decode_images(chunk, image))
        return problems
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context(), initializer=_worker_started)
    pending: dict[Future, tuple[int, list[str]]] = {}
    waiting = iter(chunks)
    try:
        while True:
            while len(pending) < workers * _TASKS_PER_WORKER and (task := next(waiting, None)) is not None:
                pending[pool.submit(decode_images, task[1], image)] = task
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                start, _ = pending.pop(future)
                store(start, *future.result())
    except BrokenProcessPool:
        # Workers re-run the main script on start; one without an `if __name__ == "__main__":` guard
        # kills them. Such a script still gets its images, decoded here, just slower.
        for start, chunk in [*pending.values(), *waiting]:
            store(start, *decode_images(chunk, image))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return problems


def decode_images(paths: Sequence[str], image: ImageRecipe) -> tuple[np.ndarray, list[str | None]]:
    """The images at `paths` in `stored_pixels` form (zeros where unreadable), and why each
    unreadable one could not be read (None for the others). Runs in the loader's workers too."""
    from .folders import read_image
    from .recipe import stored_pixels

    pixels = np.zeros((len(paths), image.height, image.width, image.channels), np.uint8)
    problems: list[str | None] = []
    for index, name in enumerate(paths):
        path = Path(name)
        try:
            picture = read_image(path)
            if picture is None:
                raise DataError(f"{path}: is not an image that can be read (damaged, or not really "
                                f"{path.suffix.lower()}).")
            pixels[index] = stored_pixels(image, [picture])[0]
        except DataError as error:
            problems.append(str(error))
            continue
        problems.append(None)
    return pixels, problems


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers safe to start from an app with threads (Qt's, a training thread): from a fork
    server, a fresh process that forks each worker from its clean state (as the digits' workers,
    data/digits.py), or spawned where there is none (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _worker_started() -> None:
    """A loader worker decodes one image at a time: OpenCV's and torch's own threads would only
    compete with the other workers."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _folder_key(folder: Path) -> str:
    return hashlib.sha256(str(folder.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _image_key(image: ImageRecipe) -> list:
    return [image.height, image.width, image.channels, image.resize]
