import json

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.data.base import DataError
from netbuilder.data.preprocess import DIGIT_SMOOTHING, deslant_digits, normalize_digit, smooth_digits
from netbuilder.data.recipe import (MNIST_MEAN, MNIST_STD, Recipe, RecipeError, TableRecipe, TextRecipe,
                                    class_indices, digit_recipe, image_recipe, input_pictures, model_inputs,
                                    predictions)
from netbuilder.data.tables import load_csv, load_text_csv

TABLE = Recipe("vector", (2,), "classification", ("a", "b"),
               table=TableRecipe(("height", "weight"), "kind", "standard", (10.0, 50.0), (2.0, 5.0)))
TEXT = Recipe("tokens", (4,), "classification", ("neg", "pos"),
              text=TextRecipe(("<pad>", "<unk>", "good", "bad"), 4, "text", "label"))
RECIPES = [digit_recipe([str(d) for d in range(10)]), image_recipe(["cat", "dog"], 32, 24, 3), TABLE, TEXT,
           Recipe("vector", (1,), "regression", (), table=TableRecipe(("x",), "y", "none", (0.0,), (1.0,)))]


@pytest.mark.parametrize("recipe", RECIPES)
def test_a_recipe_survives_json(recipe):
    assert Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.pop("format"), "format"),
    (lambda d: d.update(version=99), "version 99"),
    (lambda d: d.update(task="ranking"), "task must be one of classification, regression"),
    (lambda d: d.update(input_shape=[2, 0]), "input_shape must be a list of positive whole numbers"),
    (lambda d: d["table"].update(spread=[1.0, 0.0]), "spread must be a list of positive numbers"),
    (lambda d: d["table"].update(offset=[1.0]), "2 columns, 1 offsets"),
    (lambda d: d.update(class_names=["a", "a"]), "class names must be at least two, each once"),
    (lambda d: d.update(input_kind="image"), "image input has 1 sizes; it needs 3"),
    (lambda d: d.update(text=TEXT.to_dict()["text"]), "one kind of data"),
    (lambda d: d["table"].pop("columns"), "table part has no columns"),
])
def test_a_damaged_recipe_says_what_is_wrong(damage, message):
    document = TABLE.to_dict()
    damage(document)
    with pytest.raises(RecipeError, match=message):
        Recipe.from_dict(document)


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children,
                                                                                    max_size=3), max_leaves=12),
       st.sampled_from(["input_kind", "input_shape", "task", "class_names", "image", "table", "text"]))
def test_any_garbage_in_a_field_is_a_recipe_error_never_a_crash(value, field):
    document = TABLE.to_dict()
    document[field] = value
    try:
        recipe = Recipe.from_dict(document)
    except RecipeError:
        return
    # What is accepted is a usable recipe saying what the document said.
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    if field in ("image", "text"):
        assert value is None  # the table recipe cannot describe a second kind of data
    else:
        assert recipe.to_dict()[field] == value


def test_a_recipe_with_plausible_values_is_accepted_as_written():
    document = TABLE.to_dict()
    document.update(input_shape=[3], class_names=["x", "y", "z"])
    document["table"].update(columns=["a", "b", "c"], offset=[0, 1.5, -2], spread=[1, 2, 0.5], scaling="minmax")
    recipe = Recipe.from_dict(document)
    assert recipe.input_shape == (3,) and recipe.class_names == ("x", "y", "z")
    assert recipe.table.offset == (0.0, 1.5, -2.0) and recipe.table.spread == (1.0, 2.0, 0.5)
    assert recipe.table.scaling == "minmax"


def test_a_big_drawing_is_digit_normalised_like_training_digits():
    canvas = np.zeros((280, 280), np.uint8)
    cv2.putText(canvas, "3", (60, 240), cv2.FONT_HERSHEY_SIMPLEX, 7, 255, 20, cv2.LINE_AA)
    batch = model_inputs(digit_recipe(list("0123456789")), [canvas])
    assert batch.shape == (1, 1, 28, 28) and batch.dtype == torch.float32
    reading = smooth_digits(deslant_digits(normalize_digit(canvas)[None]), DIGIT_SMOOTHING)[0]
    expected = (torch.from_numpy(reading) - MNIST_MEAN) / MNIST_STD
    assert torch.equal(batch[0, 0], expected)


def test_dark_ink_on_paper_reads_like_white_ink_on_black():
    ink = np.zeros((100, 80), np.uint8)
    cv2.circle(ink, (40, 50), 25, 255, 8)
    recipe = digit_recipe(list("0123456789"))
    assert torch.allclose(model_inputs(recipe, [255 - ink]), model_inputs(recipe, [ink]), atol=1e-5)
    colour = np.repeat((255 - ink)[..., None], 3, axis=2)
    assert torch.allclose(model_inputs(recipe, [colour]), model_inputs(recipe, [ink]), atol=1e-2)


def test_a_stack_of_images_reads_as_each_image_on_its_own():
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 256, (5, 30, 26, 3), dtype=np.uint8)
    for recipe in RECIPES[:2]:
        assert torch.equal(model_inputs(recipe, stack), model_inputs(recipe, list(stack)))


@pytest.mark.parametrize("recipe", RECIPES[:2])
def test_input_pictures_show_what_the_model_reads(recipe):
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (3, 28, 28, 3), dtype=np.uint8)
    inputs = model_inputs(recipe, images)
    pictures = input_pictures(recipe, inputs)
    image = recipe.image
    assert pictures.shape == ((3, image.height, image.width) if image.channels == 1 else
                              (3, image.height, image.width, 3))
    assert pictures.min() >= 0 and pictures.max() <= 1
    again = torch.from_numpy(pictures.reshape(3, image.height, image.width, -1).transpose(0, 3, 1, 2).copy())
    assert torch.allclose((again - MNIST_MEAN) / MNIST_STD, inputs.reshape(again.shape), atol=1e-5)


def test_images_feed_a_vector_input_flattened():
    recipe = digit_recipe(list("0123456789")).for_input("vector", (784,))
    assert model_inputs(recipe, [np.zeros((28, 28), np.uint8)]).shape == (1, 784)


def test_a_sample_that_is_no_image_is_named():
    with pytest.raises(DataError, match="Image 2 is a 3×3×7 array"):
        model_inputs(digit_recipe(list("0123456789")), [np.zeros((5, 5)), np.zeros((3, 3, 7))])


def test_table_rows_use_the_fitted_scaler_by_name_or_position():
    inputs = model_inputs(TABLE, [[12, 55], {"weight": "45", "height": "10", "other": "x"}, ["8,5", "50"]])
    assert inputs.tolist() == [[1.0, 1.0], [0.0, -1.0], [-0.75, 0.0]]
    with pytest.raises(DataError, match="Row 1 has no column weight"):
        model_inputs(TABLE, [{"height": 1}])
    with pytest.raises(DataError, match="Row 2: 'tall' in column height is not a number"):
        model_inputs(TABLE, [[1, 2], ["tall", 2]])


def test_unknown_words_become_the_unknown_token_and_short_texts_are_padded_in_front():
    assert model_inputs(TEXT, ["Good, GOOD film", "bad bad bad bad bad"]).tolist() == [[0, 2, 2, 1], [3, 3, 3, 3]]


def test_the_loaders_feed_their_samples_through_the_recipe(tmp_path):
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("a,b,label\n" + "".join(f"{i},{i * i},{i % 2}\n" for i in range(20)))
    dataset = load_csv(numbers, val_fraction=0.25)
    rows = [[float(i), float(i * i)] for i in range(20)]
    assert torch.allclose(torch.cat([dataset.train_x, dataset.val_x]).sort(0).values,
                          model_inputs(dataset.recipe, rows).sort(0).values)
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\n" + "".join(f"word{i} common,{i % 2}\n" for i in range(10)))
    dataset = load_text_csv(texts, sequence_length=3, val_fraction=0.5)
    every_text = model_inputs(dataset.recipe, [f"word{i} common" for i in range(10)])
    assert sorted(map(tuple, torch.cat([dataset.train_x, dataset.val_x]).tolist())) == \
        sorted(map(tuple, every_text.tolist()))
    assert (every_text == 1).any()  # the validation texts' own words are unknown to the vocabulary


def test_predictions_are_softmax_probabilities_with_names():
    prediction = predictions(TABLE, torch.tensor([[2.0, 0.0], [0.0, 0.0]]))
    assert prediction.names == ["a", "a"]
    assert prediction.probabilities.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert prediction.top(0, 5) == [("a", pytest.approx(0.8808, abs=1e-4)), ("b", pytest.approx(0.1192, abs=1e-4))]
    regression = predictions(RECIPES[-1], torch.tensor([[3.5]]))
    assert regression.probabilities is None and regression.values.tolist() == [[3.5]]


def test_labels_map_to_the_models_indices_by_name():
    assert class_indices(TABLE, ["b", "b", "zebra", "a"]).tolist() == [1, 1, -1, 0]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(RECIPES[:2]), st.lists(
    st.tuples(st.integers(1, 60), st.integers(1, 60), st.sampled_from([None, 1, 3, 4]),
              st.sampled_from([np.uint8, np.float32]), st.integers(0, 2 ** 32 - 1)), min_size=1, max_size=4))
def test_any_image_becomes_one_input_of_the_recipes_shape(recipe, shapes):
    images = []
    for height, width, channels, dtype, seed in shapes:
        shape = (height, width) if channels is None else (height, width, channels)
        pixels = np.random.default_rng(seed).random(shape)
        images.append((pixels * 255).astype(np.uint8) if dtype == np.uint8 else pixels.astype(dtype))
    inputs = model_inputs(recipe, images)
    assert inputs.shape == (len(images), *recipe.input_shape) and inputs.dtype == torch.float32
    assert torch.isfinite(inputs).all()
    lowest, highest = -recipe.image.mean / recipe.image.std, (1 - recipe.image.mean) / recipe.image.std
    assert inputs.min() >= lowest - 1e-5 and inputs.max() <= highest + 1e-5


def test_a_model_saved_before_digits_were_stood_upright_reads_them_as_it_was_taught():
    canvas = np.zeros((280, 280), np.uint8)
    cv2.line(canvas, (180, 40), (100, 240), 255, 18, cv2.LINE_AA)  # a "1" leaning right
    today = digit_recipe(list("0123456789"))
    document = today.to_dict()
    assert document["image"]["deslant"] is True
    del document["image"]["deslant"], document["image"]["smooth"]  # both came later
    older = Recipe.from_dict(document)
    assert not older.image.deslant and not older.image.smooth
    expected = (torch.from_numpy(normalize_digit(canvas)) - MNIST_MEAN) / MNIST_STD
    assert torch.equal(model_inputs(older, [canvas])[0, 0], expected)
    assert not torch.equal(model_inputs(today, [canvas])[0, 0], expected)


def test_a_model_saved_before_digits_were_softened_reads_them_as_it_was_taught():
    canvas = np.zeros((280, 280), np.uint8)
    cv2.circle(canvas, (140, 140), 90, 255, 18, cv2.LINE_AA)
    today = digit_recipe(list("0123456789"))
    document = today.to_dict()
    assert document["image"]["smooth"] == DIGIT_SMOOTHING > 0
    del document["image"]["smooth"]
    older = Recipe.from_dict(document)
    assert older.image.smooth == 0 and older.image.deslant
    expected = (torch.from_numpy(deslant_digits(normalize_digit(canvas)[None])[0]) - MNIST_MEAN) / MNIST_STD
    assert torch.equal(model_inputs(older, [canvas])[0, 0], expected)
    assert not torch.equal(model_inputs(today, [canvas])[0, 0], expected)
    assert Recipe.from_dict(today.to_dict()) == today


@pytest.mark.parametrize("smooth", [-0.5, 3.5, float("nan"), float("inf")])
def test_a_recipe_softening_digits_by_an_impossible_blur_is_refused(smooth):
    document = digit_recipe(list("0123456789")).to_dict()
    document["image"]["smooth"] = smooth
    with pytest.raises(RecipeError, match="blur|smooth must be a number"):
        Recipe.from_dict(document)


def test_only_digits_are_softened():
    document = image_recipe(["cat", "dog"], 32, 24, 3).to_dict()
    document["image"]["smooth"] = 0.8
    with pytest.raises(RecipeError, match="only digits"):
        Recipe.from_dict(document)


def test_only_digits_are_stood_upright():
    document = image_recipe(["cat", "dog"], 32, 24, 3).to_dict()
    document["image"]["deslant"] = True
    with pytest.raises(RecipeError, match="only digits"):
        Recipe.from_dict(document)
