from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from netbuilder.data import digits
from netbuilder.data.base import DataError
from netbuilder.data.recipe import MNIST_BACKGROUND, digit_recipe, input_pictures, model_inputs
from netbuilder.data.digits import generate_digits, load_digits


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_digits():
    images, labels = generate_digits(200, seed=1, workers=1)
    again_images, again_labels = generate_digits(200, seed=1, workers=1)
    other_images, _ = generate_digits(200, seed=2, workers=1)
    assert images.tobytes() == again_images.tobytes() and labels.tobytes() == again_labels.tobytes()
    assert (images != other_images).any(axis=(1, 2)).mean() > 0.9


def test_the_digits_do_not_depend_on_the_number_of_processes():
    one_images, one_labels = generate_digits(1100, seed=3, workers=1)
    two_images, two_labels = generate_digits(1100, seed=3, workers=2)
    np.testing.assert_array_equal(one_images, two_images)
    np.testing.assert_array_equal(one_labels, two_labels)


def test_digits_are_mnist_shaped_uint8_images_with_balanced_labels():
    images, labels = generate_digits(205, seed=4, workers=1)
    assert images.shape == (205, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (205,) and labels.dtype == np.int64
    assert sorted(np.bincount(labels, minlength=10)) == [20] * 5 + [21] * 5
    assert images.reshape(205, -1).max(axis=1).min() > 200  # every digit has solid ink
    box_rows = images.any(axis=2)
    box_cols = images.any(axis=1)
    heights = 28 - box_rows.argmax(axis=1) - box_rows[:, ::-1].argmax(axis=1)
    widths = 28 - box_cols.argmax(axis=1) - box_cols[:, ::-1].argmax(axis=1)
    assert (np.maximum(heights, widths) == 20).all()


def test_digits_look_like_their_labels():
    """A nearest-class-mean classifier fitted on one seed recognises another seed's digits, which
    fails if images and labels were paired up wrongly or the classes looked alike. (It reads about
    half of them, five times chance: the digits vary too much for one mean image per class.)"""
    train_images, train_labels = generate_digits(1000, seed=5)
    test_images, test_labels = generate_digits(500, seed=6)
    means = np.stack([train_images[train_labels == digit].reshape(-1, 784).mean(axis=0) for digit in range(10)])
    distances = ((test_images.reshape(-1, 1, 784).astype(np.float64) - means) ** 2).sum(axis=2)
    assert (distances.argmin(axis=1) == test_labels).mean() > 0.4


def test_digits_hold_together_as_written_digits_do():
    """A pen stroke is one piece of ink: only a few of MNIST's digits (0.6%) fall apart into pieces
    when read as a model reads them. Pressure that thinned a thin pen to a hairline broke 5% of the
    built-in digits so, teaching models that broken strokes are normal. (Read before the recipe's
    softening, which blurs every digit alike, as the 0.6% of MNIST was measured.)"""
    recipe = digit_recipe(digits.CLASS_NAMES)
    recipe = replace(recipe, image=replace(recipe.image, smooth=0.0))
    images, _ = generate_digits(1000, seed=7)
    read = input_pictures(recipe, model_inputs(recipe, images))
    pieces = np.array([cv2.connectedComponents((picture > 0.35).astype(np.uint8))[0] - 1 for picture in read])
    assert (pieces > 1).mean() < 0.03


def test_no_digits_is_an_empty_set():
    images, labels = generate_digits(0)
    assert images.shape == (0, 28, 28) and labels.shape == (0,)


def test_generation_reports_its_progress_up_to_the_total():
    reports = []
    generate_digits(1200, seed=0, progress=lambda done, total: reports.append((done, total)), workers=1)
    assert reports[-1] == (1200, 1200)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


class Abandoned(Exception):
    pass


def test_a_raising_progress_abandons_the_generation_and_drops_the_chunks_not_started():
    reports = []

    def stop_at_once(done, total):
        reports.append(done)
        raise Abandoned

    with pytest.raises(Abandoned):
        generate_digits(50_000, seed=0, progress=stop_at_once, workers=2)  # 100 chunks: minutes of work
    assert len(reports) == 1


def test_workers_are_not_forked_from_a_process_that_may_have_threads():
    assert digits._worker_context().get_start_method() in ("forkserver", "spawn")


def test_a_script_without_a_main_guard_still_gets_the_same_digits(tmp_path):
    """Worker processes re-run the main script; an unguarded one kills them, and the digits are
    then drawn in the script's own process instead of failing."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "unguarded.py"
    script.write_text("from netbuilder.data.digits import generate_digits\n"
                      "images, labels = generate_digits(600, seed=4, workers=2)\n"
                      "print(int(images.sum()), int(labels.sum()))\n")
    repository = Path(__file__).parents[2]
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "PYTHONPATH": str(repository)})
    images, labels = generate_digits(600, seed=4, workers=1)
    assert result.returncode == 0
    assert result.stdout.split() == [str(int(images.sum())), str(int(labels.sum()))]


def test_load_digits_gives_a_standardised_image_dataset_of_several_epochs_of_new_digits(cache):
    dataset = load_digits(train_size=100, val_size=100, seed=0, fresh_epochs=3)
    assert dataset.name == "digits" and dataset.kind == "image"
    assert dataset.class_names == [str(digit) for digit in range(10)]
    assert dataset.train_x.shape == (300, 1, 28, 28) and dataset.train_x.dtype == torch.float32
    assert dataset.samples_per_epoch == 100
    assert any("Each epoch trains on 100 new built-in digits" in note for note in dataset.notes)
    assert len({sample.numpy().tobytes() for sample in dataset.train_x}) == 300  # no digit drawn twice
    assert dataset.val_x.shape == (100, 1, 28, 28)
    assert dataset.train_y.dtype == torch.int64 and set(dataset.train_y.tolist()) == set(range(10))
    assert dataset.train_x.min().item() == pytest.approx(MNIST_BACKGROUND)
    train_set = {sample.numpy().tobytes() for sample in dataset.train_x}
    assert not any(sample.numpy().tobytes() in train_set for sample in dataset.val_x)
    one_epoch = load_digits(train_size=100, val_size=100, seed=0, fresh_epochs=1)
    assert len(one_epoch.train_x) == 100 and one_epoch.samples_per_epoch == 0 and not one_epoch.notes


def test_a_second_load_reads_the_cache(cache, monkeypatch):
    first = load_digits(train_size=200, val_size=50, seed=1, fresh_epochs=1)
    assert len(list(cache.glob("digits-*.npz"))) == 1

    def no_generation(*args, **kwargs):
        raise AssertionError("the digits were generated again instead of read from the cache")

    monkeypatch.setattr(digits, "generate_digits", no_generation)
    second = load_digits(train_size=200, val_size=50, seed=1, fresh_epochs=1)
    assert torch.equal(first.train_x, second.train_x) and torch.equal(first.val_y, second.val_y)


def test_every_shape_of_every_digit_draws_a_whole_centred_digit(ink_box, centre_of_mass):
    for digit in range(10):
        for allograph in range(digits.allograph_count(digit)):
            images = digits.draw_allograph(digit, allograph, 5, seed=digit)
            assert images.shape == (5, 28, 28) and images.dtype == np.uint8
            for image in images:
                assert max(ink_box(image > 25)) >= 19, f"shape {allograph} of {digit} does not fill MNIST's box"
                # As in MNIST, a lopsided digit moves only as far as keeps all its ink on the image.
                assert np.allclose(centre_of_mass(image.astype(float)), 14, atol=1.5), \
                    f"shape {allograph} of {digit} is off centre"


def test_generating_new_digits_deletes_those_of_older_generator_versions(cache):
    older = [cache / f"digits-v{version}-200-50-seed1.npz" for version in range(1, digits.GENERATOR_VERSION)]
    unrelated = cache / "mnist-train-images-idx3-ubyte.gz"
    for path in [*older, unrelated]:
        path.write_bytes(b"old")
    load_digits(train_size=200, val_size=50, seed=1, fresh_epochs=1)
    load_digits(train_size=100, val_size=10, seed=1, fresh_epochs=1)
    assert sorted(path.name for path in cache.iterdir()) == sorted([
        unrelated.name, f"digits-v{digits.GENERATOR_VERSION}-200-50-seed1.npz",
        f"digits-v{digits.GENERATOR_VERSION}-100-10-seed1.npz"])


@pytest.mark.parametrize("damage", ["garbage", "cut short", "wrong arrays"])
def test_a_damaged_cache_file_is_generated_again(cache, damage):
    first = load_digits(train_size=200, val_size=50, seed=2, fresh_epochs=1)
    [path] = cache.glob("digits-*.npz")
    if damage == "garbage":
        path.write_bytes(b"not a numpy archive at all")
    elif damage == "cut short":
        path.write_bytes(path.read_bytes()[:5000])
    else:
        np.savez(path, train_images=np.zeros((3, 5, 5), np.uint8))
    second = load_digits(train_size=200, val_size=50, seed=2, fresh_epochs=1)
    assert torch.equal(first.train_x, second.train_x) and torch.equal(first.val_x, second.val_x)
    with np.load(path, allow_pickle=False) as repaired:
        assert repaired["train_images"].shape == (200, 28, 28)


def test_a_cache_that_cannot_be_written_leaves_a_note_not_an_error(cache, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(digits, "_write_cache", disk_full)
    dataset = load_digits(train_size=100, val_size=20, seed=3, fresh_epochs=1)
    assert len(dataset.train_x) == 100
    assert any("No space left on device" in note and str(cache) in note for note in dataset.notes)


def test_load_reports_progress_over_both_sets(cache):
    reports = []
    load_digits(train_size=200, val_size=100, seed=4, progress=lambda done, total: reports.append((done, total)))
    assert reports[-1] == (700, 700)  # three epochs of 200 and the validation digits
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


@pytest.mark.parametrize("sizes", [dict(train_size=0), dict(val_size=-1), dict(seed=-1), dict(fresh_epochs=0)])
def test_impossible_sizes_or_seeds_are_refused_with_a_message(cache, sizes):
    with pytest.raises(DataError, match="built-in digits"):
        load_digits(**sizes)


def _slant(images: np.ndarray) -> np.ndarray:
    """How far each image's ink leans right: horizontal shift per row down, from its moments."""
    ink = images.astype(np.float64)
    rows, columns = np.indices(images.shape[1:])
    total = ink.sum(axis=(1, 2))
    dy = rows - ((ink * rows).sum(axis=(1, 2)) / total)[:, None, None]
    dx = columns - ((ink * columns).sum(axis=(1, 2)) / total)[:, None, None]
    return -(ink * dx * dy).sum(axis=(1, 2)) / (ink * dy * dy).sum(axis=(1, 2))


def test_zeros_lean_right_and_threes_lean_less_as_in_real_handwriting():
    images, labels = generate_digits(1000, seed=3, workers=1)
    assert _slant(images[labels == 0]).mean() > _slant(images[labels == 3]).mean() + 0.1


def test_pens_range_from_thin_to_bold():
    images, _ = generate_digits(1000, seed=4, workers=1)
    ink = images.reshape(len(images), -1).sum(axis=1) / 255.0
    thin, bold = np.percentile(ink, [5, 95])
    assert thin < 50 and bold > 3 * thin
