"""Importing ONNX files: netbuilder's own ONNX export of each imported zoo model imports again and
computes what the ONNX file computes (onnxruntime) and what the original model computes."""
from __future__ import annotations

import warnings

import pytest
import torch

from netbuilder.core.project import load_project
from netbuilder.export.exporting import export_project
from netbuilder.importing.onnx_file import import_onnx
from netbuilder.importing.project_file import save_imported
from netbuilder.importing.report import ImportFailure

from .test_python_import import MODELS, imported, one_thread, random_input  # noqa: F401 - fixtures

ROUND_TRIPS = ["keras_cnn", "mnist_mlp", "lstm_text", "resnet18", "mobilenet_v3", "transformer"]


def exported_onnx(result, folder):
    project_file = folder / "imported.nbproj"
    save_imported(result, project_file, "zoo.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_project(load_project(project_file), project_file, "onnx", folder / "model.onnx")
    return folder / "model.onnx"


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_an_exported_onnx_file_imports_with_the_same_outputs(imported, name, tmp_path):
    model, shape, result = imported[name]
    again = import_onnx(exported_onnx(result, tmp_path))
    x = random_input(model, shape)
    with torch.no_grad():
        assert torch.allclose(again.model(x), model(x), atol=1e-4, rtol=0)
    assert again.largest_difference <= 1e-4
    if not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()):  # (the exporter folds those into convolutions)
        assert again.parameters == sum(p.numel() for p in model.parameters())


# the layers the ONNX operators are read back as (a Transformer layer's 36 operators one layer)
LAYERS = {"lstm_text": ["embedding", "lstm", "dense"],
          "transformer": ["embedding", "positional_embedding", "transformer_encoder", "transformer_encoder",
                          "layernorm", "flatten", "dense"]}


def torch_onnx(model: torch.nn.Module, x: torch.Tensor, path):
    """The ONNX file of `model` as torch's exporter writes it, as netbuilder's export calls it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), dynamo=True, dynamic_shapes=({0: torch.export.Dim("batch")},)).save(path)
    return path


@pytest.mark.parametrize("name", ["lstm_text", "transformer"])
def test_trained_recurrent_and_attention_weights_come_back_from_onnx(name, tmp_path):
    """Weights all different and biases not zero, as after training: torch's exporter then shares no
    initialiser between layers and leaves out no bias of zeros."""
    make, shape = MODELS[name]
    torch.manual_seed(2)
    model = make().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.2)
    x = random_input(model, shape)
    again = import_onnx(torch_onnx(model, x, tmp_path / "model.onnx"))
    with torch.no_grad():
        assert torch.allclose(again.model(x), model(x), atol=1e-4, rtol=0)
    assert again.parameters == sum(p.numel() for p in model.parameters())
    graph = again.project.graph
    assert [node.type_id for node in graph.nodes.values() if node.type_id not in ("input", "output")] == LAYERS[name]


class TokensLSTM(torch.nn.Module):
    """Token ids -> embedding -> an LSTM's output sequence."""

    def __init__(self, **lstm):
        super().__init__()
        self.embedding = torch.nn.Embedding(50, 8)
        self.lstm = torch.nn.LSTM(8, 6, batch_first=True, **lstm)

    def forward(self, tokens):
        return self.lstm(self.embedding(tokens))[0]


@pytest.mark.parametrize("lstm", [{"bidirectional": True}, {"num_layers": 2, "bidirectional": True}])
def test_an_onnx_lstm_stack_comes_back_as_one_layer(lstm, tmp_path):
    model, tokens = TokensLSTM(**lstm).eval(), torch.randint(0, 50, (2, 7))
    again = import_onnx(torch_onnx(model, tokens, tmp_path / "model.onnx"))
    with torch.no_grad():
        assert torch.allclose(again.model(tokens), model(tokens), atol=1e-4, rtol=0)
    assert again.parameters == sum(p.numel() for p in model.parameters())
    [layer] = [node.params for node in again.project.graph.nodes.values() if node.type_id == "lstm"]
    assert layer == {"hidden_size": 6, "num_layers": lstm.get("num_layers", 1), "bidirectional": True,
                     "return_sequences": True}


class LearnedStateLSTM(TokensLSTM):
    """An LSTM starting from a learned state, which netbuilder's LSTM (starting from zeros) lacks."""

    def __init__(self):
        super().__init__()
        self.start = torch.nn.Parameter(torch.randn(1, 1, 6))

    def forward(self, tokens):
        state = self.start.expand(1, tokens.shape[0], 6).contiguous()
        return self.lstm(self.embedding(tokens), (state, state))[0]


def test_an_onnx_lstm_netbuilder_cannot_compute_is_reported_not_dropped(tmp_path):
    tokens = torch.randint(0, 50, (2, 7))
    with pytest.raises(ImportFailure) as failure:
        import_onnx(torch_onnx(LearnedStateLSTM().eval(), tokens, tmp_path / "model.onnx"))
    [lstm] = [item for item in failure.value.unsupported if item.operation == "ONNX LSTM"]
    assert "initial state" in lstm.reason


class TokensEncoder(torch.nn.Module):
    """Token ids -> embedding -> one batch-first Transformer encoder layer -> classes."""

    def __init__(self, **layer):
        super().__init__()
        self.embedding = torch.nn.Embedding(50, 16)
        self.encoder = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, **layer)
        self.head = torch.nn.Linear(16 * 6, 3)

    def forward(self, tokens):
        return self.head(self.encoder(self.embedding(tokens)).flatten(1))


def test_a_pre_norm_gelu_encoder_layer_comes_back_as_one_layer(tmp_path):
    torch.manual_seed(3)
    model, tokens = TokensEncoder(norm_first=True, activation="gelu").eval(), torch.randint(0, 50, (2, 6))
    again = import_onnx(torch_onnx(model, tokens, tmp_path / "model.onnx"))
    with torch.no_grad():
        assert torch.allclose(again.model(tokens), model(tokens), atol=1e-4, rtol=0)
    assert again.parameters == sum(p.numel() for p in model.parameters())
    encoders = [node.params for node in again.project.graph.nodes.values() if node.type_id == "transformer_encoder"]
    assert encoders == [{"heads": 2, "feedforward": 32, "dropout": 0.0, "activation": "gelu", "norm_first": True}]


def test_a_file_that_is_no_onnx_model_is_refused_in_one_line(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x00\x01 not protobuf")
    with pytest.raises(ImportFailure, match=r"^model.onnx is not an ONNX model netbuilder can read"):
        import_onnx(path)
