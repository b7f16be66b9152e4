"""How long does importing a PyTorch model take?

Each model of the round-trip tests (tests/importing/zoo.py) is imported as `netbuilder-cli import`
does it, best of the rounds, side by side with what the import cannot do without:

  - trace:   torch.fx's symbolic_trace of the model alone (the floor of any fx-based import)
  - forward: one forward pass of the model on one sample (the import runs two: the model to note
             its shapes and outputs, the imported network to check that it agrees)
  - import:  `import_module`: trace, read every node, build the graph with blocks, lay it out,
             analyse, compile, load the weights and check the outputs
  - save:    `save_imported`: the project and its checkpoint written
  - own work: import − trace − 2 forwards, what netbuilder itself adds (reading, blocks, layout,
             analysis, compiling)

    python bench/import_models.py            # 3 rounds
    python bench/import_models.py --quick    # 1 round

Ends with `resnet18_import_s=<x>` (import + save of ResNet-18 at 3×224×224; target <= 2 s on the
2-core development machine).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.fx

sys.path.insert(0, str(Path(__file__).parents[1]))

from netbuilder.importing.importer import import_module  # noqa: E402
from netbuilder.importing.project_file import save_imported  # noqa: E402
from tests.importing import zoo  # noqa: E402

MODELS = {
    "Keras article CNN": (zoo.KerasArticleCNN, (1, 28, 28)),
    "MNIST MLP": (zoo.MnistMLP, (1, 28, 28)),
    "LSTM text": (zoo.LSTMText, (20,)),
    "ResNet-18": (zoo.resnet18, (3, 224, 224)),
    "MobileNetV3-style": (zoo.MobileNetV3Small, (3, 64, 64)),
    "Transformer classifier": (zoo.TransformerClassifier, (16,)),
}


def best_of(rounds: int, work) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def example(model: torch.nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    embedding = next((m for m in model.modules() if isinstance(m, torch.nn.Embedding)), None)
    if embedding is not None:
        return torch.randint(0, embedding.num_embeddings, (1, *shape))
    return torch.randn(1, *shape)


def measure(title: str, make, shape: tuple[int, ...], rounds: int, folder: Path) -> float:
    """Print one model's row; returns its import and save time."""
    torch.manual_seed(0)
    model = make().eval()
    x = example(model, shape)
    trace = best_of(rounds, lambda: torch.fx.symbolic_trace(model))
    with torch.no_grad():
        forward = best_of(rounds, lambda: model(x))
    results = []
    imported = best_of(rounds, lambda: results.append(import_module(model, shape, type(model).__name__)))
    result = results[-1]
    save = best_of(rounds, lambda: save_imported(result, folder / "model.nbproj", "zoo.py"))
    graph = result.project.graph
    print(f"{title:<24}{result.parameters:>12,}{len(graph.nodes):>7}{len(graph.blocks):>7}{trace:>9.3f}"
          f"{forward:>10.3f}{imported:>9.3f}{save:>8.3f}{imported - trace - 2 * forward:>11.3f}")
    return imported + save


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round")
    options = parser.parse_args()
    rounds = 1 if options.quick else 3
    folder = Path(tempfile.mkdtemp(prefix="import-bench-"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {rounds}")
    print(f"{'model':<24}{'params':>12}{'nodes':>7}{'blocks':>7}{'trace s':>9}{'forward s':>10}{'import s':>9}"
          f"{'save s':>8}{'own work s':>11}")
    figures = {title: measure(title, make, shape, rounds, folder) for title, (make, shape) in MODELS.items()}
    print(f"resnet18_import_s={figures['ResNet-18']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
