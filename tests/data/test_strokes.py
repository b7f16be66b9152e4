"""Drawings as strokes: JSON round trips, refusal of malformed files, and the renderer."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.data.digits import generate_digits, pen_traces
from netbuilder.data.strokes import MAX_STROKES, Drawing, StrokesError, load_drawing, render

CANVAS = (280, 280)


def _drawing(*strokes, pen_width=18.0):
    return Drawing(CANVAS, pen_width, tuple(tuple(map(tuple, stroke)) for stroke in strokes))


coordinates = st.floats(0, 280, allow_nan=False)
strokes = st.lists(st.lists(st.tuples(coordinates, coordinates), min_size=1, max_size=30), max_size=8)


@settings(max_examples=60, deadline=None)
@given(strokes=strokes, pen_width=st.floats(0.5, 60))
def test_a_saved_drawing_loads_as_the_same_drawing_and_renders_the_same_pixels(tmp_path_factory, strokes, pen_width):
    drawing = _drawing(*strokes, pen_width=pen_width)
    path = tmp_path_factory.mktemp("drawings") / "d.json"
    drawing.save(path)
    loaded = load_drawing(path)
    assert loaded == drawing
    assert np.array_equal(render(loaded), render(drawing))


@pytest.mark.parametrize("document, complaint", [
    ([], "not a drawing"),
    ({"canvas": [280, 280], "strokes": []}, "'pen_width'"),
    ({"canvas": [280], "pen_width": 5, "strokes": []}, '"canvas" must be [width, height]'),
    ({"canvas": [280.5, 280], "pen_width": 5, "strokes": []}, "whole pixels"),
    ({"canvas": [0, 280], "pen_width": 5, "strokes": []}, "1 to 4096 pixels"),
    ({"canvas": [280, 280], "pen_width": "thick", "strokes": []}, '"pen_width" must be a number'),
    ({"canvas": [280, 280], "pen_width": 0, "strokes": []}, "pen width must be above 0"),
    ({"canvas": [280, 280], "pen_width": 5, "strokes": [[]]}, "stroke 1 must be a non-empty list"),
    ({"canvas": [280, 280], "pen_width": 5, "strokes": [[[1, 2], [3]]]}, "stroke 1 has a point [3]"),
    ({"canvas": [280, 280], "pen_width": 5, "strokes": [[[1, 2]], [[1, True]]]}, "stroke 2 has a point"),
    ({"canvas": [280, 280], "pen_width": 5, "strokes": [[[1, 2], [300, 2]]]}, "outside the 280×280 canvas"),
    ({"canvas": [280, 280], "pen_width": 5, "strokes": [[[1, 10**400]]]}, "stroke 1 has a point"),
    ({"canvas": [10**400, 280], "pen_width": 5, "strokes": []}, "whole pixels"),
    ({"canvas": [280, 280], "pen_width": 5, "strokes": [[[1, 2]]] * (MAX_STROKES + 1)}, "at most 500"),
])
def test_a_malformed_drawing_file_is_refused_naming_the_file_and_the_problem(tmp_path, document, complaint):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(StrokesError) as raised:
        load_drawing(path)
    assert "bad.json" in str(raised.value) and complaint in str(raised.value)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=20)
drawing_like = st.fixed_dictionaries({"canvas": json_values, "pen_width": json_values, "strokes": json_values})


@settings(max_examples=200, deadline=None)
@given(document=json_values | drawing_like)
def test_any_json_document_is_a_drawing_or_refused_with_a_strokes_error(document):
    try:
        drawing = Drawing.from_dict(document, "x.json")
    except StrokesError as error:
        assert str(error).startswith("x.json")
    else:
        assert Drawing.from_dict(drawing.to_dict()) == drawing


def test_a_file_that_is_not_json_or_too_large_or_missing_is_refused(tmp_path):
    (tmp_path / "text.json").write_text("hello")
    (tmp_path / "huge.json").write_bytes(b" " * (9 * 1024 * 1024))
    for name, complaint in (("text.json", "not valid JSON"), ("huge.json", "larger than 8.0 MB"),
                           ("none.json", "no drawing file")):
        with pytest.raises(StrokesError, match=complaint):
            load_drawing(tmp_path / name)


def test_rendering_is_anti_aliased_with_round_caps():
    image = render(_drawing([(100, 140), (180, 140)], pen_width=20))
    row = image[140]
    assert row[100:181].min() == 255  # solid along the stroke
    assert row[85] == 0 and row[195] == 0
    assert row[91] == 255 and row[189] == 255  # the caps reach half the pen beyond the ends
    assert 0 < image[150, 140] < 255 or 0 < image[129, 140] < 255  # a grey, anti-aliased edge
    column_above_end = image[:, 180]
    assert column_above_end[131] == 255  # a round cap: full at the end point's own column


def test_a_lone_point_is_a_dot_as_wide_as_the_pen():
    image = render(_drawing([(140, 140)], pen_width=20))
    ink_rows = np.flatnonzero(image.max(axis=1))
    assert 19 <= len(ink_rows) <= 25 and image[140, 140] == 255


def test_rendering_at_another_size_scales_points_and_pen_together():
    drawing = _drawing([(40, 60), (240, 200)], [(200, 40), (60, 240)], pen_width=20)
    large, small = render(drawing).astype(float), render(drawing, (140, 140)).astype(float)
    assert small.shape == (140, 140)
    assert small.sum() * 4 == pytest.approx(large.sum(), rel=0.1)  # the pen shrank with the picture
    rows, cols = np.indices(large.shape)
    small_rows, small_cols = np.indices(small.shape)
    large_centre = ((rows * large).sum() / large.sum(), (cols * large).sum() / large.sum())
    small_centre = ((small_rows * small).sum() / small.sum(), (small_cols * small).sum() / small.sum())
    assert np.allclose(np.add(small_centre, 0.5) * 2, np.add(large_centre, 0.5), atol=1.0)  # the ink stayed put


def test_edits_return_new_drawings_and_leave_the_old_ones_as_they_were():
    empty = Drawing(CANVAS, 18.0)
    one = empty.with_stroke([(10, 10), (20, 20)])
    two = one.with_stroke([(30, 30)])
    assert empty.is_empty and len(one.strokes) == 1 and two.point_count == 3
    assert two.without_last_stroke() == one and two.cleared() == empty
    assert two.with_pen_width(5).pen_width == 5 and two.pen_width == 18


def test_the_digit_generator_inks_its_pen_trace_with_the_shared_renderer_unchanged():
    # Generator version 15's bytes (the same as version 13's): a change to the shared renderer that
    # moves the generator's ink shows here (and then needs a new GENERATOR_VERSION, so that no cache
    # of the old digits is read).
    images, _ = generate_digits(40, seed=3, workers=1)
    assert int(images.astype(np.int64).sum()) == 944_966
    drawings, labels, renderings = pen_traces(20, seed=1)
    assert [int(label) for label in labels[:11]] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    assert all(drawing.canvas == (64, 64) for drawing in drawings)
    assert renderings.shape == (20, 28, 28) and renderings.max() == 255
