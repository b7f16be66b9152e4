"""Exports of a network built from blocks (a residual block repeated, nested modules inside): each
consumer's outputs equal the compiled model's."""
import importlib.util
import re

import numpy as np
import onnxruntime
import pytest
import torch

from netbuilder.core.block_commands import GroupIntoBlock
from netbuilder.core.blocks import class_name
from netbuilder.core.commands import SetParams
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.project import Project, load_template
from netbuilder.export.exporting import export_project, export_source

TOLERANCE = 1e-5


def residual_digits_project() -> Project:
    """input 1×28×28 -> stem conv -> [conv, relu, conv, add(+skip)] ×2 -> pool -> flatten -> dense 10."""
    graph = Graph()
    x, stem = graph.add("input"), graph.add("conv2d", filters=4, padding="same")
    conv1, relu, conv2, add = (graph.add("conv2d", filters=4, padding="same"), graph.add("relu"),
                               graph.add("conv2d", filters=4, padding="same"), graph.add("add"))
    pool, flatten, dense, out = graph.add("maxpool2d"), graph.add("flatten"), graph.add("dense", units=10), graph.add("output")
    graph.chain(x, stem, conv1, relu, conv2, add, pool, flatten, dense, out)
    graph.insert_edge(Edge(stem.id, add.id))
    group = GroupIntoBlock([conv1.id, relu.id, conv2.id, add.id], "residual")
    group.do(graph)
    SetParams(next(n.id for n in graph.nodes.values() if n.type_id == "block"), {"repeat": 2}).do(graph)
    return Project(graph=graph, name="blocks")


def run_export(name, path):
    if name == "onnx":
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda x: torch.from_numpy(session.run(["output"], {"input1": x.numpy()})[0])
    if name == "torchscript":
        return torch.jit.load(str(path))
    return torch.export.load(str(path)).module()


@pytest.mark.parametrize(("name", "suffix"), [("onnx", ".onnx"), ("torchscript", ".pt"), ("pt2", ".pt2")])
def test_a_network_of_repeated_blocks_exports_with_the_compiled_outputs(name, suffix, tmp_path):
    project = residual_digits_project()
    export_project(project, None, name, tmp_path / f"net{suffix}")
    source = export_source(project, None)
    assert "residual.1.conv2.weight" in source.model.state_dict()
    exported = run_export(name, tmp_path / f"net{suffix}")
    for batch in (1, 5):
        (inputs,) = source.example_inputs(batch)
        with torch.no_grad():
            np.testing.assert_allclose(exported(inputs).numpy(), source.model(inputs).numpy(), atol=TOLERANCE, rtol=0)


def two_output_project() -> Project:
    """input 1×28×28 -> [conv1 -> relu1 -> conv2] whose relu1 and conv2 both feed layers outside:
    a block with two outputs, each pooled, flattened and concatenated into a dense 10."""
    graph = Graph()
    x, conv1, relu = graph.add("input"), graph.add("conv2d", filters=4, padding="same"), graph.add("relu")
    conv2 = graph.add("conv2d", filters=2, padding="same")
    pool_a, pool_b, flat_a, flat_b = graph.add("maxpool2d"), graph.add("maxpool2d"), graph.add("flatten"), graph.add("flatten")
    concat, dense, out = graph.add("concat"), graph.add("dense", units=10), graph.add("output")
    graph.chain(x, conv1, relu, conv2, pool_b, flat_b)
    graph.chain(relu, pool_a, flat_a, concat)
    graph.chain(flat_b, concat, dense, out)
    GroupIntoBlock([conv1.id, relu.id, conv2.id], "branches").do(graph)
    return Project(graph=graph, name="two outputs")


@pytest.mark.parametrize(("name", "suffix"), [("onnx", ".onnx"), ("torchscript", ".pt"), ("pt2", ".pt2")])
def test_a_block_with_two_outputs_exports_with_the_compiled_outputs(name, suffix, tmp_path):
    project = two_output_project()
    export_project(project, None, name, tmp_path / f"net{suffix}")
    source = export_source(project, None)
    exported = run_export(name, tmp_path / f"net{suffix}")
    (inputs,) = source.example_inputs(3)
    with torch.no_grad():
        np.testing.assert_allclose(exported(inputs).numpy(), source.model(inputs).numpy(), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("name", ["6-resnet", "7-mobilenet"])
def test_the_code_export_of_a_block_template_writes_one_class_per_block_and_gives_its_outputs(name, tmp_path):
    project = load_template(name)
    export_project(project, None, "code", tmp_path / "net.py")
    code = (tmp_path / "net.py").read_text()
    classes = re.findall(r"^class (\w+)\(nn.Module\):", code, flags=re.MULTILINE)
    assert sorted(classes) == sorted([*(class_name(block.name) for block in project.graph.blocks.values()), "Net"])
    spec = importlib.util.spec_from_file_location("exported_net", tmp_path / "net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exported = module.load_model()  # the weights written beside it, the compiled model's
    source = export_source(project, None)
    (inputs,) = source.example_inputs(3)
    with torch.no_grad():
        torch.testing.assert_close(exported(inputs), source.model(inputs), atol=TOLERANCE, rtol=0)
