"""The contract of every loader: the tensors it trains on are exactly `model_inputs(recipe, raw)`
for the raw samples it read, so training and every later reading of the same sample agree."""
import gzip

import cv2
import numpy as np
import torch

from netbuilder.data.catalog import load_dataset, load_for_model
from netbuilder.data.digits import generate_digits, load_digits, read_digits
from netbuilder.data.folders import load_image_folder, read_image
from netbuilder.data.handwriting import AUGMENT_PEN_FACTORS, HandwritingSet, load_handwriting
from netbuilder.data.mnist import COLLECTIONS, IDX_FILE_NAMES, load_mnist
from netbuilder.data.recipe import drawing_picture, image_recipe, model_inputs
from netbuilder.data.strokes import Drawing
from netbuilder.data.tables import load_csv, load_text_csv


def _rows(tensor: torch.Tensor) -> list[bytes]:
    """The samples of a batch as a multiset (loaders shuffle them into training and validation)."""
    return sorted(sample.numpy().tobytes() for sample in tensor)


def _write_idx_set(folder, idx_bytes, seed=7):
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
              "train_labels": np.arange(12, dtype=np.uint8) % 10,
              "val_images": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
              "val_labels": np.array([0, 9, 3, 3], np.uint8)}
    for role, name in IDX_FILE_NAMES.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(arrays[role])))
    return arrays


def test_mnist_and_fashion_mnist_train_on_their_recipe_of_the_stored_images(tmp_path, idx_bytes):
    for name in ("mnist", "fashion-mnist"):
        folder = tmp_path / name
        folder.mkdir()
        arrays = _write_idx_set(folder, idx_bytes)
        dataset = load_mnist(name, folder, download=False)
        assert dataset.recipe.image.digits == COLLECTIONS[name].digits
        assert torch.equal(dataset.train_x, model_inputs(dataset.recipe, arrays["train_images"]))
        assert torch.equal(dataset.val_x, model_inputs(dataset.recipe, arrays["val_images"]))
        assert dataset.train_y.tolist() == arrays["train_labels"].tolist()


def test_the_built_in_digits_train_on_their_recipe_of_the_generated_images(fresh_cache):
    dataset = load_digits(train_size=40, val_size=10, seed=3)  # three epochs of 40 digits each
    train_images, train_labels = generate_digits(120, seed=6)
    val_images, _ = generate_digits(10, seed=7)
    assert torch.equal(dataset.train_x, model_inputs(dataset.recipe, train_images))
    assert torch.equal(dataset.val_x, model_inputs(dataset.recipe, val_images))
    assert dataset.train_y.tolist() == train_labels.tolist()
    assert np.array_equal(read_digits(40, 10, seed=3).train_samples, train_images)  # from the cache now


def test_an_image_folder_trains_on_its_recipe_of_the_files(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for name, shape in (("cat", (40, 30, 3)), ("dog", (17, 50)), ("fox", (64, 64, 3))):
        (tmp_path / name).mkdir()
        for index in range(3):
            path = tmp_path / name / f"{index}.png"
            cv2.imwrite(str(path), rng.integers(0, 256, shape, dtype=np.uint8))
            files.append(path)
    for color in (False, True):
        dataset = load_image_folder(tmp_path, size=(20, 16), color=color, val_fraction=0.34)
        assert dataset.recipe == image_recipe(["cat", "dog", "fox"], 20, 16, 3 if color else 1)
        expected = model_inputs(dataset.recipe, [read_image(path) for path in files])
        assert _rows(torch.cat([dataset.train_x, dataset.val_x])) == _rows(expected)


def test_a_numeric_table_trains_on_its_recipe_of_the_rows(tmp_path):
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("a,b,label\n" + "".join(f"{i},{i * i / 7},{i % 2}\n" for i in range(20)))
    dataset = load_csv(numbers, val_fraction=0.25)
    rows = [[str(i), str(i * i / 7)] for i in range(20)]  # as written in the file, read by the recipe
    assert _rows(torch.cat([dataset.train_x, dataset.val_x])) == _rows(model_inputs(dataset.recipe, rows))
    assert dataset.recipe.table.offset != (0.0, 0.0)  # the scaler was fitted, on the training rows


def test_a_text_table_trains_on_its_recipe_of_the_texts(tmp_path):
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\n" + "".join(f"word{i} common,{i % 2}\n" for i in range(10)))
    dataset = load_text_csv(texts, sequence_length=3, val_fraction=0.5)
    every_text = model_inputs(dataset.recipe, [f"word{i} common" for i in range(10)])
    assert _rows(torch.cat([dataset.train_x, dataset.val_x])) == _rows(every_text)
    assert (every_text == 1).any()  # the validation texts' own words are unknown to the vocabulary


ONE = Drawing((280, 280), 18.0, (((140.0, 50.0), (140.0, 230.0)),))


def test_the_personal_set_trains_on_its_recipe_of_the_drawings_pictures(tmp_path):
    HandwritingSet(tmp_path).add(ONE, 1)
    HandwritingSet(tmp_path).add(ONE, 7)
    dataset = load_handwriting(folder=tmp_path)
    pictures = [drawing_picture(ONE, factor) for factor in AUGMENT_PEN_FACTORS]
    assert _rows(dataset.train_x) == _rows(model_inputs(dataset.recipe, pictures * 2))


def test_evaluating_a_model_on_a_built_in_dataset_reads_its_stored_images_through_the_models_recipe(
        tmp_path, idx_bytes):
    arrays = _write_idx_set(tmp_path, idx_bytes)
    colour = image_recipe([str(digit) for digit in range(10)], 14, 14, 3)
    samples = load_for_model(str(tmp_path), colour)
    assert torch.equal(samples.inputs, model_inputs(colour, arrays["val_images"]))
    assert torch.equal(load_dataset(str(tmp_path)).val_x, model_inputs(load_dataset(str(tmp_path)).recipe,
                                                                       arrays["val_images"]))
