"""What is nothing to read, and when two classes are too close to choose: `data.certainty`."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.data.certainty import CLOSE_CALL_MARGIN, INK_CONTRAST, MIN_INK_PIXELS, close_call, has_no_ink
from netbuilder.data.strokes import Drawing, render
from netbuilder.inference.live import nothing_drawn

sides = st.integers(min_value=4, max_value=64)
levels = st.floats(min_value=0.0, max_value=1.0)


def as_uint8(unit: np.ndarray) -> np.ndarray:
    return np.round(np.clip(unit, 0, 1) * 255).astype(np.uint8)


@given(height=sides, width=sides, level=levels, channels=st.sampled_from([None, 1, 3, 4]), as_float=st.booleans())
def test_a_blank_or_uniform_grey_image_is_empty(height, width, level, channels, as_float):
    shape = (height, width) if channels is None else (height, width, channels)
    image = np.full(shape, level, np.float32)
    assert has_no_ink(image if as_float else as_uint8(image))


@given(height=sides, width=sides, level=levels, amplitude=st.floats(min_value=0.0, max_value=0.45 * INK_CONTRAST),
       seed=st.integers(0, 2**32 - 1))
def test_faint_even_noise_below_the_contrast_is_empty(height, width, level, amplitude, seed):
    noise = np.random.default_rng(seed).uniform(-amplitude, amplitude, (height, width))
    assert has_no_ink(np.clip(level + noise, 0, 1).astype(np.float32))


@settings(max_examples=200)
@given(height=sides, width=sides, data=st.data(), noise=st.floats(min_value=0.0, max_value=0.3 * INK_CONTRAST),
       seed=st.integers(0, 2**32 - 1), channels=st.sampled_from([None, 3]))
def test_a_thin_stroke_is_ink_on_any_background(height, width, data, noise, seed, channels):
    background = data.draw(st.floats(min_value=0.0, max_value=1.0), "background")
    # the ink differs from the background by clearly more than the contrast, dark on light or light on dark
    ink = 1.0 if background < 0.5 else 0.0
    length = data.draw(st.integers(min_value=MIN_INK_PIXELS, max_value=min(height, width)), "length")
    direction = data.draw(st.sampled_from(["row", "column", "diagonal"]), "direction")
    top = data.draw(st.integers(0, height - length), "top")
    left = data.draw(st.integers(0, width - length), "left")
    image = background + np.random.default_rng(seed).uniform(-noise, noise, (height, width))
    steps = np.arange(length)
    rows = top + (0 * steps if direction == "row" else steps)
    columns = left + (0 * steps if direction == "column" else steps)
    image[rows, columns] = ink
    image = as_uint8(image)
    if channels:
        image = np.repeat(image[..., None], channels, axis=2)
    assert not has_no_ink(image)


def test_ink_only_in_the_alpha_channel_is_ink():
    image = np.zeros((28, 28, 4), np.uint8)  # black everywhere, transparent but for the stroke
    image[5:23, 14, 3] = 255
    assert not has_no_ink(image)


def test_a_drawing_is_nothing_drawn_only_without_visible_strokes():
    blank = Drawing((280, 280), 20.0)
    assert nothing_drawn(blank)
    assert not nothing_drawn(blank.with_stroke([(140, 60), (140, 220)]))
    assert not nothing_drawn(Drawing((280, 280), 1.0).with_stroke([(100, 140), (180, 140)]))  # the thinnest pen
    assert has_no_ink(render(blank))


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=12).filter(lambda v: sum(v) > 0))
def test_a_close_call_is_the_two_top_classes_within_the_margin(values):
    probabilities = np.array(values) / sum(values)
    order = np.argsort(-probabilities, kind="stable")
    pair = close_call(probabilities)
    if probabilities[order[0]] - probabilities[order[1]] < CLOSE_CALL_MARGIN:
        assert pair == (order[0], order[1])
    else:
        assert pair is None


def test_a_confident_answer_is_no_close_call_and_a_tie_is():
    assert close_call(np.array([0.02, 0.96, 0.02])) is None
    assert close_call(np.array([0.1, 0.45, 0.45])) == (1, 2)
    assert close_call(np.array([1.0])) is None
