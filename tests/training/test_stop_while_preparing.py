"""A stop while the built-in digits are generated ends every process at once, cleanly.

The generation draws on a pool of worker processes; a SIGTERM (a service manager, `kill`) or
Ctrl+C at any moment of the preparation must reach them, end the command with the signal's
status, leave no process behind and print no traceback.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netbuilder.core.project import load_template, save_project
from netbuilder.training.event_stream import read_event
from netbuilder.training.events import Preparing

ROOT = Path(__file__).resolve().parents[2]
EXIT_TIMEOUT_SECONDS = 90  # generous (a busy machine starts the workers slowly); a stop that misses them takes minutes
# Seconds into the preparation, each with one of the two signals (one handler takes both): each run starts
# a command and its workers, so three runs cover both signals and an early, a middle and a late stop.
STOPS = [(signal.SIGTERM, 0.2), (signal.SIGINT, 1.27), (signal.SIGTERM, 1.43)]


def _wait_until(condition, timeout: float, what: str) -> None:
    """Wait on a state outside this process (a file, the process table), which cannot signal us."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _session_members(session: int) -> list[int]:
    """Processes of the session the command started (it leads it: its workers and fork server too)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # it ended meanwhile
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def _preparing(events_file: Path) -> bool:
    try:
        lines = events_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(isinstance(read_event(line), Preparing) for line in lines[:-1])  # the last may be partial


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
@pytest.mark.parametrize("signal_number, moment", STOPS)
def test_a_stop_while_digits_are_generated_ends_every_process_without_a_traceback(tmp_path, signal_number, moment):
    project = tmp_path / "digits.nbproj"
    save_project(load_template("1-mlp"), project)
    events = tmp_path / "events.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT), NETBUILDER_DATA_DIR=str(tmp_path / "data"), PYTHONFAULTHANDLER="1",
               NETBUILDER_CACHE_DIR=str(tmp_path / "cache"))  # nothing generated yet: it is generated now
    command = subprocess.Popen([sys.executable, "-m", "netbuilder", "train", str(project), "--data", "digits",
                                "--events-jsonl", str(events)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_until(lambda: _preparing(events), 120, "the preparation to start")
        time.sleep(moment)  # the moment of the stop, not a measurement
        assert command.poll() is None, "the generation ended before the stop: make the dataset larger"
        os.kill(command.pid, signal_number)
        try:
            out, err = command.communicate(timeout=EXIT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:  # what each process left is doing, for the failure
            left = _session_members(command.pid)
            for pid in left:
                os.kill(pid, signal.SIGABRT)  # PYTHONFAULTHANDLER: each prints where its threads are
            out, err = command.communicate(timeout=EXIT_TIMEOUT_SECONDS)
            pytest.fail(f"processes {left} still ran {EXIT_TIMEOUT_SECONDS} s after the stop:\n{err[-6000:]}")
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
            command.communicate()
    assert command.returncode == 128 + signal_number, err[-3000:]
    assert "Traceback" not in err and "Traceback" not in out, err[-3000:]
    assert err.splitlines()[-1] == "netbuilder: nothing was saved: no epoch had ended", err[-3000:]
    # the fork server ends when it sees its parent gone: a moment after the command, never minutes
    _wait_until(lambda: not _session_members(command.pid), 5, "the worker processes to exit")
