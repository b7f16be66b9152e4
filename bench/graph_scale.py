"""How long does `netbuilder-cli summary` take on very large or adversarially ordered networks?

Writes project files and times the real command (a fresh process: start-up, reading, checking,
analysis and printing) on each:

- a 2,000-node chain whose edges are listed last to first (checking each edge by searching the
  graph made this 90 s);
- a 20,000-node chain in order (finding names by scanning made this 21 s);
- a 20,000-node chain with nodes and edges listed last to first (no order helps the reader).

Then the editor's 5,000-node case from bench/editor.py (open + first paint, one edit).
Target for each summary: under 1 s. The last line is machine-readable:
`reverse_chain_2000_s=… nodes_20000_s=… reversed_20000_s=… editor_5000_open_ms=… editor_5000_edit_ms=…`.

    QT_QPA_PLATFORM=offscreen python bench/graph_scale.py [--repeats 3] [--no-editor]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 1.0


def chain_project(length: int, reverse_edges: bool = False, reverse_nodes: bool = False) -> dict:
    """Input -> ReLU × (length - 2) -> Output as project data, listed in the order asked for."""
    nodes = [{"id": "n0", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": [4]}}]
    nodes += [{"id": f"n{i}", "type": "relu", "name": f"relu{i}", "position": [230.0 * i, 0.0]}
              for i in range(1, length - 1)]
    nodes.append({"id": f"n{length - 1}", "type": "output", "name": "output1", "params": {"task": "regression"},
                  "position": [230.0 * (length - 1), 0.0]})
    edges = [{"source": f"n{i}", "target": f"n{i + 1}"} for i in range(length - 1)]
    return {"format": "netbuilder-project", "version": 1, "name": f"chain of {length}",
            "nodes": nodes[::-1] if reverse_nodes else nodes, "edges": edges[::-1] if reverse_edges else edges}


def time_summary(path: Path, repeats: int) -> float:
    """Best wall time of `netbuilder-cli summary path` over `repeats` runs (the command must succeed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from netbuilder.__main__ import cli_main; raise SystemExit(cli_main())",
                        "summary", str(path)], env=env, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def time_start_up(repeats: int) -> float:
    """The same command's floor: the interpreter starting and importing the summary's modules."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import netbuilder.core.summary, netbuilder.core.project"], env=env,
                       check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per file; the best counts")
    parser.add_argument("--no-editor", action="store_true", help="leave out the editor's 5,000-node case")
    args = parser.parse_args()
    cases = {"reverse_chain_2000_s": chain_project(2000, reverse_edges=True),
             "nodes_20000_s": chain_project(20000),
             "reversed_20000_s": chain_project(20000, reverse_edges=True, reverse_nodes=True)}
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        floor = time_start_up(args.repeats)
        print(f"start-up floor (python + imports): {floor:.3f} s")
        for key, data in cases.items():
            path = Path(folder) / f"{key}.nbproj"
            path.write_text(json.dumps(data))
            figures[key] = time_summary(path, args.repeats)
            print(f"summary, {data['name']:<16} ({key.split('_s')[0]:<18}): {figures[key]:6.3f} s   "
                  f"target {TARGET_S:.0f} s   ratio {figures[key] / TARGET_S:.2f}   "
                  f"(without start-up {figures[key] - floor:.3f} s)")
    if not args.no_editor:
        sys.path.insert(0, str(Path(__file__).parent))
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication

        from editor import LARGE_NODES, large_network_case

        opened, edited = large_network_case(QApplication.instance() or QApplication([]))
        figures[f"editor_{LARGE_NODES}_open_ms"], figures[f"editor_{LARGE_NODES}_edit_ms"] = opened * 1000, edited * 1000
        print(f"editor, {LARGE_NODES} nodes: open + first paint {opened * 1000:.1f} ms, one edit {edited * 1000:.1f} ms")
    print(" ".join(f"{key}={value:.3f}" if key.endswith("_s") else f"{key}={value:.1f}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
