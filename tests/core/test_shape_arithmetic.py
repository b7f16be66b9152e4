"""The arithmetic a wire's tooltip shows is the arithmetic that gave its shape, and PyTorch agrees."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Graph
from netbuilder.core.layers.shape_math import explain_window


def test_a_convolution_shows_the_formula_with_its_numbers():
    assert explain_window(28, 3, 1, 0, 1, "height") == "height: (28 − 3)/1 + 1 = 26"
    assert explain_window(28, 3, 1, 1, 1, "width") == "width: (28 + 2×1 − 3)/1 + 1 = 28"
    assert explain_window(27, 2, 2, 0, 1, "height") == "height: ⌊(27 − 2)/2⌋ + 1 = 13"
    assert explain_window(28, 3, 1, 0, 2, "height") == "height: (28 − 5)/1 + 1 = 24 (kernel 3 dilated 2× spans 5)"


@settings(max_examples=40, deadline=None)
@given(layer=st.sampled_from(["conv2d", "maxpool2d", "conv1d"]), height=st.integers(6, 20), width=st.integers(6, 20),
       kernel=st.integers(1, 4), stride=st.integers(1, 3), padding=st.integers(0, 2), dilation=st.integers(1, 2))
def test_each_line_ends_in_the_size_torch_computes(layer, height, width, kernel, stride, padding, dilation):
    graph = Graph()
    if layer == "conv1d":
        source = graph.add("input", kind="sequence", shape=(height, 2))
        windowed = graph.add(layer, filters=3, kernel_size=kernel, stride=stride, padding=padding, dilation=dilation)
        module, example = torch.nn.Conv1d(2, 3, kernel, stride, padding, dilation), torch.zeros(1, 2, height)
    elif layer == "conv2d":
        source = graph.add("input", shape=(2, height, width))
        windowed = graph.add(layer, filters=3, kernel_size=kernel, stride=stride, padding=padding, dilation=dilation)
        module, example = torch.nn.Conv2d(2, 3, kernel, stride, padding, dilation), torch.zeros(1, 2, height, width)
    else:
        padding = min(padding, kernel // 2)
        source = graph.add("input", shape=(2, height, width))
        windowed = graph.add(layer, pool_size=kernel, stride=stride, padding=padding)
        module, example = torch.nn.MaxPool2d(kernel, stride, padding), torch.zeros(1, 2, height, width)
    graph.chain(source, windowed)
    info = analyze(graph).info.get(windowed.id)
    if info is None:  # the window does not fit: the Problem explains it, and torch refuses it too
        with pytest.raises(RuntimeError):
            module(example)
        return
    lines = windowed.spec.shape_arithmetic(windowed.params, info.in_shapes)
    assert [int(line.split("= ")[1].split()[0]) for line in lines] == list(module(example).shape[2:])
