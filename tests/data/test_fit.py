from dataclasses import replace

import numpy as np
import pytest
import torch

from netbuilder.data.base import DataError, Dataset
from netbuilder.data.fit import fit_to_input
from netbuilder.data.recipe import digit_recipe, model_inputs


def make(kind, sample_shape, name="mnist", dtype=torch.float32):
    train_x = torch.arange(4 * torch.Size(sample_shape).numel()).reshape(4, *sample_shape).to(dtype)
    return Dataset(name=name, kind=kind, train_x=train_x, train_y=torch.zeros(4, dtype=torch.int64),
                   val_x=train_x[:2].clone(), val_y=torch.zeros(2, dtype=torch.int64), class_names=["a", "b"])


def test_images_feed_an_image_input_of_the_same_size_unchanged():
    dataset = make("image", (1, 28, 28))
    fitted = fit_to_input(dataset, (1, 28, 28), token_ids=False)
    assert torch.equal(fitted.train_x, dataset.train_x) and fitted.kind == "image"


def test_images_are_flattened_for_a_vector_input_without_copying():
    dataset = make("image", (3, 4, 5))
    fitted = fit_to_input(dataset, (60,), token_ids=False)
    assert fitted.kind == "vector" and fitted.sample_shape == (60,) and fitted.val_x.shape == (2, 60)
    assert torch.equal(fitted.train_x[1], dataset.train_x[1].flatten())
    assert fitted.train_x.data_ptr() == dataset.train_x.data_ptr()
    assert dataset.sample_shape == (3, 4, 5)  # the original is left as it was
    assert fitted.class_names == dataset.class_names and fitted.train_y is dataset.train_y


def test_one_channel_images_become_sequences_of_rows():
    dataset = make("image", (1, 28, 28))
    fitted = fit_to_input(dataset, (28, 28), token_ids=False)
    assert fitted.kind == "sequence"
    assert torch.equal(fitted.train_x[2, 5], dataset.train_x[2, 0, 5])  # step 5 is row 5


def test_a_flat_row_of_values_fills_an_image_input():
    # e.g. a CSV with 784 pixel columns
    fitted = fit_to_input(make("vector", (784,), name="pixels"), (1, 28, 28), token_ids=False)
    assert fitted.kind == "image" and fitted.sample_shape == (1, 28, 28)


def test_tokens_feed_a_tokens_input_of_the_same_length():
    dataset = make("tokens", (50,), name="reviews", dtype=torch.int64)
    assert fit_to_input(dataset, (50,), token_ids=True) is dataset


@pytest.mark.parametrize("kind, sample_shape, input_shape, token_ids, message", [
    ("image", (1, 28, 28), (3, 32, 32), False,
     'The Input expects 3×32×32 images but "mnist" gives 1×28×28 images. Set the Input\'s shape to 1×28×28.'),
    ("image", (1, 28, 28), (100,), False,
     'The Input expects 100 features but "mnist" gives 1×28×28 images. Set the Input\'s kind to image and '
     "its shape to 1×28×28 (or keep a vector Input, of 784 features)."),
    ("image", (1, 28, 28), (784, 1), False,
     'The Input expects sequences of 784 steps × 1 feature but "mnist" gives 1×28×28 images.'),
    ("image", (3, 8, 8), (8, 24), False, 'but "mnist" gives 3×8×8 images.'),
    ("image", (1, 28, 28), (784,), True,
     'The Input expects texts as 784 token ids but "mnist" gives 1×28×28 images. Set the Input\'s kind to '
     "image and its shape to 1×28×28."),
    ("tokens", (100,), (50,), True,
     'The Input expects texts as 50 token ids but "mnist" gives texts as 100 token ids. '
     "Set the Input's shape to 100."),
    ("tokens", (100,), (100,), False,
     'The Input expects 100 features but "mnist" gives texts as 100 token ids. Set the Input\'s kind to '
     "tokens and its shape to 100."),
    ("vector", (13,), (12,), False, 'The Input expects 12 features but "mnist" gives 13 features.'),
])
def test_data_that_does_not_fit_is_explained_in_user_words(kind, sample_shape, input_shape, token_ids, message):
    dtype = torch.int64 if kind == "tokens" else torch.float32
    with pytest.raises(DataError) as error:
        fit_to_input(make(kind, sample_shape, dtype=dtype), input_shape, token_ids)
    assert message in str(error.value)


def test_the_recipe_follows_the_input_so_new_images_are_shaped_alike():
    dataset = replace(make("image", (1, 28, 28)), recipe=digit_recipe(list("0123456789")))
    fitted = fit_to_input(dataset, (28, 28), token_ids=False)
    assert (fitted.recipe.input_kind, fitted.recipe.input_shape) == ("sequence", (28, 28))
    assert model_inputs(fitted.recipe, [np.zeros((50, 40), np.uint8)]).shape == (1, 28, 28)
