"""MNIST-style preprocessing, shared by the built-in digits and the drawing canvas.

MNIST digits were made by fitting each handwritten digit into a 20×20 box (keeping its aspect
ratio, with anti-aliasing) and then moving it so its centre of mass sits at the centre of a
28×28 image. A model trained on MNIST reads a drawing well only if the drawing goes through the
same steps, so the canvas and the digit generator both call `normalize_digit`; the recipe reads a
stack of images with `normalize_digits`, the same values computed all at once where it can be.
"""
from __future__ import annotations

import cv2
import numpy as np

IMAGE_SIZE = 28
DIGIT_BOX = 20
# Pixels fainter than this (anti-aliasing fringes, scanner dust) do not decide the bounding box.
INK_THRESHOLD = 0.1
# `normalize_digits` places a digit itself only when its centre of mass lies farther than this from
# halfway between two pixels, and leaves nearer ones to `normalize_digit`, so both always round to the
# same pixel. They sum the same non-negative pixels of a box of at most 20×20 in other orders: a float32
# sum of n such values is within (n - 1)·2⁻²⁴ of the exact one (relative), so `normalize_digit`'s centre
# (a sum of up to 400 pixels) is off by at most 399·2⁻²⁴·19 < 5e-4 pixels and `normalize_digits`' (column
# sums of up to 20 pixels, then float64) by at most 2·19·2⁻²⁴·19 < 5e-5.
_TIE_MARGIN = 1e-3
# `deslant_digits` shears a digit by at most this slope (pixels sideways per pixel down, 45°): ink that
# leans further is a digit lying on its side or a scribble, and shearing it more would smear it flat.
_MAX_SLANT = 1.0
_REMAP_CHUNK = 1024  # digits stood upright in one OpenCV call: 28,672 rows, under its 32,767
# How far, in pixels of the 28×28 digit, `smooth_digits` softens a digit recipe's digits (the deviation
# of the Gaussian blur): taught and read so, the CNN template reads real MNIST and pen digits best
# (docs/decisions.md, "Digits softened").
DIGIT_SMOOTHING = 0.8


def normalize_digit(image: np.ndarray) -> np.ndarray:
    """A grayscale image of any size (white ink on black) -> float32 28×28 in [0, 1], MNIST-style.

    uint8 images are read as 0-255 and float images as 0-1 (values outside are clipped). The
    ink's bounding box is scaled to fit 20×20 keeping its aspect ratio, then placed so its centre
    of mass lands on pixel (14, 14), as in MNIST; a digit so lopsided that this would push ink
    off the image is moved only as far as keeps all of it inside. An image with no ink gives zeros.
    """
    ink = _unit_float(image)
    x, y, width, height = cv2.boundingRect((ink > INK_THRESHOLD).astype(np.uint8))
    result = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    if width == 0 or height == 0:
        return result
    scale = DIGIT_BOX / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    digit = cv2.resize(ink[y:y + height, x:x + width], size, interpolation=interpolation)
    mass = float(digit.sum())
    if mass <= 0:
        return result
    # (cv2.moments would take a 2-pixel-wide image for a list of points, so numpy does it.)
    centre_x = float(digit.sum(axis=0) @ np.arange(size[0])) / mass
    centre_y = float(digit.sum(axis=1) @ np.arange(size[1])) / mass
    left, top = _placement(centre_x, size[0]), _placement(centre_y, size[1])
    result[top:top + size[1], left:left + size[0]] = np.clip(digit, 0.0, 1.0)
    return result


def normalize_digits(images: np.ndarray) -> np.ndarray:
    """`normalize_digit` of each image of a stack (N, H, W): float32 (N, 28, 28), the same values.

    An image whose ink box is already 20 pixels at its longest, as MNIST's and the built-in digits
    are, needs no resizing (the scale is exactly 1, and OpenCV copies an image resized to its own
    size): its digit is the box's pixels moved so the centre of mass lands on (14, 14), which is
    done here for all such images at once. Any other image goes through `normalize_digit`.
    """
    ink = _unit_values(np.asarray(images))
    if ink.ndim != 3:
        raise ValueError(f"normalize_digits needs a stack of 2-D grayscale images, not an array of shape {ink.shape}")
    # Sums along an image's rows and columns are matrix products: numpy's reductions over 28 values are slow.
    along_rows, along_columns = np.ones(ink.shape[2], np.float32), np.ones(ink.shape[1], np.float32)
    dark = ink * (ink > INK_THRESHOLD)
    rows, columns = _span(dark @ along_rows > 0), _span(along_columns @ dark > 0)
    heights, widths = rows.sum(axis=1), columns.sum(axis=1)
    tops, lefts = rows.argmax(axis=1), columns.argmax(axis=1)  # 0 for a blank image
    digits = ink * rows[:, :, None].astype(np.float32)
    digits *= columns[:, None, :]
    row_mass, column_mass = (digits @ along_rows).astype(np.float64), (along_columns @ digits).astype(np.float64)
    mass = column_mass.sum(axis=1)
    blank = heights == 0
    mass[blank] = 1.0
    centre_x = column_mass @ np.arange(ink.shape[2]) / mass - lefts  # from the box's left edge
    centre_y = row_mass @ np.arange(ink.shape[1]) / mass - tops
    near_tie = (np.abs((IMAGE_SIZE / 2 - centre_x) % 1 - 0.5) < _TIE_MARGIN) | \
               (np.abs((IMAGE_SIZE / 2 - centre_y) % 1 - 0.5) < _TIE_MARGIN)
    placed = (np.maximum(heights, widths) == DIGIT_BOX) & ~near_tie
    shift_x = np.where(placed, _placement(centre_x, widths) - lefts, 0).astype(np.intp)
    shift_y = np.where(placed, _placement(centre_y, heights) - tops, 0).astype(np.intp)
    result = _moved(digits, placed | blank, shift_y, shift_x)
    for index in np.flatnonzero(~placed & ~blank):
        result[index] = normalize_digit(ink[index])
    return result


def deslant_digits(digits: np.ndarray) -> np.ndarray:
    """Normalised digits (N, 28, 28) -> the same digits stood upright, then fitted and centred again.

    Writers lean their digits anywhere from upright to far right (and some left), which a model
    taught on other writers must otherwise learn for every shape. As LeCun et al. deskewed MNIST
    for their classifiers, each digit's lean is measured from its ink's second moments (the slope
    mu11 / mu02: how far the ink moves sideways per row down) and taken away by sliding each row
    sideways in proportion to its height above or below the centre of mass (linear interpolation
    between pixels). The upright digit may be narrower or wider than before, so `normalize_digits`
    fits it to the 20×20 box and centres it again. A blank image stays blank.
    """
    digits = np.asarray(digits, np.float32)
    count, height, width = digits.shape
    rows = np.arange(height, dtype=np.float64)
    row_mass = digits.sum(axis=2, dtype=np.float64)
    row_moment = (digits @ np.arange(width, dtype=np.float32)).astype(np.float64)  # Σx·ink of each row
    mass = row_mass.sum(axis=1)
    mass[mass <= 0] = 1.0
    centre_y = row_mass @ rows / mass
    centre_x = row_moment.sum(axis=1) / mass
    below = rows[None, :] - centre_y[:, None]
    spread_y = (row_mass * below**2).sum(axis=1) / mass
    covariance = (below * (row_moment - centre_x[:, None] * row_mass)).sum(axis=1) / mass
    slope = np.clip(covariance / np.maximum(spread_y, 1e-6), -_MAX_SLANT, _MAX_SLANT)
    shift = slope[:, None] * below  # (N, H): how far each row moves left
    # Row y of the upright digit is row y of the digit moved `shift` pixels left. Ink lies within a
    # 20-row box around its centre of mass, so no inked row moves by more than 19 pixels (the slope
    # is at most 1): a margin of 20 each side keeps all of it on the canvas. OpenCV reads each pixel
    # of the upright rows from `shift` pixels to its right, interpolating between two pixels, with a
    # chunk of digits stacked as one tall image (its coordinates are 16-bit, hence the chunks).
    margin = DIGIT_BOX
    canvas_width = width + 2 * margin
    source_columns = np.arange(canvas_width, dtype=np.float32) - margin
    upright = np.empty((count, height, canvas_width), np.float32)
    # Row r of the stacked rows is read from row r: only the sideways position changes.
    row_numbers = np.repeat(np.arange(min(count, _REMAP_CHUNK) * height, dtype=np.float32)[:, None], canvas_width,
                            axis=1)
    for start in range(0, count, _REMAP_CHUNK):
        part = slice(start, start + _REMAP_CHUNK)
        from_x = source_columns + shift[part].reshape(-1, 1).astype(np.float32)
        upright[part] = cv2.remap(digits[part].reshape(-1, width), from_x, row_numbers[:len(from_x)],
                                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=0).reshape(-1, height, canvas_width)
    # Fitting reads the ink wherever it lies, so only the columns holding any are handed on.
    inked = np.flatnonzero(np.ones(count * height, np.float32) @ upright.reshape(count * height, canvas_width))
    return normalize_digits(upright[:, :, inked[0]:inked[-1] + 1] if len(inked) else upright[:, :, :width])


def smooth_digits(digits: np.ndarray, deviation: float) -> np.ndarray:
    """Digits (N, H, W) -> the same digits blurred by a Gaussian of this deviation (in pixels), each
    on its own with nothing but paper around it.

    A generated digit, a scanned one and a drawing differ most in what a blur takes away: the
    exact edge of a stroke, a one-pixel gap or spur, the stair-steps of a shrunk line. Softened
    alike, they differ in shape only, which is what a model should read. The blur is separable:
    a banded matrix of OpenCV's Gaussian weights (cut at four deviations, as OpenCV cuts it) blurs
    the columns from the left and the rows from the right. Each image is blurred alone, ink near
    an edge fading out over it as if the paper went on, and a blank image stays blank.
    """
    digits = np.asarray(digits, np.float32)
    if deviation <= 0 or digits.size == 0:
        return digits
    _, height, width = digits.shape
    return _blur_matrix(height, deviation).T @ digits @ _blur_matrix(width, deviation)


def _blur_matrix(size: int, deviation: float) -> np.ndarray:
    """(size, size) float32: a row of pixels times it is that row blurred by OpenCV's Gaussian kernel
    of this deviation, which reaches round(4 · deviation) pixels each side."""
    reach = max(1, round(4 * deviation))
    weights = cv2.getGaussianKernel(2 * reach + 1, deviation, cv2.CV_32F)[:, 0]
    return sum(weight * np.eye(size, k=offset, dtype=np.float32)
               for offset, weight in zip(range(-reach, reach + 1), weights))


def _placement(centre: np.ndarray | float, size: np.ndarray | int) -> np.ndarray | int:
    """Where a digit of this size starts so its centre of mass (measured from its start) lands on the
    image's centre, moved only as far as keeps all of it inside; ties round to even, as `round`.
    (One digit's placement is plain arithmetic: numpy's calls cost 20 µs on a single number.)"""
    if isinstance(centre, float):
        return min(max(round(IMAGE_SIZE / 2 - centre), 0), IMAGE_SIZE - size)
    return np.clip(np.round(IMAGE_SIZE / 2 - centre), 0, IMAGE_SIZE - size)


def _span(present: np.ndarray) -> np.ndarray:
    """(N, length) booleans -> True from each row's first True to its last: the rows or columns of
    each image's ink bounding box, from the rows or columns holding ink."""
    return np.logical_or.accumulate(present, axis=1) & np.logical_or.accumulate(present[:, ::-1], axis=1)[:, ::-1]


def _moved(digits: np.ndarray, chosen: np.ndarray, shift_y: np.ndarray, shift_x: np.ndarray) -> np.ndarray:
    """The `chosen` images of `digits` (N, H, W), zero outside their boxes, each moved by its shift
    onto a 28×28 image, images moving alike together; the others are left for the caller to fill.
    `digits` is the caller's scratch: reused as the result when already 28×28."""
    count, height, width = digits.shape
    in_place = (height, width) == (IMAGE_SIZE, IMAGE_SIZE)
    indices = np.flatnonzero(chosen & ((shift_y != 0) | (shift_x != 0) | (not in_place)))
    sources = digits[indices]
    if in_place:
        result = digits
        result[indices] = 0.0
    else:
        result = np.zeros((count, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    shifts, group_of = np.unique(np.stack([shift_y[indices], shift_x[indices]], axis=1), axis=0, return_inverse=True)
    for group, (down, right) in enumerate(shifts):
        members = np.flatnonzero(group_of.ravel() == group)
        rows = slice(max(down, 0), min(IMAGE_SIZE, height + down))
        columns = slice(max(right, 0), min(IMAGE_SIZE, width + right))
        result[indices[members], rows, columns] = sources[members, rows.start - down:rows.stop - down,
                                                          columns.start - right:columns.stop - right]
    return result


def resize_image(image: np.ndarray, height: int, width: int, method: str = "area") -> np.ndarray:
    """`image` (H, W) or (H, W, C) at height×width. "area": averaged when shrinking (no aliasing),
    linear when enlarging; "linear"; "nearest"."""
    if image.shape[:2] == (height, width):
        return image
    if method == "area":
        shrinking = image.shape[0] >= height and image.shape[1] >= width
        # INTER_AREA degrades to nearest-neighbour when enlarging, hence the two methods.
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    else:
        interpolation = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[method]
    return cv2.resize(image, (width, height), interpolation=interpolation)


def _unit_float(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"normalize_digit needs a 2-D grayscale image, not an array of shape {array.shape}")
    return _unit_values(array)


def _unit_values(array: np.ndarray) -> np.ndarray:
    """uint8 as 0-255, anything else as 0-1 clipped, NaN as 0: float32, element by element."""
    if array.dtype == np.float32 and array.size and array.min() >= 0 and array.max() <= 1:
        return array  # already so (a NaN fails both tests), as the recipe passes its pixels
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    values = array.astype(np.float32)
    # Clipping sends ±inf to the ends and NaN (nothing known) becomes no ink; nan_to_num would do
    # the same at three times the cost, which is most of the time of reading 70,000 digits.
    return np.where(np.isnan(values), np.float32(0.0), np.clip(values, 0.0, 1.0))
