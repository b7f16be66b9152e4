"""Node names become attributes and variables of the PyTorch model and of the exported code: a name
the rules accept works there, a name they refuse is refused with a reason and a name that works,
and a project saved with a name the rules learned later still opens, with a fix."""
import builtins
import json
import keyword
import unicodedata

import pytest
import torch
import torch.fx
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.analysis import analyze
from netbuilder.core.codegen import to_python
from netbuilder.core.commands import Rename
from netbuilder.core.compile import compile_graph
from netbuilder.core.fixes import fix_command
from netbuilder.core.graph import TORCH_ATTRIBUTES, Graph, GraphError, name_clash, name_problem
from netbuilder.core.layers import all_specs
from netbuilder.core.project import load_template, project_from_bytes, project_to_dict
from netbuilder.common.text import SHOWN_CHARACTERS

from tests.core.test_layer_contract import _graph_around


def _public(obj) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def test_the_reserved_names_cover_every_attribute_of_the_models_torch_builds():
    """Fails when a torch upgrade adds an attribute: add it to TORCH_ATTRIBUTES."""
    compiled = compile_graph(load_template("2-cnn").graph)
    root = torch.fx.GraphModule(torch.nn.Module(), torch.fx.Graph())
    own = {name for name, _ in compiled.named_children()}
    missing = (_public(torch.nn.Module()) | _public(root) | _public(compiled) - own) - TORCH_ATTRIBUTES
    assert missing == set()


def _module_namespaces() -> set[str]:
    """Every attribute name of the modules the specs compile to, of the compiled model and of
    Python's builtins: the names a node name could collide with."""
    names = set(dir(builtins)) | set(dir(torch.nn.Module())) | set(dir(compile_graph(load_template("2-cnn").graph)))
    for spec in all_specs():
        graph, node_id, _ = _graph_around(spec.type_id)
        node = graph.nodes[node_id]
        module = node.spec.build(node.params, analyze(graph).info[node_id].in_shapes)
        names |= set(dir(module)) if module is not None else set()
    return names


def _check_names_work(names: list[str]) -> None:
    """A network whose layers carry `names` compiles, exports, and the exported Net loads the
    compiled weights (strictly) and computes the same outputs."""
    graph = Graph()
    layers = [graph.add("dense", name, units=3) for name in names]
    graph.chain(graph.add("input", "x", kind="vector", shape=(3,)), *layers, graph.add("output", task="regression"))
    model = compile_graph(graph)
    namespace: dict = {}
    exec(compile(to_python(graph), "exported.py", "exec"), namespace)
    exported = namespace["Net"]()
    exported.load_state_dict(model.state_dict())
    sample = torch.randn(2, 3)
    with torch.no_grad():
        assert torch.equal(exported(sample), model(sample))


def test_every_name_of_the_torch_namespaces_is_refused_or_works():
    accepted = sorted(name for name in _module_namespaces() - {"x"}
                      if not name_problem(name) and not name_clash(name))
    assert len(accepted) > 100  # weight, bias, in_features, hidden_size, print, sum, ...
    for start in range(0, len(accepted), 60):
        _check_names_work(accepted[start:start + 60])


@pytest.mark.parametrize("name", ["compile", "meta", "__class__", "bfloat16", "training", "forward", "state_dict",
                                  "_modules", "code", "graph", "T_destination", "self", "torch", "nn", "_x"])
def test_names_that_break_torch_are_refused_on_rename_with_one_that_works(name):
    graph = load_template("1-mlp").graph
    node_id = next(n.id for n in graph.nodes.values() if n.type_id == "dense")
    with pytest.raises(GraphError, match="choose another name, such as ") as refused:
        Rename(node_id, name).do(graph)
    suggestion = str(refused.value).rsplit("such as ", 1)[1]
    Rename(node_id, suggestion).do(graph)
    assert analyze(graph).ok


@pytest.mark.parametrize("name", ["class", "None", "lambda"])
def test_keywords_are_refused_with_a_name_that_works(name):
    graph = load_template("1-mlp").graph
    node_id = next(n.id for n in graph.nodes.values() if n.type_id == "dense")
    with pytest.raises(GraphError, match=f'"{name}" is a Python keyword: choose another name, such as {name}_1'):
        Rename(node_id, name).do(graph)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.sampled_from(sorted(TORCH_ATTRIBUTES | set(keyword.kwlist))),
                 st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,70}", fullmatch=True)))
def test_any_typed_name_is_taken_or_refused_with_a_short_printable_reason(name):
    graph = load_template("1-mlp").graph
    node = next(n for n in graph.nodes.values() if n.type_id == "dense")
    try:
        Rename(node.id, name).do(graph)
    except GraphError as error:
        message = str(error)
        assert len(message) <= SHOWN_CHARACTERS + 150 and _safe_to_print(message)
        assert node.name == "fc1"
        return
    assert node.name == name
    assert analyze(graph).ok


def _safe_to_print(text: str) -> bool:
    """No control or format characters (terminal escapes, bidi overrides), no lone surrogates."""
    return all(unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn") for c in text)


def test_a_project_saved_with_a_name_torch_now_refuses_opens_and_its_fix_renames_it():
    data = project_to_dict(load_template("1-mlp"))
    dense = next(node for node in data["nodes"] if node["type"] == "dense")
    dense["name"] = "compile"
    project = project_from_bytes(json.dumps(data).encode(), "old.nbproj")

    (problem,) = analyze(project.graph).errors
    assert problem.node_id == dense["id"]
    assert problem.message == ('Dense "compile" has a name that clashes with an attribute every PyTorch model has '
                               "(model.compile): rename it, for example to compile_1")
    fix_command(project.graph, problem.fix).do(project.graph)
    assert project.graph.nodes[dense["id"]].name == "compile_1"
    assert analyze(project.graph).ok
    compile_graph(project.graph)


def test_a_name_suggested_for_a_clash_is_free_and_passes_both_rules():
    graph = Graph()
    for name in ("compile_1", "x", "compile"):
        graph.add("relu", name)
    assert graph.usable_name("compile") == "compile_2"
    assert graph.usable_name("_x") == "x_1"
    assert graph.usable_name("__class__") == "class__"
    assert graph.usable_name("_9lives") == "layer_9lives"
    assert graph.usable_name("_" * 70) == "layer"
    for name in ("compile", "_x", "__class__", "_9lives", "_" * 70, "c" * 64):
        suggestion = graph.usable_name(name)
        assert not name_problem(suggestion) and not name_clash(suggestion) and not graph.node_named(suggestion)


def test_the_exported_docstring_cannot_be_ended_by_the_projects_name():
    title = 'net"""; import os; os.system("echo owned") #\\' + "\x1b[2J\ud800" + "y" * 500
    source = to_python(load_template("1-mlp").graph, title=title)
    namespace: dict = {"__name__": "exported"}
    exec(compile(source, "exported.py", "exec"), namespace)
    assert namespace["__doc__"].startswith('net"""; import os; os.system("echo owned") #\\')
    assert len(source.splitlines()[0]) < SHOWN_CHARACTERS + 100 and _safe_to_print(source.splitlines()[0])
