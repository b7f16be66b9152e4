import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.data.preprocess import (DIGIT_BOX, DIGIT_SMOOTHING, deslant_digits, normalize_digit, normalize_digits,
                                        smooth_digits)
from netbuilder.data.recipe import MNIST_BACKGROUND, MNIST_MEAN, MNIST_STD, digit_recipe, model_inputs


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


_SPECIAL_VALUES = [np.nan, np.inf, -np.inf, -0.5, 1.5, -0.0]


def _draw_ink(draw, rng, canvas, special_values):
    """Ink on `canvas` (a view, values k/255): none, one pixel, a box of ink anywhere (often exactly
    20 pixels at its longest, as MNIST's digits are; uniform ones have their centre of mass exactly
    between two pixels) with a faint fringe, or noise; float images also get NaN, ±inf and values
    outside 0-1."""
    height, width = canvas.shape
    kind = draw(st.sampled_from(["blank", "pixel", "box", "box", "box", "noise"]))
    if kind == "pixel":
        canvas[draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))] = draw(st.integers(1, 255)) / 255
    elif kind == "noise":
        canvas[:] = rng.integers(0, 256, canvas.shape) / 255
    elif kind == "box":
        longest = draw(st.one_of(st.just(DIGIT_BOX), st.integers(1, 30)))
        shortest = draw(st.integers(1, longest))
        box_height, box_width = (longest, shortest) if draw(st.booleans()) else (shortest, longest)
        box_height, box_width = min(box_height, height), min(box_width, width)
        top, left = draw(st.integers(0, height - box_height)), draw(st.integers(0, width - box_width))
        fringe = rng.integers(0, 26, canvas.shape) / 255 * (rng.random(canvas.shape) < 0.3)
        canvas[:] = np.where(rng.random(canvas.shape) < 0.5, fringe, 0.0)  # at most 0.1: never ink
        uniform = draw(st.booleans())
        canvas[top:top + box_height, left:left + box_width] = 1.0 if uniform else \
            rng.integers(0, 256, (box_height, box_width)) / 255
        canvas[top, left] = canvas[top + box_height - 1, left + box_width - 1] = 1.0  # the box is all of it
    if special_values and draw(st.booleans()):
        spots = rng.random(canvas.shape) < 0.1
        canvas[spots] = rng.choice(_SPECIAL_VALUES, spots.sum())


@st.composite
def digit_stacks(draw, dtypes, dark_last_row_and_column=False):
    """Stacks of 1-5 small grey images, 1-36 pixels a side, in one of `dtypes`."""
    height, width = draw(st.integers(1, 36)), draw(st.integers(1, 36))
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    images = np.zeros((draw(st.integers(1, 5)), height, width))
    for image in images:
        canvas = image[:-1, :-1] if dark_last_row_and_column else image
        if canvas.size:
            _draw_ink(draw, rng, canvas, np.dtype(dtype).kind == "f")
    if np.dtype(dtype).kind == "u":
        return np.round(images * np.iinfo(dtype).max).astype(dtype)
    return images.astype(dtype)


@settings(max_examples=300, deadline=None)
@given(digit_stacks([np.uint8, np.uint16, np.float32, np.float64]))
def test_a_stack_of_digits_normalises_exactly_as_each_digit_alone(stack):
    """`normalize_digits` (how the recipe reads a stack, most of it at once) gives exactly the
    values of `normalize_digit` on each image: blank, one pixel, off-centre, touching the edges,
    centred exactly between two pixels, NaN or out of range."""
    assert np.array_equal(normalize_digits(stack), np.stack([normalize_digit(image) for image in stack]))


@settings(max_examples=150, deadline=None)
@given(digit_stacks([np.uint8, np.uint16, np.float32], dark_last_row_and_column=True))
def test_a_stack_of_images_reads_exactly_as_each_image_normalised_alone(stack):
    """The digit recipe's input for a loader's stack equals the per-image path: each image as 0-1
    values (16-bit ones divided by 65,535), `normalize_digit`, stood upright and softened alone, then MNIST's
    scaling. (The blank last row and column keep the background dark, so nothing is inverted.)"""
    recipe = digit_recipe(list("0123456789"))
    unit = stack.astype(np.float32) / np.float32(65535) if stack.dtype == np.uint16 else stack
    upright = np.concatenate([smooth_digits(deslant_digits(normalize_digit(image)[None]), DIGIT_SMOOTHING)
                              for image in unit])
    expected = (torch.from_numpy(upright)[:, None] - MNIST_MEAN) / MNIST_STD
    assert torch.equal(model_inputs(recipe, stack), expected)
    assert torch.equal(model_inputs(recipe, list(stack)), expected)


def test_a_stack_longer_than_a_chunk_reads_as_its_images_one_by_one():
    rng = np.random.default_rng(5)
    stack = np.zeros((1100, 28, 28), np.uint8)
    for image, (top, left, size) in zip(stack, rng.integers([0, 0, 5], [10, 10, 25], (1100, 3))):
        image[top:top + size, left:left + size // 2 + 1] = rng.integers(0, 256, (min(size, 28 - top), size // 2 + 1))
    stack[::97] = 255 - stack[::97]  # some dark ink on paper among them
    recipe = digit_recipe(list("0123456789"))
    assert torch.equal(model_inputs(recipe, stack), model_inputs(recipe, list(stack)))


def _slanted_digit(slope: float, shape: str) -> np.ndarray:
    """A digit-like figure (a "1" stroke or a "0" ring) on a 280×280 canvas, its rows slid sideways by
    `slope` pixels per pixel down: the same figure written leaning right (slope < 0) or left."""
    canvas = np.zeros((280, 280), np.uint8)
    if shape == "1":
        cv2.line(canvas, (140, 40), (140, 240), 255, 18, cv2.LINE_AA)
        cv2.line(canvas, (140, 40), (105, 80), 255, 18, cv2.LINE_AA)
    else:
        cv2.ellipse(canvas, (140, 140), (55, 100), 0, 0, 360, 255, 18, cv2.LINE_AA)
    shear = np.array([[1.0, slope, -slope * 140], [0.0, 1.0, 0.0]])
    return cv2.warpAffine(canvas, shear, (280, 280), flags=cv2.INTER_LINEAR)


@pytest.mark.parametrize("shape", ["1", "0"])
def test_a_digit_written_leaning_reads_as_the_same_digit_written_upright(shape):
    """Writers lean their digits; the digit recipe stands each one upright, so a figure written
    leaning right, upright or leaning left becomes nearly the same model input: closer together than
    half as far as the leaning figures are, and never more than 0.05 apart on average."""
    leaning = np.stack([normalize_digit(_slanted_digit(slope, shape)) for slope in (-0.45, -0.2, 0.0, 0.3)])
    stood_up = deslant_digits(leaning)
    pairs = [(a, b) for a in range(len(leaning)) for b in range(a + 1, len(leaning))]
    apart_leaning = [np.abs(leaning[a] - leaning[b]).mean() for a, b in pairs]
    apart_upright = [np.abs(stood_up[a] - stood_up[b]).mean() for a, b in pairs]
    assert np.mean(apart_upright) < 0.5 * np.mean(apart_leaning)
    assert max(apart_upright) < 0.05


def test_standing_digits_upright_keeps_them_fitted_centred_and_blank_ones_blank():
    rng = np.random.default_rng(11)
    figures = [normalize_digit(_slanted_digit(slope, shape)) for slope in rng.uniform(-0.8, 0.8, 6)
               for shape in ("1", "0")]
    stack = np.stack(figures + [np.zeros((28, 28), np.float32)])
    result = deslant_digits(stack)
    assert result.shape == (len(stack), 28, 28) and result.dtype == np.float32
    assert result.min() >= 0.0 and result.max() <= 1.0
    assert not result[-1].any()
    for digit in result[:-1]:
        rows, columns = np.nonzero(digit > 0.1)
        assert max(rows.max() - rows.min(), columns.max() - columns.min()) + 1 == DIGIT_BOX
        mass = digit.sum()
        assert abs(digit.sum(axis=1) @ np.arange(28) / mass - 14) <= 1
        assert abs(digit.sum(axis=0) @ np.arange(28) / mass - 14) <= 1


@settings(max_examples=100, deadline=None)
@given(digit_stacks([np.float32]))
def test_a_stack_stands_upright_exactly_as_each_digit_alone(stack):
    """How many digits are read together (a loader's chunk or one drawing) never changes one."""
    digits = normalize_digits(stack)
    assert np.array_equal(deslant_digits(digits), np.concatenate([deslant_digits(digit[None]) for digit in digits]))


def test_softening_blurs_each_digit_as_opencv_does_and_keeps_its_ink_where_it_was():
    """The digit recipe's blur is OpenCV's Gaussian blur of each digit alone, with paper around it:
    a fitted digit keeps its ink and its centre of mass, loses its hard edges, and a blank one stays blank."""
    rng = np.random.default_rng(3)
    figures = [normalize_digit(_slanted_digit(slope, shape)) for slope in rng.uniform(-0.5, 0.5, 3) for shape in ("1", "0")]
    stack = np.stack(figures + [np.zeros((28, 28), np.float32)])
    softened = smooth_digits(stack, DIGIT_SMOOTHING)
    assert softened.shape == stack.shape and softened.dtype == np.float32
    assert not softened[-1].any()
    for digit, soft in zip(stack, softened):
        assert np.allclose(soft, cv2.GaussianBlur(digit, (0, 0), DIGIT_SMOOTHING, borderType=cv2.BORDER_CONSTANT),
                           atol=1e-6)
    for digit, soft in zip(stack[:-1], softened[:-1]):
        assert soft.sum() == pytest.approx(digit.sum(), rel=1e-3)  # only a faint fringe may fall off the image
        for axis in (0, 1):
            profile, soft_profile = digit.sum(axis=axis), soft.sum(axis=axis)
            assert soft_profile @ np.arange(28) / soft.sum() == pytest.approx(profile @ np.arange(28) / digit.sum(), abs=1e-3)
        hard_edges = ((digit > 0.05) & (digit < 0.95)).sum() / (digit > 0.05).sum()
        assert ((soft > 0.05) & (soft < 0.95)).sum() / (soft > 0.05).sum() > hard_edges
    assert np.array_equal(smooth_digits(stack, 0.0), stack)


@settings(max_examples=100, deadline=None)
@given(digit_stacks([np.float32]))
def test_a_stack_softens_exactly_as_each_digit_alone(stack):
    """How many digits are read together never changes one: no ink crosses from a digit to the next."""
    digits = normalize_digits(stack)
    assert np.array_equal(smooth_digits(digits, DIGIT_SMOOTHING),
                          np.concatenate([smooth_digits(digit[None], DIGIT_SMOOTHING) for digit in digits]))
