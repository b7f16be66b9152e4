"""CSV files: numeric features with a label column, or short texts with a label."""
from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from netbuilder.common.contracts import TASKS
from netbuilder.common.files import MB, FileReadError, read_bounded
from netbuilder.common.text import shown

from .base import DataError, Dataset, RawDataset, Task, train_val_split
from .recipe import PADDING, UNKNOWN, Recipe, TableRecipe, TextRecipe, tokenize

Scaling = Literal["standard", "minmax", "none"]

# Integer labels with at most this many distinct values are taken as classes, not quantities.
_MAX_INTEGER_CLASSES = 20
_DELIMITERS = ",;\t"
# Every cell becomes a Python string before it becomes a number (about ten times the file's size
# in memory): 256 MB of CSV is millions of rows, more than a CPU trains on in a session.
MAX_TABLE_BYTES = 256 * MB


@dataclass
class _Table:
    name: str  # the file name, for messages
    header: list[str]
    rows: list[list[str]]
    row_numbers: list[int]  # line in the file where each row starts
    decimal_comma: bool

    def column(self, wanted: str | None, role: str, default: int | None) -> int:
        """Index of the column named `wanted` (exact, else ignoring case), or `default`."""
        if wanted is None and default is not None:
            return default
        for matches in (lambda name: name == wanted, lambda name: name.lower() == str(wanted).lower()):
            for index, name in enumerate(self.header):
                if matches(name):
                    return index
        raise DataError(f'{self.name}: there is no {role} column "{shown(wanted)}"; the columns are '
                        f'{shown(", ".join(self.header), 200)}.')

    def where(self, row: int) -> str:
        return f"{self.name} row {self.row_numbers[row]}"

    def number(self, cell: str, row: int, column: int) -> float:
        value = _parse_number(cell, self.decimal_comma)
        if value is None:
            if not cell.strip():
                raise DataError(f"{self.where(row)}: the value in column {shown(self.header[column])} is missing; "
                                f"fill it in or remove the row.")
            raise DataError(f"{self.where(row)}: '{shown(cell.strip())}' is not a number in column "
                            f"{shown(self.header[column])}.")
        return value

    def labels(self, column: int) -> list[str]:
        labels = [cells[column].strip() for cells in self.rows]
        for row, label in enumerate(labels):
            if not label:
                raise DataError(f"{self.where(row)}: the label ({shown(self.header[column])}) is missing.")
        return labels

    def label_numbers(self, labels: list[str]) -> list[float] | None:
        """The labels as numbers, or None if any is not a number."""
        numbers = [_parse_number(label, self.decimal_comma) for label in labels]
        return None if None in numbers else numbers


def load_csv(path: str | Path, *, label_column: str | None = None, task: Task | None = None,
             scaling: Scaling = "standard", val_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Numeric features and one label column (by name; the last one by default).

    Without `task`, labels that are not numbers, or are whole numbers with few distinct values,
    make a classification; other numbers a regression. Features are scaled with statistics
    of the training split only: "standard" (z-score), "minmax" (to [0, 1]) or "none".
    """
    if scaling not in ("standard", "minmax", "none"):
        raise DataError(f'Unknown scaling "{shown(scaling)}"; choose standard, minmax or none.')
    if task is not None and task not in TASKS:
        raise DataError(f'Unknown task "{shown(task)}"; choose {" or ".join(TASKS)}.')
    table = _read_table(Path(path))
    if len(table.header) < 2:
        raise DataError(f"{table.name}: needs at least one feature column besides the label column.")
    label_index = table.column(label_column, "label", default=len(table.header) - 1)
    feature_indices = [index for index in range(len(table.header)) if index != label_index]
    features = np.array([[table.number(cells[index], row, index) for index in feature_indices]
                         for row, cells in enumerate(table.rows)], dtype=np.float64).reshape(-1, len(feature_indices))
    labels = table.labels(label_index)
    numbers = table.label_numbers(labels)
    task = task or _guess_task(numbers)
    if not TASKS[task].has_classes:
        if numbers is None:
            row = next(row for row, label in enumerate(labels) if _parse_number(label, table.decimal_comma) is None)
            raise DataError(f"{table.where(row)}: the label '{shown(labels[row])}' is not a number, so it "
                            f"cannot be a regression target; choose classification.")
        targets = np.array(numbers, dtype=np.float32).reshape(-1, 1)
        class_names, groups = [], None
    else:
        class_names, groups = _classes(table, label_index, labels, numbers)
        targets = groups
    train, val = train_val_split(len(table.rows), val_fraction, seed, groups=groups)
    offset, spread = _fit_scaler(features[train], scaling)
    columns = tuple(table.header[index] for index in feature_indices)
    recipe = Recipe("vector", (len(columns),), task, tuple(class_names),
                    table=TableRecipe(columns, table.header[label_index], scaling,
                                      tuple(map(float, offset)), tuple(map(float, spread))))
    return RawDataset(Path(path).stem, recipe, features[train], targets[train], features[val], targets[val],
                      source=str(path)).build()


def _classes(table: _Table, column: int, labels: list[str],
             numbers: list[float] | None) -> tuple[list[str], np.ndarray]:
    """Class names in sorted order (numerically for numbers, so 2 < 10) and each row's class index."""
    keys = numbers if numbers is not None else labels
    distinct = sorted(set(keys))
    if len(distinct) < 2:
        raise DataError(f"{table.name}: every row has the label '{shown(labels[0])}' in column "
                        f"{shown(table.header[column])}; a classification needs at least two classes.")
    index_of = {key: index for index, key in enumerate(distinct)}
    return [_class_name(key) for key in distinct], np.array([index_of[key] for key in keys], dtype=np.int64)


def _guess_task(numbers: list[float] | None) -> Task:
    if numbers is None:
        return "classification"
    distinct = set(numbers)
    few = len(distinct) <= min(_MAX_INTEGER_CLASSES, max(2, len(numbers) // 2))
    return "classification" if few and all(value.is_integer() for value in distinct) else "regression"


def _class_name(key: str | float) -> str:
    if isinstance(key, float):
        return str(int(key)) if key.is_integer() else repr(key)
    return key


def _fit_scaler(train_features: np.ndarray, scaling: Scaling) -> tuple[np.ndarray, np.ndarray]:
    """(offset, spread) per column, fitted on the training rows; features become (x - offset) / spread."""
    columns = train_features.shape[1]
    if scaling == "none" or len(train_features) == 0:
        return np.zeros(columns), np.ones(columns)
    if scaling == "standard":
        offset, spread = train_features.mean(axis=0), train_features.std(axis=0)
    else:
        offset = train_features.min(axis=0)
        spread = train_features.max(axis=0) - offset
    spread[spread == 0] = 1.0  # a constant column stays constant instead of dividing by zero
    return offset, spread


def load_text_csv(path: str | Path, *, text_column: str = "text", label_column: str = "label",
                  max_words: int = 10000, sequence_length: int = 100, val_fraction: float = 0.2,
                  seed: int = 0) -> Dataset:
    """Texts with class labels, as token ids (N, sequence_length) for an Embedding.

    The vocabulary is the `max_words` most frequent words of the training texts, after
    id 0 (padding) and 1 (unknown word); `Dataset.vocabulary` lists all of them. A text keeps
    its first `sequence_length` words; shorter texts are padded in front, so a recurrent
    layer's last step comes right after the words.
    """
    if max_words < 1 or sequence_length < 1:
        raise DataError(f"The number of words ({max_words}) and the sequence length ({sequence_length}) "
                        f"must both be at least 1.")
    table = _read_table(Path(path))
    text_index = table.column(text_column, "text", default=None)
    label_index = table.column(label_column, "label", default=None)
    texts = [cells[text_index] for cells in table.rows]
    labels = table.labels(label_index)
    class_names, groups = _classes(table, label_index, labels, table.label_numbers(labels))
    train, val = train_val_split(len(texts), val_fraction, seed, groups=groups)

    counts = Counter(word for row in train for word in tokenize(texts[row]))
    words = sorted(counts, key=lambda word: (-counts[word], word))[:max_words]
    recipe = Recipe("tokens", (sequence_length,), "classification", tuple(class_names),
                    text=TextRecipe((PADDING, UNKNOWN, *words), sequence_length, table.header[text_index],
                                    table.header[label_index]))
    return RawDataset(Path(path).stem, recipe, [texts[row] for row in train], groups[train],
                      [texts[row] for row in val], groups[val], source=str(path)).build()


def looks_like_text_csv(path: str | Path, sample_rows: int = 200) -> bool:
    """Whether a column is named "text" or holds free text (mostly non-numbers with spaces)."""
    table = _read_table(Path(path), max_rows=sample_rows)
    for index, name in enumerate(table.header):
        if name.lower() == "text":
            return True
        values = [cells[index].strip() for cells in table.rows]
        wordy = sum(" " in value and _parse_number(value, table.decimal_comma) is None for value in values)
        if values and wordy * 2 > len(values):
            return True
    return False


def _read_table(path: Path, max_rows: int | None = None) -> _Table:
    text = _read_text(path)
    name = shown(path.name)
    first_line = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first_line.count)
    records = _records(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True),
                       shown(path.name))
    try:
        header_number, header = next(records)
    except StopIteration:
        raise DataError(f"{name}: is empty; a CSV file needs a header row and data rows.") from None
    header = [name.strip() for name in header]
    # A first row of numbers is data, not names: name the columns by position instead.
    if all(_parse_number(name, delimiter == ";") is not None for name in header):
        rows, row_numbers = [header], [header_number]
        header = [f"column {index + 1}" for index in range(len(header))]
    else:
        rows, row_numbers = [], []
    for number, cells in records:
        if max_rows is not None and len(rows) >= max_rows:
            break
        while len(cells) > len(header) and not cells[-1].strip():
            cells.pop()  # a trailing delimiter is harmless
        if len(cells) != len(header):
            raise DataError(f"{name} row {number}: has {len(cells)} value{'s' * (len(cells) != 1)} "
                            f"but the header has {len(header)} columns.")
        rows.append(cells)
        row_numbers.append(number)
    if not rows:
        raise DataError(f"{name}: has a header but no data rows.")
    return _Table(name, header, rows, row_numbers, decimal_comma=delimiter == ";")


def _records(reader, file_name: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for every non-blank row, turning the csv module's errors into DataErrors.

    A row's number is the line where it starts, as a text editor shows it.
    """
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise DataError(f"{file_name} row {start}: cannot be read as CSV ({shown(error)}); check its quotes."
                            ) from None
        if any(cell.strip() for cell in cells):
            yield start, cells


def _read_text(path: Path) -> str:
    try:
        raw = read_bounded(path, MAX_TABLE_BYTES, "CSV file")
    except FileReadError as error:
        raise DataError(str(error)) from None
    if b"\0" in raw[:65536]:
        raise DataError(f"{shown(path.name)}: is not a CSV text file (it contains binary data).")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Spreadsheets on Windows export in their local code page; cp1252 covers Western Europe, and
    # latin-1 decodes anything, so numbers are read even if a few letters come out wrong.
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_number(text: str, decimal_comma: bool) -> float | None:
    """The finite number written in `text`, or None; with `decimal_comma`, "3,5" is 3.5."""
    text = text.strip()
    if decimal_comma:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_feature_rows(path: str | Path, table: TableRecipe, *, with_labels: bool
                      ) -> tuple[np.ndarray, list[str] | None, list[str]]:
    """The recipe's feature columns of every row, found by name (other columns are ignored), as
    numbers; the label column's values when `with_labels`; and where each row is in the file."""
    data = _read_table(Path(path))
    indices = [data.column(name, "feature", default=None) for name in table.columns]
    features = np.array([[data.number(cells[index], row, index) for index in indices]
                         for row, cells in enumerate(data.rows)], dtype=np.float64).reshape(-1, len(indices))
    labels = _label_names(data, data.column(table.label_column, "label", default=None)) if with_labels else None
    return features, labels, [data.where(row) for row in range(len(data.rows))]


def read_texts(path: str | Path, text: TextRecipe, *, with_labels: bool
               ) -> tuple[list[str], list[str] | None, list[str]]:
    """The recipe's text column of every row, its label column's values when `with_labels`, and
    where each row is in the file."""
    data = _read_table(Path(path))
    text_index = data.column(text.text_column, "text", default=None)
    labels = _label_names(data, data.column(text.label_column, "label", default=None)) if with_labels else None
    return ([cells[text_index] for cells in data.rows], labels,
            [data.where(row) for row in range(len(data.rows))])


def _label_names(data: _Table, column: int) -> list[str]:
    """Each row's label as the class names of training spell it (2.0 and 2 are class "2")."""
    labels = data.labels(column)
    numbers = data.label_numbers(labels)
    return labels if numbers is None else [_class_name(number) for number in numbers]


def regression_targets(labels: list[str], source: str) -> torch.Tensor:
    """Label texts as regression targets (N, 1); a label that is not a number is a DataError."""
    numbers = [_parse_number(label, decimal_comma=False) for label in labels]
    if None in numbers:
        raise DataError(f"{shown(source)}: the label '{shown(labels[numbers.index(None)])}' is not a number, but the "
                        "model predicts quantities.")
    return torch.tensor(numbers, dtype=torch.float32).unsqueeze(1)
