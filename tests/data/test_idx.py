import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from netbuilder.data.base import DataError
from netbuilder.data.idx import decode_idx, read_idx

IDX_DTYPES = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(array=hnp.arrays(IDX_DTYPES, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)),
       compressed=st.booleans())
def test_round_trip_of_every_element_type(idx_bytes, array, compressed):
    data = idx_bytes(array)
    if compressed:
        data = gzip.compress(data)
    decoded = decode_idx(data, "x.idx")
    assert decoded.shape == array.shape
    assert decoded.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(decoded, array)


def test_reads_a_gzip_file_whatever_its_name(tmp_path, idx_bytes):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "images.idx3"  # no .gz, still compressed: the content decides
    path.write_bytes(gzip.compress(idx_bytes(images)))
    np.testing.assert_array_equal(read_idx(path), images)


@pytest.mark.parametrize("corrupt, message", [
    (lambda data: data[:-1], "is cut short: a 2×3×4 array needs 40 bytes but the file has 39"),
    (lambda data: data + b"\0", "has extra bytes at the end"),
    (lambda data: b"\x00\x00\x07\x03" + data[4:], "is not an IDX file"),
    (lambda data: data[:2], "only 2 bytes long"),
    (lambda data: data[:9], "the header announces 3 dimensions"),
    (lambda data: gzip.compress(data)[:30], "gzip file that is cut short"),
    (lambda data: b"\x1f\x8b\x07" + gzip.compress(data)[3:], "damaged gzip file"),
])
def test_a_bad_file_is_refused_with_its_name(tmp_path, idx_bytes, corrupt, message):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(corrupt(idx_bytes(np.zeros((2, 3, 4), np.uint8))))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz") as error:
        read_idx(path)
    assert message in str(error.value)


def test_a_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="nothing.idx: cannot be read"):
        read_idx(tmp_path / "nothing.idx")


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_an_array_or_a_data_error(data):
    try:
        decode_idx(data, "any.idx")
    except DataError as error:
        assert str(error).startswith("any.idx: ")


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 10_000), value=st.integers(0, 255), cut=st.integers(0, 10_000),
       compressed=st.booleans())
def test_damaged_real_looking_files_give_an_array_or_a_data_error(idx_bytes, position, value, cut, compressed):
    data = idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5))
    if compressed:
        data = gzip.compress(data)
    mutated = bytearray(data)
    mutated[position % len(mutated)] = value
    mutated = bytes(mutated[: len(mutated) - cut % 8])
    try:
        decode_idx(mutated, "damaged.gz")
    except DataError as error:
        assert "damaged.gz" in str(error)
