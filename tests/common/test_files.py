"""Saving a file: atomic, keeping what the user set up around it."""
from __future__ import annotations

import os
import time

import pytest

from netbuilder.common.files import write_atomic


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_saved_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "net.nbproj"
    path.write_text("old")
    os.chmod(path, 0o664)
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert os.stat(path).st_mode & 0o777 == 0o664


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_new_file_gets_the_permissions_of_the_umask_not_0600(tmp_path):
    before = os.umask(0o022)
    try:
        write_atomic(tmp_path / "new.nbproj", b"data")
    finally:
        os.umask(before)
    assert os.stat(tmp_path / "new.nbproj").st_mode & 0o777 == 0o644


def test_saving_through_a_symbolic_link_writes_its_target(tmp_path):
    target = tmp_path / "real" / "net.nbproj"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "net.nbproj"
    link.symlink_to(target)
    write_atomic(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_temporary_files_left_by_a_crash_are_removed_by_the_next_save(tmp_path):
    path = tmp_path / "net.nbproj"
    crashed = tmp_path / ".net.nbproj.abc123.tmp"
    crashed.write_text("half a save")
    hours_ago = time.time() - 2 * 3600
    os.utime(crashed, (hours_ago, hours_ago))
    other = tmp_path / ".other.nbproj.abc123.tmp"  # another file's: not this save's business
    other.write_text("x")
    os.utime(other, (hours_ago, hours_ago))
    write_atomic(path, b"data")
    assert not crashed.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.nbproj.abc123.tmp", "net.nbproj"]
