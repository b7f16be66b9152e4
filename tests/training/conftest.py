"""Small, fast data and models for the training tests (no dataset files, no downloads)."""
import argparse
import random

import pytest
import torch

from netbuilder.core.project import project_from_dict, save_project
from netbuilder.core.settings import TrainingSettings
from netbuilder.data.base import Dataset
from netbuilder.training.cli import add_commands


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


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="netbuilder")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.handler(args)


def write_project(path, dataset, layers, input_params, task="classification", **training):
    nodes = [{"id": "n0", "type": "input", "name": "input1", "params": input_params}]
    for index, (type_id, params) in enumerate(layers, start=1):
        nodes.append({"id": f"n{index}", "type": type_id, "name": f"{type_id}{index}", "params": params})
    nodes.append({"id": "out", "type": "output", "name": "output1", "params": {"task": task}})
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:])]
    settings = {"epochs": 20, "batch_size": 16, "learning_rate": 0.02, "device": "cpu", "validation_split": 0.0,
                **training}
    save_project(project_from_dict({"format": "netbuilder-project", "version": 1, "name": path.stem, "nodes": nodes,
                                    "edges": edges, "dataset": str(dataset), "training": settings}), path)
    return path


def clusters(sizes, seed):
    """Three classes of points at fixed centres, `sizes[c]` points of class c."""
    rng = random.Random(seed)
    centres = {"low": (0.0, 0.0), "mid": (5.0, 5.0), "high": (10.0, 0.0)}
    rows = [f"{x + rng.uniform(-1, 1):.3f},{y + rng.uniform(-1, 1):.3f},{name}"
            for (name, (x, y)), size in zip(centres.items(), sizes) for _ in range(size)]
    return "x,y,label\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="session")
def cli():
    """run_cli("train", project, ...) -> exit status, as `netbuilder` would give it."""
    return run_cli


@pytest.fixture(scope="session")
def make_project():
    return write_project


@pytest.fixture(scope="session")
def cluster_rows():
    return clusters
