"""The one reader of parsed JSON fields that project files, recipes, checkpoints and drawings share."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netbuilder.common.fields import FieldError, is_count, is_number, read_field


@pytest.mark.parametrize("value, number", [(1, True), (2.5, True), (-3, True), (True, False), ("1", False),
                                           (None, False), (10**400, False), (math.nan, False), (math.inf, False)])
def test_a_number_is_what_converts_to_a_finite_float_and_never_true_or_false(value, number):
    assert is_number(value) is number


def test_a_measured_number_may_be_nan_or_infinite_as_a_diverged_loss_is():
    assert is_number(math.nan, finite=False) and is_number(-math.inf, finite=False)
    assert not is_number(False, finite=False)


@given(st.integers())
def test_a_count_is_a_whole_number_from_zero_within_int64(value):
    assert is_count(value) == (0 <= value < 2**62)


def test_a_field_of_another_kind_names_the_field_what_was_wanted_and_what_was_found():
    with pytest.raises(FieldError) as caught:
        read_field({"pen_width": "thick"}, "pen_width", "number")
    assert (caught.value.name, caught.value.wanted, caught.value.value, caught.value.missing) == \
        ("pen_width", "a number", "thick", False)
    with pytest.raises(FieldError, match="a list of texts"):
        read_field({"names": ["a", 1]}, "names", "texts")


def test_a_missing_field_is_an_error_unless_it_has_a_default_or_is_optional():
    with pytest.raises(FieldError) as caught:
        read_field({}, "epochs", "list")
    assert caught.value.missing
    assert read_field({}, "epochs", "list", default=[]) == []
    assert read_field({}, "val_loss", "measured number", optional=True) is None
    assert read_field({"val_loss": None}, "val_loss", "measured number", optional=True) is None
    with pytest.raises(FieldError):  # null is a value of the wrong kind unless the field is optional
        read_field({"name": None}, "name", "text", default="Untitled")
    assert read_field({"name": "mnist"}, "name", "text", default="Untitled") == "mnist"
