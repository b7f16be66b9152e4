"""Reading drawings with a model: any Input the canvas can feed, one forward pass for everything shown."""
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from netbuilder.core.compile import compile_graph
from netbuilder.core.project import load_template
from netbuilder.data.recipe import digit_recipe, drawing_inputs
from netbuilder.data.strokes import Drawing
from netbuilder.inference.live import DrawingReader, canvas_problem

SEVEN = Drawing((280, 280), 20.0, (((60.0, 50.0), (220.0, 50.0), (120.0, 240.0)),))
ONE = Drawing((280, 280), 20.0, (((140.0, 40.0), (140.0, 240.0)),))
FOUR = (((0.3, 0.0), (0.0, 0.65), (0.85, 0.65)), ((0.6, 0.3), (0.6, 1.0)))  # in units of its height


def _four(left: float, top: float, height: float, pen_width: float = 20.0) -> Drawing:
    return Drawing((280, 280), pen_width, tuple(tuple((left + x * height, top + y * height) for x, y in stroke)
                                                for stroke in FOUR))


def _reader(template: str) -> DrawingReader:
    project = load_template(template)
    (input_node,) = [node for node in project.graph.nodes.values() if node.type_id == "input"]
    torch.manual_seed(0)
    recipe = digit_recipe([str(digit) for digit in range(10)]).for_input(input_node.params["kind"],
                                                                          input_node.params["shape"])
    return DrawingReader(compile_graph(project.graph), recipe)


@pytest.mark.parametrize("template, layer", [("1-mlp", "fc1"), ("2-cnn", "conv1"), ("4-row-lstm", "lstm1")])
def test_image_vector_and_sequence_models_read_a_drawing_with_layer_outputs_and_saliency(template, layer):
    reader = _reader(template)
    reading = reader.read(SEVEN, activations=True, saliency=True)
    assert reading.prediction.probabilities.shape == (1, 10)
    assert reading.prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert reading.picture.shape == (28, 28) and reading.picture.max() > 0.6  # a stroke, softened
    assert reading.saliency.shape == (28, 28) and reading.saliency.max() == pytest.approx(1.0)
    assert layer in reading.activations
    batch = reader.classify([SEVEN, ONE])
    assert np.allclose(batch.probabilities[0], reading.prediction.probabilities[0], atol=1e-5)
    assert not np.allclose(batch.probabilities[0], batch.probabilities[1])


def test_reading_leaves_the_threads_of_the_caller_as_they_were():
    reader = _reader("2-cnn")
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        reader.read(SEVEN, activations=True)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_a_text_model_is_refused_with_what_it_expects():
    from netbuilder.data.recipe import Recipe, TextRecipe

    text = Recipe("tokens", (20,), "classification", ("neg", "pos"),
                  text=TextRecipe(("<pad>", "<unk>", "good"), 20, "text", "label"))
    assert "expects text (20 token ids)" in canvas_problem(text)
    with pytest.raises(ValueError, match="expects text"):
        DrawingReader(torch.nn.Linear(1, 1), text)


@pytest.mark.parametrize("small, large", [
    ((4.0, 6.0, 40.0), (40.0, 30.0, 220.0)),  # top left corner against the middle, same pen
    ((215.0, 210.0, 60.0), (30.0, 25.0, 230.0)),  # bottom right corner
    ((4.0, 6.0, 40.0, 4.0), (40.0, 30.0, 220.0, 40.0)),  # a thin pen on the small one, a thick one on the large
])
def test_a_digit_drawn_small_in_a_corner_reads_as_the_same_digit_drawn_large_in_the_middle(small, large):
    reader = _reader("2-cnn")
    inputs = reader.inputs([_four(*small), _four(*large)])
    # The strokes are fitted to the same box and inked with the same pen, so the two pictures can
    # differ only where OpenCV's 1/16-pixel fixed point rounds the scaled points differently: at
    # most 1/64 of a model pixel once shrunk 4 times, which moves an anti-aliased edge pixel by
    # well under 1/32 of full ink (the unit of the tolerance: pixel values before standardising).
    pictures = inputs * reader.recipe.image.std + reader.recipe.image.mean
    assert torch.allclose(pictures[0], pictures[1], atol=1 / 32)
    assert pictures[0].max() > 0.6  # there is a digit to compare (its strokes softened)
    prediction = reader.classify([_four(*small), _four(*large)])
    assert prediction.values[0] == prediction.values[1]
    assert np.allclose(prediction.probabilities[0], prediction.probabilities[1], atol=1e-3)


def _nine_with_loop(loop_share: float) -> Drawing:
    """A 9 drawn in one stroke: a loop `loop_share` of the digit's height across, then its tail."""
    top, height, centre_x = 40.0, 200.0, 140.0
    radius = loop_share * height / 2
    angles = np.linspace(-np.pi / 2, 1.5 * np.pi, 40)
    loop = [(centre_x + radius * np.cos(angle), top + radius + radius * np.sin(angle)) for angle in angles]
    return Drawing((280, 280), 20.0, (tuple(loop) + ((centre_x + radius, top + radius),
                                                     (centre_x + radius - 4, top + height)),))


def test_a_small_loop_reaches_the_model_as_a_loop_not_a_blob():
    # A 9's loop a quarter of its height across (as many writers draw it) is 5 of the model's 20
    # pixels wide: the pen it is read with must leave the paper showing inside it (under a tenth
    # of full ink), or the 9 reaches the model as a blob on a stick that a 1, a 4 or a 7 could be.
    # The recipe then softens every digit alike (a blur of 0.8 pixels, as the training digits):
    # the inside stays a hollow, under two thirds of the ink around it.
    reader = _reader("2-cnn")
    image = reader.recipe.image
    unsoftened = replace(reader.recipe, image=replace(image, smooth=0.0))
    nine = _nine_with_loop(0.25)
    inked = (drawing_inputs(unsoftened, [nine]) * image.std + image.mean)[0, 0].numpy()
    background = (inked < 0.1).astype(np.uint8)
    count, regions = cv2.connectedComponents(background, connectivity=4)
    outside = set(np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])))
    holes = [region for region in range(1, count) if region not in outside]
    assert holes, "the loop is filled in"
    softened = (reader.inputs([nine]) * image.std + image.mean)[0, 0].numpy()
    assert image.smooth > 0 and softened[regions == holes[0]].min() < 2 / 3 * softened.max()
