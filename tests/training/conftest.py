"""Small, fast data and models for the training tests (no dataset files, no downloads)."""
import pytest
import torch

from netbuilder.core.settings import TrainingSettings
from netbuilder.data.base import Dataset


def blobs(count: int = 240, features: int = 4, classes: int = 3, seed: int = 0, val_count: int = 0) -> Dataset:
    """Well-separated Gaussian clusters: any working trainer reaches high accuracy in a few epochs."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, features, generator=generator) * 4
    labels = torch.arange(count + val_count) % classes
    points = centres[labels] + torch.randn(count + val_count, features, generator=generator)
    return Dataset("blobs", "vector", points[:count], labels[:count], points[count:], labels[count:],
                   [f"class {i}" for i in range(classes)])


def mlp(features: int = 4, classes: int = 3, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(features, 16), torch.nn.ReLU(), torch.nn.Linear(16, classes))


@pytest.fixture
def settings() -> TrainingSettings:
    return TrainingSettings(epochs=3, batch_size=32, learning_rate=0.01, device="cpu")


@pytest.fixture
def make_blobs():
    return blobs


@pytest.fixture
def make_mlp():
    return mlp
