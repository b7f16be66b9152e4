"""Problems are data: each carries a cause and a remedy, and its fix is one undoable edit that
removes the problem."""
import ast
import itertools
from pathlib import Path

import pytest

from netbuilder.core.analysis import analyze, class_count_problem
from netbuilder.core.commands import copy_fragment
from netbuilder.core.fixes import fix_command
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.layers import ShapeError, all_specs


def _dense_after_conv():
    g = Graph()
    g.chain(g.add("input", shape=(1, 8, 8)), g.add("conv2d", filters=4), dense := g.add("dense", units=3),
            g.add("output"))
    return g, dense


def _lstm_on_tokens():
    g = Graph()
    g.chain(g.add("input", kind="tokens", shape=(12,)), lstm := g.add("lstm"), g.add("dense", units=2),
            g.add("output"))
    return g, lstm


def _softmax_before_output():
    g = Graph()
    g.chain(g.add("input", kind="vector", shape=(4,)), g.add("dense", units=3), soft := g.add("softmax"),
            g.add("output"))
    return g, soft


def _bad_groups():
    g = Graph()
    g.chain(g.add("input", shape=(3, 8, 8)), conv := g.add("conv2d", filters=4, groups=2), g.add("flatten"),
            g.add("dense", units=2), g.add("output"))
    return g, conv


def _pool_padding():
    g = Graph()
    g.chain(g.add("input", shape=(1, 8, 8)), pool := g.add("maxpool2d", padding=2), g.add("flatten"),
            g.add("dense", units=2), g.add("output"))
    return g, pool


def _input_kind():
    g = Graph()
    g.chain(source := g.add("input", kind="image", shape=(10, 4)), g.add("lstm", hidden_size=4),
            g.add("dense", units=2), g.add("output"))
    return g, source


def _concat_axis():
    g = Graph()
    a, b = g.add("input", kind="vector", shape=(4,)), g.add("input", kind="vector", shape=(4,))
    concat = g.add("concat", axis=2)
    g.insert_edge(Edge(a.id, concat.id))
    g.insert_edge(Edge(b.id, concat.id))
    g.chain(concat, g.add("dense", units=2), g.add("output"))
    return g, concat


def _dangling():
    g = Graph()
    g.chain(source := g.add("input", kind="vector", shape=(4,)), g.add("dense", units=2), g.add("output"))
    loose = g.add("relu")
    g.insert_edge(Edge(source.id, loose.id))
    return g, loose


def _name_clashing_with_torch():
    """As a project saved before the name rule knew "compile" opens."""
    g = Graph()
    g.chain(g.add("input", kind="vector", shape=(4,)), dense := g.add("dense", "compile", units=2), g.add("output"))
    return g, dense


FIXABLE_GRAPHS = [  # (a graph with one problem on one node, the title of its fix)
    (_dense_after_conv, "Insert Flatten before it"),
    (_lstm_on_tokens, "Insert an Embedding before it"),
    (_softmax_before_output, "Remove the Softmax"),
    (_bad_groups, "Set groups to 1"),
    (_pool_padding, "Set padding to 1"),
    (_input_kind, "Set the kind to sequence"),
    (_concat_axis, "Set axis to 0"),
    (_dangling, "Delete it"),
    (_name_clashing_with_torch, "Rename it to compile_1"),
]


@pytest.mark.parametrize("make, title", FIXABLE_GRAPHS)
def test_a_fix_removes_its_problem_and_undo_restores_the_graph(make, title):
    graph, node = make()  # as the user asked to train: unfinished wiring then offers its fix too
    before = copy_fragment(graph, list(graph.nodes)), list(graph.edges)
    (problem,) = analyze(graph, training=True).problems_of(node.id)
    assert problem.fix.title == title and problem.cause and problem.remedy
    command = fix_command(graph, problem.fix)
    command.do(graph)
    after = analyze(graph, training=True)
    assert not after.problems and after.ok
    command.undo(graph)
    assert (copy_fragment(graph, list(graph.nodes)), list(graph.edges)) == before
    command.do(graph)  # redo gives the same fixed graph
    assert not analyze(graph, training=True).problems


def test_the_class_count_fix_sets_the_last_dense_through_an_activation():
    g = Graph()
    g.chain(g.add("input", kind="vector", shape=(4,)), dense := g.add("dense", units=3), g.add("relu"),
            output := g.add("output"))
    analysis = analyze(g)
    assert class_count_problem(g, analysis, 3) is None
    problem = class_count_problem(g, analysis, 10)
    assert problem.node_id == output.id and problem.remedy == f'set the units of Dense "{dense.name}" to 10'
    assert problem.severity == "error" and problem.fix.title == "Set units to 10"
    command = fix_command(g, problem.fix)
    command.do(g)
    assert g.nodes[dense.id].params["units"] == 10 and class_count_problem(g, analyze(g), 10) is None
    command.undo(g)
    assert g.nodes[dense.id].params["units"] == 3


_SHAPES = [(5,), (1,), (6, 3), (3, 7, 7), (2, 2, 2, 2)]


@pytest.mark.parametrize("spec", all_specs(), ids=lambda spec: spec.type_id)
def test_every_layer_problem_carries_a_cause_and_a_remedy(spec):
    """Feed each layer every shape and odd parameters it might meet: whatever it refuses, it says
    why and what to do."""
    refused = 0
    for params in _odd_params(spec):
        inputs = range(max(spec.min_inputs, 1), (spec.max_inputs or 3) + 1) if spec.max_inputs != 0 else [0]
        for count in inputs:
            for in_shapes in itertools.product(_SHAPES, repeat=count):
                try:
                    spec.infer_shape(params, list(in_shapes))
                except ShapeError as error:
                    refused += 1
                    assert error.cause.strip() and error.remedy.strip()
    assert refused or spec.type_id in {"flatten", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax",
                                       "dropout", "layernorm", "relu6", "silu", "hardswish", "hardsigmoid",
                                       "identity"}


def _odd_params(spec):
    defaults = spec.defaults()
    yield defaults
    for param in spec.params:
        if param.choices:
            for choice in param.choices:
                yield {**defaults, param.name: choice}
        elif param.kind is int and param.max is not None:
            yield {**defaults, param.name: int(param.max)}
        elif param.kind is tuple:
            yield {**defaults, param.name: (4, 4)}


_ROLE_TYPES = ("input", "output", "softmax")


def test_no_code_outside_the_specs_asks_whether_a_layer_is_an_input_output_or_softmax():
    package = Path(__file__).parents[2] / "netbuilder"
    offenders = []
    for path in package.rglob("*.py"):
        if "layers" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            parts = (node.left, *node.comparators) if isinstance(node, ast.Compare) else ()
            if any(isinstance(part, ast.Attribute) and part.attr == "type_id" for part in parts) and \
                    any(isinstance(part, ast.Constant) and part.value in _ROLE_TYPES for part in parts):
                offenders.append(f"{path.relative_to(package)}:{node.lineno}")
    assert offenders == []


def test_spare_class_scores_are_a_warning_whose_fix_sets_the_units():
    """A Dense with 64 units before a classifier of 10 classes trains a 64-way classifier: the
    analysis says so when it knows the class count, with the one-click fix."""
    g = Graph()
    g.chain(g.add("input", kind="vector", shape=(4,)), dense := g.add("dense", units=64), output := g.add("output"))
    assert not analyze(g).problems  # the class count unknown: nothing to compare
    (problem,) = analyze(g, classes=10).problems
    assert (problem.node_id, problem.severity, problem.fix.title) == (output.id, "warning", "Set units to 10")
    assert problem.cause == "gives 64 class scores but the data has 10 classes"
    fix_command(g, problem.fix).do(g)
    assert g.nodes[dense.id].params["units"] == 10 and not analyze(g, classes=10).problems


def test_a_regression_output_is_not_compared_with_a_class_count():
    g = Graph()
    g.chain(g.add("input", kind="vector", shape=(4,)), g.add("dense", units=3), output := g.add("output"))
    g.replace_params(output.id, {"task": "regression"})
    assert not analyze(g, classes=10).problems
