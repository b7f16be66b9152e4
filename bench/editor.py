"""How fast is the node editor on a large network?

A generated 300-node graph (residual-style blocks of convolutions, normalisation, activations
and Add merges; every node analyses without a problem) is opened and edited:

- open: auto-layout + Document (first analysis) + GraphScene + first paint of a 1400×900 view;
- edit: one parameter of the Input (its shape, so every edge label downstream changes) pushed
  as an undoable SetParams: re-analysis of all nodes, item updates and a synchronous repaint;
  once with labels keeping their width (28×28 <-> 32×32) and once with every label resized.

A 5,000-node graph of the same blocks is then opened and edited once, to show that opening
and editing grow linearly with the network (`large_network_case`, which bench/graph_scale.py
reports too).

For context the same process also times raw Qt: 500 rectangles + 500 Bézier curves created
and painted, the floor any QGraphicsView canvas stands on.

    QT_QPA_PLATFORM=offscreen python bench/editor.py [--large-nodes 5000]

The last line is machine-readable: `editor_300_open_ms=… editor_300_edit_ms=… editor_5000_open_ms=…
editor_5000_edit_ms=…`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPointF, QRectF  # noqa: E402
from PySide6.QtGui import QPainterPath  # noqa: E402
from PySide6.QtWidgets import QApplication, QGraphicsScene, QGraphicsView  # noqa: E402

from netbuilder.core.analysis import analyze  # noqa: E402
from netbuilder.core.commands import SetParams  # noqa: E402
from netbuilder.core.graph import Graph  # noqa: E402
from netbuilder.core.layout import layered_layout  # noqa: E402
from netbuilder.core.project import Project  # noqa: E402
from netbuilder.gui.document import Document  # noqa: E402
from netbuilder.gui.editor import GraphScene, GraphView  # noqa: E402

NODES = 300
LARGE_NODES = 5000
VIEW_SIZE = (1400, 900)
OPEN_TARGET_S = 1.0
EDIT_TARGET_S = 0.020
EDITS = 50


def generated_graph(size: int = NODES) -> Graph:
    """Input -> blocks of conv/batchnorm/activation with a two-branch Add -> ... -> Output."""
    graph = Graph()
    current = graph.add("input", shape=(1, 28, 28))
    activations = ("relu", "gelu", "tanh", "leaky_relu", "sigmoid")
    block = 0
    while len(graph.nodes) + 9 + 4 <= size:
        conv = graph.add("conv2d", filters=8, kernel_size=3, padding="same")
        norm = graph.add("batchnorm")
        act = graph.add(activations[block % len(activations)])
        graph.chain(current, conv, norm, act)
        left = graph.add("conv2d", filters=8, kernel_size=3, padding="same")
        left_act = graph.add("relu")
        right = graph.add("conv2d", filters=8, kernel_size=1)
        right_drop = graph.add("dropout", rate=0.1)
        merge = graph.add("add")
        graph.chain(act, left, left_act, merge)
        graph.chain(act, right, right_drop, merge)
        current = merge
        block += 1
    tail = [graph.add("global_avg_pool"), graph.add("flatten"), graph.add("dense", units=10)]
    while len(graph.nodes) < size - 1:
        tail.append(graph.add("dropout", rate=0.1))
    graph.chain(current, *tail, graph.add("output"))
    return graph


def open_editor(graph: Graph, app: QApplication) -> tuple[Document, GraphScene, GraphView, float]:
    start = time.perf_counter()
    for node_id, position in layered_layout(graph).items():
        graph.nodes[node_id].position = position
    document = Document(Project(graph=graph))
    scene = GraphScene(document)
    view = GraphView(scene)
    view.resize(*VIEW_SIZE)
    view.show()
    view.set_zoom(1.0)
    view.centerOn(scene.itemsBoundingRect().left() + VIEW_SIZE[0] / 2, 0)
    app.processEvents()
    view.grab()
    return document, scene, view, time.perf_counter() - start


def time_edits(document: Document, view: GraphView, sizes: tuple[int, int],
               edits: int = EDITS) -> tuple[list[float], list[float]]:
    """(whole edit, analysis alone) seconds for each of `edits` changes of the input's size,
    alternating between `sizes`."""
    source = next(n for n in document.graph.nodes.values() if n.spec.is_source)
    whole, analysis = [], []
    for index in range(edits):
        size = sizes[(index + 1) % 2]
        start = time.perf_counter()
        document.push(SetParams(source.id, {"shape": (1, size, size)}))
        view.viewport().repaint()
        whole.append(time.perf_counter() - start)
        start = time.perf_counter()
        analyze(document.graph)
        analysis.append(time.perf_counter() - start)
    return whole, analysis


def large_network_case(app: QApplication, size: int = LARGE_NODES) -> tuple[float, float]:
    """(open, one edit) seconds for a generated network of `size` nodes."""
    graph = generated_graph(size)
    document, _, view, opened = open_editor(graph, app)
    whole, _ = time_edits(document, view, (28, 32), edits=1)
    view.close()
    return opened, whole[0]


def raw_qt_baseline(app: QApplication) -> float:
    start = time.perf_counter()
    scene = QGraphicsScene()
    for index in range(500):
        x, y = index % 25 * 230.0, index // 25 * 130.0
        scene.addRect(QRectF(x, y, 140, 82))
        path = QPainterPath(QPointF(x + 140, y + 41))
        path.cubicTo(QPointF(x + 185, y + 41), QPointF(x + 185, y + 171), QPointF(x + 230, y + 171))
        scene.addPath(path)
    view = QGraphicsView(scene)
    view.resize(*VIEW_SIZE)
    view.show()
    app.processEvents()
    view.grab()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-nodes", type=int, default=LARGE_NODES, help="size of the large network")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    graph = generated_graph()
    problems = analyze(graph).problems
    assert not problems, problems
    document, scene, view, opened = open_editor(graph, app)
    whole, analysis = time_edits(document, view, (28, 32))
    widening, _ = time_edits(document, view, (28, 100))
    view.zoom_to_fit()
    start = time.perf_counter()
    view.viewport().repaint()
    fitted_paint = time.perf_counter() - start
    baseline = raw_qt_baseline(app)
    edit = statistics.median(whole)
    print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges; view {VIEW_SIZE[0]}x{VIEW_SIZE[1]} "
          f"({os.environ['QT_QPA_PLATFORM']})")
    print(f"open + first paint at 100%:   {opened * 1000:7.1f} ms   target {OPEN_TARGET_S * 1000:.0f} ms"
          f"   ratio {opened / OPEN_TARGET_S:.2f}")
    print(f"edit one parameter (median):  {edit * 1000:7.1f} ms   target {EDIT_TARGET_S * 1000:.0f} ms"
          f"   ratio {edit / EDIT_TARGET_S:.2f}   (max {max(whole) * 1000:.1f} ms over {EDITS} edits)")
    print(f"  the same when every label changes width (28 <-> 100): {statistics.median(widening) * 1000:.1f} ms "
          f"(median), ratio {statistics.median(widening) / EDIT_TARGET_S:.2f}")
    print(f"  of which core analysis:     {statistics.median(analysis) * 1000:7.1f} ms (median)")
    print(f"repaint of the whole graph fitted in the view ({view.zoom:.2f}x): {fitted_paint * 1000:.1f} ms")
    print(f"raw Qt baseline, 500 rects + 500 curves created and painted: {baseline * 1000:.1f} ms")
    large_open, large_edit = large_network_case(app, args.large_nodes)
    scale = args.large_nodes / len(graph.nodes)
    print(f"{args.large_nodes} nodes: open + first paint {large_open * 1000:.1f} ms, one edit {large_edit * 1000:.1f} ms "
          f"({scale:.1f} times the nodes: open {large_open / opened:.1f} times, edit {large_edit / edit:.1f} times "
          f"the {len(graph.nodes)}-node figures)")
    print(f"editor_{len(graph.nodes)}_open_ms={opened * 1000:.1f} editor_{len(graph.nodes)}_edit_ms={edit * 1000:.1f} "
          f"editor_{args.large_nodes}_open_ms={large_open * 1000:.1f} editor_{args.large_nodes}_edit_ms={large_edit * 1000:.1f}")


if __name__ == "__main__":
    main()
