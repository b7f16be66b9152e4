import json

import pytest
import torch

from netbuilder.training.checkpoint import CheckpointError, History, checkpoint_paths, load_checkpoint, save_checkpoint
from netbuilder.training.events import EpochEnded


def net(hidden=8):
    return torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.BatchNorm1d(hidden), torch.nn.Linear(hidden, 3))


HISTORY = History(class_names=["cat", "dog", "eel"], task="classification", dataset="pets.csv",
                  epochs=[EpochEnded(1, 2, 0.9, 0.6, 0.8, 0.65, 1e-3, 0.5), EpochEnded(2, 2, 0.5, 0.8, 0.6, None, 1e-3, 0.4)])


def test_round_trip_beside_the_project_file(tmp_path):
    project = tmp_path / "pets.nbproj"
    saved = net()
    saved[1].running_mean += 2.0
    weights = save_checkpoint(saved, HISTORY, project)
    assert weights == tmp_path / "pets.safetensors" and (tmp_path / "pets.history.json").exists()
    loaded = net()
    assert load_checkpoint(loaded, project) == HISTORY
    for (name, a), (_, b) in zip(saved.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_another_folder_keeps_the_names(tmp_path):
    weights, history = checkpoint_paths(tmp_path / "a" / "pets.nbproj", tmp_path / "out")
    assert (weights, history) == (tmp_path / "out" / "pets.safetensors", tmp_path / "out" / "pets.history.json")
    save_checkpoint(net(), HISTORY, tmp_path / "a" / "pets.nbproj", tmp_path / "out")
    assert load_checkpoint(net(), tmp_path / "a" / "pets.nbproj", tmp_path / "out").dataset == "pets.csv"


def test_weights_of_another_network_name_the_layer_and_shapes(tmp_path):
    save_checkpoint(net(hidden=8), HISTORY, tmp_path / "pets.nbproj")
    with pytest.raises(CheckpointError, match=r'layer "0" has a weight of shape 16×4, but the saved one is 8×4'):
        load_checkpoint(net(hidden=16), tmp_path / "pets.nbproj")
    with pytest.raises(CheckpointError, match=r'there is no weight for layer "3"'):
        load_checkpoint(torch.nn.Sequential(*net(), torch.nn.Linear(3, 3)), tmp_path / "pets.nbproj")
    with pytest.raises(CheckpointError, match=r'include layer "2", which the network does not have'):
        load_checkpoint(torch.nn.Sequential(*list(net())[:2]), tmp_path / "pets.nbproj")


def test_missing_or_damaged_files_are_explained(tmp_path):
    project = tmp_path / "pets.nbproj"
    with pytest.raises(CheckpointError, match="train the model first"):
        load_checkpoint(net(), project)
    save_checkpoint(net(), HISTORY, project)
    (tmp_path / "pets.safetensors").write_bytes(b"\x80\x04 not safetensors")
    with pytest.raises(CheckpointError, match="pets.safetensors is damaged"):
        load_checkpoint(net(), project)
    (tmp_path / "pets.history.json").write_text(json.dumps({"format": "netbuilder-history", "version": 1}))
    with pytest.raises(CheckpointError, match="pets.history.json is damaged"):
        load_checkpoint(net(), project)


def test_saving_leaves_no_temporary_files(tmp_path):
    save_checkpoint(net(), HISTORY, tmp_path / "pets.nbproj")
    save_checkpoint(net(), HISTORY, tmp_path / "pets.nbproj")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets.history.json", "pets.safetensors"]
