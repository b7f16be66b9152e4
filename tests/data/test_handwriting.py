"""The personal handwriting set: kept as strokes on disk, read back as a dataset."""
import numpy as np
import pytest
import torch

from netbuilder.core.settings import TrainingSettings
from netbuilder.data.base import DataError
from netbuilder.data.catalog import load_dataset
from netbuilder.data.handwriting import (AUGMENT_PEN_FACTORS, NO_HONEST_VALIDATION, HandwritingSet, drawing_inputs,
                                         load_handwriting)
from netbuilder.data.recipe import MNIST_STD
from netbuilder.data.strokes import Drawing
from netbuilder.training.events import EpochEnded, Started
from netbuilder.training.trainer import Trainer

ONE = Drawing((280, 280), 18.0, (((140.0, 50.0), (140.0, 230.0)),))
ZERO = Drawing((280, 280), 18.0, (tuple((140 + 60 * np.cos(a), 140 + 90 * np.sin(a))
                                        for a in np.linspace(0, 2 * np.pi, 40)),))


def _fill(folder, per_class=4):
    handwriting = HandwritingSet(folder)
    for _ in range(per_class):
        handwriting.add(ONE, 1)
        handwriting.add(ZERO, 0)
    return handwriting


def test_a_drawing_added_to_the_set_is_there_when_the_set_is_opened_again(tmp_path):
    added = HandwritingSet(tmp_path).add(ONE, 1)
    reopened = HandwritingSet(tmp_path).samples()
    assert [(sample.key, sample.label, sample.drawing) for sample in reopened] == [(added.key, 1, ONE)]
    assert HandwritingSet(tmp_path).counts() == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_deleting_removes_only_that_drawing_and_odd_keys_touch_nothing(tmp_path):
    handwriting = HandwritingSet(tmp_path)
    first, second = handwriting.add(ONE, 1), handwriting.add(ZERO, 0)
    handwriting.remove("../../etc/passwd")
    handwriting.remove("1/../0/" + second.key.split("/")[1])
    assert len(handwriting.samples()) == 2
    handwriting.remove(first.key)
    assert [sample.key for sample in handwriting.samples()] == [second.key]


def test_empty_drawings_and_labels_outside_0_to_9_are_refused(tmp_path):
    handwriting = HandwritingSet(tmp_path)
    with pytest.raises(DataError, match="empty"):
        handwriting.add(ONE.cleared(), 3)
    with pytest.raises(DataError, match="digits 0 to 9"):
        handwriting.add(ONE, 10)


def test_a_damaged_file_is_skipped_with_a_note_and_the_rest_still_reads(tmp_path):
    handwriting = _fill(tmp_path, per_class=1)
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "broken.json").write_text("{")
    assert len(handwriting.samples()) == 2
    assert len(handwriting.notes) == 1 and "broken.json" in handwriting.notes[0]


def test_the_set_is_a_dataset_with_a_held_out_part_of_every_digit_and_pen_width_augmentation(tmp_path):
    _fill(tmp_path)
    dataset = load_dataset("my-handwriting", folder=tmp_path)
    assert dataset.name == "my handwriting" and dataset.sample_shape == (1, 28, 28)
    assert sorted(dataset.val_y.tolist()) == [0, 1]  # one of the four of each digit held out
    assert len(dataset.train_y) == 6 * len(AUGMENT_PEN_FACTORS)
    # the widths differ: the same drawing rendered thinner has less ink
    widths = dataset.train_x[dataset.train_y == 1].reshape(len(AUGMENT_PEN_FACTORS), 3, -1).sum(dim=2)
    assert widths[0, 0] < widths[1, 0] < widths[2, 0]


def test_mixed_with_the_built_in_digits_the_validation_is_still_only_your_handwriting(tmp_path):
    _fill(tmp_path)
    dataset = load_handwriting(mix_with_digits=True, folder=tmp_path, digits_size=50)
    assert len(dataset.train_y) == 50 + 6 * len(AUGMENT_PEN_FACTORS)
    assert len(dataset.val_y) == 2 and "mixed with 50 built-in digits" in dataset.source


def test_an_empty_set_says_how_to_fill_it(tmp_path):
    with pytest.raises(DataError, match="press a digit key"):
        load_handwriting(folder=tmp_path)


def test_drawings_become_digits_normalised_like_mnist():
    inputs = drawing_inputs([ONE, ZERO])
    assert inputs.shape == (2, 1, 28, 28)
    ink = inputs[0, 0] > inputs.min() + 0.3 / MNIST_STD  # 0.3 of full ink: a softened edge's fringe is fainter
    rows = np.flatnonzero(ink.any(dim=1).numpy())
    assert rows[0] >= 4 and rows[-1] <= 23  # fitted into the central 20×20


def _strokes(length: float, x: float = 140.0) -> Drawing:
    """A distinct near-vertical stroke: drawings of different lengths slant differently, so they stay
    different when read at the recipe's one size, at every pen width."""
    return Drawing((280, 280), 18.0, (((x, 140.0 - length / 2), (x + 10.0 + length / 20, 140.0 + length / 2)),))


def test_no_pen_width_of_a_held_out_drawing_is_trained_on(tmp_path):
    handwriting = HandwritingSet(tmp_path)
    drawings = [_strokes(60 + 15 * index) for index in range(8)]
    for index, drawing in enumerate(drawings):
        handwriting.add(drawing, index % 2)
    dataset = load_handwriting(folder=tmp_path, val_fraction=0.5)
    assert len(dataset.val_y) == 4 and not dataset.no_validation
    trained = {sample.numpy().tobytes() for sample in dataset.train_x}
    for drawing in drawings:
        widths = torch.cat([drawing_inputs([drawing], factor) for factor in AUGMENT_PEN_FACTORS])
        held_out = any(torch.equal(widths[list(AUGMENT_PEN_FACTORS).index(1.0)], val) for val in dataset.val_x)
        in_training = [width.numpy().tobytes() in trained for width in widths]
        # each drawing is on exactly one side, every pen width of it with it
        assert in_training == [not held_out] * len(AUGMENT_PEN_FACTORS)


@pytest.mark.parametrize("mix", [False, True])
def test_with_no_digit_drawn_twice_training_says_no_honest_validation_exists(tmp_path, mix):
    handwriting = HandwritingSet(tmp_path)
    for digit in range(10):
        handwriting.add(_strokes(60 + 12 * digit), digit)
    dataset = load_handwriting(folder=tmp_path, mix_with_digits=mix, digits_size=30)
    assert len(dataset.val_y) == 0 and dataset.no_validation == NO_HONEST_VALIDATION
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    settings = TrainingSettings(epochs=2, batch_size=16, device="cpu", validation_split=0.2)
    events = list(Trainer(model, dataset, settings, "classification").run())
    started = next(event for event in events if isinstance(event, Started))
    assert started.val_samples == 0 and NO_HONEST_VALIDATION in started.notes
    assert started.train_samples == len(dataset.train_y)  # nothing of the augmented copies was held out
    epochs = [event for event in events if isinstance(event, EpochEnded)]
    assert len(epochs) == 2 and all(epoch.val_accuracy is None for epoch in epochs)
