"""How close is the training-memory estimate (netbuilder.core.memory) to what training takes?

For each network (the templates and a few others: a wide MLP with SGD, a deep CNN with RMSprop,
a stacked bidirectional GRU), a fresh process imports torch, then does what a training run does
to memory — compiles the network, builds the optimiser, keeps a copy of the weights, trains a few
batches of random data of the batch size (forward, loss, backward, step, in the trainer's memory
layout) and evaluates one batch of max(batch, 512) without autograd — and reports how far its
peak resident memory (VmHWM, Linux) rose above where it stood before compiling. The estimate
counts the same things (the data aside, which is its own line). Printed: measured, estimated and
their ratio per network, and at the end `estimate_over_measured_min=<x>
estimate_over_measured_max=<y>` (the estimate is meant to err high, within about 2x: target
min >= 1, max <= 2.5; measured on a 2-core AMD EPYC: 1.15 and 1.77).

    python bench/memory_estimate.py            # every network
    python bench/memory_estimate.py --quick    # three networks, smaller batches
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _measure(case: dict) -> dict:
    """Run in a child process: the peak memory of training `case` (a project file and settings)."""
    import torch

    from netbuilder.core.analysis import analyze
    from netbuilder.core.compile import compile_graph, input_nodes
    from netbuilder.core.memory import training_memory
    from netbuilder.core.project import project_from_dict
    from netbuilder.training.metrics import task_loss
    from netbuilder.training.trainer import build_optimizer, training_layout

    torch.set_num_threads(1)
    project = project_from_dict(case["project"], "bench")
    project.training = project.training.replace(**case["settings"])
    graph, analysis = project.graph, analyze(project.graph)
    info = analysis.info[input_nodes(graph, analysis)[0]]
    batch_size = project.training.batch_size
    task = next(node.params["task"] for node in graph.nodes.values() if node.spec.is_sink)
    scores = analysis.info[graph.inputs_of(next(n for n, node in graph.nodes.items() if node.spec.is_sink))[0]].shape

    def batch(size: int) -> torch.Tensor:
        shape = (size, *info.shape)
        return torch.zeros(shape, dtype=torch.long) if info.token_ids else torch.rand(shape)

    x, evaluation_x = batch(batch_size), batch(max(batch_size, 512))
    y = torch.zeros(batch_size, dtype=torch.long) if task == "classification" else torch.rand(batch_size, *scores)
    before = _resident_bytes()
    with open("/proc/self/clear_refs", "w") as clear:  # the peak restarts from here (Linux)
        clear.write("5")
    model = compile_graph(graph, analysis)
    layout = training_layout(model, torch.device("cpu"))
    model.to(memory_format=layout)
    optimizer = build_optimizer(model, project.training)
    best = {name: value.detach().clone() for name, value in model.state_dict().items()}
    model.train()
    for _ in range(3):
        inputs = x.contiguous(memory_format=layout) if layout is torch.channels_last else x
        loss = task_loss(model(inputs), y, task, 0.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        model(evaluation_x)
    peak = _peak_resident_bytes() - before
    estimate = training_memory(graph, analysis, project.training)
    del best  # kept alive until the peak is read, as the trainer keeps it
    return {"measured": peak, "estimated": estimate.total, "described": estimate.describe()}


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_resident_bytes() -> int:
    """This process's peak resident memory (not getrusage's, which a process inherits from the
    one that started it)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _cases(quick: bool) -> list[tuple[str, dict]]:
    from netbuilder.core.graph import Graph
    from netbuilder.core.project import Project, load_template, project_to_dict

    def template(name: str, **settings):
        return name, {"project": project_to_dict(load_template(name)), "settings": settings}

    def built(name: str, graph: Graph, **settings):
        return name, {"project": project_to_dict(Project(graph, name)), "settings": settings}

    wide = Graph()
    wide.chain(wide.add("input", kind="vector", shape=(2048,)), wide.add("dense", units=4096),
               wide.add("relu"), wide.add("dense", units=4096), wide.add("relu"), wide.add("dense", units=10),
               wide.add("output"))
    deep = Graph()
    layers = [deep.add("input", kind="image", shape=(3, 64, 64))]
    for _ in range(4):
        layers += [deep.add("conv2d", filters=32), deep.add("batchnorm"), deep.add("relu")]
    layers += [deep.add("global_avg_pool"), deep.add("dense", units=10), deep.add("output")]
    deep.chain(*layers)
    recurrent = Graph()
    recurrent.chain(recurrent.add("input", kind="sequence", shape=(50, 32)),
                    recurrent.add("gru", hidden_size=128, num_layers=2, bidirectional=True, return_sequences=True),
                    recurrent.add("lstm", hidden_size=64), recurrent.add("dense", units=10), recurrent.add("output"))
    scale = 4 if quick else 1
    cases = [template("1-mlp", batch_size=4096 // scale), template("2-cnn", batch_size=512 // scale),
             built("deep-cnn-rmsprop", deep, batch_size=128 // scale, optimizer="rmsprop")]
    if not quick:
        cases += [template("2-cnn-article", batch_size=512), template("3-lstm-text", batch_size=256),
                  template("4-row-lstm", batch_size=1024), template("5-residual-cnn", batch_size=512),
                  built("wide-mlp-sgd", wide, batch_size=1024, optimizer="sgd"),
                  built("stacked-gru", recurrent, batch_size=256)]
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three networks at smaller batches")
    arguments = parser.parse_args()
    ratios = []
    print(f"{'network':18} {'measured':>10} {'estimated':>10} {'ratio':>6}  estimate")
    for name, case in _cases(arguments.quick):
        this_checkout = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        child = subprocess.run([sys.executable, __file__, "--child"], input=json.dumps(case), text=True,
                               capture_output=True, cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": this_checkout})
        result = json.loads(child.stdout.strip().splitlines()[-1])
        ratio = result["estimated"] / result["measured"]
        ratios.append(ratio)
        print(f"{name:18} {result['measured'] / 2**20:8.1f}MB {result['estimated'] / 2**20:8.1f}MB {ratio:6.2f}  "
              f"{result['described']}", flush=True)
    print(f"estimate_over_measured_min={min(ratios):.2f} estimate_over_measured_max={max(ratios):.2f}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        print(json.dumps(_measure(json.loads(sys.stdin.read()))))
    else:
        main()
