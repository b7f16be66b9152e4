"""Image folders streamed from a uint8 cache: the same values and the same training as in memory,
a cache that follows the folder, unreadable files counted, colour conversions said."""
from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from netbuilder.core.settings import TrainingSettings
from netbuilder.data.base import DataError
from netbuilder.data.folders import load_image_folder, read_image
from netbuilder.data.stream import CACHE_FOLDER, StreamedImages, decode_into
from netbuilder.training.trainer import Trainer


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def colour_folder(root, classes=3, per_class=6, sizes=((12, 10), (9, 14))):
    """Each class a colour of its own, on images of several sizes (so they are resized)."""
    rng = np.random.default_rng(5)
    for label in range(classes):
        (root / f"class{label}").mkdir(parents=True)
        for index in range(per_class):
            height, width = sizes[index % len(sizes)]
            image = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
            image[..., label % 3] += 150
            cv2.imwrite(str(root / f"class{label}" / f"{index}.png"), image)
    return root


def cache_files(cache):
    return sorted(path.name for path in (cache / CACHE_FOLDER).glob("*.npy"))


def test_streamed_inputs_equal_the_in_memory_tensors(tmp_path):
    folder = colour_folder(tmp_path / "photos")
    memory = load_image_folder(folder, size=8, stream=False)
    streamed = load_image_folder(folder, size=8, stream=True)
    assert isinstance(streamed.train_x, StreamedImages) and isinstance(memory.train_x, torch.Tensor)
    assert streamed.sample_shape == memory.sample_shape == (3, 8, 8)
    assert torch.equal(streamed.train_x[:], memory.train_x) and torch.equal(streamed.val_x[:], memory.val_x)
    assert torch.equal(streamed.train_y, memory.train_y)
    order = torch.tensor([4, 0, 7, 2])
    assert torch.equal(streamed.train_x.index_select(0, order), memory.train_x.index_select(0, order))
    assert streamed.recipe == memory.recipe


def test_training_on_the_stream_equals_training_in_memory_for_the_same_seed(tmp_path):
    folder = colour_folder(tmp_path / "photos")
    settings = TrainingSettings(epochs=2, batch_size=4, augment=True, seed=3, learning_rate=0.01)
    weights = []
    for stream in (False, True):
        dataset = load_image_folder(folder, size=8, stream=stream)
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(144, 3))
        events = list(Trainer(model, dataset, settings, "classification", threads=1).run())
        assert events[-1].reason == "completed", events[-1].message
        assert any(note.startswith("Streaming from disk: 18 images") for note in events[0].notes) == stream
        weights.append(model.state_dict())
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name


def test_a_reconstruction_trains_on_streamed_images_as_on_images_in_memory(tmp_path):
    from netbuilder.data.fit import targets_for_task

    folder = colour_folder(tmp_path / "photos")
    settings = TrainingSettings(epochs=1, batch_size=4, augment=False, seed=1)
    results = []
    for stream in (False, True):
        dataset = targets_for_task(load_image_folder(folder, size=8, stream=stream), "reconstruction")
        torch.manual_seed(0)
        model = torch.nn.Conv2d(3, 3, 1)
        events = list(Trainer(model, dataset, settings, "reconstruction", threads=1).run())
        assert events[-1].reason == "completed", events[-1].message
        results.append((model.weight.detach().clone(), events[-2].val_loss))
    assert torch.equal(results[0][0], results[1][0]) and results[0][1] == results[1][1]


@pytest.mark.parametrize(("input_shape", "shape", "converted"), [((3, 8, 6), (3, 8, 6), False),
                                                                 ((1, 5, 5), (1, 5, 5), True)])
def test_the_inputs_shape_sets_a_folders_size_and_channels(tmp_path, input_shape, shape, converted):
    from netbuilder.data.catalog import load_dataset

    dataset = load_dataset(str(colour_folder(tmp_path / "photos")), input_shape=input_shape)
    assert dataset.sample_shape == shape
    assert any("they are read as grey" in note for note in dataset.notes) == converted


def test_a_folder_changed_between_runs_reads_from_a_new_cache(tmp_path, own_cache):
    folder = colour_folder(tmp_path / "photos")
    first = load_image_folder(folder, size=8, stream=True, val_fraction=0)
    assert "(built now)" in first.notes[-1]
    again = load_image_folder(folder, size=8, stream=True, val_fraction=0)
    assert "(built now)" not in again.notes[-1]
    old_files = cache_files(own_cache)
    changed = folder / "class0" / "0.png"
    cv2.imwrite(str(changed), np.full((12, 10, 3), 255, np.uint8))
    os.utime(changed, ns=(1, 1))  # a new time, whatever the clock's resolution
    after = load_image_folder(folder, size=8, stream=True, val_fraction=0)
    assert "(built now)" in after.notes[-1]
    assert cache_files(own_cache) != old_files and len(cache_files(own_cache)) == 1  # the old one is gone
    white = torch.full((3, 8, 8), 1.0).sub_(after.recipe.image.mean).div_(after.recipe.image.std)
    assert any(torch.equal(sample, white) for sample in after.train_x[:])
    assert not any(torch.equal(sample, white) for sample in first.train_x[:])
    (folder / "class1" / "extra.png").write_bytes((folder / "class1" / "0.png").read_bytes())
    assert len(load_image_folder(folder, size=8, stream=True, val_fraction=0).train_x) == 19


@pytest.mark.parametrize("damage", ["problems", "pixels"])
def test_a_damaged_cache_is_built_again(tmp_path, own_cache, damage):
    folder = colour_folder(tmp_path / "photos")
    expected = load_image_folder(folder, size=8, stream=True).train_x[:]
    cache = own_cache / CACHE_FOLDER / cache_files(own_cache)[0]
    (cache.with_suffix(".json") if damage == "problems" else cache).write_bytes(b"\x93NUMPY garbage")
    again = load_image_folder(folder, size=8, stream=True)
    assert "(built now)" in again.notes[-1]
    assert torch.equal(again.train_x[:], expected)


def test_another_image_size_has_its_own_cache(tmp_path, own_cache):
    folder = colour_folder(tmp_path / "photos")
    load_image_folder(folder, size=8, stream=True)
    load_image_folder(folder, size=6, stream=True)
    assert len(cache_files(own_cache)) == 1  # one cache per folder: the last one read


@pytest.mark.parametrize("stream", [False, True])
def test_corrupt_images_are_skipped_and_counted(tmp_path, stream):
    folder = colour_folder(tmp_path / "photos")
    (folder / "class0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "class2" / "empty.jpg").write_bytes(b"")
    dataset = load_image_folder(folder, size=8, stream=stream)
    assert len(dataset.train_x) + len(dataset.val_x) == 18
    assert dataset.notes[0] == "Skipped 2 unreadable images, e.g. class0/broken.png."


def test_a_folder_of_one_class_is_explained(tmp_path):
    colour_folder(tmp_path / "photos", classes=1)
    with pytest.raises(DataError, match="needs one subfolder per class, at least two.*found 1 class folder\\)"):
        load_image_folder(tmp_path / "photos")


def test_colour_images_for_a_grey_input_are_read_as_grey_and_said(tmp_path):
    folder = colour_folder(tmp_path / "photos")
    assert load_image_folder(folder, size=8).sample_shape == (3, 8, 8)  # colour, as the images are
    grey = load_image_folder(folder, size=8, color=False)
    assert grey.sample_shape == (1, 8, 8)
    assert grey.notes == ["The images of photos are in colour, and the network's Input takes 1 channel: they are "
                          "read as grey (0.299 R + 0.587 G + 0.114 B). Set the Input's shape to 3×8×8 to train on "
                          "their colours."]


def test_grey_images_for_a_colour_input_become_three_equal_channels_and_said(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for index in range(3):
            cv2.imwrite(str(tmp_path / label / f"{index}.png"), np.full((5, 5), 40 * index, np.uint8))
    assert load_image_folder(tmp_path, size=5).sample_shape == (1, 5, 5)
    colour = load_image_folder(tmp_path, size=5, color=True, val_fraction=0)
    assert colour.sample_shape == (3, 5, 5)
    assert torch.equal(colour.train_x[:, 0], colour.train_x[:, 2])
    assert "are grey, and the network's Input takes 3 channels" in colour.notes[0]


def test_the_choice_to_stream_follows_the_memory_limit_and_is_said(tmp_path):
    folder = colour_folder(tmp_path / "photos")
    assert isinstance(load_image_folder(folder, size=8, in_memory_limit=10**9).train_x, torch.Tensor)
    streamed = load_image_folder(folder, size=8, in_memory_limit=1000)
    assert isinstance(streamed.train_x, StreamedImages)
    assert streamed.notes[-1].startswith("Streaming from disk: 18 images, cache 3.4 KB (built now); in memory "
                                         "they would take 13.5 KB.")


def test_stopping_the_cache_build_keeps_nothing(tmp_path, own_cache):
    folder = colour_folder(tmp_path / "photos")

    def stop(done, total, message):
        if message.startswith("Building"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_image_folder(folder, size=8, stream=True, progress=stop)
    assert not list((own_cache / CACHE_FOLDER).iterdir())


def test_indexing_a_large_folder_reports_progress(tmp_path, monkeypatch):
    from netbuilder.data import folders

    monkeypatch.setattr(folders, "_INDEX_PROGRESS_EVERY", 5)
    folder = colour_folder(tmp_path / "photos")
    messages = []
    load_image_folder(folder, size=8, progress=lambda done, total, message: messages.append(message))
    assert messages[:3] == [f"Indexing photos: {count} images found" for count in (5, 10, 15)]
    assert messages[-1] == "Reading images from photos"


def test_worker_processes_decode_as_this_process_does(tmp_path):
    folder = colour_folder(tmp_path / "photos", per_class=3)
    paths = sorted(folder.rglob("*.png")) + [folder / "missing.png"]
    recipe = load_image_folder(folder, size=8).recipe.image
    here, there = np.empty((10, 8, 8, 3), np.uint8), np.empty((10, 8, 8, 3), np.uint8)
    problems_here = decode_into(here, paths, recipe, None, "", workers=0)
    problems_there = decode_into(there, paths, recipe, None, "", workers=2)
    assert np.array_equal(here, there) and problems_here == problems_there
    assert problems_here[:-1] == [None] * 9 and "missing.png" in problems_here[-1]


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_photos_are_turned_upright_by_their_exif_orientation(tmp_path, orientation, suffix):
    pixels = np.zeros((6, 10, 3), np.uint8)
    pixels[:2, :3] = 255  # a corner that shows every turn and flip
    picture = Image.fromarray(pixels)
    exif = picture.getexif()
    exif[0x0112] = orientation
    path = tmp_path / f"photo{suffix}"
    picture.save(path, exif=exif, **({"lossless": True} if suffix == ".webp" else {"quality": 100}))
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    read = read_image(path)
    assert read.shape == upright.shape
    assert np.abs(read.astype(int) - upright).max() <= (40 if suffix == ".jpg" else 0)  # JPEG decoders differ a little
