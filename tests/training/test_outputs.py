"""Where a command writes is checked before it works: every reason a file cannot be written
comes back as one OutputError with the path and what to do."""
import os
import tempfile

import pytest

from netbuilder.training.outputs import OutputError, check_json_lines_file, check_output_file, check_output_folder


def _refusal(check, *args, **kwargs) -> str:
    with pytest.raises(OutputError) as refused:
        check(*args, **kwargs)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 300
    return message


def test_a_new_file_in_an_existing_folder_and_a_writable_file_are_accepted(tmp_path):
    assert check_output_file(tmp_path / "new.pt") == tmp_path / "new.pt"
    (tmp_path / "old.pt").write_bytes(b"x")
    assert check_output_file(tmp_path / "old.pt") == tmp_path / "old.pt"
    assert os.listdir(tmp_path) == ["old.pt"]  # the write test leaves nothing behind


def test_each_reason_a_file_cannot_be_written_is_named(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    read_only = tmp_path / "read-only.pt"
    read_only.write_text("x")
    read_only.chmod(0o444)
    os.mkfifo(tmp_path / "pipe")
    assert "is a folder" in _refusal(check_output_file, tmp_path / "folder")
    assert "is read-only" in _refusal(check_output_file, read_only)
    assert "not a regular file" in _refusal(check_output_file, tmp_path / "pipe")  # never opened: no hang
    assert "does not exist: create it first" in _refusal(check_output_file, tmp_path / "missing" / "x.pt")
    assert "Not a directory" in _refusal(check_output_file, tmp_path / "file" / "x.pt")
    assert "File name too long" in _refusal(check_output_file, tmp_path / ("n" * 300))
    assert "empty" in _refusal(check_output_file, "  ")
    assert "also the file this command reads" in _refusal(check_output_file, tmp_path / "file",
                                                          reads=[tmp_path / "file"])


def test_an_unwritable_folder_is_found_by_trying(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # what a read-only mount or a foreign folder does
    assert _refusal(check_output_file, tmp_path / "x.pt").endswith("x.pt: Permission denied.")


def test_a_long_or_hostile_name_is_quoted_short_and_printable(tmp_path):
    assert len(_refusal(check_output_file, tmp_path / ("n" * 5000))) < 300
    message = _refusal(check_output_file, tmp_path / "missing\x1b[2J" / "x.pt")
    assert "\x1b" not in message and "missing\\x1b[2J" in message


def test_an_output_folder_may_be_created_but_not_be_a_file(tmp_path):
    assert check_output_folder(tmp_path / "runs" / "cnn", "cnn.safetensors") == tmp_path / "runs" / "cnn" / \
        "cnn.safetensors"
    assert not (tmp_path / "runs").exists()  # made when the run saves, not by the check
    (tmp_path / "taken").write_text("x")
    assert "is a file, not a folder" in _refusal(check_output_folder, tmp_path / "taken", "cnn.safetensors")


def test_events_are_appended_only_to_json_lines(tmp_path):
    (tmp_path / "run.jsonl").write_text('{"event": "Started"}\n')
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n")
    assert check_json_lines_file(tmp_path / "run.jsonl") == tmp_path / "run.jsonl"
    assert check_json_lines_file(tmp_path / "empty.jsonl") == tmp_path / "empty.jsonl"
    assert "something other than JSON lines" in _refusal(check_json_lines_file, tmp_path / "picture.png")


def test_a_disk_without_room_for_the_checkpoint_is_found_before_training(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 20_000, 20_000))
    assert check_output_folder(tmp_path, "net.safetensors", size=10_000) == tmp_path / "net.safetensors"
    message = _refusal(check_output_folder, tmp_path / "new", "net.safetensors", size=400_000_000)
    assert message.endswith("will need about 381.5 MB, but its disk has 19.5 KB free: free some space or choose "
                            "another folder.")


def test_a_name_holding_a_nul_character_is_refused_as_no_file_name(tmp_path):
    assert "holds a NUL character" in _refusal(check_output_file, f"{tmp_path}/a\0b.py")
