"""The contract every layer spec keeps (Keras's run_layer_test, for declarative specs).

One row per layer type: a configuration and the shape fed to it. For each row the inferred
shape, parameter count and exported code must agree with what torch really does.
"""

import pytest
import torch

from netbuilder.core.analysis import analyze
from netbuilder.core.codegen import to_python
from netbuilder.core.compile import compile_graph
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.layers import all_specs
from netbuilder.core.project import project_from_bytes, project_to_dict, Project

import json

# type_id -> (params, input kind, input shape (or a list of one per input), number of inputs)
CASES = {
    "input": ({}, "image", (1, 28, 28), 0),
    "output": ({"task": "classification"}, "vector", (10,), 1),
    "conv2d": ({"filters": 8, "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1, "groups": 1}, "image", (4, 13, 11), 1),
    "conv1d": ({"filters": 6, "kernel_size": 5, "padding": "same", "bias": False}, "sequence", (20, 3), 1),
    "maxpool2d": ({"pool_size": 3, "stride": 2, "padding": 1}, "image", (2, 9, 8), 1),
    "avgpool2d": ({"pool_size": 2}, "image", (3, 8, 7), 1),
    "global_avg_pool": ({}, "image", (5, 6, 6), 1),
    "flatten": ({}, "image", (3, 4, 5), 1),
    "dense": ({"units": 7}, "vector", (12,), 1),
    "dropout": ({"rate": 0.3}, "vector", (12,), 1),
    "batchnorm": ({"momentum": 0.2}, "image", (4, 5, 5), 1),
    "layernorm": ({}, "sequence", (6, 8), 1),
    "relu": ({}, "vector", (5,), 1),
    "leaky_relu": ({"negative_slope": 0.2}, "vector", (5,), 1),
    "sigmoid": ({}, "vector", (5,), 1),
    "tanh": ({}, "vector", (5,), 1),
    "gelu": ({}, "vector", (5,), 1),
    "softmax": ({}, "vector", (5,), 1),
    "lstm": ({"hidden_size": 6, "num_layers": 2, "bidirectional": True}, "sequence", (7, 4), 1),
    "gru": ({"hidden_size": 5, "return_sequences": True}, "sequence", (7, 4), 1),
    "simple_rnn": ({"hidden_size": 3, "bidirectional": True, "return_sequences": True}, "sequence", (7, 4), 1),
    "embedding": ({"vocabulary": 50, "dimension": 8}, "tokens", (9,), 1),
    "reshape": ({"target_shape": (2, 6)}, "vector", (12,), 1),
    "add": ({}, "image", (2, 3, 3), 3),
    "concat": ({"axis": -1}, "sequence", (4, 3), 2),
    "conv_transpose2d": ({"filters": 5, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
                         "image", (4, 7, 6), 1),
    "upsample": ({"scale_factor": 3, "mode": "bilinear"}, "image", (2, 4, 5), 1),
    "adaptive_avg_pool2d": ({"output_size": 3}, "image", (2, 7, 8), 1),
    "relu6": ({}, "vector", (5,), 1),
    "silu": ({}, "vector", (5,), 1),
    "hardswish": ({}, "vector", (5,), 1),
    "hardsigmoid": ({}, "vector", (5,), 1),
    "mul": ({}, "image", [(4, 5, 5), (4, 1, 1)], 2),  # a squeeze-and-excite gate broadcast over the image
    "dropout2d": ({"rate": 0.3}, "image", (3, 4, 4), 1),
    "identity": ({}, "vector", (6,), 1),
    "permute": ({"dims": (2, 0, 1)}, "image", (3, 4, 5), 1),
    "multihead_attention": ({"heads": 2}, "sequence", (6, 8), 1),
    "transformer_encoder": ({"heads": 2, "feedforward": 16, "activation": "gelu"}, "sequence", (6, 8), 1),
    "positional_embedding": ({}, "sequence", (6, 8), 1),
}


def test_every_registered_layer_has_a_contract_row():
    assert {spec.type_id for spec in all_specs()} == set(CASES)


def _graph_around(type_id: str) -> tuple[Graph, str, list[str]]:
    """A valid graph feeding `type_id` from Input nodes; returns it, the node id and input ids."""
    params, kind, shape, inputs = CASES[type_id]
    graph = Graph()
    if type_id == "input":
        node = graph.add("input", kind=kind, shape=shape)
        graph.chain(node, graph.add("flatten"), graph.add("dense", units=3), graph.add("output"))
        return graph, node.id, [node.id]
    shapes = shape if isinstance(shape, list) else [shape] * inputs
    sources = [graph.add("input", kind=kind, shape=each) for each in shapes]
    node = graph.add(type_id, **params)
    for source in sources:
        graph.insert_edge(Edge(source.id, node.id))
    if type_id != "output":
        tail = [graph.add("flatten")] if len(analyze(graph).info[node.id].shape) > 1 else []
        graph.chain(node, *tail, graph.add("dense", units=3), graph.add("output"))
    return graph, node.id, [s.id for s in sources]


def _sample(graph: Graph, input_id: str, batch: int = 3) -> torch.Tensor:
    node = graph.nodes[input_id]
    shape = (batch, *node.params["shape"])
    if node.params["kind"] == "tokens":
        return torch.randint(0, 50, shape)
    return torch.randn(shape)


@pytest.mark.parametrize("type_id", sorted(CASES))
def test_inferred_shape_and_parameter_count_match_torch(type_id):
    graph, node_id, input_ids = _graph_around(type_id)
    analysis = analyze(graph)
    assert analysis.ok, analysis.problems
    node, info = graph.nodes[node_id], analysis.info[node_id]
    torch.manual_seed(0)
    inputs = [_sample(graph, i) for i in input_ids]
    if type_id == "input":
        output = inputs[0]
    else:
        module = node.spec.build(node.params, info.in_shapes)
        if module is not None:
            module.eval()
            assert sum(p.numel() for p in module.parameters()) == info.params
        else:
            assert info.params == 0
        output = node.spec.apply(node.params, module, inputs)
    assert tuple(output.shape) == (3, *info.shape)


# Per-sample FLOPs of each contract row counted by hand (a multiply-add is 2 FLOPs, as torch counts),
# for the layers torch's FlopCounterMode does not count: it counts matrix products and convolutions.
HAND_FLOPS = {
    "input": 0, "output": 0, "flatten": 0, "reshape": 0, "dropout": 0, "concat": 0,
    "embedding": 0,  # a table lookup
    "add": 2 * 2 * 3 * 3,  # three 2×3×3 inputs: two additions per value
    "avgpool2d": 3 * 4 * 3 * 2 * 2,  # 3×4×3 outputs, each reading a 2×2 window
    "maxpool2d": 2 * 5 * 4 * 3 * 3,  # 2×5×4 outputs, each comparing a 3×3 window
    "global_avg_pool": 5 * 6 * 6,  # every input value summed once
    "batchnorm": 2 * 4 * 5 * 5,  # a scale and a shift per value
    "layernorm": 5 * 6 * 8,  # mean, variance, normalise, scale, shift per value
    "relu": 5, "leaky_relu": 5, "sigmoid": 4 * 5, "tanh": 4 * 5, "gelu": 8 * 5, "softmax": 3 * 5,
    # fused LSTM kernels escape FlopCounterMode: 4 gates, each a product with [x, h], 7 steps,
    # 2 directions; the second layer reads both directions of the first (12 features)
    "lstm": 7 * 2 * (2 * 4 * 6 * (4 + 6) + 2 * 4 * 6 * (12 + 6)),
    "identity": 0, "permute": 0, "dropout2d": 0,
    "relu6": 2 * 5, "silu": 5 * 5, "hardswish": 4 * 5, "hardsigmoid": 3 * 5,
    "mul": 4 * 5 * 5,  # one product per output value
    "upsample": 8 * 2 * 12 * 15,  # bilinear: four neighbours' multiply-adds per output value
    # 7 rows into 3 windows of 3 (0-3, 2-5, 4-7), 8 columns into 3, 4, 3: every window value summed
    "adaptive_avg_pool2d": 2 * (3 + 3 + 3) * (3 + 4 + 3),
    "positional_embedding": 6 * 8,  # one addition per value
}


@pytest.mark.parametrize("type_id", sorted(CASES))
def test_flops_match_torchs_count_or_a_hand_count(type_id):
    from torch.utils.flop_counter import FlopCounterMode

    graph, node_id, input_ids = _graph_around(type_id)
    node, info = graph.nodes[node_id], analyze(graph).info[node_id]
    if type_id in HAND_FLOPS:
        assert info.flops == HAND_FLOPS[type_id]
        return
    module = node.spec.build(node.params, info.in_shapes)
    sample = _sample(graph, input_ids[0])
    arguments = {"conv1d": lambda x: (x.transpose(1, 2),), "multihead_attention": lambda x: (x, x, x)}
    with FlopCounterMode(display=False) as counter:  # the module alone: torch counts its products
        module(*arguments.get(type_id, lambda x: (x,))(sample))
    assert info.flops * 3 == counter.get_total_flops() > 0  # a batch of 3


@pytest.mark.parametrize("type_id", sorted(CASES))
def test_exported_code_gives_the_compiled_models_outputs(type_id):
    graph, _, input_ids = _graph_around(type_id)
    model = compile_graph(graph)
    namespace: dict = {}
    exec(compile(to_python(graph), "exported.py", "exec"), namespace)
    exported = namespace["Net"]()
    exported.load_state_dict(model.state_dict())  # strict: same names, same shapes
    exported.eval()
    inputs = [_sample(graph, i) for i in input_ids]
    with torch.no_grad():
        assert torch.equal(exported(*inputs), model(*inputs))


@pytest.mark.parametrize("type_id", sorted(CASES))
def test_parameters_survive_a_save_and_load(type_id):
    graph, node_id, _ = _graph_around(type_id)
    text = json.dumps(project_to_dict(Project(graph)))
    loaded = project_from_bytes(text.encode(), "roundtrip").graph
    assert loaded.nodes[node_id].params == graph.nodes[node_id].params
    assert loaded.nodes[node_id].type_id == graph.nodes[node_id].type_id


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.type_id)
def test_defaults_are_within_their_own_limits(spec):
    assert spec.normalize_params({}) == spec.defaults()
    assert spec.title and spec.category and spec.description
