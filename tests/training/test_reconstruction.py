"""The reconstruction task: an autoencoder trained to give back its input image, on any labelled
image data (the labels set aside), evaluated by mean squared error, predicting images."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from netbuilder.core.graph import Graph
from netbuilder.core.project import Project
from netbuilder.data.base import Dataset, DataError
from netbuilder.data.fit import targets_for_task
from netbuilder.data.recipe import digit_recipe, predictions
from netbuilder.training.events import BatchEnded, EpochEnded
from netbuilder.inference.predict import RawSamples, format_rows, prediction_rows
from netbuilder.training.trainer import Trainer, prepare


def autoencoder(side: int = 8, decoder_stride: int = 2) -> Project:
    g = Graph()
    g.chain(g.add("input", kind="image", shape=(1, side, side)), g.add("conv2d", filters=4, padding="same"),
            g.add("relu"), g.add("maxpool2d"),
            g.add("conv_transpose2d", filters=1, kernel_size=decoder_stride, stride=decoder_stride),
            g.add("output", task="reconstruction"))
    return Project(g)


def labelled_images(side: int = 8, count: int = 48) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(count, 1, side, side, generator=generator)
    y = torch.arange(count) % 3
    split = count * 3 // 4
    return Dataset("shapes", "image", x[:split], y[:split], x[split:], y[split:], class_names=["a", "b", "c"])


def test_labelled_images_train_with_themselves_as_targets(settings):
    model, dataset, task = prepare(autoencoder(), dataset=labelled_images())
    assert task == dataset.task == "reconstruction"
    assert torch.equal(dataset.train_y, dataset.train_x) and torch.equal(dataset.val_y, dataset.val_x)
    assert dataset.class_names == []
    epochs = [event for event in Trainer(model, dataset, settings.replace(epochs=8, batch_size=12), task).run()
              if isinstance(event, EpochEnded)]
    assert epochs[-1].val_loss < epochs[0].val_loss and epochs[-1].val_accuracy is None


def test_augmented_images_are_their_own_targets(settings):
    """A network that copies its input has no loss, however the images are shifted for training."""
    side = 28
    g = Graph()
    g.chain(g.add("input", kind="image", shape=(1, side, side)), g.add("conv2d", "copy", filters=1, kernel_size=1),
            g.add("output", task="reconstruction"))
    model, dataset, task = prepare(Project(g), dataset=labelled_images(side))
    with torch.no_grad():
        model.copy.weight.fill_(1.0)
        model.copy.bias.zero_()
    run = Trainer(model, dataset, settings.replace(epochs=1, augment=True, learning_rate=1e-7), task, report_interval=0)
    losses = [event.loss for event in run.run() if isinstance(event, BatchEnded)]
    assert losses and max(losses) < 1e-6


def test_a_network_that_changes_the_size_is_told_to_give_back_the_inputs_shape(settings):
    model, dataset, task = prepare(autoencoder(decoder_stride=1), dataset=labelled_images())
    finished = list(Trainer(model, dataset, settings, task).run())[-1]
    assert finished.reason == "failed" and finished.message == (
        "A reconstruction network must give back its input, but this one turns 1×8×8 samples into 1×4×4: make "
        "the last layer's output the Input's shape.")


def test_texts_have_nothing_to_reconstruct():
    ids = torch.zeros(4, 5, dtype=torch.long)
    texts = Dataset("reviews", "tokens", ids, torch.zeros(4, dtype=torch.long), ids[:0], ids[:0, 0])
    with pytest.raises(DataError, match='"reviews" holds texts: choose an image dataset'):
        targets_for_task(texts, "reconstruction")


def test_a_prediction_is_each_images_reconstruction_and_its_error():
    recipe = replace(digit_recipe([]).for_input("image", (1, 2, 2)), task="reconstruction")
    inputs = torch.zeros(2, 1, 2, 2)
    outputs = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]], [[[100.0, 0.0], [0.0, 0.0]]]])
    prediction = predictions(recipe, outputs, inputs)
    np.testing.assert_allclose(prediction.errors, [0.5, 2500.0])
    image = recipe.image
    np.testing.assert_allclose(prediction.values[0, 0, 0], [image.mean, image.std + image.mean], rtol=1e-6)
    assert prediction.values.max() == 1.0  # pixels, clipped to what a picture can show
    rows = prediction_rows(RawSamples([], ["a.png", "b.png"]), prediction, top=3)
    assert json.loads(format_rows(rows, as_json=True))[1]["error"] == 2500.0
    assert np.array(rows[0]["image"]).shape == (1, 2, 2)
    assert format_rows(rows, as_json=False).splitlines() == ["sample  reconstruction error", "a.png   0.5",
                                                             "b.png   2500"]


def test_the_command_line_trains_evaluates_and_predicts_an_autoencoder(tmp_path, capsys):
    import cv2

    from netbuilder.__main__ import main as netbuilder_cli
    from netbuilder.core.project import save_project

    def run_cli(*argv):
        return netbuilder_cli([str(arg) for arg in argv])

    generator = np.random.default_rng(0)
    for label in ("dark", "bright"):
        (tmp_path / "pictures" / label).mkdir(parents=True)
        for index in range(8):
            pixels = generator.integers(0, 128 if label == "dark" else 256, (28, 28), dtype=np.uint8)
            cv2.imencode(".png", pixels)[1].tofile(tmp_path / "pictures" / label / f"{index}.png")
    project = tmp_path / "autoencoder.nbproj"
    autoencoder_project = autoencoder(side=28)
    autoencoder_project.dataset = str(tmp_path / "pictures")
    autoencoder_project.training = autoencoder_project.training.replace(epochs=2, validation_split=0.25, device="cpu")
    save_project(autoencoder_project, project)
    assert run_cli("train", project) == 0
    capsys.readouterr()
    assert run_cli("evaluate", project) == 0
    assert capsys.readouterr().out.startswith("Mean squared error on 4 validation samples of ")
    picture = tmp_path / "pictures" / "dark" / "0.png"
    assert run_cli("predict", project, picture) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["sample", "reconstruction", "error"] and row.split()[0] == "0.png"
    assert run_cli("predict", project, picture, "--json") == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["error"] == pytest.approx(float(row.split()[1]), rel=1e-3)
    image = np.array(record["image"])
    assert image.shape == (1, 28, 28) and 0.0 <= image.min() and image.max() <= 1.0


def test_an_autoencoder_gives_a_drawing_back():
    from netbuilder.core.compile import compile_graph
    from netbuilder.data.strokes import Drawing
    from netbuilder.inference.live import DrawingReader, canvas_problem

    g = Graph()
    g.chain(g.add("input", kind="image", shape=(1, 28, 28)), g.add("conv2d", "copy", filters=1, kernel_size=1),
            g.add("output", task="reconstruction"))
    model = compile_graph(g)
    with torch.no_grad():
        model.copy.weight.fill_(1.0)
        model.copy.bias.zero_()
    recipe = replace(digit_recipe([]), task="reconstruction")
    assert canvas_problem(recipe) is None
    reader = DrawingReader(model, recipe)
    seven = Drawing((280, 280), 20.0, (((60.0, 50.0), (220.0, 50.0), (120.0, 240.0)),))
    reading = reader.read(seven, activations=True, saliency=True)
    assert reading.picture.max() > 0.6 and reading.saliency is None  # a stroke, softened
    np.testing.assert_allclose(reading.reconstruction, reading.picture, atol=1e-6)
    assert reading.prediction.errors[0] < 1e-10 and "copy" in reading.activations
    one = Drawing((280, 280), 20.0, (((140.0, 40.0), (140.0, 240.0)),))
    batch = reader.classify([seven, one], batch_size=1)
    assert batch.values.shape == (2, 1, 28, 28) and batch.errors.max() < 1e-10
    np.testing.assert_allclose(batch.values[0, 0], reading.reconstruction, atol=1e-6)
