"""Do models trained on the built-in digits read real handwriting?

Trains the CNN, MLP and Row-LSTM templates with netbuilder's default settings (Adam, lr 1e-3,
batch 64, 3 epochs, no augmentation) on the built-in handwriting digits only, then measures
accuracy on their own validation set and on 5,000 real MNIST test digits that nothing here was
fitted to (../shared/data/mnist-dev). Also times the generator.

    python bench/real_digits.py            # full run: 60,000 training digits, 3 epochs
    python bench/real_digits.py --quick    # smoke run: small sizes, 1 epoch
"""
from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netbuilder.data.digits import generate_digits, load_digits  # noqa: E402
from netbuilder.data.preprocess import standardize  # noqa: E402

REAL_DIGITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-dev"


def cnn() -> nn.Module:
    """The Keras article's CNN (93,322 parameters)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


class RowLSTM(nn.Module):
    """Reads the image's 28 rows as a 28-step sequence and classifies from the last step."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(28, 128, batch_first=True)
        self.head = nn.Linear(128, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(images.flatten(1, 2))
        return self.head(outputs[:, -1])


MODELS = {"cnn": ("CNN", cnn), "mlp": ("MLP", mlp), "lstm": ("Row-LSTM", RowLSTM)}


def read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    rank = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(shape)


def real_digits() -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(REAL_DIGITS / "dev5k-images-idx3-ubyte.gz")
    labels = read_idx(REAL_DIGITS / "dev5k-labels-idx1-ubyte.gz")
    x = standardize(torch.from_numpy(images.copy()).float().div_(255.0)).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    order_rng = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=order_rng).split(64):
            optimizer.zero_grad()
            loss_fn(model(x[batch]), y[batch]).backward()
            optimizer.step()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    predictions = torch.cat([model(part).argmax(1) for part in x.split(1000)])
    return (predictions == y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and 1 epoch, for smoke runs")
    parser.add_argument("--train", type=int, help="training digits (default 60000, quick 5000)")
    parser.add_argument("--val", type=int, help="validation digits (default 10000, quick 1000)")
    parser.add_argument("--epochs", type=int, help="epochs (default 3, quick 1)")
    parser.add_argument("--models", default="cnn,mlp,lstm", help="comma-separated: cnn, mlp, lstm")
    parser.add_argument("--seed", type=int, default=0, help="seed of the built-in digits")
    args = parser.parse_args()
    train_size = args.train or (5000 if args.quick else 60000)
    val_size = args.val or (1000 if args.quick else 10000)
    epochs = args.epochs or (1 if args.quick else 3)
    torch.set_num_threads(2)

    started = time.perf_counter()
    generate_digits(20000, seed=12345)
    generation_s = time.perf_counter() - started
    data = load_digits(train_size, val_size, seed=args.seed)
    real_x, real_y = real_digits()

    print(f"generator: 20,000 digits in {generation_s:.2f} s ({20000 / generation_s:,.0f} digits/s)")
    print(f"{'model':10} {'train':>7} {'epochs':>6} {'own val':>8} {'real dev5k':>10} {'train s':>8}")
    for key in args.models.split(","):
        label, build = MODELS[key]
        torch.manual_seed(0)
        model = build()
        started = time.perf_counter()
        train(model, data.train_x, data.train_y, epochs, seed=0)
        train_s = time.perf_counter() - started
        own = accuracy(model, data.val_x, data.val_y)
        real = accuracy(model, real_x, real_y)
        print(f"{label:10} {train_size:>7} {epochs:>6} {own:>8.2%} {real:>10.2%} {train_s:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
