"""Training on a folder of photos too large to hold as floats: streamed from a uint8 cache against in memory.

Generates a folder of 60,000 PNGs (64×64 RGB, 10 classes of drawn shapes on coloured, noisy
backgrounds; no download) in a temporary folder, then, each in a fresh process so that each
measures its own peak memory:

  cache   builds the image cache (decoded by the loader's worker processes), timed and sized;
  stream  trains the colour template (resources/templates/7-cifar-cnn.nbproj) one epoch on the
          folder streamed from that cache;
  memory  trains the same network one epoch on the same folder read into float tensors.

Both runs use the template's Input (3×32×32: the recipe resizes the 64×64 files, as for any
user's photos; `--input-size 64` trains at the files' size), one epoch, no validation, the
template's batch size, the trainer's own thread choice. The training speed is the trainer's
samples per second (setup excluded); the first batch is timed from the start of loading (the
folder indexed, its cache opened) to the trainer's report of its first batch, in a process that
has imported torch's compiler already (the first optimizer of a process imports it, seconds
whatever the data; printed on its own). Last line:

    streaming_vs_memory=<x> peak_rss_gb=<y> first_batch_s=<z>

(targets on a 2-core machine: x >= 0.8, y <= 1.5 GB for the streaming process, z <= 5 s).

    python bench/data_scale.py                 # 60,000 images (a few minutes to generate and cache)
    python bench/data_scale.py --count 6000    # a smaller run
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "resources" / "templates" / "7-cifar-cnn.nbproj"
CLASSES = ("circle", "square", "triangle", "cross", "ring", "bar", "diamond", "ellipse", "dots", "star")
TARGETS = {"streaming_vs_memory": 0.8, "peak_rss_gb": 1.5, "first_batch_s": 5.0}


def draw_shape(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One RGB picture of a `kind` shape in a random colour, place and size, on a noisy background."""
    background = rng.integers(0, 256, 3)
    image = np.clip(background + rng.normal(0, 18, (size, size, 3)), 0, 255).astype(np.uint8)
    colour = tuple(int(value) for value in (background + 128 + rng.integers(-40, 40, 3)) % 256)
    centre = rng.integers(size * 3 // 10, size * 7 // 10, 2)
    radius = int(rng.integers(size // 6, size // 3))
    x, y = (int(value) for value in centre)
    if kind == "circle":
        cv2.circle(image, (x, y), radius, colour, -1, cv2.LINE_AA)
    elif kind == "ring":
        cv2.circle(image, (x, y), radius, colour, max(2, radius // 3), cv2.LINE_AA)
    elif kind == "square":
        cv2.rectangle(image, (x - radius, y - radius), (x + radius, y + radius), colour, -1)
    elif kind == "bar":
        cv2.rectangle(image, (x - radius, y - radius // 4), (x + radius, y + radius // 4), colour, -1)
    elif kind == "ellipse":
        cv2.ellipse(image, (x, y), (radius, radius // 2), float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    elif kind == "dots":
        for offset in (-radius // 2, radius // 2):
            cv2.circle(image, (x + offset, y), max(2, radius // 3), colour, -1, cv2.LINE_AA)
    elif kind == "cross":
        cv2.line(image, (x - radius, y), (x + radius, y), colour, max(2, radius // 3))
        cv2.line(image, (x, y - radius), (x, y + radius), colour, max(2, radius // 3))
    else:  # polygons: triangle, diamond, star
        corners = {"triangle": 3, "diamond": 4, "star": 10}[kind]
        angles = np.linspace(0, 2 * np.pi, corners, endpoint=False) + rng.uniform(0, 2 * np.pi)
        radii = np.where(np.arange(corners) % 2, radius * 0.45, radius) if kind == "star" else np.full(corners, radius)
        points = np.stack([x + radii * np.cos(angles), y + radii * np.sin(angles)], axis=1).astype(np.int32)
        cv2.fillPoly(image, [points], colour, cv2.LINE_AA)
    return image


def generate(folder: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for name in CLASSES:
        (folder / name).mkdir(parents=True)
    for index in range(count):
        kind = CLASSES[index % len(CLASSES)]
        cv2.imwrite(str(folder / kind / f"{index:06d}.png"), draw_shape(kind, size, rng)[..., ::-1])


def child(mode: str, folder: Path, input_size: int) -> dict:
    """One measurement in this (fresh) process; its figures as a dict."""
    import torch

    from netbuilder.core.project import load_project
    from netbuilder.data.folders import load_image_folder
    from netbuilder.training.events import BatchEnded, Finished
    from netbuilder.training.session import TrainingSession

    # torch imports its compiler (torch._dynamo) when the first optimizer is made: seconds, once per
    # process, whatever the data; timed on its own, so that the first batch times the data's path
    importing = time.perf_counter()
    import torch._dynamo  # noqa: F401

    figures = {"torch_import_s": time.perf_counter() - importing}
    started = time.perf_counter()
    dataset = load_image_folder(folder, size=input_size, color=True, val_fraction=0.0, stream=mode != "memory")
    loaded = time.perf_counter() - started
    figures.update(mode=mode, load_s=loaded, notes=dataset.notes, images=len(dataset.train_x))
    if mode == "cache":
        figures["cache_bytes"] = int(dataset.train_x.pixels.nbytes)
    else:
        project = load_project(TEMPLATE)
        project.graph.nodes[next(node_id for node_id, node in project.graph.nodes.items()
                                 if node.type_id == "input")].params["shape"] = [3, input_size, input_size]
        project.training = project.training.replace(epochs=1, validation_split=0.0)
        session = TrainingSession(project, dataset=dataset, report_interval=0.0)
        last = None
        for event in session.events():
            if isinstance(event, BatchEnded):
                if last is None:
                    figures["first_batch_s"] = time.perf_counter() - started
                last = event
            elif isinstance(event, Finished) and event.reason != "completed":
                raise SystemExit(f"{mode}: training ended: {event.message}")
        figures["samples_per_s"] = last.samples_per_second
        figures["threads"] = torch.get_num_threads()
    figures["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    return figures


def run_child(mode: str, folder: Path, input_size: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", mode, "--folder", str(folder),
                             "--input-size", str(input_size)], capture_output=True, text=True, check=False)
    if output.returncode:
        raise SystemExit(f"the {mode} run failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=60_000, help="images to generate (default %(default)s)")
    parser.add_argument("--size", type=int, default=64, help="the generated images' side (default %(default)s)")
    parser.add_argument("--input-size", type=int, default=32,
                        help="the side the network reads (default: the template's, %(default)s)")
    parser.add_argument("--child", choices=("cache", "stream", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder, args.input_size)))
        return 0
    if args.count < 10 * 128:
        parser.error("--count needs at least 1,280 images (10 classes, a batch of 128)")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.count:,} PNGs of "
          f"{args.size}×{args.size} RGB, trained at {args.input_size}×{args.input_size}")
    work = Path(tempfile.mkdtemp(prefix="netbuilder-data-scale-"))
    os.environ["NETBUILDER_CACHE_DIR"] = str(work / "cache")  # a cold cache of its own, removed at the end
    try:
        folder = work / "shapes"
        started = time.perf_counter()
        generate(folder, args.count, args.size)
        print(f"generated the folder in {time.perf_counter() - started:.1f} s")
        cache = run_child("cache", folder, args.input_size)
        print(f"cache build: {cache['load_s']:.1f} s ({cache['images'] / cache['load_s']:,.0f} images/s), "
              f"{cache['cache_bytes'] / 1e6:.0f} MB, peak RSS of that process {cache['peak_rss_gb']:.2f} GB "
              f"(the workers' own not included)")
        results = {mode: run_child(mode, folder, args.input_size) for mode in ("stream", "memory")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for mode, figures in results.items():
        print(f"{mode:>7}: {figures['samples_per_s']:,.0f} samples/s, loading {figures['load_s']:.1f} s, first batch "
              f"{figures['first_batch_s']:.2f} s after the start, peak RSS {figures['peak_rss_gb']:.2f} GB, "
              f"{figures['threads']} torch threads (torch's one-time import of its compiler before: "
              f"{figures['torch_import_s']:.1f} s)")
    print(f"streaming notes: {' '.join(results['stream']['notes'])}")
    figures = {"streaming_vs_memory": results["stream"]["samples_per_s"] / results["memory"]["samples_per_s"],
               "peak_rss_gb": results["stream"]["peak_rss_gb"], "first_batch_s": results["stream"]["first_batch_s"]}
    for name, value in figures.items():
        better = value >= TARGETS[name] if name == "streaming_vs_memory" else value <= TARGETS[name]
        print(f"{name}: {value:.2f} (target {'>=' if name == 'streaming_vs_memory' else '<='} {TARGETS[name]}) "
              f"{'PASS' if better else 'FAIL'}")
    print(" ".join(f"{name}={value:.2f}" for name, value in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
