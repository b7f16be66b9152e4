"""The epoch-time estimate: real training steps on the compiled network, timed."""
import math

import pytest

from netbuilder.core.compile import CompileError
from netbuilder.core.graph import Graph
from netbuilder.core.project import load_template
from netbuilder.core.settings import TrainingSettings
from netbuilder.training.estimate import epoch_seconds, seconds_per_batch


def _small_network():
    graph = Graph()
    graph.chain(graph.add("input", kind="vector", shape=(8,)), graph.add("dense"), graph.add("dense", units=3),
                graph.add("output"))
    return graph


def test_a_batch_is_timed_for_images_vectors_and_token_ids():
    assert 0 < seconds_per_batch(load_template("2-cnn").graph, TrainingSettings(batch_size=8)) < 5
    assert 0 < seconds_per_batch(_small_network(), TrainingSettings(batch_size=16, optimizer="sgd")) < 5
    tokens = Graph()
    tokens.chain(tokens.add("input", kind="tokens", shape=(6,)), tokens.add("embedding"), tokens.add("lstm"),
                 tokens.add("dense", units=2), tokens.add("output"))
    assert 0 < seconds_per_batch(tokens, TrainingSettings(batch_size=4)) < 5


def test_a_network_with_problems_is_not_timed():
    graph = Graph()
    graph.chain(graph.add("input"), graph.add("dense"), graph.add("output"))  # an image into Dense
    with pytest.raises(CompileError):
        seconds_per_batch(graph, TrainingSettings(batch_size=8))


def test_an_epoch_is_the_batches_of_the_training_set_and_unknown_for_the_users_own_data():
    assert epoch_seconds("digits", 64, 0.01) == pytest.approx(math.ceil(60_000 / 64) * 0.01)
    assert epoch_seconds(" MNIST ", 100, 0.5) == pytest.approx(600 * 0.5)
    assert epoch_seconds("/home/me/flowers.csv", 64, 0.01) is None
