"""Every reader of a file netbuilder opens, fed what a damaged disk, another program or an attacker
could put there: arbitrary bytes, valid files cut short or with bytes changed, JSON with any value
anywhere (deep nesting, huge numbers, lone surrogates, wrong types), FIFOs and devices.

Each reader must end in its one error type, whose message is short and printable, or in a value:
never another exception, never a hang, never a message quoting megabytes.
"""
from __future__ import annotations

import ast
import gzip
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as save_safetensors

from netbuilder.__main__ import main
from netbuilder.core.analysis import analyze
from netbuilder.core.block_commands import GroupIntoBlock
from netbuilder.core.codegen import to_python
from netbuilder.core.project import ProjectFileError, load_project, load_template, project_to_dict, save_project
from netbuilder.data.base import DataError
from netbuilder.data.folders import read_image
from netbuilder.data.idx import read_idx
from netbuilder.data.recipe import Recipe, TableRecipe
from netbuilder.data.strokes import Drawing, StrokesError, load_drawing
from netbuilder.data.tables import load_csv, load_text_csv
from netbuilder.common.files import FileReadError, parse_json, read_bounded
from netbuilder.gui.recovery import RecoveryFileError, read_recovery
from netbuilder.model.checkpoint import CheckpointError, History, checkpoint_bytes, load_checkpoint
from netbuilder.common.text import shown
from netbuilder.training.events import EpochEnded, SettingsChanged
from netbuilder.export.code import module_source, training_script
from netbuilder.export.exporting import ExportError, ExportSource
from netbuilder.export.weights import read_weights_file

MESSAGE_LIMIT = 300
# FUZZ_EXAMPLES=1000 runs a longer attack; the suite's default keeps this file to seconds.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 40)), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Reader:
    """One way netbuilder reads a file: where the file goes, how it is read, what it must raise."""

    name: str
    file_name: str
    read: Callable[[Path], object]
    error: type[Exception]
    valid: bytes  # a good file, for mutating


def _checkpoint_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(2, 2)


def _checkpoint_file(history: str | None = None, recipe: str | None = None) -> bytes:
    epoch = EpochEnded(epoch=1, epochs=2, train_loss=0.5, train_accuracy=0.75, val_loss=float("nan"),
                       val_accuracy=0.5, learning_rate=1e-3, seconds=1.5,
                       confusion=np.array([[1, 0], [1, 2]]), per_class_accuracy=np.array([1.0, np.nan]))
    good = checkpoint_bytes(
        _checkpoint_model(),
        History(["a", "b"], "classification", "data.csv", [epoch], [(0.5, 0.7)],
                [SettingsChanged(0.5, 1, 10, (("learning_rate", 0.001, 0.0003),))]),
        recipe=Recipe("vector", (2,), "classification", ("a", "b"),
                      table=TableRecipe(("x", "y"), "label", "standard", (0.0, 0.0), (1.0, 1.0))))
    if history is None and recipe is None:
        return good
    header = json.loads(good[8:8 + int.from_bytes(good[:8], "little")])["__metadata__"]
    metadata = {**header, **({"history": history} if history is not None else {}),
                **({"recipe": recipe} if recipe is not None else {})}
    return save_safetensors(_checkpoint_model().state_dict(), metadata=metadata)


def _recovery_file(project: object = None) -> bytes:
    return json.dumps({"format": "netbuilder-recovery", "original_path": "/home/me/net.nbproj",
                       "saved_at": "2026-01-02T03:04:05",
                       "project": project_to_dict(load_template("1-mlp")) if project is None else project}).encode()


def _torch_saved(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _idx_file() -> bytes:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, images.ndim]) + b"".join(side.to_bytes(4, "big") for side in images.shape)
    return gzip.compress(header + images.tobytes())


def _nested_blocks_project() -> bytes:
    """The MLP template with its hidden layers in a block, itself inside another block, repeated."""
    project = load_template("1-mlp")
    graph = project.graph
    hidden = [node.id for node in graph.nodes.values() if not (node.spec.is_source or node.spec.is_sink)][:2]
    GroupIntoBlock(hidden, "inner").do(graph)
    (inner,) = [node.id for node in graph.nodes.values() if node.type_id == "block"]
    GroupIntoBlock([inner], "outer").do(graph)
    return json.dumps(project_to_dict(project)).encode()


def _read_and_analyse(path: Path) -> None:
    """A project with blocks is read, and its shapes inferred inside every block, without a crash."""
    analyze(load_project(path).graph)


READERS = [
    Reader("project", "net.nbproj", load_project, ProjectFileError,
           json.dumps(project_to_dict(load_template("1-mlp"))).encode()),
    Reader("project with blocks", "blocks.nbproj", _read_and_analyse, ProjectFileError, _nested_blocks_project()),
    Reader("recovery", "autosave-1.json", read_recovery, RecoveryFileError, _recovery_file()),
    Reader("checkpoint", "net.safetensors",
           lambda path: load_checkpoint(_checkpoint_model(), path.with_suffix(".nbproj")), CheckpointError,
           _checkpoint_file()),
    Reader("drawing", "drawing.json", load_drawing, StrokesError,
           json.dumps(Drawing((28, 28), 2.0, (((3.0, 4.0), (20.0, 21.0)),)).to_dict()).encode()),
    Reader("numeric CSV", "data.csv", lambda path: load_csv(path), DataError,
           b"x,y,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n"),
    Reader("text CSV", "texts.csv", lambda path: load_text_csv(path), DataError,
           b"text,label\ngood film,pos\nbad film,neg\nfine film,pos\nawful,neg\n"),
    Reader("IDX", "train-images-idx3-ubyte.gz", read_idx, DataError, _idx_file()),
    Reader("image", "digit.png", lambda path: read_image(path), DataError,
           cv2.imencode(".png", np.eye(8, dtype=np.uint8) * 255)[1].tobytes()),
    Reader("safetensors weights", "weights.safetensors", read_weights_file, ExportError,
           save_safetensors(_checkpoint_model().state_dict())),
    Reader("PyTorch weights", "weights.pt", read_weights_file, ExportError,
           _torch_saved(_checkpoint_model().state_dict())),
]
JSON_READERS = [reader for reader in READERS if reader.name in ("project", "project with blocks", "recovery", "drawing")]


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def assert_reads_or_refuses(reader: Reader, path: Path, content: bytes) -> None:
    path.unlink(missing_ok=True)
    path.write_bytes(content)
    try:
        reader.read(path)
    except reader.error as error:
        message = str(error)
        assert_short_and_printable(message)


def assert_short_and_printable(message: str) -> None:
    """At most MESSAGE_LIMIT characters, none that `shown` would escape (control characters,
    terminal escapes, lone surrogates)."""
    assert len(message) <= MESSAGE_LIMIT and shown(message, len(message)) == message, message


def _mutated(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    mutated = bytearray(data)
    for position, value in edits:
        mutated[position % len(mutated)] = value
    return bytes(mutated[:len(mutated) - cut])


@pytest.mark.parametrize("reader", READERS, ids=[reader.name for reader in READERS])
@FUZZ
@given(content=st.binary(max_size=600))
def test_arbitrary_bytes_are_read_or_refused_with_a_short_message(folder, reader, content):
    assert_reads_or_refuses(reader, folder / reader.file_name, content)


@pytest.mark.parametrize("reader", READERS, ids=[reader.name for reader in READERS])
@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4), cut=st.integers(0, 40),
       data=st.data())
def test_valid_files_cut_short_or_with_bytes_changed_are_read_or_refused(folder, reader, edits, cut, data):
    content = _mutated(reader.valid, edits, min(cut, len(reader.valid)))
    assert_reads_or_refuses(reader, folder / reader.file_name, content)


# Values no netbuilder file holds but json.dumps writes: lone surrogates, terminal escapes,
# integers beyond any float, floats at the edge of their range, long text, empty containers.
HOSTILE_SCALARS = st.sampled_from([10**400, -10**400, 2**63, 2**1024 - 1, 1e308, -1e-320, -0.0, "\ud800", "a\udfffb",
                                   "\x1b[31mred", "x" * 500, "", True, None, [], {}, "1", -1, 0, "input1", "dense"])
JSON_VALUES = HOSTILE_SCALARS | st.recursive(
    HOSTILE_SCALARS | st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=10) | st.sampled_from(["name", "type", "params", "position"]), inner, max_size=4),
    max_leaves=12)


def _places(document: object, path: tuple = ()) -> list[tuple]:
    """The path (keys and indices) to every value in `document`, itself included."""
    children = document.items() if isinstance(document, dict) else enumerate(document) \
        if isinstance(document, list) else ()
    return [path] + [place for key, child in children for place in _places(child, (*path, key))]


def _replaced(document: object, path: tuple, value: object) -> object:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def _anywhere(valid: bytes) -> st.SearchStrategy:
    """Places in the JSON document `valid`, each equally likely (a node's position as likely as its name)."""
    return st.sampled_from(_places(json.loads(valid)))


@pytest.mark.parametrize("reader", JSON_READERS, ids=[reader.name for reader in JSON_READERS])
@FUZZ
@given(value=JSON_VALUES, data=st.data())
def test_any_json_value_anywhere_in_a_valid_file_is_read_or_refused(folder, reader, value, data):
    document = _replaced(json.loads(reader.valid), data.draw(_anywhere(reader.valid)), value)
    assert_reads_or_refuses(reader, folder / reader.file_name, json.dumps(document).encode("utf-8", "surrogatepass"))


@FUZZ
@given(part=st.sampled_from(["history", "recipe"]), value=JSON_VALUES, data=st.data())
def test_any_json_value_anywhere_in_a_checkpoints_history_or_recipe_is_read_or_refused(folder, part, value, data):
    good = _checkpoint_file()
    metadata = json.loads(good[8:8 + int.from_bytes(good[:8], "little")])["__metadata__"]
    document = _replaced(json.loads(metadata[part]), data.draw(_anywhere(metadata[part].encode())), value)
    checkpoint = READERS[2]
    assert_reads_or_refuses(checkpoint, folder / checkpoint.file_name, _checkpoint_file(**{part: json.dumps(document)}))


@pytest.mark.parametrize("reader", JSON_READERS, ids=[reader.name for reader in JSON_READERS])
@pytest.mark.parametrize("content", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a": ' * 65 + b"1" + b"}" * 65,
    b"[1" + b"0" * 5000 + b"]",
    b"[1e400]",
    b"[NaN]",
    b'{"name": "' + b"\\u0007" * 10_000 + b'"}',
], ids=["nested 100,000 deep", "nested 65 deep", "5,000 digits", "1e400", "NaN", "10,000 control characters"])
def test_json_that_no_netbuilder_file_holds_is_refused_with_a_short_message(folder, reader, content):
    path = folder / reader.file_name
    path.write_bytes(content)
    with pytest.raises(reader.error) as error:
        reader.read(path)
    assert_short_and_printable(str(error.value))


@pytest.fixture
def bytes_read(monkeypatch):
    """The sizes of what os.read returned during the test (the bounded readers read through it)."""
    sizes = []
    real_read = os.read

    def counting_read(descriptor, size):
        data = real_read(descriptor, size)
        sizes.append(len(data))
        return data
    monkeypatch.setattr(os, "read", counting_read)
    return sizes


@pytest.mark.parametrize("reader", READERS, ids=[reader.name for reader in READERS])
@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "folder"])
def test_fifos_devices_and_folders_are_refused_before_a_byte_is_read(tmp_path, unwritten_fifo, reader, special,
                                                                    bytes_read):
    path = tmp_path / reader.file_name
    if special == "fifo":
        unwritten_fifo(path)  # reading it would wait forever
    elif special == "folder":
        path.mkdir()
    else:
        if not os.path.exists(special):
            pytest.skip("no /dev/zero here")
        path.symlink_to(special)  # endless zeros: reading it all would fill memory
    with pytest.raises(reader.error, match="is a pipe|is a device|is a folder"):  # a blocked open would end
        reader.read(path)  # at the FIFO's watchdog with an empty file, and endless zeros as too large
    assert sum(bytes_read) == 0


@pytest.mark.parametrize("reader", READERS, ids=[reader.name for reader in READERS])
def test_a_path_with_a_nul_character_is_a_missing_file(tmp_path, reader):
    with pytest.raises(reader.error):
        reader.read(tmp_path / "a\0b")


def test_a_file_above_its_limit_is_refused_without_reading_it_whole(tmp_path, bytes_read):
    path = tmp_path / "big.nbproj"
    with open(path, "wb") as sparse:
        sparse.truncate(10 * 1024**3)  # 10 GB of nothing, taking no disk space
    with pytest.raises(ProjectFileError, match="is larger than 64.0 MB, more than any project file netbuilder reads"):
        load_project(path)
    assert sum(bytes_read) == 0  # refused by its size, before reading


def test_a_file_that_grows_while_it_is_read_is_still_bounded(tmp_path, monkeypatch):
    # fstat says it is small, but reading goes on (a log being written, a FUSE file): stop at limit + 1 bytes
    path = tmp_path / "growing.nbproj"
    path.write_bytes(b" " * 5000)
    real_fstat = os.fstat
    monkeypatch.setattr(os, "fstat", lambda descriptor: os.stat_result(
        (*real_fstat(descriptor)[:6], 10, *real_fstat(descriptor)[7:])))
    with pytest.raises(FileReadError, match="larger than 1000 bytes"):
        read_bounded(path, 1000, "project file")


@pytest.mark.parametrize("text, expected", [
    ('"\\ud800"', "\ufffd"),
    ('{"a\\udfff": ["x\\ud83d\\ude00", "\\udc00y"]}', {"a\ufffd": ["x\U0001F600", "\ufffdy"]}),
])
def test_lone_surrogates_become_replacement_characters_and_pairs_stay_characters(text, expected):
    assert parse_json(text.encode(), "f.json") == expected


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_netbuilder_summary_of_a_fifo_or_dev_zero_says_what_it_is_at_once(tmp_path, unwritten_fifo, capsys, special,
                                                                         bytes_read):
    path = tmp_path / "net.nbproj"
    if special == "fifo":
        unwritten_fifo(path)
    elif os.path.exists(special):
        path = Path(special)
    else:
        pytest.skip("no /dev/zero here")
    assert main(["summary", str(path)]) == 2
    assert sum(bytes_read) == 0
    error = capsys.readouterr().err
    assert ("is a pipe" in error or "is a device" in error) and "Traceback" not in error


def test_a_lone_surrogate_in_a_project_name_is_read_as_a_replacement_character_and_the_project_saves(tmp_path,
                                                                                                       capsys):
    document = project_to_dict(load_template("1-mlp"))
    document["name"] = "digits \ud800"
    path = tmp_path / "net.nbproj"
    path.write_bytes(json.dumps(document).encode())  # json.dumps writes the surrogate as \ud800, as other tools do

    assert main(["summary", str(path)]) == 0
    assert "digits \ufffd" in capsys.readouterr().out
    project = load_project(path)
    save_project(project, path)  # saving failed with UnicodeEncodeError
    assert load_project(path).name == "digits \ufffd"


@FUZZ
@given(name=st.text(max_size=60) | st.sampled_from(['x"""\nimport os; os.system("echo injected")\n"""', "a\\", '"',
                                                     "\x1b[31mred", "'''", "\\x00"]))
def test_a_project_name_from_a_file_never_becomes_code_in_the_exported_files(name):
    """The name goes into the docstrings of the exported module and training script: it stays text."""
    project = load_template("1-mlp")
    project.name = name
    source = ExportSource(project, analyze(project.graph), model=None, trained=None)
    for code in (to_python(project.graph, title=name), training_script(source, "net.py"),
                 module_source(source, Path("net.py"))):
        module = ast.parse(code)
        docstring = ast.get_docstring(module, clean=False)
        assert docstring is not None and shown(name) in docstring
        assert isinstance(module.body[1], (ast.Import, ast.ImportFrom))  # the docstring is the first statement only
