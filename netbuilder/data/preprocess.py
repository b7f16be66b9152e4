"""MNIST-style preprocessing, shared by the built-in digits and the drawing canvas.

MNIST digits were made by fitting each handwritten digit into a 20×20 box (keeping its aspect
ratio, with anti-aliasing) and then moving it so its centre of mass sits at the centre of a
28×28 image. A model trained on MNIST reads a drawing well only if the drawing goes through the
same steps, so the canvas and the digit generator both call `normalize_digit`.
"""
from __future__ import annotations

import cv2
import numpy as np

IMAGE_SIZE = 28
DIGIT_BOX = 20
# Pixels fainter than this (anti-aliasing fringes, scanner dust) do not decide the bounding box.
INK_THRESHOLD = 0.1


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
    left = min(max(round(IMAGE_SIZE / 2 - centre_x), 0), IMAGE_SIZE - size[0])
    top = min(max(round(IMAGE_SIZE / 2 - centre_y), 0), IMAGE_SIZE - size[1])
    result[top:top + size[1], left:left + size[0]] = np.clip(digit, 0.0, 1.0)
    return result


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """`image` (H, W) or (H, W, C) at height×width: averaged when shrinking (no aliasing), linear when enlarging."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = image.shape[0] >= height and image.shape[1] >= width
    # INTER_AREA degrades to nearest-neighbour when enlarging, hence the two methods.
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def _unit_float(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"normalize_digit needs a 2-D grayscale image, not an array of shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    values = array.astype(np.float32)
    # Clipping sends ±inf to the ends and NaN (nothing known) becomes no ink; nan_to_num would do
    # the same at three times the cost, which is most of the time of reading 70,000 digits.
    return np.where(np.isnan(values), np.float32(0.0), np.clip(values, 0.0, 1.0))
