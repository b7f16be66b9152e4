"""An autoencoder in the window: its training data previewed without targets to read, and a
drawing given back in the Draw panel."""
import torch

from netbuilder.data.base import Dataset
from netbuilder.data.fit import targets_for_task
from netbuilder.gui.panels.samples import DatasetPreview


def test_the_preview_of_reconstruction_data_shows_pictures_without_captions(qtbot):
    x = torch.rand(6, 1, 8, 8)
    labelled = Dataset("shapes", "image", x, torch.arange(6) % 2, x[:0], torch.zeros(0, dtype=torch.long),
                       class_names=["a", "b"])
    preview = DatasetPreview()
    qtbot.addWidget(preview)
    preview.show_dataset(labelled)
    assert [preview.samples.item(i).text() for i in range(2)] == ["a", "b"]
    preview.show_dataset(targets_for_task(labelled, "reconstruction"))
    assert preview.samples.count() == 6
    assert all(preview.samples.item(i).text() == "" for i in range(6))
    assert not preview.samples.item(0).icon().isNull()
