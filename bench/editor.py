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

A ResNet-50-sized network built from blocks (`resnet50_blocks`: 177 layers, 168 of them in 16
bottleneck block cards of 8 block definitions, 4 stages) is saved as a project file and:

- opened in the main window: from `open_path` to the first painted canvas;
- edited once inside the block that 5 cards of stage 3 share (its first convolution's filters, so
  every card's parameter count changes): from pushing the command to the repainted canvas, the
  window's panels (summary, problems, palette, inspector) updated on the way;
- folded and unfolded: every block card selected, unfolded in place (`toggle_unfolded`) and folded
  again, each to the repainted canvas.

    QT_QPA_PLATFORM=offscreen python bench/editor.py [--large-nodes 5000] [--blocks-only]

The last line is machine-readable: `editor_300_open_ms=… editor_300_edit_ms=… editor_5000_open_ms=…
editor_5000_edit_ms=… blocks_open_ms=… blocks_edit_ms=… blocks_unfold_ms=…` (only the blocks figures with
--blocks-only; blocks_unfold_ms is unfolding every block card and folding them again, median).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPointF, QRectF  # noqa: E402
from PySide6.QtGui import QPainterPath  # noqa: E402
from PySide6.QtWidgets import QApplication, QGraphicsScene, QGraphicsView  # noqa: E402

from netbuilder.core.analysis import analyze  # noqa: E402
from netbuilder.core.block_commands import GroupIntoBlock, InsideBlock, new_instance  # noqa: E402
from netbuilder.core.blocks import INPUT_PORT, INSTANCE, OUTPUT_PORT  # noqa: E402
from netbuilder.core.commands import RemoveNodes, SetParams  # noqa: E402
from netbuilder.core.graph import Edge, Graph, Node  # noqa: E402
from netbuilder.core.layout import layered_layout  # noqa: E402
from netbuilder.core.project import Project, save_project  # noqa: E402
from netbuilder.gui.document import Document  # noqa: E402
from netbuilder.gui.editor import GraphScene, GraphView  # noqa: E402

NODES = 300
LARGE_NODES = 5000
VIEW_SIZE = (1400, 900)
OPEN_TARGET_S = 1.0
EDIT_TARGET_S = 0.020
EDITS = 50
BLOCKS_OPEN_TARGET_S = 1.0
BLOCKS_EDIT_TARGET_S = 0.050
BLOCK_EDITS = 20
UNFOLD_ROUNDS = 5
RESNET50_STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))  # bottleneck width, blocks


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


def _bottleneck(graph: Graph, source: Node, width: int, stride: int, project: bool) -> list[Node]:
    """ResNet-50's bottleneck after `source` (1×1, 3×3 with `stride`, 1×1 to 4·width, each with
    BatchNorm; a projection shortcut when `project`, else `source` itself), its layers in order."""
    layers = [graph.add("conv2d", filters=width, kernel_size=1, bias=False), graph.add("batchnorm"), graph.add("relu"),
              graph.add("conv2d", filters=width, kernel_size=3, stride=stride, padding=1, bias=False),
              graph.add("batchnorm"), graph.add("relu"),
              graph.add("conv2d", filters=4 * width, kernel_size=1, bias=False), graph.add("batchnorm")]
    graph.chain(source, *layers)
    shortcut = source
    if project:
        projection = [graph.add("conv2d", filters=4 * width, kernel_size=1, stride=stride, bias=False),
                      graph.add("batchnorm")]
        graph.chain(source, *projection)
        layers += projection
        shortcut = projection[-1]
    merge, relu = graph.add("add"), graph.add("relu")
    graph.chain(layers[7], merge, relu)
    graph.insert_edge(Edge(shortcut.id, merge.id))
    return layers + [merge, relu]


def resnet50_blocks() -> tuple[Graph, str]:
    """ResNet-50's layout at 3×224×224 from blocks: a stem, per stage a downsampling block and a
    block shared by the stage's other cards (16 cards, 8 definitions), pooling and a classifier;
    and the id of stage 3's shared block (5 cards)."""
    graph = Graph()
    stem = [graph.add("input", shape=(3, 224, 224)),
            graph.add("conv2d", filters=64, kernel_size=7, stride=2, padding=3, bias=False), graph.add("batchnorm"),
            graph.add("relu"), graph.add("maxpool2d", pool_size=3, stride=2, padding=1)]
    graph.chain(*stem)
    current, stages = stem[-1], []
    for stage, (width, blocks) in enumerate(RESNET50_STAGES, start=1):
        stages.append([])
        for index in range(blocks):
            stages[-1].append(_bottleneck(graph, current, width, 2 if index == 0 and stage > 1 else 1, index == 0))
            current = stages[-1][-1][-1]
    tail = [graph.add("global_avg_pool"), graph.add("dense", units=1000), graph.add("output")]
    graph.chain(current, *tail)
    shared = ""
    for stage, blocks in enumerate(stages, start=1):  # each block's layers become a card, in data-flow order
        for index, layers in enumerate(blocks):
            if index < 2:
                group = GroupIntoBlock([node.id for node in layers], f"stage{stage}_{'down' if index == 0 else 'block'}")
                group.do(graph)
                shared = group.plan.parts[2].node.params["block"]
                continue
            before, after = graph.inputs_of(layers[0].id)[0], graph.outputs_of(layers[-1].id)
            RemoveNodes([node.id for node in layers]).do(graph)
            add = new_instance(graph, shared, (0.0, 0.0))
            add.do(graph)
            graph.insert_edges([Edge(before, add.node.id), *(Edge(add.node.id, target) for target in after)])
        if stage == 3:
            stage3_shared = shared
    for node_id, position in layered_layout(graph).items():
        graph.move(node_id, position)
    return graph, stage3_shared


class _NoSharing(dict):
    """Analysis's table of block insides that keeps nothing: every card analyses its block again."""

    def __setitem__(self, key, value) -> None:
        pass


def analysis_sharing(graph: Graph, rounds: int = BLOCK_EDITS) -> tuple[float, float]:
    """Median seconds of one analysis of `graph`, with cards of a block fed the same shapes sharing
    one analysis of its insides (as the app does) and with each card analysing its block again,
    alternated in one process."""
    shared, unshared = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        analyze(graph)
        shared.append(time.perf_counter() - start)
        start = time.perf_counter()
        analyze(graph, shared=_NoSharing())
        unshared.append(time.perf_counter() - start)
    return statistics.median(shared), statistics.median(unshared)


def blocks_case(app: QApplication) -> tuple[float, list[float], list[tuple[float, float]], str]:
    """(open in the window, each edit inside stage 3's shared block, each (unfold all, fold all))
    seconds, and what was built."""
    from netbuilder.gui.main_window import MainWindow  # the window only for this case

    graph, shared = resnet50_blocks()
    analysis = analyze(graph)
    assert analysis.ok, analysis.errors
    cards = [node for node in graph.nodes.values() if node.type_id == INSTANCE]
    inside = sum(node.type_id not in (INPUT_PORT, OUTPUT_PORT)
                 for card in cards for node in graph.blocks[card.params["block"]].graph.nodes.values())
    built = (f"{len(graph.nodes) - len(cards) + inside} layers, {inside} of them in {len(cards)} block cards of "
             f"{len(graph.blocks)} definitions; {analysis.total_params:,} parameters")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "resnet50.nbproj"
        save_project(Project(graph=graph, name="ResNet-50 from blocks"), path)
        window = MainWindow(Document(), recovery_dir=Path(folder) / "recovery")
        window.resize(*VIEW_SIZE)
        window.show()
        app.processEvents()
        # the first project opened in a process imports torch (to look for a saved run beside it),
        # seconds that any project pays once: an empty one takes them before the timing
        empty = Path(folder) / "empty.nbproj"
        save_project(Project(), empty)
        start = time.perf_counter()
        window.open_path(empty)
        first_open = time.perf_counter() - start
        start = time.perf_counter()
        window.open_path(path)
        app.processEvents()
        window.view.viewport().grab()
        opened = time.perf_counter() - start
        document = window.document
        definition = document.graph.blocks[shared]
        conv = next(node for node in definition.graph.nodes.values() if node.type_id == "conv2d")
        sharing = [node.id for node in document.graph.nodes.values()
                   if node.type_id == INSTANCE and node.params["block"] == shared]
        edits = []
        for index in range(BLOCK_EDITS):
            filters = 128 if index % 2 == 0 else 256
            start = time.perf_counter()
            document.push(InsideBlock(shared, SetParams(conv.id, {"filters": filters})))
            window.view.viewport().repaint()
            edits.append(time.perf_counter() - start)
            counts = {window.scene.node_item(card).detail_lines()[1] for card in sharing}
            assert len(counts) == 1 and counts == {f"{document.analysis.info[sharing[0]].params:,} params"}, counts
        unfolds = time_unfolding(window)
        window.document.undo_stack.setClean()
        window.close()
    return opened, edits, unfolds, f"{built}; the first open of an empty project, importing torch, took {first_open:.1f} s"


def time_unfolding(window) -> list[tuple[float, float]]:
    """(unfold, fold) seconds of every block card of the window's network, selected together, each
    to the repainted canvas, for each of UNFOLD_ROUNDS rounds."""
    scene = window.scene
    cards = [node.id for node in window.document.graph.nodes.values() if node.type_id == INSTANCE]
    scene.select_nodes(cards)
    rounds = []
    for _ in range(UNFOLD_ROUNDS):
        start = time.perf_counter()
        scene.toggle_unfolded()
        window.view.viewport().repaint()
        unfolded = time.perf_counter() - start
        assert all(scene.unfolded_view(card) is not None for card in cards)
        start = time.perf_counter()
        scene.toggle_unfolded()
        window.view.viewport().repaint()
        rounds.append((unfolded, time.perf_counter() - start))
        assert all(scene.unfolded_view(card) is None for card in cards)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-nodes", type=int, default=LARGE_NODES, help="size of the large network")
    parser.add_argument("--blocks-only", action="store_true", help="only the ResNet-50-sized network of blocks")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    blocks_open, block_edits, unfolds, built = blocks_case(app)
    blocks_edit = statistics.median(block_edits)
    blocks_unfold = statistics.median(unfold + fold for unfold, fold in unfolds)
    print(f"ResNet-50 from blocks ({built}), window {VIEW_SIZE[0]}x{VIEW_SIZE[1]}:")
    print(f"  open in the window to the first painted canvas: {blocks_open * 1000:7.1f} ms   target "
          f"{BLOCKS_OPEN_TARGET_S * 1000:.0f} ms   ratio {blocks_open / BLOCKS_OPEN_TARGET_S:.2f}")
    print(f"  one edit inside the block 5 cards share (median): {blocks_edit * 1000:7.1f} ms   target "
          f"{BLOCKS_EDIT_TARGET_S * 1000:.0f} ms   ratio {blocks_edit / BLOCKS_EDIT_TARGET_S:.2f}   "
          f"(max {max(block_edits) * 1000:.1f} ms over {BLOCK_EDITS} edits)")
    print(f"  unfold every block card and fold them again (median of {UNFOLD_ROUNDS}): {blocks_unfold * 1000:7.1f} ms "
          f"(unfold {statistics.median(u for u, _ in unfolds) * 1000:.1f} ms, "
          f"fold {statistics.median(f for _, f in unfolds) * 1000:.1f} ms)")
    graph, _ = resnet50_blocks()
    shared, unshared = analysis_sharing(graph)
    print(f"  of which one analysis (median): {shared * 1000:.1f} ms with the cards of a block fed the same shapes "
          f"sharing its insides, {unshared * 1000:.1f} ms analysing each card's again (ratio {shared / unshared:.2f})")
    blocks_line = (f"blocks_open_ms={blocks_open * 1000:.1f} blocks_edit_ms={blocks_edit * 1000:.1f} "
                   f"blocks_unfold_ms={blocks_unfold * 1000:.1f}")
    if args.blocks_only:
        print(blocks_line)
        return
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
          f"editor_{args.large_nodes}_open_ms={large_open * 1000:.1f} editor_{args.large_nodes}_edit_ms={large_edit * 1000:.1f} "
          f"{blocks_line}")


if __name__ == "__main__":
    main()
