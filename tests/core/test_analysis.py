"""Validation speaks to the user: each problem is on its node, in their words, with the numbers."""
import pytest

from netbuilder.core.analysis import analyze
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.layers import Param, ParamError, ShapeError, get_spec
from netbuilder.core.project import load_template, template_names


def _messages(graph, node):
    return [p.message for p in analyze(graph).problems_of(node.id)]


def test_dense_fed_by_an_image_asks_for_flatten():
    g = Graph()
    conv, pool = g.add("conv2d", filters=64), g.add("maxpool2d")
    dense = g.add("dense", "fc1")
    g.chain(g.add("input", shape=(1, 24, 24)), conv, pool, dense, g.add("output"))
    assert _messages(g, dense) == ['Dense "fc1" needs a flat input but receives 64×11×11: insert Flatten']


def test_kernel_larger_than_the_input_names_both_sizes():
    g = Graph()
    conv = g.add("conv2d", "conv3", kernel_size=5)
    g.chain(g.add("input", shape=(8, 3, 3)), conv, g.add("flatten"), g.add("dense", units=2), g.add("output"))
    (message,) = _messages(g, conv)
    assert message.startswith('Conv2d "conv3" kernel 5 > input height 3')


def test_problems_downstream_of_an_error_are_not_repeated():
    g = Graph()
    conv = g.add("conv2d", kernel_size=9)
    dense = g.add("dense")
    g.chain(g.add("input", shape=(1, 4, 4)), conv, g.add("flatten"), dense, g.add("output"))
    analysis = analyze(g)
    assert [p.node_id for p in analysis.errors] == [conv.id]
    assert dense.id not in analysis.info


def test_missing_input_and_output_are_reported():
    g = Graph()
    g.add("dense")
    messages = [p.message for p in analyze(g).errors]
    assert any("no Input layer" in m for m in messages)
    assert any("no Output layer" in m for m in messages)
    assert any("needs an input" in m for m in messages)


def test_two_outputs_are_refused():
    g = Graph()
    source = g.add("input", kind="vector", shape=(4,))
    for _ in range(2):
        g.insert_edge(Edge(source.id, g.add("output").id))
    assert any("exactly one Output" in p.message for p in analyze(g).errors)


def test_merge_needs_matching_shapes_and_lists_them():
    g = Graph()
    a, b = g.add("input", kind="vector", shape=(4,)), g.add("input", kind="vector", shape=(5,))
    add = g.add("add")
    g.insert_edge(Edge(a.id, add.id))
    g.insert_edge(Edge(b.id, add.id))
    g.chain(add, g.add("output"))
    (problem,) = analyze(g).problems_of(add.id)
    assert (problem.subject, problem.cause) == ('Add "add1"', "needs inputs of one shape but receives 4, 5")
    assert "equal shapes" in problem.remedy


def test_token_ids_must_go_through_an_embedding():
    g = Graph()
    lstm = g.add("lstm")
    g.chain(g.add("input", kind="tokens", shape=(20,)), lstm, g.add("dense", units=2), g.add("output"))
    (message,) = _messages(g, lstm)
    assert "insert an Embedding" in message


def test_embedding_needs_token_ids():
    g = Graph()
    emb = g.add("embedding")
    g.chain(g.add("input", kind="vector", shape=(20,)), emb, g.add("flatten"), g.add("dense", units=2), g.add("output"))
    assert "needs token ids" in _messages(g, emb)[0]


def test_softmax_before_cross_entropy_is_a_warning_not_an_error():
    g = Graph()
    softmax = g.add("softmax")
    g.chain(g.add("input", kind="vector", shape=(4,)), g.add("dense", units=3), softmax, g.add("output"))
    analysis = analyze(g)
    assert analysis.ok
    assert [p.severity for p in analysis.problems_of(softmax.id)] == ["warning"]


def test_same_padding_with_stride_two_explains_the_fix():
    spec = get_spec("conv2d")
    params = spec.normalize_params({"padding": "same", "stride": 2})
    with pytest.raises(ShapeError, match="needs stride 1"):
        spec.infer_shape(params, [(1, 8, 8)])


def test_a_dangling_layer_is_a_calm_hint_until_the_user_asks_to_train():
    """While building, a layer not yet wired onward is unfinished, not wrong: a hint without the
    destructive "Delete it"; asked to train, it is a warning that offers to delete it."""
    g = Graph()
    g.chain(g.add("input", kind="vector", shape=(4,)), g.add("dense", units=2), g.add("output"))
    loose = g.add("relu")
    g.insert_edge(Edge("n2", loose.id))
    (hint,) = analyze(g).problems_of(loose.id)
    assert (hint.severity, hint.fix) == ("hint", None) and analyze(g).ok
    assert hint.message == 'ReLU "relu1" is not connected onward yet: connect its output to a later layer'
    (warning,) = analyze(g, training=True).problems_of(loose.id)
    assert (warning.severity, warning.fix.title) == ("warning", "Delete it")


@pytest.mark.parametrize(("value", "expected"), [(3, 3), ("4", 4), ("same", "same"), (2.0, 2)])
def test_int_or_word_parameters_accept_numbers_and_words(value, expected):
    assert get_spec("conv2d").param("padding").coerce(value) == expected


@pytest.mark.parametrize(("param", "value", "reason"), [
    (Param("units", int, 1, min=1), 0, "at least 1"),
    (Param("units", int, 1, min=1), 2.5, "whole number"),
    (Param("rate", float, 0.5, max=0.99), 1.0, "at most 0.99"),
    (Param("rate", float, 0.5), float("nan"), "finite"),
    (Param("units", int, 1, min=1), float("inf"), "finite"),
    (Param("bias", bool, True), 1, "true or false"),
    (Param("shape", tuple, (1,), min=1), "1×x", "sizes like"),
    (Param("task", str, "a", choices=("a", "b")), "c", "one of a, b"),
])
def test_bad_parameter_values_are_refused_with_the_reason(param, value, reason):
    with pytest.raises(ParamError, match=reason):
        param.coerce(value)


@pytest.mark.parametrize(("template", "params"), [
    ("1-mlp", 101_770), ("2-cnn", 93_482), ("2-cnn-article", 93_322), ("3-lstm-text", 686_154),
    ("4-row-lstm", 82_186), ("5-residual-cnn", 19_274), ("6-resnet", 174_970), ("6-resnet18", 11_689_512),
    ("7-cifar-cnn", 288_746), ("7-mobilenet", 22_902), ("8-transformer-text", 714_122), ("9-autoencoder", 7_009),
])
def test_templates_build_without_problems_and_have_their_parameter_counts(template, params):
    analysis = analyze(load_template(template).graph)
    assert analysis.ok and not analysis.problems
    assert analysis.total_params == params


def test_all_templates_are_listed_in_order():
    assert template_names() == ["1-mlp", "2-cnn", "2-cnn-article", "3-lstm-text", "4-row-lstm", "5-residual-cnn",
                                "6-resnet", "6-resnet18", "7-cifar-cnn", "7-mobilenet", "8-transformer-text",
                                "9-autoencoder"]


def test_the_article_template_is_the_article_network_and_the_other_cnn_adds_batchnorm():
    article, batchnorm = load_template("2-cnn-article").graph, load_template("2-cnn").graph
    layers = [node.type_id for node in article.nodes.values()]
    assert layers == ["input", "conv2d", "relu", "maxpool2d", "conv2d", "relu", "maxpool2d", "conv2d", "relu",
                      "flatten", "dense", "relu", "dense", "output"]
    assert [n.params["filters"] for n in article.nodes.values() if n.type_id == "conv2d"] == [32, 64, 64]
    assert [n.type_id for n in batchnorm.nodes.values() if n.type_id != "batchnorm"] == layers


@pytest.mark.parametrize(("type_id", "params", "shown"), [
    ("conv2d", {"filters": 32}, "32, 3, valid"),
    ("lstm", {"hidden_size": 64, "return_sequences": True}, "64, return sequences"),
    ("lstm", {"hidden_size": 32}, "32"),
])
def test_a_nodes_key_parameters_read_as_words(type_id, params, shown):
    spec = get_spec(type_id)
    assert spec.summary(spec.normalize_params(params)) == shown
