"""Importing nn.Module classes: each model of the zoo becomes a graph with blocks that computes what
the model computes with its weights, has as many parameters, and survives export as code and import
again unchanged; what cannot be imported is refused with a report, never dropped."""
from __future__ import annotations

import textwrap

import pytest
import torch

from netbuilder.core.project import load_project
from netbuilder.export.exporting import export_project
from netbuilder.importing.importer import import_module, import_python_file
from netbuilder.importing.project_file import save_imported
from netbuilder.importing.report import ImportFailure
from netbuilder.model.checkpoint import load_trained_model

from . import zoo

MODELS = {
    "keras_cnn": (zoo.KerasArticleCNN, (1, 28, 28)),
    "mnist_mlp": (zoo.MnistMLP, (1, 28, 28)),
    "lstm_text": (zoo.LSTMText, (20,)),
    "resnet18": (lambda: zoo.resnet18(num_classes=10), (3, 32, 32)),
    "mobilenet_v3": (zoo.MobileNetV3Small, (3, 32, 32)),
    "transformer": (zoo.TransformerClassifier, (16,)),
}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_input(model: torch.nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    embedding = next((m for m in model.modules() if isinstance(m, torch.nn.Embedding)), None)
    if embedding is not None:
        return torch.randint(0, embedding.num_embeddings, (3, *shape), generator=generator)
    return torch.randn(3, *shape, generator=generator)


def graph_form(graph, port_names: bool = True) -> tuple:
    """A graph as a user sees it: its layers with names, parameters and wires, and each block it uses
    (recursively, by name), without node ids or positions; without `port_names`, a block's input
    ports are known by their order only."""
    def form(inner):
        ports = [node_id for node_id, node in inner.nodes.items() if node.type_id == "block_input"]
        names = {node_id: node.name if port_names or node_id not in ports else f"port{ports.index(node_id)}"
                 for node_id, node in inner.nodes.items()}
        nodes = []
        for node_id, node in inner.nodes.items():
            params = dict(node.params)
            if node.type_id == "block":
                definition = graph.blocks[params.pop("block")]
                params["block"] = (definition.name, form(definition.graph))
            nodes.append((node.type_id, names[node_id], tuple(sorted((k, repr(v)) for k, v in params.items()))))
        return tuple(sorted(nodes)), tuple(sorted((names[e.source], names[e.target]) for e in inner.edges))
    return form(graph)


@pytest.fixture(scope="module")
def imported():
    torch.manual_seed(0)
    results = {}
    for name, (make, shape) in MODELS.items():
        model = make().eval()
        results[name] = (model, shape, import_module(model, shape, type(model).__name__))
    return results


@pytest.mark.parametrize("name", MODELS)
def test_the_imported_network_computes_what_the_model_computes(imported, name):
    model, shape, result = imported[name]
    x = random_input(model, shape)
    with torch.no_grad():
        assert torch.allclose(result.model(x), model(x), atol=1e-5, rtol=0)
    assert result.parameters == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", MODELS)
def test_exported_code_imports_as_the_same_graph_with_the_same_outputs(imported, name, tmp_path):
    model, shape, result = imported[name]
    project_file = tmp_path / "imported.nbproj"
    save_imported(result, project_file, "zoo.py")
    project = load_project(project_file)
    assert graph_form(project.graph) == graph_form(result.project.graph)
    export_project(project, project_file, "code", tmp_path / "exported.py")
    again = import_python_file(tmp_path / "exported.py", "Net", {}, shape)
    assert graph_form(again.project.graph) == graph_form(result.project.graph)
    trained = load_trained_model(project, project_file)
    x = random_input(model, shape)
    with torch.no_grad():
        assert torch.allclose(trained.model(x), model(x), atol=1e-5, rtol=0)


def test_resnet18_is_stages_of_basic_blocks_with_torchvisions_weight_names(imported):
    model, _, result = imported["resnet18"]
    graph = result.project.graph
    layer1 = graph.node_named("layer1")
    assert layer1.type_id == "block" and layer1.params["repeat"] == 2
    assert graph.blocks[layer1.params["block"]].name == "basic_block"
    assert [graph.node_named(f"layer{i}").type_id for i in (2, 3, 4)] == ["block"] * 3
    own = set(model.state_dict())
    assert {"layer1.0.conv1.weight", "layer1.1.bn2.running_mean", "conv1.weight", "fc.bias"} <= \
        own & set(result.model.state_dict())


def test_a_class_used_with_the_same_parameters_is_one_block_definition(imported):
    _, _, result = imported["mobilenet_v3"]
    library = result.project.graph.blocks
    # the last expansion's 1×1 convolution to 40 channels, without activation, appears twice
    uses = [node.params["block"] for definition in library.values() for node in definition.graph.nodes.values()
            if node.type_id == "block"]
    assert len(uses) > len(set(uses))


def write(tmp_path, source: str):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_operations_without_a_layer_are_listed_with_where_they_are_and_nothing_is_imported(tmp_path):
    path = write(tmp_path, """
        import torch
        from torch import nn

        class Odd(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 4, (3, 1))
                self.fc = nn.Linear(4 * 26 * 28, 10)

            def forward(self, x):
                x = torch.cumsum(self.conv(x), dim=1)
                return self.fc(x.flatten(1))
        """)
    with pytest.raises(ImportFailure) as failure:
        import_python_file(path, "Odd", {}, (1, 28, 28))
    items = failure.value.unsupported
    assert [item.operation for item in items] == ["nn.Conv2d", "torch.cumsum"]
    assert items[0].where.startswith("conv") and "3×1 kernel" in items[0].reason
    assert items[1].where == "model.py line 12, in forward"
    assert "nothing is dropped silently" in str(failure.value)


def test_a_model_that_cannot_be_traced_gets_torchs_reason_and_what_to_try(tmp_path):
    path = write(tmp_path, """
        from torch import nn

        class Branchy(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                return self.fc(x) if x.sum() > 0 else -self.fc(x)
        """)
    with pytest.raises(ImportFailure) as failure:
        import_python_file(path, "Branchy", {}, (4,))
    message = str(failure.value)
    assert "cannot be used as inputs to control flow" in message and "Try:" in message and "\n" not in message
    assert "Traceback" not in message


def test_constructor_arguments_reach_the_class(tmp_path):
    path = write(tmp_path, """
        from torch import nn

        class MLP(nn.Module):
            def __init__(self, hidden, activation="relu"):
                super().__init__()
                self.fc1 = nn.Linear(8, hidden)
                self.act = nn.ReLU() if activation == "relu" else nn.Tanh()
                self.fc2 = nn.Linear(hidden, 3)

            def forward(self, x):
                return self.fc2(self.act(self.fc1(x)))
        """)
    result = import_python_file(path, "MLP", {"hidden": 24, "activation": "tanh"}, (8,))
    graph = result.project.graph
    assert graph.node_named("fc1").params["units"] == 24 and graph.node_named("act").type_id == "tanh"
    with pytest.raises(ImportFailure, match=r"MLP\(\) failed.*hidden"):
        import_python_file(path, "MLP", {}, (8,))


def test_a_layer_with_weights_called_twice_is_refused(tmp_path):
    path = write(tmp_path, """
        from torch import nn

        class Shared(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 8)

            def forward(self, x):
                return self.fc(self.fc(x))
        """)
    with pytest.raises(ImportFailure, match="called 2 times"):
        import_python_file(path, "Shared", {}, (8,))


def test_the_file_runs_as_the_users_code_and_its_errors_say_where(tmp_path):
    path = write(tmp_path, """
        raise RuntimeError("no GPU here")
        """)
    with pytest.raises(ImportFailure, match=r"running model.py failed at line 2: RuntimeError: no GPU here"):
        import_python_file(path, "Net", {}, (8,))


def test_an_imported_resnet_is_laid_out_as_folded_blocks_with_its_stages_in_one_row(imported):
    graph = imported["resnet18"][2].project.graph
    assert len(graph.nodes) == 13  # stem, four stage cards, head: the 70 layers stay inside their blocks
    stages = [graph.node_named(f"layer{i}").position for i in (1, 2, 3, 4)]
    assert len({y for _, y in stages}) == 1 and [x for x, _ in stages] == sorted(x for x, _ in stages)
    for inner in (graph, *(definition.graph for definition in graph.blocks.values())):
        positions = [node.position for node in inner.nodes.values()]
        assert len(set(positions)) == len(positions)  # no card on another


def test_a_file_that_exits_is_refused_and_the_import_goes_on_running(tmp_path):
    path = write(tmp_path, """
        import sys
        sys.exit("bye")
        """)
    with pytest.raises(ImportFailure, match="running model.py failed at line 3: SystemExit: bye"):
        import_python_file(path, "Net", {}, (8,))


def test_forward_parameters_with_defaults_are_traced_with_their_defaults(tmp_path):
    path = write(tmp_path, """
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 3)

            def forward(self, x, return_features=False, scale=None):
                features = self.fc(x)
                return features if return_features or scale is not None else features.relu()
        """)
    result = import_python_file(path, "Net", {}, (8,))
    assert [node.type_id for node in result.project.graph.nodes.values()] == ["input", "dense", "relu", "output"]
