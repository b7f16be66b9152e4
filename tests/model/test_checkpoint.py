import json
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_safetensors

from netbuilder.core.compile import compile_graph
from netbuilder.core.project import project_from_dict
from netbuilder.data.recipe import Recipe, TableRecipe
from netbuilder.model.checkpoint import (CheckpointError, History, checkpoint_path, load_checkpoint,
                                            load_trained_model, save_checkpoint)
from netbuilder.model.history import EpochEnded, Report, SettingsChanged


def net(hidden=8):
    return torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.BatchNorm1d(hidden), torch.nn.Linear(hidden, 3))


HISTORY = History(class_names=["cat", "dog", "eel"], task="classification", dataset="pets.csv",
                  epochs=[EpochEnded(1, 2, 0.9, 0.6, 0.8, 0.65, 1e-3, 0.5), EpochEnded(2, 2, 0.5, 0.8, 0.6, None, 1e-3, 0.4)],
                  reports=[Report(0.5, 1.1, 1.1, 1e-3), Report(1.0, 0.7, 0.85, 1e-3), Report(1.5, 0.6, 0.7, 5e-4)],
                  changes=[SettingsChanged(1.0, 1, 8, (("learning_rate", 1e-3, 5e-4),))])
RECIPE = Recipe("vector", (4,), "classification", ("cat", "dog", "eel"),
                table=TableRecipe(("a", "b", "c", "d"), "pet", "standard", (0.0, 1.0, 2.0, 3.0), (1.0, 2.0, 3.0, 4.0)))


def project(units=3, shape=(4,), task="classification"):
    nodes = [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": list(shape)}},
             {"id": "b", "type": "dense", "name": "fc1", "params": {"units": units}},
             {"id": "c", "type": "output", "name": "output1", "params": {"task": task}}]
    edges = [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}]
    return project_from_dict({"format": "netbuilder-project", "version": 1, "nodes": nodes, "edges": edges})


def test_weights_history_and_recipe_are_one_file_beside_the_project(tmp_path):
    path = tmp_path / "pets.nbproj"
    saved = net()
    saved[1].running_mean += 2.0
    assert save_checkpoint(saved, HISTORY, path, recipe=RECIPE) == tmp_path / "pets.safetensors"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets.safetensors"]
    loaded = net()
    assert load_checkpoint(loaded, path) == HISTORY
    for (name, a), (_, b) in zip(saved.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_trained_model_comes_back_with_its_recipe(tmp_path):
    path = tmp_path / "pets.nbproj"
    model = compile_graph(project().graph)
    torch.nn.init.constant_(model.fc1.weight, 0.5)
    save_checkpoint(model, HISTORY, path, recipe=RECIPE)
    trained = load_trained_model(project(), path)
    assert trained.recipe == RECIPE and trained.history == HISTORY and not trained.model.training
    assert torch.equal(trained.model.fc1.weight, torch.full((3, 4), 0.5))


@pytest.mark.parametrize("changed, message", [
    (lambda: project(shape=(5,)), r"trained for a vector input of 4, but the Input is now vector 5: train again"),
    (lambda: project(task="regression"), "trained for classification, but the Output now says regression"),
    (lambda: project(units=7), r'layer "fc1" has a weight of shape 7×4, but the saved one is 3×4'),
])
def test_a_network_changed_since_training_is_refused(tmp_path, changed, message):
    save_checkpoint(compile_graph(project().graph), HISTORY, tmp_path / "pets.nbproj", recipe=RECIPE)
    with pytest.raises(CheckpointError, match=message):
        load_trained_model(changed(), tmp_path / "pets.nbproj")


def test_another_folder_keeps_the_name(tmp_path):
    assert checkpoint_path(tmp_path / "a" / "pets.nbproj", tmp_path / "out") == tmp_path / "out" / "pets.safetensors"
    save_checkpoint(net(), HISTORY, tmp_path / "a" / "pets.nbproj", tmp_path / "out", recipe=RECIPE)
    assert load_checkpoint(net(), tmp_path / "a" / "pets.nbproj", tmp_path / "out").dataset == "pets.csv"


def test_weights_of_another_network_name_the_layer_and_shapes(tmp_path):
    save_checkpoint(net(hidden=8), HISTORY, tmp_path / "pets.nbproj", recipe=RECIPE)
    with pytest.raises(CheckpointError, match=r'layer "0" has a weight of shape 16×4, but the saved one is 8×4'):
        load_checkpoint(net(hidden=16), tmp_path / "pets.nbproj")
    with pytest.raises(CheckpointError, match=r'there is no weight for layer "3"'):
        load_checkpoint(torch.nn.Sequential(*net(), torch.nn.Linear(3, 3)), tmp_path / "pets.nbproj")
    with pytest.raises(CheckpointError, match=r'include layer "2", which the network does not have'):
        load_checkpoint(torch.nn.Sequential(*list(net())[:2]), tmp_path / "pets.nbproj")


def _rewrite_metadata(path, change):
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    metadata = json.loads(data[8:8 + size])["__metadata__"]
    change(metadata)
    tensors = {k: v for k, v in net().state_dict().items()}
    path.write_bytes(save_safetensors(tensors, metadata=metadata))


@pytest.mark.parametrize("damage, message", [
    (lambda m: m.update(recipe="{not json"), "its recipe is not JSON"),
    (lambda m: m.update(recipe=json.dumps({**RECIPE.to_dict(), "task": "ranking"})),
     "recipe's task must be one of classification, regression"),
    (lambda m: m.update(recipe=json.dumps({**RECIPE.to_dict(), "input_shape": [5]})), "4 columns, 4 offsets"),
    (lambda m: m.update(history="[]"), "its history is not a netbuilder training history"),
    (lambda m: m.update(version="3"), "format version 3"),
])
def test_a_damaged_recipe_or_history_is_a_checkpoint_error(tmp_path, damage, message):
    save_checkpoint(net(), HISTORY, tmp_path / "pets.nbproj", recipe=RECIPE)
    _rewrite_metadata(tmp_path / "pets.safetensors", damage)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(net(), tmp_path / "pets.nbproj")


def test_missing_or_damaged_files_are_explained(tmp_path):
    project_path = tmp_path / "pets.nbproj"
    with pytest.raises(CheckpointError, match="train the model first"):
        load_checkpoint(net(), project_path)
    (tmp_path / "pets.safetensors").write_bytes(b"\x80\x04 not safetensors")
    with pytest.raises(CheckpointError, match="pets.safetensors is damaged"):
        load_checkpoint(net(), project_path)


def test_an_older_checkpoint_without_a_recipe_asks_to_train_again(tmp_path):
    (tmp_path / "pets.safetensors").write_bytes(
        save_safetensors(dict(net().state_dict()), metadata={"format": "netbuilder-weights"}))
    (tmp_path / "pets.history.json").write_text(json.dumps({"format": "netbuilder-history", "version": 1}))
    with pytest.raises(CheckpointError, match="older netbuilder, without the recipe .*: train the model again"):
        load_checkpoint(net(), tmp_path / "pets.nbproj")
    save_checkpoint(net(), HISTORY, tmp_path / "pets.nbproj", recipe=RECIPE)  # training again replaces both
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets.safetensors"]


def test_saving_again_leaves_no_temporary_files(tmp_path):
    save_checkpoint(net(), HISTORY, tmp_path / "pets.nbproj", recipe=RECIPE)
    save_checkpoint(net(), HISTORY, tmp_path / "pets.nbproj", recipe=RECIPE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets.safetensors"]


def _racer(folder, tag, rounds, barrier, results):
    """One of two runs of the same project that keep finishing at the same moment."""
    from netbuilder.model.checkpoint import checkpoint_version

    model = net()
    for parameter in model.parameters():
        torch.nn.init.constant_(parameter, float(tag))
    history = History(["cat", "dog", "eel"], "classification", dataset=f"run {tag}")
    for round_number in range(rounds):
        barrier.wait()
        started = checkpoint_version(folder / "pets.nbproj")  # both runs start from the same file...
        barrier.wait()  # ...and save at the same moment
        path = save_checkpoint(model, history, folder / "pets.nbproj", recipe=RECIPE, replaces=started)
        results.put((round_number, tag, path.name))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="forks two racing processes")
def test_two_runs_saving_at_once_never_overwrite_each_other_and_each_file_is_one_run(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    rounds = 15
    barrier, results = context.Barrier(2), context.Queue()
    racers = [context.Process(target=_racer, args=(tmp_path, tag, rounds, barrier, results)) for tag in (1, 2)]
    for racer in racers:
        racer.start()
    saved = [results.get(timeout=120) for _ in range(2 * rounds)]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    by_round = {}
    for round_number, tag, name in saved:
        by_round.setdefault(round_number, set()).add(name)
    assert all(len(names) == 2 and "pets.safetensors" in names for names in by_round.values())
    files = sorted(path.name for path in tmp_path.iterdir())
    assert len(files) == rounds + 1 and all(name.endswith(".safetensors") for name in files)  # no lock, no temp file
    for name in files:  # each file is one run's: its weights and its history agree
        loaded = net()
        history = load_checkpoint(loaded, tmp_path / f"{name.removesuffix('.safetensors')}.nbproj")
        tag = int(history.dataset.removeprefix("run "))
        assert all(torch.equal(p, torch.full_like(p, float(tag))) for p in loaded.parameters())


def test_a_checkpoint_saved_by_another_run_meanwhile_is_kept_and_this_one_goes_beside_it(tmp_path):
    from netbuilder.model.checkpoint import checkpoint_version

    path = tmp_path / "pets.nbproj"
    save_checkpoint(net(), HISTORY, path, recipe=RECIPE)
    started = checkpoint_version(path)
    assert save_checkpoint(net(), HISTORY, path, recipe=RECIPE, replaces=started) == tmp_path / "pets.safetensors"
    meanwhile = (tmp_path / "pets.safetensors").read_bytes()  # what "another run" saved after this one started
    other = History(["cat", "dog", "eel"], "classification", dataset="this run")
    assert save_checkpoint(net(), other, path, recipe=RECIPE, replaces=started) == tmp_path / "pets-2.safetensors"
    assert (tmp_path / "pets.safetensors").read_bytes() == meanwhile
    assert save_checkpoint(net(), other, path, recipe=RECIPE, replaces=started) == tmp_path / "pets-3.safetensors"


def test_a_recipe_naming_more_classes_than_the_network_scores_is_damaged(tmp_path):
    """Edited by hand: each class needs a score (spare scores are allowed; predict ranks the named ones)."""
    save_checkpoint(compile_graph(project(units=2).graph), HISTORY, tmp_path / "pets.nbproj", recipe=RECIPE)
    with pytest.raises(CheckpointError, match=r"damaged \(its recipe names 3 classes for a network of 2 scores\)"):
        load_trained_model(project(units=2), tmp_path / "pets.nbproj")


def test_a_long_run_of_many_classes_saves_its_weights_and_the_newest_per_class_figures(tmp_path, monkeypatch):
    """Each epoch's confusion matrix (classes²) would outgrow safetensors' 100 MB header after
    about 30 epochs of 1,000 classes, and the weights would not be saved: the newest epochs keep
    theirs within SAVED_CLASS_FIGURES, older ones their scalar figures."""
    import netbuilder.model.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "SAVED_CLASS_FIGURES", 3 * 12)  # three epochs of 3 classes (9 + 3 figures)
    epochs = [EpochEnded(epoch, 5, 0.5, 0.5, 0.5, 0.5, 1e-3, 0.1, confusion=np.full((3, 3), epoch, np.int64),
                         per_class_accuracy=np.array([0.5, np.nan, 1.0])) for epoch in range(1, 6)]
    history = History(class_names=["cat", "dog", "eel"], task="classification", epochs=epochs)
    save_checkpoint(compile_graph(project().graph), history, tmp_path / "pets.nbproj", recipe=RECIPE)
    loaded = load_trained_model(project(), tmp_path / "pets.nbproj").history
    assert [epoch.confusion is None for epoch in loaded.epochs] == [True, True, False, False, False]
    assert loaded.epochs[-1].confusion.tolist() == [[5] * 3] * 3 and loaded.epochs[0].val_accuracy == 0.5
    assert np.isnan(loaded.epochs[-1].per_class_accuracy[1])


def test_a_history_of_version_1_opens_with_its_losses_and_no_smoothed_loss_or_report_rates(tmp_path):
    """Checkpoints saved before the reports kept their smoothed loss and rate still open."""
    version_1 = {"format": "netbuilder-history", "version": 1, "dataset": "pets.csv", "task": "classification",
                 "class_names": ["cat", "dog", "eel"], "epochs": [], "batch_losses": [[0.5, 1.1], [1.0, 0.7]],
                 "changes": []}
    save_checkpoint(net(), HISTORY, tmp_path / "pets.nbproj", recipe=RECIPE)
    _rewrite_metadata(tmp_path / "pets.safetensors", lambda m: m.update(history=json.dumps(version_1)))
    reports = load_checkpoint(net(), tmp_path / "pets.nbproj").reports
    assert [(r.position, r.loss) for r in reports] == [(0.5, 1.1), (1.0, 0.7)]
    assert all(np.isnan(r.smoothed_loss) and np.isnan(r.learning_rate) for r in reports)


@pytest.mark.parametrize("reports", [[[0.5, 1.1]], [[0.5, 1.1, 1.0, "fast"]], "many"])
def test_reports_that_are_not_four_numbers_are_a_checkpoint_error(tmp_path, reports):
    save_checkpoint(net(), HISTORY, tmp_path / "pets.nbproj", recipe=RECIPE)

    def damage(metadata):
        metadata["history"] = json.dumps({**json.loads(metadata["history"]), "reports": reports})
    _rewrite_metadata(tmp_path / "pets.safetensors", damage)
    with pytest.raises(CheckpointError, match="report"):
        load_checkpoint(net(), tmp_path / "pets.nbproj")


def test_a_long_run_keeps_its_reports_evenly_spread_within_the_budget_and_the_last_one(tmp_path, monkeypatch):
    import netbuilder.model.checkpoint as checkpoint

    monkeypatch.setattr(checkpoint, "SAVED_REPORTS", 10)
    reports = [Report(i / 100, 1 / (i + 1), 1 / (i + 1), 1e-3) for i in range(1, 101)]
    history = History(class_names=["cat", "dog", "eel"], task="classification", reports=reports)
    save_checkpoint(net(), history, tmp_path / "pets.nbproj", recipe=RECIPE)
    kept = load_checkpoint(net(), tmp_path / "pets.nbproj").reports
    assert len(kept) == 10 and kept[0] == reports[0] and kept[-1] == reports[-1]
    gaps = np.diff([r.position for r in kept])
    assert gaps.max() - gaps.min() <= 0.011  # evenly spread, to one report
