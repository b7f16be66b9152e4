"""One entry point for every dataset: a built-in name, a folder or a CSV file."""
from __future__ import annotations

from pathlib import Path

from .base import DataError, Dataset, Progress
from .folders import load_image_folder
from .mnist import COLLECTIONS, find_idx_files, load_idx_folder, load_mnist
from .tables import load_csv, load_text_csv, looks_like_text_csv

# (name, description) for the dataset chooser; each name is a valid `load_dataset` spec.
BUILTIN_DATASETS: list[tuple[str, str]] = [
    ("digits", "Handwritten digits 0–9, 28×28, generated on this computer. Works offline."),
    ("mnist", "MNIST: 70,000 scanned handwritten digits 0–9, 28×28. Downloaded once (11 MB)."),
    ("fashion-mnist", "Fashion-MNIST: 70,000 pictures of clothes and shoes in 10 classes, 28×28. "
                      "Downloaded once (30 MB)."),
    ("my-handwriting", "Your own digits, drawn in the Draw panel and added with a digit key."),
    ("my-handwriting+digits", "Your own digits mixed with 6,000 built-in ones, for fine-tuning a digit model "
                              "on your handwriting."),
]
CSV_SUFFIXES = (".csv", ".tsv", ".txt")


def load_dataset(spec: str, *, progress: Progress | None = None, **options) -> Dataset:
    """The dataset `spec` names: "digits", "mnist", "fashion-mnist", a folder or a CSV file.

    A folder holds either the four MNIST-style IDX files or one image subfolder per class.
    A CSV file is read as text (columns text and label) when a column holds free text, else as
    numbers; `kind="text"` or `kind="numeric"` decides instead. `task` (the Output's) says whether
    a numeric CSV's labels are classes or quantities; images and texts are classes. Other options
    go to the loader (e.g. `val_fraction`, `size`, `label_column`, `mirrors`).
    """
    task = options.pop("task", None)
    name = spec.strip().lower()
    if name == "digits":
        return _load_digits(progress, options)
    if name in ("my-handwriting", "my-handwriting+digits"):
        from .handwriting import load_handwriting

        return load_handwriting(mix_with_digits=name.endswith("+digits"), **options)
    if name in COLLECTIONS:
        return load_mnist(name, progress=progress, **options)
    path = Path(spec.strip()).expanduser()
    if path.is_dir():
        if find_idx_files(path):
            return load_idx_folder(path, progress=progress, **options)
        return load_image_folder(path, progress=progress, **options)
    if path.is_file() and path.suffix.lower() in CSV_SUFFIXES:
        kind = options.pop("kind", None)
        if kind not in (None, "text", "numeric"):
            raise DataError(f'A CSV file is read as "text" or "numeric", not "{kind}".')
        if kind == "text" or (kind is None and looks_like_text_csv(path)):
            return load_text_csv(path, **options)
        return load_csv(path, task=task, **options)
    if path.is_file():
        raise DataError(f"{path.name}: netbuilder reads CSV files ({', '.join(CSV_SUFFIXES)}), folders with "
                        f"one image subfolder per class, and folders with the four MNIST-style IDX files.")
    builtin = ", ".join(f'"{builtin_name}"' for builtin_name, _ in BUILTIN_DATASETS)
    raise DataError(f'There is no dataset "{spec}": it is not a built-in one ({builtin}) and there is no '
                    f"file or folder {path}.")


def _load_digits(progress: Progress | None, options: dict) -> Dataset:
    from .digits import load_digits  # generating pulls in multiprocessing; only when asked for

    if progress is None:
        return load_digits(**options)
    return load_digits(progress=lambda done, total: progress(done, total, "Generating the built-in digits"),
                       **options)
