"""The layers of modern networks working together: a squeeze-and-excite CNN, a small self-attention
classifier and a convolutional autoencoder, each drawn as a graph, checked against the same network
written by hand in PyTorch (parameter count and outputs with the same weights), trained one step,
exported; and the problems these layers raise, with their fixes."""
import numpy as np
import pytest
import torch
from torch import nn

from netbuilder.__main__ import main as netbuilder_cli
from netbuilder.core.analysis import analyze
from netbuilder.core.codegen import to_python
from netbuilder.core.compile import compile_graph
from netbuilder.core.fixes import fix_command
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.layers import ParamError, get_spec
from netbuilder.core.project import Project, save_project
from netbuilder.training.metrics import task_loss


def squeeze_and_excite() -> Graph:
    """Conv → ReLU, its channels scaled by a gate: pooled, squeezed to 4, excited back to 16."""
    g = Graph()
    body = [g.add("input", kind="image", shape=(3, 16, 16)), g.add("conv2d", "conv", filters=16, padding="same"),
            features := g.add("relu")]
    gate = [g.add("global_avg_pool"), g.add("dense", "squeeze", units=4), g.add("relu"),
            g.add("dense", "excite", units=16), g.add("hardsigmoid"), shaped := g.add("reshape", target_shape=(16, 1, 1))]
    g.chain(*body)
    g.chain(features, *gate)
    scaled = g.add("mul")
    g.insert_edge(Edge(features.id, scaled.id))
    g.insert_edge(Edge(shaped.id, scaled.id))
    g.chain(scaled, g.add("global_avg_pool"), g.add("dense", "fc", units=10), g.add("output"))
    return g


class SqueezeAndExcite(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.squeeze = nn.Linear(16, 4)
        self.excite = nn.Linear(4, 16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        gate = nn.functional.hardsigmoid(self.excite(torch.relu(self.squeeze(x.mean(dim=(2, 3))))))
        return self.fc((x * gate[:, :, None, None]).mean(dim=(2, 3)))


def attention_classifier() -> Graph:
    """Token ids → embedding + learned positions → a Transformer encoder layer → self-attention →
    Dense on every step → Flatten → 3 class scores."""
    g = Graph()
    g.chain(g.add("input", kind="tokens", shape=(12,)), g.add("embedding", "embed", vocabulary=50, dimension=16),
            g.add("positional_embedding", "positions"),
            g.add("transformer_encoder", "encoder", heads=4, feedforward=32),
            g.add("multihead_attention", "attention", heads=2), g.add("dense", "project", units=8),
            g.add("flatten"), g.add("dense", "fc", units=3), g.add("output"))
    return g


class AttentionClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.positions = nn.Parameter(torch.zeros(12, 16))
        self.encoder = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
        self.attention = nn.MultiheadAttention(16, 2, batch_first=True)
        self.project = nn.Linear(16, 8)
        self.fc = nn.Linear(12 * 8, 3)

    def forward(self, tokens):
        x = self.encoder(self.embed(tokens) + self.positions)
        x = self.attention(x, x, x, need_weights=False)[0]
        return self.fc(self.project(x).flatten(1))


def autoencoder() -> Graph:
    """28×28 → conv, depthwise conv, pooled twice to 7×7 → a transposed convolution and an
    upsampling back to 28×28 → one channel, trained to give back its input."""
    g = Graph()
    g.chain(g.add("input", kind="image", shape=(1, 28, 28)), g.add("conv2d", "enc1", filters=8, padding="same"),
            g.add("relu6"), g.add("maxpool2d"), g.add("conv2d", "enc2", filters=8, padding="same", groups=8),
            g.add("hardswish"), g.add("maxpool2d"), g.add("conv_transpose2d", "dec1", filters=8),
            g.add("silu"), g.add("upsample", mode="bilinear"), g.add("dropout2d", rate=0.1),
            g.add("conv2d", "dec2", filters=1, padding="same"), g.add("identity"), g.add("output", task="reconstruction"))
    return g


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 8, 3, padding=1)
        self.enc2 = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.dec1 = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.dec2 = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, x):
        x = nn.functional.max_pool2d(nn.functional.relu6(self.enc1(x)), 2)
        x = nn.functional.max_pool2d(nn.functional.hardswish(self.enc2(x)), 2)
        x = nn.functional.interpolate(nn.functional.silu(self.dec1(x)), scale_factor=2, mode="bilinear")
        return self.dec2(x)


EXAMPLES = {"squeeze_and_excite": (squeeze_and_excite, SqueezeAndExcite, lambda: torch.randn(4, 3, 16, 16)),
            "attention_classifier": (attention_classifier, AttentionClassifier, lambda: torch.randint(0, 50, (4, 12))),
            "autoencoder": (autoencoder, Autoencoder, lambda: torch.randn(4, 1, 28, 28))}


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_example_matches_the_network_written_by_hand(name):
    build_graph, reference_class, sample = EXAMPLES[name]
    graph = build_graph()
    analysis = analyze(graph)
    assert analysis.ok, analysis.problems
    model, reference = compile_graph(graph, analysis), reference_class().eval()
    assert analysis.total_params == sum(p.numel() for p in model.parameters()) \
        == sum(p.numel() for p in reference.parameters())
    weights = {key.removesuffix(".weight") if key.startswith("positions") else key: value
               for key, value in model.state_dict().items()}
    reference.load_state_dict(weights)  # strict: the same layers under the same names
    x = sample()
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", EXAMPLES)
def test_one_training_step_changes_every_weight(name):
    build_graph, _, sample = EXAMPLES[name]
    graph = build_graph()
    task = next(node.params["task"] for node in graph.nodes.values() if node.type_id == "output")
    torch.manual_seed(0)
    model, x = compile_graph(graph), sample()
    before = {key: value.clone() for key, value in model.named_parameters()}
    model.train()
    outputs = model(x)
    targets = x if task == "reconstruction" else torch.randint(0, outputs.shape[1], (len(x),))
    task_loss(outputs, targets, task).backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    unchanged = [key for key, value in model.named_parameters() if torch.equal(value, before[key])]
    assert not unchanged


@pytest.mark.parametrize("name", EXAMPLES)
def test_torchscript_and_onnx_exports_give_the_networks_outputs(name, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    build_graph, _, sample = EXAMPLES[name]
    graph = build_graph()
    save_project(Project(graph, name=name), tmp_path / f"{name}.nbproj")
    for export_format, file_name in (("torchscript", "net.pt"), ("onnx", "net.onnx")):
        assert netbuilder_cli(["export", str(tmp_path / f"{name}.nbproj"), "--format", export_format,
                               "--out", str(tmp_path / file_name)]) == 0
    scripted = torch.jit.load(str(tmp_path / "net.pt"))
    model = compile_graph(graph)
    model.load_state_dict(scripted.state_dict())
    session = onnxruntime.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        x = sample()[:1].expand(batch, *sample().shape[1:]).contiguous()
        with torch.no_grad():
            expected = model(x)
            torch.testing.assert_close(scripted(x), expected, atol=1e-5, rtol=1e-5)
        (onnx_outputs,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        np.testing.assert_allclose(onnx_outputs, expected.numpy(), atol=1e-4, rtol=1e-4)


def test_the_code_export_reads_as_pytorch():
    code = to_python(autoencoder()) + to_python(attention_classifier()) + to_python(squeeze_and_excite())
    for line in ("self.enc2 = nn.Conv2d(8, 8, kernel_size=3, groups=8, padding=1)",
                 "self.dec1 = nn.ConvTranspose2d(8, 8, kernel_size=2, stride=2)",
                 "nn.Upsample(scale_factor=2, mode='bilinear')", "nn.Dropout2d(0.1)", "nn.Identity()",
                 "nn.ReLU6()", "nn.Hardswish()", "nn.SiLU()", "nn.Hardsigmoid()",
                 "self.positions = nn.Embedding(12, 16)", "positions = embed + self.positions.weight",
                 "nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.1, batch_first=True)",
                 "self.attention = nn.MultiheadAttention(16, 2, batch_first=True)",
                 "attention = self.attention(encoder, encoder, encoder, need_weights=False)[0]",
                 "mul1 = relu1 * reshape1"):
        assert line in code


def _problem(graph: Graph, node_id: str):
    (problem,) = [p for p in analyze(graph).errors if p.node_id == node_id]
    return problem


def _fixed(graph: Graph, problem) -> bool:
    fix_command(graph, problem.fix).do(graph)
    return analyze(graph).ok


def _chain(*layers, shape=(8, 10, 10), kind="image") -> tuple[Graph, str]:
    """An Input of `shape`, the layers, Flatten, Dense and an Output; the id of the last layer given."""
    g = Graph()
    nodes = [g.add(type_id, **params) for type_id, params in layers]
    g.chain(g.add("input", kind=kind, shape=shape), *nodes, g.add("flatten"), g.add("dense", units=2), g.add("output"))
    return g, nodes[-1].id


def test_a_depthwise_convolution_is_groups_equal_to_channels():
    g, conv = _chain(("conv2d", {"filters": 8, "groups": 8}))
    analysis = analyze(g)
    assert analysis.ok and analysis.info[conv].params == 8 * 3 * 3 + 8


@pytest.mark.parametrize("filters, groups, message, fixed", [
    (12, 8, "groups 8 must divide both the 8 input channels and the 12 filters (groups = channels makes it "
            "depthwise): use a multiple of 8 filters, such as 16", ("filters", 16)),
    (12, 3, "groups 3 must divide both the 8 input channels and the 12 filters: choose groups that divide "
            "both, such as 2", ("groups", 2)),
])
def test_groups_that_do_not_divide_are_a_problem_fixed_in_one_click(filters, groups, message, fixed):
    g, conv = _chain(("conv2d", {"filters": filters, "groups": groups}))
    problem = _problem(g, conv)
    assert problem.message.endswith(message)
    assert _fixed(g, problem) and g.nodes[conv].params[fixed[0]] == fixed[1]


def test_attention_heads_must_divide_the_features():
    g, attention = _chain(("multihead_attention", {"heads": 4}), shape=(5, 10), kind="sequence")
    problem = _problem(g, attention)
    assert problem.message.endswith("the 10 features must divide by the 4 heads: use a number of heads that "
                                    "divides 10, such as 2")
    assert _fixed(g, problem) and g.nodes[attention].params["heads"] == 2


def test_a_transposed_convolutions_output_padding_must_stay_below_its_stride():
    g, deconv = _chain(("conv_transpose2d", {"stride": 2, "output_padding": 2}))
    problem = _problem(g, deconv)
    assert problem.cause == "output padding 2 must be less than the stride 2"
    assert _fixed(g, problem) and analyze(g).info[deconv].shape == (32, 21, 21)


def test_permute_names_the_axes_it_needs():
    g, permute = _chain(("permute", {"dims": (1, 0)}))
    problem = _problem(g, permute)
    assert problem.cause == "dims 1, 0 must list each of the 3 axes of 8×10×10 (0 to 2) once"
    assert _fixed(g, problem) and analyze(g).info[permute].shape == (10, 10, 8)


def _two_inputs_into(type_id: str, first, second) -> tuple[Graph, str]:
    g = Graph()
    node = g.add(type_id)
    for shape in (first, second):
        g.insert_edge(Edge(g.add("input", kind="image" if len(shape) == 3 else "vector", shape=shape).id, node.id))
    g.chain(node, g.add("flatten"), g.add("dense", units=2), g.add("output"))
    return g, node.id


def test_mul_broadcasts_a_gate_and_says_what_cannot_broadcast():
    g, mul = _two_inputs_into("mul", (4, 5, 5), (4, 1, 1))
    assert analyze(g).info[mul].shape == (4, 5, 5)
    g, mul = _two_inputs_into("mul", (4, 5, 5), (3, 1, 1))
    assert _problem(g, mul).message.endswith("cannot multiply 4×5×5, 3×1×1: on axis 0 the sizes 3 and 4 differ, "
                                             "and only a size of 1 is repeated to match: give the inputs equal "
                                             "sizes, or 1, on every axis")
    g, mul = _two_inputs_into("mul", (4, 5, 5), (4,))
    assert _problem(g, mul).remedy == "Reshape the 4 values to 4×1×1 to scale each channel"


def test_dense_applies_to_each_step_of_a_sequence_but_asks_images_for_flatten():
    g = Graph()
    g.chain(g.add("input", kind="sequence", shape=(7, 5)), dense := g.add("dense", units=3), g.add("flatten"),
            g.add("dense", units=2), g.add("output"))
    analysis = analyze(g)
    assert analysis.info[dense.id].shape == (7, 3) and analysis.info[dense.id].params == 5 * 3 + 3
    g, dense_id = _chain(("dense", {"units": 3}))
    assert _problem(g, dense_id).message.endswith("needs a flat input but receives 8×10×10: insert Flatten")


def test_a_reconstruction_output_needs_an_image():
    g = Graph()
    g.chain(g.add("input", kind="vector", shape=(6,)), g.add("dense", units=6), out := g.add("output", task="reconstruction"))
    assert _problem(g, out.id).message.endswith("gives back the input image, so it needs an image C×H×W but "
                                                "receives 6: end the decoder with Conv2d or ConvTranspose2d giving "
                                                "the Input's channels, or Reshape to the Input's shape")


def test_permutes_dims_read_and_show_as_axes():
    spec = get_spec("permute")
    dims = spec.param("dims")
    assert spec.summary({"dims": (2, 0, 1)}) == dims.show((2, 0, 1)) == "2, 0, 1"
    assert dims.coerce(dims.show((2, 0, 1))) == (2, 0, 1) and dims.coerce("1,0") == (1, 0)
    with pytest.raises(ParamError, match="each axis in dims must be between 0 and 3"):
        dims.coerce("0, 4")
    with pytest.raises(ParamError, match="dims must be axes like 1, 0, not 'swap'"):
        dims.coerce("swap")


@pytest.mark.parametrize("type_id, params", [
    ("multihead_attention", {"heads": 4}), ("multihead_attention", {"heads": 4, "dropout": 0.1}),
    ("transformer_encoder", {"heads": 4, "feedforward": 96}),
    ("transformer_encoder", {"heads": 2, "feedforward": 48, "dropout": 0.0})])
def test_the_memory_estimate_covers_what_autograd_keeps_inside_attention(type_id, params):
    """Attention keeps far more than its T×F output for the backward pass (with dropout, every
    head's T×T weights): the estimate counts it, erring high as the memory check must, but not
    by more than twice."""
    steps, features, batch = 96, 32, 3
    g, node_id = _chain((type_id, params), shape=(steps, features), kind="sequence")
    info = analyze(g).info[node_id]
    spec, node_params = g.nodes[node_id].spec, g.nodes[node_id].params
    estimate = (spec.inner_values(node_params, info.in_shapes) + steps * features) * batch * 4
    module = spec.build(node_params, info.in_shapes).train()
    saved = {}

    def keep(tensor):
        saved[(tensor.data_ptr(), tensor.numel(), tensor.dtype)] = tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        spec.apply(node_params, module, [torch.randn(batch, steps, features, requires_grad=True)])
    assert sum(saved.values()) <= estimate <= 2 * sum(saved.values())
