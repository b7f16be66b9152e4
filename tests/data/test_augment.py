import math

import pytest
import torch

from netbuilder.data.augment import Augmentation
from netbuilder.data.recipe import MNIST_BACKGROUND

EVERYTHING = Augmentation(rotation_degrees=20, shift_fraction=0.1, scale_fraction=0.1,
                          horizontal_flip=True, elastic_strength=1.5)


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def blob(height=28, width=28, radius=4.0, center=(0.0, 0.0), count=64):
    """A batch of normalised images: a bright disk on the MNIST background."""
    ys = torch.arange(height) - (height - 1) / 2 - center[0]
    xs = torch.arange(width) - (width - 1) / 2 - center[1]
    disk = (ys[:, None] ** 2 + xs[None, :] ** 2 <= radius**2).float() * 3.0
    return (disk + MNIST_BACKGROUND).expand(count, 1, height, width).clone()


def moments(images):
    """Per image: foreground mass, centre (y, x) and the ratio of the principal spreads."""
    weights = (images[:, 0] - MNIST_BACKGROUND).clamp_min(0)
    height, width = weights.shape[1:]
    ys = torch.arange(height, dtype=torch.float32)[:, None].expand(height, width)
    xs = torch.arange(width, dtype=torch.float32)[None, :].expand(height, width)
    mass = weights.sum(dim=(1, 2))
    cy = (weights * ys).sum(dim=(1, 2)) / mass
    cx = (weights * xs).sum(dim=(1, 2)) / mass
    dy, dx = ys - cy[:, None, None], xs - cx[:, None, None]
    cov = torch.stack([torch.stack([(weights * dy * dy).sum((1, 2)), (weights * dy * dx).sum((1, 2))], -1),
                       torch.stack([(weights * dy * dx).sum((1, 2)), (weights * dx * dx).sum((1, 2))], -1)], -2)
    spreads = torch.linalg.eigvalsh(cov / mass[:, None, None])
    return mass, cy, cx, spreads[:, 1] / spreads[:, 0]


def test_off_by_default_and_then_returns_the_images_untouched():
    augmentation = Augmentation()
    assert not augmentation.enabled
    images = blob()
    assert augmentation(images) is images
    assert Augmentation(horizontal_flip=True).enabled and Augmentation(elastic_strength=0.5).enabled


def test_what_comes_into_view_is_background_not_zero():
    empty = torch.full((16, 1, 28, 28), MNIST_BACKGROUND)
    torch.testing.assert_close(EVERYTHING(empty, seeded()), empty)


def test_keeps_shape_dtype_and_channels():
    images = torch.randn(5, 3, 12, 20)
    out = EVERYTHING(images, seeded())
    assert out.shape == images.shape and out.dtype == images.dtype
    assert not torch.allclose(out, images)


def test_the_same_generator_seed_gives_the_same_batch():
    images = blob(count=8)
    torch.testing.assert_close(EVERYTHING(images, seeded(3)), EVERYTHING(images, seeded(3)))
    assert not torch.allclose(EVERYTHING(images, seeded(3)), EVERYTHING(images, seeded(4)))


def test_shift_moves_content_by_at_most_the_fraction():
    _, cy0, cx0, _ = moments(blob())
    _, cy, cx, _ = moments(Augmentation(shift_fraction=0.2)(blob(), seeded()))
    moved_x, moved_y = (cx - cx0).abs(), (cy - cy0).abs()
    assert moved_x.max() <= 0.2 * 28 + 0.1 and moved_y.max() <= 0.2 * 28 + 0.1
    assert moved_x.max() > 0.1 * 28  # and really does move things over the range


def test_scale_changes_area_within_the_range_around_the_centre():
    mass0, cy0, cx0, _ = moments(blob())
    mass, cy, cx, _ = moments(Augmentation(scale_fraction=0.3)(blob(), seeded()))
    zoom_squared = mass / mass0
    assert zoom_squared.min() >= 0.7**2 * 0.9 and zoom_squared.max() <= 1.3**2 * 1.1
    assert zoom_squared.max() - zoom_squared.min() > 0.5
    torch.testing.assert_close(cy, cy0.expand_as(cy), atol=0.05, rtol=0)
    torch.testing.assert_close(cx, cx0.expand_as(cx), atol=0.05, rtol=0)


def test_rotation_turns_content_about_the_centre():
    # A bar that rotates about the centre: the angle of its long axis tracks the rotation.
    bar = torch.full((64, 1, 20, 40), MNIST_BACKGROUND)
    bar[:, :, 9:11, 8:32] += 3.0
    out = Augmentation(rotation_degrees=30)(bar, seeded())
    mass, cy, cx, _ = moments(out)
    mass0, _, _, _ = moments(bar)
    torch.testing.assert_close(mass, mass0.expand_as(mass), rtol=0.05, atol=0)  # no stretch
    assert (cy - 9.5).abs().max() < 0.2 and (cx - 19.5).abs().max() < 0.2
    weights = (out[:, 0] - MNIST_BACKGROUND).clamp_min(0)
    ys = torch.arange(20.0)[:, None] - cy[:, None, None]
    xs = torch.arange(40.0)[None, :] - cx[:, None, None]
    angle = 0.5 * torch.atan2(2 * (weights * xs * ys).sum((1, 2)),
                              (weights * (xs**2 - ys**2)).sum((1, 2)))
    degrees = torch.rad2deg(angle).abs()
    assert degrees.max() <= 31 and degrees.max() > 15


def test_a_round_blob_stays_round_when_rotated_in_a_wide_image():
    _, _, _, elongation = moments(Augmentation(rotation_degrees=45)(blob(16, 40), seeded()))
    assert elongation.max() < 1.05


def test_horizontal_flip_mirrors_about_half_the_images_exactly():
    images = torch.randn(64, 1, 6, 9)
    out = Augmentation(horizontal_flip=True)(images, seeded())
    same = torch.isclose(out, images, atol=1e-5).flatten(1).all(1)
    mirrored = torch.isclose(out, images.flip(-1), atol=1e-5).flatten(1).all(1)
    assert (same | mirrored).all()
    assert 16 < mirrored.sum() < 48


def test_elastic_strength_is_the_typical_displacement_in_pixels():
    # A horizontal ramp turns displacement into value: x-offset = value change / slope.
    ramp = torch.linspace(-13.5, 13.5, 28).expand(32, 1, 28, 28).clone() + MNIST_BACKGROUND
    for strength in (0.5, 2.0):
        out = Augmentation(elastic_strength=strength)(ramp, seeded())
        inner = (out - ramp)[:, :, 6:-6, 6:-6]  # away from the border, where the ramp is cut
        rms = inner.square().mean().sqrt().item()
        assert rms == pytest.approx(strength, rel=0.35)


@pytest.mark.parametrize("field, value", [("rotation_degrees", -1.0), ("shift_fraction", 1.5),
                                          ("scale_fraction", 1.0), ("elastic_strength", math.nan)])
def test_impossible_strengths_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        Augmentation(**{field: value})


def test_needs_a_batch_of_images():
    with pytest.raises(ValueError, match="N×C×H×W"):
        EVERYTHING(torch.zeros(28, 28))
