"""Training health: dead layers, vanishing and exploding gradients, named as the nodes are."""
import math
from pathlib import Path

import torch
from torch import nn

from netbuilder.core.analysis import analyze
from netbuilder.core.compile import compile_graph, input_nodes
from netbuilder.core.project import load_project
from netbuilder.training.health import HealthProbe, diagnose
from netbuilder.training.metrics import task_loss

TEMPLATES = Path(__file__).parents[2] / "resources" / "templates"


def health_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor):
    with HealthProbe(model) as probe:
        task_loss(model(x), y, "classification").backward()
    return {layer.layer: layer for layer in probe.layers()}


def test_a_relu_after_a_huge_negative_bias_is_reported_dead_with_advice():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("fc1", nn.Linear(4, 16))
    model.add_module("relu1", nn.ReLU())
    model.add_module("fc2", nn.Linear(16, 3))
    x, y = torch.randn(64, 4), torch.arange(64) % 3
    assert health_of(model, x, y)["relu1"].problem is None  # healthy first

    with torch.no_grad():
        model.fc1.bias.fill_(-100.0)
    health = health_of(model, x, y)
    assert health["relu1"].dead_fraction == 1.0 and health["relu1"].problem == "dead"
    assert "lower the learning rate" in health["relu1"].advice and "LeakyReLU" in health["relu1"].advice
    assert health["fc1"].dead_fraction is None  # only ReLU-family layers can die
    assert health["fc1"].gradient_norm == 0.0 and health["fc1"].problem == "vanishing"


def test_hooks_are_removed_after_the_measured_batch():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    with HealthProbe(model):
        model(torch.randn(2, 4)).sum().backward()
    assert all(not module._forward_hooks for module in model.modules())


def test_a_healthy_template_network_reports_every_node_by_name():
    project = load_project(TEMPLATES / "2-cnn.nbproj")
    torch.manual_seed(0)
    model = compile_graph(project.graph, analyze(project.graph))
    health = health_of(model, torch.randn(16, 1, 28, 28), torch.arange(16) % 10)
    node_names = {node.name for node in project.graph.nodes.values()} - {"input1", "output1"}
    assert set(health) <= node_names and {"conv1", "relu1", "fc2"} <= set(health)
    assert all(layer.problem is None for layer in health.values())
    assert 0 < health["relu1"].dead_fraction < 0.9 and health["conv1"].activation_scale > 0


def test_an_lstm_network_is_measured_through_its_output_tensor():
    project = load_project(TEMPLATES / "3-lstm-text.nbproj")
    analysis = analyze(project.graph)
    model = compile_graph(project.graph, analysis)
    tokens = torch.randint(0, 10, (4, *analysis.info[input_nodes(project.graph, analysis)[0]].shape))
    health = health_of(model, tokens, torch.zeros(4, dtype=torch.int64))
    assert "lstm1" in health and health["lstm1"].gradient_norm > 0


def test_gradients_that_blow_up_or_are_not_finite_are_exploding():
    assert diagnose("fc1", None, 1.0, 1e6, 1e6).problem == "exploding"
    assert diagnose("fc1", None, 1.0, math.inf, 1.0).problem == "exploding"
    assert "lower the learning rate" in diagnose("fc1", None, 1.0, math.nan, 1.0).advice
    assert diagnose("fc1", None, 1.0, 1e-3, 1.0).problem is None
