import gzip
import zlib

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
    with pytest.raises(DataError, match="There is no IDX file .*nothing.idx"):
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


def _gzip_stream(header: bytes, zero_bytes: int) -> bytes:
    """A gzip file of `header` and `zero_bytes` zeros, compressed piece by piece (never held whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(16 * 1024 * 1024)
    parts = [packer.compress(header)]
    for start in range(0, zero_bytes, len(block)):
        parts.append(packer.compress(block[:min(len(block), zero_bytes - start)]))
    return b"".join(parts) + packer.flush()


def test_a_small_gzip_file_that_unpacks_to_gigabytes_of_float32_is_refused_from_its_header(tmp_path):
    # The example: 1.9 GB of uint8 pixels, far below the file guard, is 7.8 GB as float32.
    count, side = 2_500_000, 28
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (count, side, side))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(_gzip_stream(header, 64 * 1024 * 1024))  # the header is what counts, not the payload

    with pytest.raises(DataError) as error:
        read_idx(path)

    message = str(error.value)
    assert "2500000×28×28" in message and "7.3 GB" in message and "32-bit numbers" in message


def test_a_gzip_file_declaring_a_small_array_but_unpacking_to_more_stops_unpacking(tmp_path, idx_bytes,
                                                                                     monkeypatch):
    data = idx_bytes(np.zeros((2, 3, 4), np.uint8))
    path = tmp_path / "labels.gz"
    path.write_bytes(_gzip_stream(data, 256 * 1024 * 1024))  # 256 MB of zeros after a 24-value array

    unpacked = []
    real_decompressobj = zlib.decompressobj

    class CountingInflater:
        def __init__(self, *args, **kwargs):
            self.inflater = real_decompressobj(*args, **kwargs)

        def decompress(self, data, max_length=0):
            out = self.inflater.decompress(data, max_length)
            unpacked.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.inflater, name)

    monkeypatch.setattr(zlib, "decompressobj", CountingInflater)
    with pytest.raises(DataError, match="has extra bytes at the end"):
        read_idx(path)
    assert 0 < sum(unpacked) <= 1024  # the header, the 24 values and a byte past them; not 256 MB


def test_an_uncompressed_file_declaring_too_many_values_is_refused_before_reading_them(idx_bytes):
    header = bytes([0, 0, 0x0D, 2]) + (100_000).to_bytes(4, "big") + (10_000).to_bytes(4, "big")
    with pytest.raises(DataError, match="100000×10000 array, 3.7 GB once loaded as 32-bit numbers"):
        decode_idx(header + bytes(100), "big.idx")


def test_labels_count_the_8_bytes_of_int64_they_become(idx_bytes):
    header = bytes([0, 0, 8, 1]) + (300_000_000).to_bytes(4, "big")  # 1.1 GB as float32, 2.2 GB as int64
    with pytest.raises(DataError, match="300000000 array, 2.2 GB once loaded as 64-bit numbers"):
        decode_idx(header, "labels.idx", loaded_bytes_per_value=8)
