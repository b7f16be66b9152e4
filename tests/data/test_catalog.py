import gzip

import cv2
import numpy as np
import pytest

from netbuilder.data.base import DataError
from netbuilder.data.catalog import BUILTIN_DATASETS, load_dataset
from netbuilder.data.mnist import IDX_FILE_NAMES


def test_mnist_downloads_through_the_catalog_with_progress(fresh_cache, mirrors, tiny_idx_set):
    for name, data in tiny_idx_set.files().items():
        mirrors.files[f"/m/{name}"] = data
    reports = []
    dataset = load_dataset(" MNIST ", progress=lambda *report: reports.append(report),
                           mirrors=[mirrors.url("m")], md5=tiny_idx_set.md5s())
    assert dataset.name == "mnist" and len(dataset.train_x) == 12
    assert reports and all(len(report) == 3 for report in reports)


def test_mnist_offline_names_the_folder_and_the_offline_digits(fresh_cache, unreachable_url):
    with pytest.raises(DataError) as error:
        load_dataset("fashion-mnist", mirrors=[unreachable_url])
    message = str(error.value)
    assert f"into {fresh_cache / 'fashion-mnist'}:" in message
    assert "train-images-idx3-ubyte.gz" in message
    assert 'built-in "digits" dataset, which works offline' in message


def test_a_folder_with_idx_files_is_read_as_such(tmp_path, idx_bytes, tiny_idx_set):
    for name, data in tiny_idx_set.files().items():
        (tmp_path / name).write_bytes(data)
    dataset = load_dataset(str(tmp_path))
    assert dataset.sample_shape == (1, 6, 5) and len(dataset.val_x) == 4


def test_a_folder_with_some_idx_files_says_which_are_missing(tmp_path, idx_bytes):
    (tmp_path / IDX_FILE_NAMES["train_images"]).write_bytes(gzip.compress(idx_bytes(np.zeros((1, 2, 2), np.uint8))))
    with pytest.raises(DataError, match="lacks train-labels-idx1-ubyte.gz"):
        load_dataset(str(tmp_path))


def test_a_folder_of_class_folders_is_an_image_dataset(tmp_path):
    for label in ("cat", "dog"):
        for index in range(3):
            folder = tmp_path / label
            folder.mkdir(exist_ok=True)
            cv2.imencode(".png", np.full((5, 5), 40 * index, np.uint8))[1].tofile(folder / f"{index}.png")
    dataset = load_dataset(str(tmp_path), size=8, val_fraction=0)
    assert dataset.class_names == ["cat", "dog"] and dataset.sample_shape == (1, 8, 8)


def test_csv_files_are_told_apart_by_their_content(tmp_path):
    text = tmp_path / "reviews.csv"
    text.write_text("text,label\nwhat a lovely day,pos\nnot good at all,neg\nreally very nice,pos\n")
    numbers = tmp_path / "iris.csv"
    numbers.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n")
    assert load_dataset(str(text), val_fraction=0).kind == "tokens"
    assert load_dataset(str(numbers), val_fraction=0).kind == "vector"
    one_word_texts = tmp_path / "words.csv"
    one_word_texts.write_text("text,label\nsplendid,pos\nawful,neg\n")  # no spaces, but named text
    assert load_dataset(str(one_word_texts), val_fraction=0).vocabulary[2:] == ["awful", "splendid"]
    words_in_other_columns = tmp_path / "sentences.csv"
    words_in_other_columns.write_text("review,stars\ngreat,5\npoor,1\n")
    with pytest.raises(DataError, match="'great' is not a number in column review"):
        load_dataset(str(words_in_other_columns))
    dataset = load_dataset(str(words_in_other_columns), kind="text", text_column="review", label_column="stars")
    assert dataset.class_names == ["1", "5"]
    with pytest.raises(DataError, match='read as "text" or "numeric", not "audio"'):
        load_dataset(str(numbers), kind="audio")


def test_the_built_in_digits_report_progress_in_the_common_form():
    reports = []
    dataset = load_dataset("digits", train_size=20, val_size=10, progress=lambda *report: reports.append(report))
    assert dataset.kind == "image" and dataset.sample_shape == (1, 28, 28) and len(dataset.val_x) == 10
    assert reports[-1] == (70, 70, "Generating the built-in digits")  # three epochs of 20 new digits, 10 to validate


def test_every_builtin_name_is_a_spec_the_catalog_knows(tmp_path, unreachable_url):
    for name, description in BUILTIN_DATASETS:
        assert description
        if name.startswith("my-handwriting"):
            with pytest.raises(DataError, match="personal handwriting set is empty"):
                load_dataset(name, folder=tmp_path / name)
        elif name != "digits":
            with pytest.raises(DataError, match="could not be downloaded"):
                load_dataset(name, folder=tmp_path / name, mirrors=[unreachable_url])


def test_unknown_specs_and_unreadable_files_are_explained(tmp_path):
    with pytest.raises(DataError, match='no dataset "cifar": it is not a built-in one \\("digits", "mnist", '
                                        '"fashion-mnist", "cifar-10", "my-handwriting", "my-handwriting\\+digits"\\) '
                                        'and there is no file or folder'):
        load_dataset("cifar")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"jpeg")
    with pytest.raises(DataError, match="photo.jpg: netbuilder reads CSV files"):
        load_dataset(str(photo))


def test_a_dataset_name_too_long_for_the_system_is_a_data_error():
    """The system answers such a name with an error, not 'no such file'; both loaders say so in one line."""
    spec = "/tmp/" + "a" * 300 + ".csv"
    from netbuilder.data.catalog import load_for_model
    from netbuilder.data.recipe import ImageRecipe, Recipe

    recipe = Recipe("image", (1, 28, 28), "classification", tuple("0123456789"), image=ImageRecipe(28, 28, 1))
    for load in (lambda: load_dataset(spec), lambda: load_for_model(spec, recipe)):
        with pytest.raises(DataError, match='Cannot read the dataset ".*": File name too long'):
            load()


def test_the_class_counts_known_before_loading_are_those_the_loaders_give():
    """The window checks the Output against these before anything is loaded."""
    from netbuilder.data import cifar
    from netbuilder.data.builtin import BUILTIN_DATASETS, known_class_count
    from netbuilder.data.digits import CLASS_NAMES
    from netbuilder.data.mnist import COLLECTIONS

    loaders = {"digits": CLASS_NAMES, "my-handwriting": CLASS_NAMES, "my-handwriting+digits": CLASS_NAMES,
               cifar.NAME: cifar.CLASS_NAMES,
               **{name: collection.class_names for name, collection in COLLECTIONS.items()}}
    assert {name: known_class_count(name) for name, _ in BUILTIN_DATASETS} == \
        {name: len(names) for name, names in loaders.items()}
    assert known_class_count("/home/me/flowers") is None
