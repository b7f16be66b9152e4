"""Before Qt aborts on a desktop without its X libraries, the app names what is missing and the
one command that installs it on this system."""
from __future__ import annotations

import sys

import pytest

from netbuilder.gui import qt_libraries
from netbuilder.gui.app import run_gui
from netbuilder.gui.qt_libraries import (install_command, missing_libraries, needed_libraries, os_family,
                                         qt_directory, uses_xcb)

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
FEDORA = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=41\n'
ROCKY = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
ARCH = 'NAME="Arch Linux"\nID=arch\n'
NOT_ON_THIS_SYSTEM = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}  # what the desktop lacked


def test_the_plugins_own_dependencies_are_read_from_the_library_file(tmp_path):
    plugin = qt_directory() / "plugins" / "platforms" / "libqxcb.so"
    needed = needed_libraries(plugin)
    assert {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libQt6XcbQpa.so.6"} <= set(needed)
    not_a_library = tmp_path / "libqxcb.so"
    not_a_library.write_text("#!/bin/sh\n")
    assert needed_libraries(not_a_library) is None


def test_missing_libraries_follow_the_bundled_qt_libraries_and_name_only_system_ones():
    asked = []

    def loads(name):
        asked.append(name)
        return name not in NOT_ON_THIS_SYSTEM
    assert missing_libraries(qt_directory(), loads) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert not any(name.startswith("libQt6") for name in asked)  # shipped with PySide6: followed, not looked up
    assert "libfontconfig.so.1" in asked  # a dependency of the bundled libQt6Gui
    assert missing_libraries(qt_directory(), lambda name: True) == []


@pytest.mark.parametrize("os_release, command", [
    (DEBIAN, "sudo apt install libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libglib2.0-0"),
    (UBUNTU, "sudo apt install libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libglib2.0-0"),
    (FEDORA, "sudo dnf install xcb-util-wm xcb-util-keysyms libxkbcommon-x11 glib2"),
    (ROCKY, "sudo dnf install xcb-util-wm xcb-util-keysyms libxkbcommon-x11 glib2"),
    (ARCH, ""),
])
def test_the_install_command_is_the_one_of_the_system(os_release, command):
    missing = ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0", "libglib-2.0.so.0"]
    assert install_command(missing, os_family(os_release)) == command


def test_an_unknown_fedora_library_is_asked_for_by_its_file():
    assert install_command(["libxcb-xinerama.so.0"], "fedora") == "sudo dnf install /usr/lib64/libxcb-xinerama.so.0"


@pytest.mark.parametrize("environment, xcb", [
    ({"DISPLAY": ":0"}, True), ({"QT_QPA_PLATFORM": "xcb"}, True), ({"QT_QPA_PLATFORM": "xcb:dpi=96"}, True),
    ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, False), ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, False),
    ({"QT_QPA_PLATFORM": "wayland"}, False), ({}, False),
])
def test_only_the_xcb_platform_is_checked(environment, xcb):
    assert uses_xcb(environment) is xcb


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_starting_the_app_with_a_library_missing_prints_the_install_command_instead_of_qts_abort(
        tmp_path, monkeypatch, capsys):
    os_release = tmp_path / "os-release"
    os_release.write_text(UBUNTU)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(qt_libraries, "_loads", lambda name: name not in NOT_ON_THIS_SYSTEM)
    monkeypatch.setattr(qt_libraries, "OS_RELEASE", os_release)

    assert run_gui(None) == 2

    message = capsys.readouterr().err
    assert "system libraries are missing: libxcb-icccm.so.4, libxcb-keysyms.so.1." in message
    assert "\n    sudo apt install libxcb-icccm4 libxcb-keysyms1\n" in message
    assert "Traceback" not in message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_a_display_where_no_x_server_answers_is_said_so_instead_of_qts_abort(monkeypatch, capsys):
    # nothing listens on display 987 here: libxcb's connection fails at once, as Qt's would
    assert not qt_libraries.x_display_answers(":987")
    monkeypatch.setenv("DISPLAY", ":987")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(qt_libraries, "_loads", lambda name: True)

    assert run_gui(None) == 2

    message = capsys.readouterr().err
    assert message.startswith("netbuilder: no X server answers at DISPLAY=':987'") and "netbuilder-cli --help" in message
    assert "Traceback" not in message and "xcb-cursor0" not in message


def test_an_answering_display_or_another_platform_needs_no_message(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert qt_libraries.check_x_display(lambda: True) == ""
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert qt_libraries.check_x_display(lambda: False) == ""
