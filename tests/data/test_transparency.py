"""Images whose shape is in the alpha channel (ink drawn through transparency) are read with their
ink, by every image reader: one function (`model_inputs`) composites transparency first."""
import struct
import zlib

import cv2
import numpy as np
import pytest
import torch

from netbuilder.data.folders import load_image_folder, read_image
from netbuilder.data.recipe import digit_recipe, image_recipe, model_inputs
from netbuilder.inference.predict import read_image_files

# PNG files written byte by byte, for the kinds OpenCV cannot write: grey+alpha, palette with transparency.
_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type: grey, grey+alpha, RGB, RGBA
_PALETTE = 3


def png_bytes(pixels: np.ndarray, palette: np.ndarray | None = None, transparency: bytes | None = None) -> bytes:
    """`pixels` (H, W) or (H, W, channels), uint8 or uint16; with `palette` (K, 3) they are
    palette indices and `transparency` holds the alpha of the first palette entries (tRNS)."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, channels = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    colour_type = _PALETTE if palette is not None else _COLOUR_TYPES[channels]
    rows = pixels.astype(">u2" if depth == 16 else np.uint8).reshape(height, -1).view(np.uint8)
    data = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 on every row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))
    if palette is not None:
        png += chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if transparency is not None:
        png += chunk(b"tRNS", transparency)
    return png + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")


DIGITS = digit_recipe([str(digit) for digit in range(10)])


def _ink() -> np.ndarray:
    """A '0'-like ring with a bar, white on black, the way the model learnt digits."""
    ink = np.zeros((60, 48), np.uint8)
    cv2.ellipse(ink, (24, 30), (14, 22), 0, 0, 360, 255, 5, cv2.LINE_AA)
    cv2.line(ink, (10, 52), (38, 8), 255, 4, cv2.LINE_AA)
    return ink


INK = _ink()
BLACK, WHITE = np.zeros_like(INK), np.full_like(INK, 255)


def _deep(values: np.ndarray) -> np.ndarray:
    return values.astype(np.uint16) * 257  # 8-bit values as 16-bit ones


# name -> (PNG bytes, the opaque white-on-black image the model should read)
TRANSPARENT_PNGS = {
    "RGBA, black ink in alpha": (png_bytes(np.dstack([BLACK, BLACK, BLACK, INK])), INK),
    "RGBA, white ink in alpha": (png_bytes(np.dstack([WHITE, WHITE, WHITE, INK])), INK),
    "grey+alpha, black ink in alpha": (png_bytes(np.dstack([BLACK, INK])), INK),
    "grey+alpha, white ink in alpha": (png_bytes(np.dstack([WHITE, INK])), INK),
    "16-bit RGBA, black ink in alpha": (png_bytes(np.dstack([_deep(BLACK)] * 3 + [_deep(INK)])), INK),
    "16-bit grey+alpha, white ink in alpha": (png_bytes(np.dstack([_deep(WHITE), _deep(INK)])), INK),
    "palette, transparent background": (png_bytes((INK > 127).astype(np.uint8), palette=[[255, 255, 255], [0, 0, 0]],
                                                  transparency=b"\x00"), np.where(INK > 127, 255, 0).astype(np.uint8)),
    "partially transparent black ink": (png_bytes(np.dstack([BLACK, BLACK, BLACK, INK // 2])), INK // 2),
}


@pytest.fixture(params=list(TRANSPARENT_PNGS))
def transparent_png(request, tmp_path):
    data, expected = TRANSPARENT_PNGS[request.param]
    path = tmp_path / "digit.png"
    path.write_bytes(data)
    return path, expected


def test_predict_reads_the_ink_of_a_transparent_png(transparent_png):
    path, expected = transparent_png
    raw = read_image_files(DIGITS, [path])
    inputs = model_inputs(DIGITS, raw.samples)
    assert torch.allclose(inputs, model_inputs(DIGITS, [expected]), atol=1e-5)
    blank = model_inputs(DIGITS, [BLACK])
    assert (inputs - blank).abs().sum() > 10  # not the empty image a blank drawing gives


def test_a_pasted_array_with_alpha_reads_like_the_file():
    """The Draw panel or a script hands model_inputs arrays, not files: the same compositing."""
    rgba = np.dstack([BLACK, BLACK, BLACK, INK])
    grey_alpha = np.dstack([WHITE, INK]).astype(np.float32) / 255
    expected = model_inputs(DIGITS, [INK])
    assert torch.allclose(model_inputs(DIGITS, [rgba]), expected, atol=1e-5)
    assert torch.allclose(model_inputs(DIGITS, [grey_alpha]), expected, atol=1e-5)


def test_an_opaque_alpha_channel_changes_nothing():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    opaque = np.dstack([rgb, np.full((20, 30), 255, np.uint8)])
    for recipe in (DIGITS, image_recipe(["a", "b"], 16, 16, 3), image_recipe(["a", "b"], 16, 16)):
        assert torch.equal(model_inputs(recipe, [opaque]), model_inputs(recipe, [rgb]))


def test_a_fully_transparent_image_is_empty():
    clear = np.zeros((30, 30, 4), np.uint8)
    clear[..., :3] = 255  # whatever colour hides under alpha 0
    assert torch.equal(model_inputs(DIGITS, [clear]), model_inputs(DIGITS, [BLACK]))


def test_a_colour_model_sees_dark_ink_on_white_where_the_background_was_transparent():
    colour = image_recipe(["a", "b"], 60, 48, 3)
    inputs = model_inputs(colour, [np.dstack([BLACK, BLACK, BLACK, INK])])
    assert torch.allclose(inputs, model_inputs(colour, [np.dstack([255 - INK] * 3)]), atol=1e-5)


def test_a_folder_of_transparent_pngs_trains_on_their_ink(tmp_path):
    """A folder's recipe reads images as they are (no digit inversion): white ink drawn through
    transparency shows on black, black ink on white, an empty transparent sheet stays blank."""
    classes = {"white ink": ["RGBA, white ink in alpha", "grey+alpha, white ink in alpha"],
               "black ink": ["RGBA, black ink in alpha", "grey+alpha, black ink in alpha"]}
    for name, cases in classes.items():
        (tmp_path / name).mkdir()
        for index, case in enumerate(cases):
            (tmp_path / name / f"{index}.png").write_bytes(TRANSPARENT_PNGS[case][0])
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "0.png").write_bytes(png_bytes(np.dstack([WHITE, WHITE, WHITE, BLACK])))
    dataset = load_image_folder(tmp_path, size=(60, 48), val_fraction=0)
    expected = {"white ink": INK, "black ink": 255 - INK, "blank": BLACK}
    for name, picture in expected.items():
        read = dataset.train_x[dataset.train_y == dataset.class_names.index(name)]
        assert torch.allclose(read, model_inputs(dataset.recipe, [picture] * len(read)), atol=1e-5), name


def test_read_image_keeps_transparency_and_depth_for_the_recipe(tmp_path):
    path = tmp_path / "deep.png"
    path.write_bytes(png_bytes(np.dstack([_deep(BLACK), _deep(INK)])))
    pixels = read_image(path)
    assert pixels.shape == (60, 48, 4) and pixels.dtype == np.uint16
    assert np.array_equal(pixels[..., 3], _deep(INK))
