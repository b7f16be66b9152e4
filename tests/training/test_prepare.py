import pytest
import torch

from netbuilder.core.compile import CompileError
from netbuilder.core.project import project_from_dict
from netbuilder.data.base import DataError
from netbuilder.training.trainer import TrainingError, prepare


def project(input_shape=(4,), dataset="", extra_input=False, units=3, connected=True):
    nodes = [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": list(input_shape)}},
             {"id": "b", "type": "dense", "name": "fc1", "params": {"units": units}},
             {"id": "c", "type": "output", "name": "output1", "params": {"task": "classification"}}]
    edges = [{"source": "a", "target": "b"}] + ([{"source": "b", "target": "c"}] if connected else [])
    if extra_input:
        nodes.append({"id": "d", "type": "input", "name": "input2", "params": {"kind": "vector", "shape": [4]}})
    return project_from_dict({"format": "netbuilder-project", "version": 1, "nodes": nodes, "edges": edges,
                              "dataset": dataset, "training": {"seed": 3}})


@pytest.fixture
def csv_file(tmp_path):
    rows = ["a,b,c,d,label"] + [f"{i},{i % 3},{i * 0.5},{-i},{i % 3}" for i in range(30)]
    path = tmp_path / "table.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_prepares_model_data_and_task_with_seeded_weights(csv_file):
    model, dataset, task = prepare(project(dataset=str(csv_file)))
    again, _, _ = prepare(project(), dataset_spec=str(csv_file))
    assert task == "classification" and dataset.sample_shape == (4,)
    assert model(dataset.train_x[:2]).shape == (2, 3)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))


def test_a_broken_graph_raises_compile_error(csv_file):
    with pytest.raises(CompileError, match='Output "output1" needs an input'):
        prepare(project(dataset=str(csv_file), connected=False))


def test_no_dataset_chosen_says_so():
    with pytest.raises(DataError, match="No dataset is chosen"):
        prepare(project(dataset=""))


def test_data_of_another_shape_is_explained(csv_file):
    with pytest.raises(DataError, match="Set the Input's shape to 4"):
        prepare(project(input_shape=(7,), dataset=str(csv_file)))


@pytest.mark.parametrize("spec, gives", [("digits", "1×28×28 images"), (" CIFAR-10 ", "3×32×32 images")])
def test_an_input_a_built_in_dataset_cannot_feed_is_refused_before_the_data_is_made(monkeypatch, spec, gives):
    """Generating 190,000 digits (or downloading CIFAR-10) only to refuse the Input afterwards
    would keep the user waiting minutes for a one-line answer."""
    import netbuilder.data.catalog as catalog

    def no_loading(*args, **kwargs):
        raise AssertionError("the dataset was loaded before the Input was checked")

    monkeypatch.setattr(catalog, "load_dataset", no_loading)
    with pytest.raises(DataError, match=f'The Input expects 4 features but "{spec.strip()}" gives {gives}. Set the '
                                        "Input's kind to image"):
        prepare(project(dataset=spec))


def test_two_inputs_are_refused(csv_file):
    with pytest.raises(TrainingError, match="this network has 2: remove the others"):
        prepare(project(dataset=str(csv_file), extra_input=True))


def test_too_few_class_scores_name_the_dense_layer_to_change(csv_file):
    with pytest.raises(TrainingError, match=r'gives 2 class scores but the data has 3 classes: set the units of '
                                            r'Dense "fc1" to 3'):
        prepare(project(dataset=str(csv_file), units=2))


def test_the_output_decides_the_task_and_the_recipe_follows_the_input(csv_file):
    regression = project(dataset=str(csv_file), units=1)
    regression.graph.replace_params("c", {"task": "regression"})
    _, dataset, task = prepare(regression)  # whole-number labels 0-2, read as quantities because the Output says so
    assert task == dataset.task == dataset.recipe.task == "regression"
    assert dataset.train_y.dtype == torch.float32 and dataset.recipe.class_names == ()
    assert (dataset.recipe.input_kind, dataset.recipe.input_shape) == ("vector", (4,))
