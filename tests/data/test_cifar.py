"""CIFAR-10 from a generated stand-in of its binary archive, served by a local HTTP server."""
from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch

from netbuilder.data import cifar
from netbuilder.data.base import DataError
from netbuilder.data.catalog import load_dataset

RECORDS_PER_BATCH = 4


def batch(first_label: int, count: int = RECORDS_PER_BATCH) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A batch file of `count` records: record i has the label (first_label + i) % 10 and a red plane
    of 10 * i, a green one of 100 and a blue one of 200 - i."""
    labels = (first_label + np.arange(count)) % 10
    planes = np.empty((count, 3, 32, 32), np.uint8)
    planes[:, 0] = (10 * np.arange(count))[:, None, None]
    planes[:, 1] = 100
    planes[:, 2] = (200 - np.arange(count))[:, None, None]
    records = np.concatenate([labels[:, None].astype(np.uint8), planes.reshape(count, -1)], axis=1)
    return records.tobytes(), planes.transpose(0, 2, 3, 1), labels


def stand_in_archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, content in files.items():
            member = tarfile.TarInfo(f"{cifar.BATCH_FOLDER}/{name}")
            member.size = len(content)
            bundle.addfile(member, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def batches():
    return {name: batch(number)[0] for number, name in enumerate((*cifar.TRAIN_FILES, cifar.TEST_FILE))}


def serve(mirrors, archive: bytes, mirror: str = "m") -> str:
    mirrors.files[f"/{mirror}/{cifar.ARCHIVE}"] = archive
    return hashlib.md5(archive).hexdigest()


def test_downloads_once_then_reads_the_cache_as_colour_photos(fresh_cache, mirrors, batches, unreachable_url):
    md5 = serve(mirrors, stand_in_archive({**batches, "batches.meta.txt": b"airplane\n"}))
    raw = cifar.read_cifar10(mirrors=[mirrors.url("m")], md5=md5)
    assert raw.recipe.input_shape == (3, 32, 32) and raw.recipe.class_names == cifar.CLASS_NAMES
    assert len(raw.train_samples) == 5 * RECORDS_PER_BATCH and len(raw.val_samples) == RECORDS_PER_BATCH
    _, images, labels = batch(0)
    assert np.array_equal(raw.train_samples[:RECORDS_PER_BATCH], images)  # the planes become RGB pixels
    assert raw.train_samples[1, 5, 7].tolist() == [10, 100, 199]
    assert raw.train_y[:RECORDS_PER_BATCH].tolist() == labels.tolist()
    assert raw.val_y.tolist() == batch(5)[2].tolist()
    assert mirrors.requests == [f"/m/{cifar.ARCHIVE}"]
    dataset = load_dataset("cifar-10", mirrors=[unreachable_url])  # from the cache: no network needed now
    assert dataset.sample_shape == (3, 32, 32) and len(dataset.train_x) == 20
    red = dataset.train_x[1, 0, 0, 0] * dataset.recipe.image.std + dataset.recipe.image.mean
    assert float(red) == pytest.approx(10 / 255, abs=1e-6)


def test_falls_back_to_the_second_mirror_and_refuses_a_corrupted_download(tmp_path, mirrors, batches,
                                                                          unreachable_url):
    md5 = serve(mirrors, stand_in_archive(batches), mirror="second")
    mirrors.files[f"/first/{cifar.ARCHIVE}"] = b"not the archive"
    raw = cifar.read_cifar10(tmp_path, mirrors=[unreachable_url, mirrors.url("first"), mirrors.url("second")],
                             md5=md5)
    assert len(raw.train_y) == 20
    assert sorted(path.name for path in tmp_path.iterdir()) == [cifar.ARCHIVE]  # nothing half-written


def test_offline_says_which_files_to_put_where(tmp_path, unreachable_url):
    with pytest.raises(DataError, match=r"The CIFAR-10 files could not be downloaded. Put cifar-10-binary.tar.gz"):
        cifar.read_cifar10(tmp_path, mirrors=[unreachable_url])


def test_a_folder_the_user_gives_is_read_from_its_batch_files(tmp_path, batches):
    folder = tmp_path / "my-cifar" / cifar.BATCH_FOLDER
    folder.mkdir(parents=True)
    for name, content in batches.items():
        (folder / name).write_bytes(content)
    dataset = load_dataset(str(tmp_path / "my-cifar"))
    assert dataset.class_names == list(cifar.CLASS_NAMES) and len(dataset.val_x) == RECORDS_PER_BATCH
    assert torch.equal(dataset.val_y, torch.from_numpy(batch(5)[2]))


def test_a_damaged_batch_file_is_named(tmp_path, batches):
    for name, content in batches.items():
        (tmp_path / name).write_bytes(content[:-1] if name == "data_batch_3.bin" else content)
    with pytest.raises(DataError, match="data_batch_3.bin: holds .* not whole CIFAR-10 records of 3,073 bytes"):
        cifar.read_cifar10(tmp_path, download=False)


def test_an_archive_without_the_batch_files_is_explained(tmp_path):
    (tmp_path / cifar.ARCHIVE).write_bytes(stand_in_archive({"readme.html": b"<p>python version</p>"}))
    with pytest.raises(DataError, match="lacks data_batch_1.bin.*not the binary version of CIFAR-10"):
        cifar.read_cifar10(tmp_path, download=False)


def test_a_large_cifar_is_streamed_from_its_stored_pixels_with_the_same_values(tmp_path, batches):
    for name, content in batches.items():
        (tmp_path / name).write_bytes(content)
    memory = load_dataset(str(tmp_path))
    streamed = load_dataset(str(tmp_path), in_memory_limit=1000)
    assert torch.equal(streamed.train_x[:], memory.train_x) and torch.equal(streamed.val_x[:], memory.val_x)
    assert streamed.notes == ["Streaming from stored pixels: 24 images in 72.0 KB; as float tensors they would take "
                              "288.0 KB."]
