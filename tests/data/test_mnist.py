import gzip

import numpy as np
import pytest
import torch

from netbuilder.common.app_dirs import cache_dir
from netbuilder.data.base import DataError
from netbuilder.data.recipe import MNIST_MEAN, MNIST_STD, model_inputs
from netbuilder.data.mnist import IDX_FILE_NAMES, find_idx_files, load_idx_folder, load_mnist


def serve(mirrors, idx_set, mirror="m"):
    for name, data in idx_set.files().items():
        mirrors.files[f"/{mirror}/{name}"] = data


def test_downloads_on_first_use_then_reads_the_cache(tmp_path, mirrors, tiny_idx_set, unreachable_url):
    serve(mirrors, tiny_idx_set)
    reports = []
    dataset = load_mnist("mnist", tmp_path, mirrors=[mirrors.url("m")], md5=tiny_idx_set.md5s(),
                         progress=lambda *report: reports.append(report))
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(IDX_FILE_NAMES.values())
    assert {message for _, _, message in reports} >= {
        f"Downloading {name} from {mirrors.base_url[7:-1]}" for name in IDX_FILE_NAMES.values()}

    assert dataset.kind == "image" and dataset.task == "classification"
    # MNIST's recipe centres digits in 28×28 as MNIST did: any image read for the model becomes one
    assert dataset.train_x.shape == (12, 1, 28, 28) and dataset.train_x.dtype == torch.float32
    assert dataset.val_x.shape == (4, 1, 28, 28)
    assert dataset.train_y.dtype == torch.int64
    assert dataset.val_y.tolist() == [0, 9, 3, 3]
    assert dataset.class_names == [str(digit) for digit in range(10)]
    assert torch.equal(dataset.train_x, model_inputs(dataset.recipe, tiny_idx_set.train_images))
    assert torch.equal(dataset.val_x, model_inputs(dataset.recipe, tiny_idx_set.val_images))

    again = load_mnist("mnist", tmp_path, mirrors=[unreachable_url])  # no network needed now
    assert torch.equal(again.train_x, dataset.train_x)


def test_the_default_folder_is_in_the_cache(fresh_cache, mirrors, tiny_idx_set):
    serve(mirrors, tiny_idx_set)
    dataset = load_mnist("fashion-mnist", mirrors=[mirrors.url("m")], md5=tiny_idx_set.md5s())
    assert cache_dir() == fresh_cache
    assert (fresh_cache / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").is_file()
    assert dataset.class_names[9] == "Ankle boot"
    assert dataset.name == "fashion-mnist"


def test_a_corrupted_download_is_refused_and_not_cached(tmp_path, mirrors, tiny_idx_set):
    serve(mirrors, tiny_idx_set)
    mirrors.files["/m/t10k-images-idx3-ubyte.gz"] = gzip.compress(b"garbage")
    with pytest.raises(DataError, match="md5 checksum") as error:
        load_mnist("mnist", tmp_path, mirrors=[mirrors.url("m")], md5=tiny_idx_set.md5s())
    assert str(tmp_path) in str(error.value)
    assert not (tmp_path / "t10k-images-idx3-ubyte.gz").exists()
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".part")]


def test_falls_back_to_the_second_mirror(tmp_path, mirrors, tiny_idx_set, unreachable_url):
    serve(mirrors, tiny_idx_set, mirror="second")
    dataset = load_mnist("mnist", tmp_path, mirrors=[unreachable_url, mirrors.url("second")],
                         md5=tiny_idx_set.md5s())
    assert len(dataset.train_x) == 12


def test_offline_says_which_files_to_put_where_and_offers_digits(tmp_path, unreachable_url):
    with pytest.raises(DataError) as error:
        load_mnist("mnist", tmp_path / "mnist", mirrors=[unreachable_url])
    message = str(error.value)
    assert f"into {tmp_path / 'mnist'}:" in message
    for name in IDX_FILE_NAMES.values():
        assert f"  {name}\n" in message
    assert 'built-in "digits" dataset, which works offline' in message
    assert "no connection" in message


def test_without_downloading_missing_files_are_explained(tmp_path):
    with pytest.raises(DataError, match="The MNIST files are not there. Put these four files"):
        load_mnist("mnist", tmp_path, download=False)


def test_the_default_mirrors_are_never_contacted_by_tests(tmp_path):  # see no_real_mirrors
    with pytest.raises(DataError, match="127.0.0.1"):
        load_mnist("mnist", tmp_path)


def test_an_unknown_collection_is_named():
    with pytest.raises(DataError, match='no dataset called "kmnist"; choose one of mnist, fashion-mnist'):
        load_mnist("kmnist")


def test_reads_unpacked_files_as_archives_name_them(tmp_path, idx_bytes, tiny_idx_set):
    (tmp_path / "train-images.idx3-ubyte").write_bytes(idx_bytes(tiny_idx_set.train_images))
    (tmp_path / "train-labels.idx1-ubyte").write_bytes(idx_bytes(tiny_idx_set.train_labels))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(tiny_idx_set.val_images))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(tiny_idx_set.val_labels)))
    assert set(find_idx_files(tmp_path)) == set(IDX_FILE_NAMES)
    dataset = load_mnist("mnist", tmp_path, download=False)
    assert dataset.train_y.tolist() == tiny_idx_set.train_labels.tolist()


def write_set(folder, idx_bytes, **arrays):
    for role, name in IDX_FILE_NAMES.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(arrays[role])))


def test_any_idx_folder_takes_its_classes_from_the_labels(tmp_path, idx_bytes):
    write_set(tmp_path, idx_bytes, train_images=np.zeros((3, 4, 4), np.uint8),
              train_labels=np.array([0, 1, 2], np.uint8), val_images=np.full((2, 4, 4), 255, np.uint8),
              val_labels=np.array([4, 0], np.uint8))
    dataset = load_idx_folder(tmp_path)
    assert dataset.class_names == ["0", "1", "2", "3", "4"]
    assert dataset.name == tmp_path.name
    assert dataset.val_x.max().item() == pytest.approx((1 - MNIST_MEAN) / MNIST_STD)


def test_an_incomplete_idx_folder_lists_what_is_missing(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataError, match="lacks train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                                        "t10k-labels-idx1-ubyte.gz"):
        load_idx_folder(tmp_path)


@pytest.mark.parametrize("change, message", [
    (dict(train_labels=np.zeros(5, np.uint8)), "train-images-idx3-ubyte.gz holds 3 images but "
                                               "train-labels-idx1-ubyte.gz holds 5 labels"),
    (dict(val_images=np.zeros((2, 5, 4), np.uint8)), "holds 4×4 images but t10k-images-idx3-ubyte.gz holds 5×4"),
    (dict(val_labels=np.array([1, 12], np.uint8)), "t10k-labels-idx1-ubyte.gz contains label 12, but this "
                                                   "dataset has only 10 classes"),
    (dict(train_images=np.zeros((3, 16), np.uint8)), "train-images-idx3-ubyte.gz: expected 8-bit grey images"),
    (dict(train_labels=np.zeros((3, 1), np.uint8)), "train-labels-idx1-ubyte.gz: expected a list of 8-bit labels"),
])
def test_inconsistent_files_are_explained(tmp_path, idx_bytes, change, message):
    arrays = dict(train_images=np.zeros((3, 4, 4), np.uint8), train_labels=np.array([0, 1, 0], np.uint8),
                  val_images=np.zeros((2, 4, 4), np.uint8), val_labels=np.zeros(2, np.uint8)) | change
    write_set(tmp_path, idx_bytes, **arrays)
    with pytest.raises(DataError) as error:
        load_mnist("mnist", tmp_path, download=False)
    assert message in str(error.value)


def test_a_one_class_idx_set_is_refused_like_a_one_class_csv(tmp_path, idx_bytes):
    write_set(tmp_path, idx_bytes, train_images=np.zeros((3, 4, 4), np.uint8), train_labels=np.full(3, 7, np.uint8),
              val_images=np.zeros((2, 4, 4), np.uint8), val_labels=np.array([7, 1], np.uint8))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: every image has the label 7; a classification "
                                        "needs at least two classes"):
        load_idx_folder(tmp_path)


def test_a_damaged_cached_file_names_the_file(tmp_path, idx_bytes, tiny_idx_set):
    write_set(tmp_path, idx_bytes, train_images=tiny_idx_set.train_images, train_labels=tiny_idx_set.train_labels,
              val_images=tiny_idx_set.val_images, val_labels=tiny_idx_set.val_labels)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x00\x00\x08\x03short")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: is cut short"):
        load_mnist("mnist", tmp_path)
