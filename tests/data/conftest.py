"""Helpers for the data tests: IDX files made on the spot and a local HTTP server standing in for mirrors."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from netbuilder.data import cifar, mnist

_IDX_TYPE_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B,
                   np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def encode_idx(array: np.ndarray) -> bytes:
    """The bytes of an IDX file holding `array` (the writer the reader is tested against)."""
    code = _IDX_TYPE_CODES[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture(scope="session")
def idx_bytes():
    return encode_idx


def _ink_box(image: np.ndarray) -> tuple[int, int]:
    """(height, width) of the non-zero pixels."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()


@pytest.fixture(scope="session")
def ink_box():
    return _ink_box


@pytest.fixture(scope="session")
def centre_of_mass():
    return _centre_of_mass


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there once the probe is closed


@pytest.fixture
def unreachable_url() -> str:
    return _closed_port_url()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder for this test alone, so no other test's downloads are found there."""
    folder = tmp_path / "fresh-cache"
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_real_mirrors(monkeypatch):
    """A test that forgets to pass its own mirrors gets a refused connection, never the internet."""
    for name, collection in mnist.COLLECTIONS.items():
        monkeypatch.setitem(mnist.COLLECTIONS, name,
                            dataclasses.replace(collection, mirrors=(_closed_port_url(),)))
    monkeypatch.setattr(cifar, "MIRRORS", (_closed_port_url(),))


@dataclasses.dataclass
class FakeMirrors:
    """What the local server serves: path -> bytes; paths in `cut_short` send half and hang up."""

    base_url: str
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)
    cut_short: set[str] = dataclasses.field(default_factory=set)
    requests: list[str] = dataclasses.field(default_factory=list)

    def url(self, mirror: str) -> str:
        return f"{self.base_url}{mirror}/"


@pytest.fixture
def mirrors():
    state = FakeMirrors(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.requests.append(self.path)
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path in state.cut_short:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclasses.dataclass
class IdxSet:
    """A tiny MNIST-style dataset: arrays and their gzip-compressed IDX files by standard name."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray

    def files(self) -> dict[str, bytes]:
        arrays = {"train_images": self.train_images, "train_labels": self.train_labels,
                  "val_images": self.val_images, "val_labels": self.val_labels}
        return {mnist.IDX_FILE_NAMES[role]: gzip.compress(encode_idx(array), mtime=0)
                for role, array in arrays.items()}

    def md5s(self) -> dict[str, str]:
        return {name: hashlib.md5(data).hexdigest() for name, data in self.files().items()}


@pytest.fixture
def tiny_idx_set() -> IdxSet:
    rng = np.random.default_rng(7)
    return IdxSet(
        train_images=rng.integers(0, 256, (12, 6, 5), dtype=np.uint8),
        train_labels=rng.integers(0, 10, 12).astype(np.uint8),
        val_images=rng.integers(0, 256, (4, 6, 5), dtype=np.uint8),
        val_labels=np.array([0, 9, 3, 3], dtype=np.uint8),
    )
