"""The two programs as a user starts them: `netbuilder-cli` lists its commands; `netbuilder` on a
machine without a display says so instead of aborting inside Qt, and can still take a screenshot."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netbuilder.__main__ import COMMANDS, cli_main

REPOSITORY = Path(__file__).parents[1]


def test_netbuilder_cli_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_status:
        cli_main(["--help"])
    assert exit_status.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: netbuilder-cli")
    assert all(command in usage for command in COMMANDS)


def _without_display(tmp_path: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    environment.update(PYTHONPATH=str(REPOSITORY), XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
    return environment


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="displays are X11/Wayland variables on Linux")
def test_without_a_display_the_app_says_what_is_missing_and_where_to_go(tmp_path):
    result = subprocess.run([sys.executable, "-m", "netbuilder"], capture_output=True, text=True, timeout=120,
                            env=_without_display(tmp_path))
    assert result.returncode == 2
    assert "no display" in result.stderr and "netbuilder-cli --help" in result.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="displays are X11/Wayland variables on Linux")
def test_a_screenshot_needs_no_display(tmp_path):
    picture = tmp_path / "window.png"
    result = subprocess.run([sys.executable, "-m", "netbuilder", "--screenshot", str(picture)], capture_output=True,
                            text=True, timeout=120, env=_without_display(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert picture.stat().st_size > 10_000
