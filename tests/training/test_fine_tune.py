"""Fine-tuning a trained model on the personal handwriting set ("Fine-tune on my handwriting")."""
import numpy as np
import pytest
import torch

from netbuilder.core.compile import compile_graph
from netbuilder.core.project import load_template
from netbuilder.data.digits import CLASS_NAMES
from netbuilder.data.handwriting import HandwritingSet
from netbuilder.data.mnist import COLLECTIONS
from netbuilder.data.recipe import digit_recipe, image_recipe
from netbuilder.data.strokes import Drawing
from netbuilder.training.fine_tune import FineTuning

ONE = Drawing((280, 280), 18.0, (((140.0, 50.0), (140.0, 230.0)),))
ZERO = Drawing((280, 280), 18.0, (tuple((140 + 60 * np.cos(a), 140 + 90 * np.sin(a))
                                        for a in np.linspace(0, 2 * np.pi, 40)),))
# The 1-mlp template's Input: the digit recipe's images read as 784 values.
MLP_DIGITS = digit_recipe(CLASS_NAMES).for_input("vector", (784,))


@pytest.fixture
def handwriting(tmp_path):
    drawings = HandwritingSet(tmp_path)
    for _ in range(3):
        drawings.add(ONE, 1)
        drawings.add(ZERO, 0)
    return tmp_path


def _mlp():
    project = load_template("1-mlp")
    torch.manual_seed(0)
    return project, compile_graph(project.graph)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in model.state_dict().items()}


def test_fine_tuning_changes_the_weights_of_a_copy_and_leaves_the_given_model_untouched(handwriting):
    project, model = _mlp()
    given = _weights(model)
    run = FineTuning(model, MLP_DIGITS, project, folder=handwriting, epochs=1, digits_size=64)
    finished = list(run.events())[-1]
    assert finished.reason == "completed", finished.message
    assert "your 2 held-out drawings read" in finished.message
    tuned = run.result.model.state_dict()
    changed = [name for name in given if not torch.equal(tuned[name], given[name])]
    assert {name for name in given if name.endswith("weight")} <= set(changed)
    assert all(torch.equal(model.state_dict()[name], given[name]) for name in given)


@pytest.mark.parametrize("recipe, message", [
    # Fashion-MNIST: would learn digit labels under clothing names
    (image_recipe(COLLECTIONS["fashion-mnist"].class_names, 28, 28),
     ("This model predicts the classes T-shirt/top, Trouser, Pullover, Dress …, not the digits 0 to 9 of your "
      "handwriting set, so it cannot be fine-tuned on your handwriting.")),
    # named 0-9 but reading whole images, not centred digits: the drawings would not be read as its data was
    (image_recipe(CLASS_NAMES, 28, 28), "This model reads its images differently from the digit models"),
])
def test_a_model_the_handwriting_does_not_fit_is_refused_and_nothing_is_trained(handwriting, recipe, message):
    project, model = _mlp()
    given = _weights(model)
    run = FineTuning(model, recipe.for_input("vector", (784,)), project, folder=handwriting, epochs=1,
                     digits_size=64)
    events = list(run.events())
    assert [type(event).__name__ for event in events] == ["Preparing", "Finished"]
    assert events[-1].reason == "failed" and events[-1].message.startswith(message)
    assert run.result is None
    assert all(torch.equal(model.state_dict()[name], given[name]) for name in given)
