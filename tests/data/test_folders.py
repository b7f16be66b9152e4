import os

import cv2
import numpy as np
import pytest
import torch

from netbuilder.data.base import DataError
from netbuilder.data.recipe import MNIST_MEAN, MNIST_STD
from netbuilder.data.folders import load_image_folder

BLACK, WHITE = -MNIST_MEAN / MNIST_STD, (1 - MNIST_MEAN) / MNIST_STD


def write_image(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(path.suffix, pixels)
    assert ok
    encoded.tofile(path)  # works for non-ASCII paths, as the reader does


@pytest.fixture
def shapes_folder(tmp_path):
    """Three classes with unicode names: dark, bright and half-bright images of various sizes."""
    root = tmp_path / "formen"
    for index in range(5):
        write_image(root / "dunkel" / f"{index}.png", np.zeros((10, 12), np.uint8))
        write_image(root / "hell-ü" / f"bild {index}.JPG", np.full((40, 40), 255, np.uint8))
        write_image(root / "半分" / f"{index}.bmp", np.full((28, 28), 128, np.uint8))
    (root / "dunkel" / "notes.txt").write_text("not an image, ignored")
    (root / ".thumbnails").mkdir()
    return root


def test_classes_come_from_sorted_folder_names_and_images_are_resized(shapes_folder):
    reports = []
    dataset = load_image_folder(shapes_folder, size=(8, 6), val_fraction=0.4, seed=1,
                                progress=lambda *report: reports.append(report))
    assert dataset.class_names == ["dunkel", "hell-ü", "半分"]
    assert dataset.name == "formen" and dataset.kind == "image"
    assert dataset.train_x.shape == (9, 1, 8, 6) and dataset.val_x.shape == (6, 1, 8, 6)
    assert dataset.train_x.dtype == torch.float32 and dataset.train_y.dtype == torch.int64
    assert sorted(dataset.val_y.tolist()) == [0, 0, 1, 1, 2, 2]  # every class in validation
    for x, y in ((dataset.train_x, dataset.train_y), (dataset.val_x, dataset.val_y)):
        expected = {0: BLACK, 1: WHITE, 2: (128 / 255 - MNIST_MEAN) / MNIST_STD}
        for sample, label in zip(x, y.tolist()):
            assert sample.flatten().tolist() == pytest.approx([expected[label]] * 48, abs=1e-5)
    assert reports[-1] == (15, 15, "Reading images from formen")


def test_the_split_depends_on_the_seed_only(shapes_folder):
    first = load_image_folder(shapes_folder, seed=3)
    again = load_image_folder(shapes_folder, seed=3)
    other = load_image_folder(shapes_folder, seed=4)
    assert torch.equal(first.train_y, again.train_y)
    assert not torch.equal(first.train_y, other.train_y)
    assert first.sample_shape == (1, 28, 28)


def test_colour_images_keep_their_channels_in_rgb_order(tmp_path):
    blue_bgr = np.zeros((4, 4, 3), np.uint8)
    blue_bgr[..., 0] = 255
    write_image(tmp_path / "blue" / "a.png", blue_bgr)
    write_image(tmp_path / "grey" / "b.png", np.full((4, 4), 255, np.uint8))
    dataset = load_image_folder(tmp_path, size=4, color=True, val_fraction=0)
    assert dataset.sample_shape == (3, 4, 4)
    assert len(dataset.val_x) == 0
    blue = dataset.train_x[dataset.train_y == 0][0]
    assert blue[:, 0, 0].tolist() == pytest.approx([BLACK, BLACK, WHITE])


def test_an_unreadable_image_names_the_file_when_skipping_is_off(shapes_folder):
    (shapes_folder / "dunkel" / "kaputt.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"dunkel[/\\]kaputt.png: is not an image that can be read"):
        load_image_folder(shapes_folder, skip_unreadable=False)


def test_unreadable_images_are_skipped_and_counted(shapes_folder):
    (shapes_folder / "dunkel" / "kaputt.png").write_bytes(b"")
    (shapes_folder / "半分" / "leer.jpg").write_bytes(b"\xff\xd8 broken")
    dataset = load_image_folder(shapes_folder)
    assert len(dataset.train_x) + len(dataset.val_x) == 15
    assert dataset.notes == ["Skipped 2 unreadable images, e.g. dunkel/kaputt.png."]


def test_a_class_folder_without_images_is_explained(shapes_folder):
    (shapes_folder / "leer").mkdir()
    (shapes_folder / "leer" / "readme.md").write_text("x")
    with pytest.raises(DataError, match='class folder "leer" in .* holds no images'):
        load_image_folder(shapes_folder)


def test_a_folder_of_loose_images_is_explained(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match="needs one subfolder per class, at least two.*found 0 class folders"):
        load_image_folder(tmp_path)


def test_a_missing_folder_is_explained(tmp_path):
    with pytest.raises(DataError, match="nowhere: is not a folder"):
        load_image_folder(tmp_path / "nowhere")


@pytest.mark.parametrize("name", [b"caf\xe9", b"tab\there"], ids=["not UTF-8", "a control character"])
def test_a_class_folder_whose_name_is_not_printable_text_is_refused(tmp_path, name):
    for folder in (os.fsencode(tmp_path / "good"), os.fsencode(tmp_path) + b"/" + name):
        os.makedirs(folder)
        with open(folder + b"/a.png", "wb") as image:
            image.write(cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1].tobytes())
    with pytest.raises(DataError, match="has a name that is not printable text: rename it") as error:
        load_image_folder(tmp_path)
    str(error.value).encode("utf-8")  # the message itself prints


def test_an_image_declaring_a_gigapixel_is_refused_from_its_header(tmp_path):
    ok, encoded = cv2.imencode(".png", np.zeros((4, 4), np.uint8))
    header = bytearray(encoded.tobytes())
    header[16:24] = (60_000).to_bytes(4, "big") * 2  # IHDR width and height: 3.6 gigapixels, 10 GB in colour
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "bomb.png").write_bytes(bytes(header))
    with pytest.raises(DataError, match="declares 60,000×60,000 pixels; netbuilder reads images of up to 100 "
                                        "megapixels"):
        load_image_folder(tmp_path, skip_unreadable=False)
    # skipping unreadable images skips it too, and then no class is left
    with pytest.raises(DataError, match='No readable image in the class folder "a"'):
        load_image_folder(tmp_path)
