"""Random image augmentation on whole batches (N, C, H, W), applied while training."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from .recipe import MNIST_BACKGROUND

# Width of the elastic smoothing relative to the image's smaller side: 28 / 7 = 4 pixels,
# the σ of Simard et al. (2003) for MNIST; smoother fields bend strokes instead of jittering them.
_ELASTIC_SMOOTHING = 1 / 7


@dataclass
class Augmentation:
    """How much each random change may do; zero (or False) turns it off.

    rotation_degrees: up to ± this angle. shift_fraction: up to ± this fraction of the width
    and height. scale_fraction: zoom by a factor within 1 ± this. horizontal_flip: mirror half
    of the images (wrong for digits, fine for photos). elastic_strength: typical displacement,
    in pixels, of a smooth random warp (1–2 looks like different handwriting).
    background: the value of an empty pixel, used for the area moved into view.
    """

    rotation_degrees: float = 0.0
    shift_fraction: float = 0.0
    scale_fraction: float = 0.0
    horizontal_flip: bool = False
    elastic_strength: float = 0.0
    background: float = MNIST_BACKGROUND

    def __post_init__(self):
        limits = {"rotation_degrees": 180.0, "shift_fraction": 1.0, "scale_fraction": 0.9,
                  "elastic_strength": math.inf}
        for name, upper in limits.items():
            value = getattr(self, name)
            if not 0.0 <= value <= upper:
                raise ValueError(f"{name} must be between 0 and {upper}, not {value}")

    @property
    def enabled(self) -> bool:
        return bool(self.rotation_degrees or self.shift_fraction or self.scale_fraction
                    or self.horizontal_flip or self.elastic_strength)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A randomly changed copy of each image; one resampling for all changes together."""
        if images.dim() != 4:
            raise ValueError(f"augmentation needs a batch of images N×C×H×W, not {tuple(images.shape)}")
        if not self.enabled:
            return images
        count, _, height, width = images.shape

        def uniform(spread: float, *shape: int) -> torch.Tensor:
            """Uniform in [-spread, spread]."""
            noise = torch.rand(*shape, generator=generator, device=images.device, dtype=images.dtype)
            return (2 * noise - 1) * spread

        theta = self._affine(count, height, width, uniform)
        # Same as F.affine_grid(theta, ...), which is ten times slower on the CPU than this matmul.
        grid = (_identity_grid(height, width, images.device, images.dtype) @ theta.transpose(1, 2))
        grid = grid.view(count, height, width, 2)
        if self.elastic_strength:
            grid = grid + self._elastic_offsets(count, height, width, uniform)
        # Resample the difference from the background so what comes into view is background.
        moved = F.grid_sample(images - self.background, grid, mode="bilinear", padding_mode="zeros",
                              align_corners=False)
        return moved + self.background

    def _affine(self, count: int, height: int, width: int, uniform) -> torch.Tensor:
        """Per image, the 2×3 map from output to input coordinates (both in [-1, 1])."""
        angle = torch.deg2rad(uniform(self.rotation_degrees, count))
        zoom = 1 + uniform(self.scale_fraction, count)
        mirror = torch.ones_like(zoom)
        if self.horizontal_flip:
            mirror = torch.where(uniform(1.0, count) < 0, -1.0, 1.0).to(zoom)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        # Rotate in pixel units, then express in the grid's [-1, 1] units, so a rotation of a
        # non-square image does not shear it.
        aspect = width / height
        theta = torch.stack([
            torch.stack([cos * mirror, -sin / aspect, 2 * uniform(self.shift_fraction, count)], dim=1),
            torch.stack([sin * mirror * aspect, cos, 2 * uniform(self.shift_fraction, count)], dim=1),
        ], dim=1)
        return theta

    def _elastic_offsets(self, count: int, height: int, width: int, uniform) -> torch.Tensor:
        """A smooth random displacement per pixel, (N, H, W, 2) in grid units."""
        noise = uniform(1.0, count, 2, height, width)
        sigma = max(1.0, min(height, width) * _ELASTIC_SMOOTHING)
        blur_rows = _gaussian_matrix(height, sigma, noise.device, noise.dtype)
        blur_columns = _gaussian_matrix(width, sigma, noise.device, noise.dtype)
        field = blur_rows @ noise @ blur_columns.T
        field = field / field.square().flatten(1).mean(dim=1).sqrt().clamp_min(1e-12).view(count, 1, 1, 1)
        pixels_to_grid = field.new_tensor([2 / width, 2 / height]).view(1, 2, 1, 1)
        return (field * self.elastic_strength * pixels_to_grid).permute(0, 2, 3, 1)


@lru_cache(maxsize=8)
def _identity_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The sampling positions (x, y, 1) of every output pixel, (H·W, 3), for multiplying by θᵀ."""
    identity = torch.eye(2, 3, device=device, dtype=dtype).unsqueeze(0)
    grid = F.affine_grid(identity, [1, 1, height, width], align_corners=False).view(-1, 2)
    return torch.cat([grid, torch.ones_like(grid[:, :1])], dim=1)


@lru_cache(maxsize=8)
def _gaussian_matrix(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Gaussian smoothing along one axis as a (size, size) matrix; rows sum to 1, also at the edges.

    Two small matmuls smooth a whole batch far faster than a convolution with a wide kernel.
    """
    positions = torch.arange(size, device=device, dtype=dtype)
    weights = torch.exp(-0.5 * ((positions[:, None] - positions[None, :]) / sigma) ** 2)
    return weights / weights.sum(dim=1, keepdim=True)
