"""Which real digits does the CNN trained on the built-in digits misread, and which shapes pull them?

Trains the CNN template as bench/real_digits.py does, then looks only at the first 2,500 real
digits (the half the generator may be tuned on): recall per class, the commonest confusions, and
for each misread digit the generated shapes (allographs) nearest to it in the network's last
hidden layer. A real digit whose neighbours all belong to another class shows a shape the
generator does not draw, or draws for the wrong digit; `--picture` draws each misread digit
beside its nearest generated digits so a person can see which. Also estimates how often real
writers use each shape (the share of a digit's real samples whose nearest generated neighbours
are of that shape) beside the share the generator gives it.

    python bench/digit_errors.py                              # built-in digits of seed 0
    python bench/digit_errors.py --seed 1 --picture errors.png --digits 469   # only misread 4s, 6s and 9s
    python bench/digit_errors.py --weights /tmp/cnn.pt   # the model bench/pen_digits.py --weights kept
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from real_digits import REAL_DIGITS, real_digits, train_template, write_png  # noqa: E402

from netbuilder.core.project import load_template  # noqa: E402
from netbuilder.data.base import Dataset  # noqa: E402
from netbuilder.data.digits import allograph_count, allograph_shares, draw_allograph, load_digits  # noqa: E402
from netbuilder.data.fit import fit_to_input  # noqa: E402
from netbuilder.data.idx import read_idx  # noqa: E402
from netbuilder.data.recipe import digit_recipe, model_inputs  # noqa: E402
from netbuilder.training.metrics import evaluate  # noqa: E402
from netbuilder.training.trainer import prepare  # noqa: E402

NEIGHBOURS = 5


def hidden_features(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The unit-length input of the model's last Linear layer for each sample."""
    last = [module for module in model.modules() if isinstance(module, torch.nn.Linear)][-1]
    captured = []
    hook = last.register_forward_hook(lambda _module, inputs, _output: captured.append(inputs[0].detach()))
    model.eval()
    with torch.no_grad():
        for start in range(0, len(x), 512):
            model(x[start:start + 512])
    hook.remove()
    return torch.nn.functional.normalize(torch.cat(captured), dim=1)


def as_input(images: np.ndarray, sample_shape: tuple[int, ...]) -> torch.Tensor:
    """uint8 28×28 images as the model takes them."""
    x = model_inputs(digit_recipe([str(digit) for digit in range(10)]), images)
    labels = torch.zeros(len(images), dtype=torch.long)
    data = Dataset(name="shapes", kind="image", train_x=x[:0], train_y=labels[:0], val_x=x, val_y=labels,
                   class_names=[str(digit) for digit in range(10)])
    return fit_to_input(data, sample_shape, token_ids=False).val_x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of the built-in digits (default 0, the app's)")
    parser.add_argument("--per-shape", type=int, default=150, help="generated digits per allograph to compare with")
    parser.add_argument("--picture", type=Path, metavar="PNG",
                        help="draw each misread digit (left) beside its 8 nearest generated digits")
    parser.add_argument("--digits", default="0123456789", help="draw only misread digits of these classes")
    parser.add_argument("--weights", type=Path, help="read these CNN weights (bench/pen_digits.py --weights) "
                        "instead of training")
    args = parser.parse_args()

    if args.weights:
        model, dataset, task = prepare(load_template("2-cnn"), "digits", dataset=load_digits(100, 10, seed=args.seed))
        model.load_state_dict(torch.load(args.weights, weights_only=True))
    else:
        model, dataset, task, _seconds, _epochs = train_template("2-cnn", None, None, None,
                                                                 load_digits(seed=args.seed))
    real = fit_to_input(real_digits(), dataset.sample_shape, token_ids=False)
    half = len(real.val_y) // 2
    truth = real.val_y[:half].numpy()
    predicted = evaluate(model, real.val_x[:half], real.val_y[:half], task).predictions
    wrong = np.flatnonzero(predicted != truth)
    print(f"first {half:,} real digits: {1 - len(wrong) / half:.2%} read correctly")
    print("recall:", "  ".join(f"{digit}: {np.mean(predicted[truth == digit] == digit):.3f}" for digit in range(10)))
    confusions = Counter(zip(truth[wrong], predicted[wrong]))
    print("commonest confusions (true>read: count):",
          "  ".join(f"{t}>{p}: {n}" for (t, p), n in confusions.most_common(10)))

    shapes = [(digit, allograph) for digit in range(10) for allograph in range(allograph_count(digit))]
    drawn = np.concatenate([draw_allograph(digit, allograph, args.per_shape, seed=1000 * digit + allograph)
                            for digit, allograph in shapes])
    shape_of = np.repeat(np.arange(len(shapes)), args.per_shape)
    drawn_features = hidden_features(model, as_input(drawn, dataset.sample_shape))
    real_features = hidden_features(model, real.val_x[:half])
    print("how often each shape is the nearest to a real digit of its class, and the generator's share (%):")
    shape_digit = np.array([digit for digit, _ in shapes])[shape_of]
    for digit in range(10):
        own = np.flatnonzero(shape_digit == digit)
        votes = shape_of[own][(real_features[truth == digit] @ drawn_features[own].T).topk(NEIGHBOURS, dim=1).indices]
        usage = np.bincount(votes.ravel() - shapes.index((digit, 0)), minlength=allograph_count(digit)) / votes.size
        print(f"  {digit}: real " + " ".join(f"{100 * share:3.0f}" for share in usage)
              + "   generator " + " ".join(f"{share:3.0f}" for share in allograph_shares(digit)))
    nearest = (real_features[wrong] @ drawn_features.T).topk(8, dim=1).indices.numpy()
    pulls = Counter((int(truth[index]), shapes[shape_of[j]])
                    for index, row in zip(wrong, nearest) for j in row[:NEIGHBOURS])
    print(f"shapes nearest the misread digits (true digit > generated digit.allograph: "
          f"hits among {NEIGHBOURS} neighbours each):")
    for (true_digit, (digit, allograph)), hits in pulls.most_common(20):
        print(f"  {true_digit} > {digit}.{allograph}: {hits}")

    if args.picture:
        images = read_idx(REAL_DIGITS / "dev5k-images-idx3-ubyte.gz")[:half]
        shown = wrong[np.isin(truth[wrong], [int(digit) for digit in args.digits])]
        order = shown[np.argsort(truth[shown], kind="stable")]
        position = {index: row for row, index in enumerate(wrong)}

        def cell(image: np.ndarray) -> np.ndarray:
            return np.pad(255 - image, 1, constant_values=200)

        rows = [np.hstack([cell(images[index]), np.full((30, 4), 0, np.uint8)]
                          + [cell(drawn[j]) for j in nearest[position[index]]]) for index in order]
        write_png(args.picture, cv2.resize(np.vstack(rows), None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST))
        print(f"picture: {args.picture}")


if __name__ == "__main__":
    main()
