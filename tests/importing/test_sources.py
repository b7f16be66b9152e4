"""What the command line and the dialog hand the import: any text is read or refused with a message."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netbuilder.importing.python_file import parse_argument
from netbuilder.importing.report import ImportFailure
from netbuilder.importing.sources import parse_shape, request


@given(st.text(max_size=60))
def test_any_shape_text_is_sizes_or_a_message(text):
    try:
        shape = parse_shape(text)
    except ImportFailure as failure:
        assert "input shape" in str(failure)
    else:
        assert 1 <= len(shape) <= 3 and all(1 <= size <= 1_000_000 for size in shape)


@given(st.text(max_size=60))
def test_any_argument_text_is_a_name_and_value_or_a_message(text):
    try:
        name, _ = parse_argument(text)
    except ImportFailure as failure:
        assert "name=value" in str(failure)
    else:
        assert name.isidentifier()


@pytest.mark.parametrize("text, shape", [("1,28,28", (1, 28, 28)), ("3x224x224", (3, 224, 224)), ("(20)", (20,)),
                                         (" 16 , 8 ", (16, 8))])
def test_shapes_are_read_as_people_write_them(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text, value", [("classes=10", 10), ("rate=0.5", 0.5), ("kernel=(3, 3)", (3, 3)),
                                         ("activation=relu", "relu"), ("name='x'", "x"), ("flag=True", True)])
def test_constructor_arguments_are_python_literals_or_text(text, value):
    assert parse_argument(text)[1] == value


@pytest.mark.parametrize("model, shape, arguments, message", [
    ("model.py", "1,28,28", [], "must name a .py file and its model class"),
    ("model.txt:Net", "4", [], "must name a .py file and its model class"),
    ("model.py:Net", None, [], "needs --input-shape"),
    ("model.onnx", None, ["a=1"], "holds its input shape"),
])
def test_an_incomplete_request_says_what_is_missing(model, shape, arguments, message):
    with pytest.raises(ImportFailure, match=message):
        request(model, shape, arguments)
