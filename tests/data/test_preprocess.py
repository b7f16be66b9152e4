import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.data.preprocess import normalize_digit
from netbuilder.data.recipe import MNIST_BACKGROUND, digit_recipe, model_inputs


@pytest.mark.parametrize("shape", [(28, 28), (280, 280), (7, 300)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_an_empty_image_gives_zeros(shape, dtype):
    result = normalize_digit(np.zeros(shape, dtype))
    assert result.shape == (28, 28) and result.dtype == np.float32
    assert not result.any()


def test_a_canvas_drawing_is_fitted_into_20_by_20_keeping_its_aspect(ink_box, centre_of_mass):
    canvas = np.zeros((280, 280), np.uint8)
    cv2.rectangle(canvas, (30, 40), (79, 239), 255, thickness=-1)  # 50 wide, 200 tall
    result = normalize_digit(canvas)
    assert ink_box(result) == (20, 5)
    assert result.max() == pytest.approx(1.0)
    assert centre_of_mass(result) == pytest.approx((14.0, 14.0), abs=0.501)  # ties round either way


def test_an_off_centre_digit_is_moved_to_the_centre_by_its_mass(ink_box, centre_of_mass):
    canvas = np.zeros((280, 280), np.uint8)
    cv2.putText(canvas, "7", (150, 270), cv2.FONT_HERSHEY_SIMPLEX, 4, 255, 12, cv2.LINE_AA)
    result = normalize_digit(canvas)
    assert max(ink_box(result)) == 20
    assert centre_of_mass(result) == pytest.approx((14.0, 14.0), abs=0.501)  # ties round either way


def test_uint8_and_unit_float_images_give_the_same_digit():
    canvas = np.zeros((140, 100), np.uint8)
    cv2.circle(canvas, (50, 70), 30, 200, 9, cv2.LINE_AA)
    np.testing.assert_allclose(normalize_digit(canvas), normalize_digit(canvas / 255.0), atol=1e-6)


def test_a_colour_image_is_refused_with_a_message():
    with pytest.raises(ValueError, match="2-D grayscale"):
        normalize_digit(np.zeros((28, 28, 3), np.uint8))


def test_a_blank_drawing_normalises_to_the_mnist_background():
    standardized = model_inputs(digit_recipe(list("0123456789")), [np.zeros((50, 50), np.uint8)])
    np.testing.assert_allclose(standardized.numpy(), MNIST_BACKGROUND, rtol=1e-6)


@st.composite
def blob_images(draw):
    height, width = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    image = np.zeros((height, width), np.uint8)
    for _ in range(draw(st.integers(1, 4))):
        centre = (draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1)))
        axes = (draw(st.integers(0, width)), draw(st.integers(0, height)))
        thickness = draw(st.sampled_from([-1, 1, 3, 10]))
        cv2.ellipse(image, centre, axes, draw(st.integers(0, 179)), 0, 360, draw(st.integers(30, 255)),
                    thickness, cv2.LINE_AA)
    return image


@settings(max_examples=150, deadline=None)
@given(blob_images())
def test_any_blob_is_fitted_and_centred_like_mnist(ink_box, centre_of_mass, image):
    result = normalize_digit(image)
    assert result.shape == (28, 28) and result.dtype == np.float32
    assert 0.0 <= result.min() and result.max() <= 1.0
    if not (image > 0.1 * 255).any():
        assert not result.any()
        return
    height, width = ink_box(result)
    assert max(height, width) == 20 and min(height, width) >= 1
    rows, cols = np.flatnonzero(result.any(axis=1)), np.flatnonzero(result.any(axis=0))
    touches_edge = rows[0] == 0 or cols[0] == 0 or rows[-1] == 27 or cols[-1] == 27
    if not touches_edge:  # only a very lopsided blob is kept whole rather than exactly centred
        assert centre_of_mass(result) == pytest.approx((14.0, 14.0), abs=0.501)  # ties round either way


def test_a_pen_stroke_from_the_canvas_becomes_an_anti_aliased_mnist_digit(ink_box, centre_of_mass):
    """A thin diagonal stroke as the drawing canvas records it: fitted to 20 pixels, centred by
    mass, solid in its core and grey at its edges rather than jagged black and white."""
    canvas = np.zeros((280, 280), np.uint8)
    cv2.polylines(canvas, [np.array([(200, 30), (150, 120), (90, 250)], np.int32)], False, 255, 18, cv2.LINE_AA)
    result = normalize_digit(canvas)
    assert max(ink_box(result)) == 20
    assert centre_of_mass(result) == pytest.approx((14.0, 14.0), abs=0.501)  # ties round either way
    assert result.max() == pytest.approx(1.0, abs=0.02)
    edges = (result > 0.05) & (result < 0.95)
    assert edges.sum() >= 0.3 * (result > 0.05).sum()
