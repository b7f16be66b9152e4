"""Does a project with 200 kept runs list as fast as one with 1?

Keeps 1 and 200 runs of a 784-128-10 network (about 400 KB of weights each, with a 20-epoch history
holding a confusion matrix per epoch) beside two projects, then times, in this one process:

(a) RunStore.runs(): what the window and `runs` do, reading each run's small run.json only;
(b) the way without per-run metadata files: reading every run's checkpoint for its history (the
    figures a table shows are in it), to show what (a) saves;
(c) (a) plus working out the one-line "what changed" of each run against the run before it, from
    their network.nbproj files: what a table of runs would cost if run.json did not hold that line
    (it is noted there when the run is kept).

Each figure is the median of --repeats listings, after one listing that is not counted (the
operating system's file cache is warm in both cases, as it is when a project is reopened). The
last line is machine-readable: `runs_list_ms_1=… runs_list_ms_200=…`.

    python bench/runs_scale.py [--repeats 9] [--runs 200]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from netbuilder.core.compile import compile_graph  # noqa: E402
from netbuilder.core.project import project_from_dict, save_project  # noqa: E402
from netbuilder.data.recipe import ImageRecipe, Recipe  # noqa: E402
from netbuilder.model.checkpoint import TrainedModel, load_history_and_recipe, save_checkpoint  # noqa: E402
from netbuilder.model.history import EpochEnded, History  # noqa: E402
from netbuilder.runs import RunStore  # noqa: E402

CLASSES = [str(digit) for digit in range(10)]


def network(units: int):
    nodes = [{"id": "in", "type": "input", "name": "input1", "params": {"kind": "image", "shape": [1, 28, 28]}},
             {"id": "f", "type": "flatten", "name": "flatten1", "params": {}},
             {"id": "h", "type": "dense", "name": "fc1", "params": {"units": units}},
             {"id": "r", "type": "relu", "name": "relu1", "params": {}},
             {"id": "o", "type": "dense", "name": "fc2", "params": {"units": 10}},
             {"id": "out", "type": "output", "name": "output1", "params": {"task": "classification"}}]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in zip(nodes, nodes[1:])]
    return project_from_dict({"format": "netbuilder-project", "version": 1, "name": "digits", "nodes": nodes,
                              "edges": edges})


def a_run(units: int, seed: int) -> TrainedModel:
    torch.manual_seed(seed)
    model = compile_graph(network(units).graph)
    rng = np.random.default_rng(seed)
    epochs = [EpochEnded(e, 20, 0.5 / e, 0.9, 0.6 / e, 0.88, 1e-3, 30.0,
                         confusion=rng.integers(0, 100, (10, 10)), per_class_accuracy=rng.random(10))
              for e in range(1, 21)]
    recipe = Recipe("image", (1, 28, 28), "classification", tuple(CLASSES), image=ImageRecipe(28, 28, 1))
    return TrainedModel(model, recipe, History(CLASSES, "classification", "digits", epochs))


def keep_runs(folder: Path, count: int) -> Path:
    path = folder / f"digits{count}.nbproj"
    save_project(network(128), path)
    for index in range(count):
        # the network changes now and then, so "what changed" has work to do; the last run trained the
        # project's network, so its weights are the project's model when the project opens
        units = 128 + ((count - 1 - index) % 3) * 16
        trained = a_run(units, index)
        save_checkpoint(trained.model, trained.history, path, recipe=trained.recipe)
        RunStore(path).keep(trained, network(units), started=1_765_000_000.0 + 60 * index, samples_per_second=5000.0)
    return path


def median_ms(work, repeats: int) -> float:
    work()  # not counted: the first listing after writing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def every_checkpoint(path: Path) -> None:
    for run in RunStore(path).runs().runs:
        load_history_and_recipe(run.network_path)


def with_changes(path: Path) -> None:
    store = RunStore(path)
    runs = store.runs().runs
    for before, after in zip(runs, runs[1:]):
        store.diff(before, after).summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (1, args.runs):
            start = time.perf_counter()
            path = keep_runs(Path(folder), count)
            print(f"kept {count} runs in {time.perf_counter() - start:.1f} s "
                  f"({RunStore(path).disk_usage().total / 1024**2:.1f} MB)")
            listed = median_ms(lambda: RunStore(path).runs(), args.repeats)
            histories = median_ms(lambda: every_checkpoint(path), args.repeats)
            changes = median_ms(lambda: with_changes(path), args.repeats)
            figures[f"runs_list_ms_{count}"] = listed
            print(f"{count:4d} runs: (a) run.json files {listed:8.2f} ms   (b) every checkpoint {histories:8.2f} ms "
                  f"(b/a {histories / listed:5.1f})   (c) changes worked out {changes:8.2f} ms")
    one, many = figures["runs_list_ms_1"], figures[f"runs_list_ms_{args.runs}"]
    print(f"(a) {args.runs} runs / 1 run: {many / one:.1f}x the time, {many / args.runs:.3f} ms a run")
    print(" ".join(f"{key}={value:.2f}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
