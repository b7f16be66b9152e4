import hashlib

import pytest

from netbuilder.data.base import DataError
from netbuilder.data.download import download_file

PAYLOAD = bytes(range(256)) * 1000  # 256 kB: several chunks, so progress has steps
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_downloads_verifies_and_reports_progress(tmp_path, mirrors):
    mirrors.files["/a/data.bin"] = PAYLOAD
    reports = []
    destination = tmp_path / "cache" / "data.bin"
    download_file([mirrors.url("a") + "data.bin"], destination, md5=PAYLOAD_MD5,
                  sha256=hashlib.sha256(PAYLOAD).hexdigest(), progress=lambda *report: reports.append(report))
    assert destination.read_bytes() == PAYLOAD
    assert list(destination.parent.iterdir()) == [destination]
    assert reports[0][:2] == (0, len(PAYLOAD))
    assert reports[-1][:2] == (len(PAYLOAD), len(PAYLOAD))
    assert all(done <= later for (done, _, _), (later, _, _) in zip(reports, reports[1:]))
    assert reports[-1][2] == f"Downloading data.bin from {mirrors.base_url[7:-1]}"


def test_a_corrupted_file_is_refused_and_nothing_is_kept(tmp_path, mirrors):
    mirrors.files["/a/data.bin"] = PAYLOAD[:-1] + b"!"
    with pytest.raises(DataError, match="data.bin") as error:
        download_file([mirrors.url("a") + "data.bin"], tmp_path / "data.bin", md5=PAYLOAD_MD5)
    assert f"md5 checksum {hashlib.md5(PAYLOAD[:-1] + b'!').hexdigest()} instead of {PAYLOAD_MD5}" in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_sha256_is_refused(tmp_path, mirrors):
    mirrors.files["/a/data.bin"] = PAYLOAD
    with pytest.raises(DataError, match="sha256 checksum"):
        download_file([mirrors.url("a") + "data.bin"], tmp_path / "data.bin", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_a_connection_that_drops_mid_file_leaves_nothing(tmp_path, mirrors):
    mirrors.files["/a/data.bin"] = PAYLOAD
    mirrors.cut_short.add("/a/data.bin")
    with pytest.raises(DataError, match="broke off after") as error:
        download_file([mirrors.url("a") + "data.bin"], tmp_path / "data.bin")  # no checksum to catch it
    assert f"of {len(PAYLOAD)} bytes" in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("first_mirror_problem", ["missing", "corrupt", "cut short", "unreachable"])
def test_falls_back_to_the_next_mirror(tmp_path, mirrors, unreachable_url, first_mirror_problem):
    mirrors.files["/good/data.bin"] = PAYLOAD
    first = mirrors.url("bad") + "data.bin"
    if first_mirror_problem == "corrupt":
        mirrors.files["/bad/data.bin"] = b"not the file"
    elif first_mirror_problem == "cut short":
        mirrors.files["/bad/data.bin"] = PAYLOAD
        mirrors.cut_short.add("/bad/data.bin")
    elif first_mirror_problem == "unreachable":
        first = unreachable_url + "data.bin"
    download_file([first, mirrors.url("good") + "data.bin"], tmp_path / "data.bin", md5=PAYLOAD_MD5)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD
    assert mirrors.requests[-1] == "/good/data.bin"


def test_when_every_mirror_fails_each_failure_is_listed(tmp_path, mirrors, unreachable_url):
    urls = [unreachable_url + "data.bin", mirrors.url("a") + "data.bin"]
    with pytest.raises(DataError) as error:
        download_file(urls, tmp_path / "data.bin")
    lines = str(error.value).splitlines()
    assert lines[0] == "Could not download data.bin:"
    assert lines[1].startswith(f"  {urls[0]}: no connection")
    assert lines[2] == f"  {urls[1]}: the server answered 404 Not Found"


def test_a_progress_callback_can_cancel_and_nothing_is_kept(tmp_path, mirrors):
    mirrors.files["/a/data.bin"] = PAYLOAD

    def stop_after_first_chunk(done, total, message):
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_file([mirrors.url("a") + "data.bin"], tmp_path / "data.bin", progress=stop_after_first_chunk)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_good_file_is_only_replaced_by_a_verified_one(tmp_path, mirrors):
    destination = tmp_path / "data.bin"
    destination.write_bytes(b"old")
    mirrors.files["/a/data.bin"] = b"corrupt"
    with pytest.raises(DataError):
        download_file([mirrors.url("a") + "data.bin"], destination, md5=PAYLOAD_MD5)
    assert destination.read_bytes() == b"old"


@pytest.mark.parametrize("announced, message", [(True, "it offers 250.0 KB"), (False, "it sent more than 97.7 KB")],
                         ids=["with Content-Length", "without"])
def test_a_mirror_sending_more_than_any_dataset_is_refused_and_nothing_is_kept(tmp_path, mirrors, monkeypatch,
                                                                               announced, message):
    monkeypatch.setattr("netbuilder.data.download.MAX_DOWNLOAD_BYTES", 100_000)
    mirrors.files["/a/data.bin"] = PAYLOAD  # 256 kB against a 100 kB limit
    if not announced:  # the response's headers no longer tell its length
        monkeypatch.setattr("http.client.HTTPMessage.get", lambda self, name, default=None: default)
    with pytest.raises(DataError, match=f"{message}, more than any dataset file netbuilder reads"):
        download_file([mirrors.url("a") + "data.bin"], tmp_path / "data.bin")
    assert list(tmp_path.iterdir()) == []
