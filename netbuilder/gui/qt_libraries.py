"""Before Qt loads its X11 platform plugin: which system libraries does the plugin lack, and the
one command that installs them on this system; and does the X display answer at all.

Qt cannot say this itself: when a library of the xcb plugin is missing it names only
libxcb-cursor0 (even when that one is present and others are not) and aborts the process.
The plugin's own library dependencies (ELF DT_NEEDED, followed through the Qt libraries shipped
with PySide6) are read here without importing Qt, and each system library is looked up as the
dynamic loader would.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import re
import struct
import sys
from pathlib import Path
from typing import Callable, Mapping

# Fedora packages by library (the rest are asked for by file: `dnf install /usr/lib64/libX.so.N`)
_FEDORA_PACKAGES = {
    "libxcb-cursor.so.0": "xcb-util-cursor", "libxcb-icccm.so.4": "xcb-util-wm", "libxcb-util.so.1": "xcb-util",
    "libxcb-keysyms.so.1": "xcb-util-keysyms", "libxcb-image.so.0": "xcb-util-image",
    "libxcb-render-util.so.0": "xcb-util-renderutil", "libxkbcommon-x11.so.0": "libxkbcommon-x11",
    "libxkbcommon.so.0": "libxkbcommon", "libX11-xcb.so.1": "libX11-xcb", "libX11.so.6": "libX11",
    "libGL.so.1": "libglvnd-glx", "libEGL.so.1": "libglvnd-egl", "libOpenGL.so.0": "libglvnd-opengl",
    "libfontconfig.so.1": "fontconfig", "libfreetype.so.6": "freetype", "libdbus-1.so.3": "dbus-libs",
    "libglib-2.0.so.0": "glib2", "libgthread-2.0.so.0": "glib2",
}
_DEBIAN_EXCEPTIONS = {"libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0"}
_DT_NEEDED, _DT_STRTAB = 1, 5
_PT_LOAD, _PT_DYNAMIC = 1, 2


def needed_libraries(path: Path) -> list[str] | None:
    """The DT_NEEDED names of a 64-bit little-endian ELF file; None for anything else."""
    data = path.read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        return None
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    segments = [struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize) for i in range(phnum)]
    loads = [(vaddr, offset, filesz) for kind, _, offset, vaddr, _, filesz in segments if kind == _PT_LOAD]
    dynamic = next(((offset, filesz) for kind, _, offset, _, _, filesz in segments if kind == _PT_DYNAMIC), None)
    if dynamic is None:
        return []
    entries = [struct.unpack_from("<qQ", data, dynamic[0] + i) for i in range(0, dynamic[1], 16)]
    strtab = next(value for tag, value in entries if tag == _DT_STRTAB)
    base = next(offset + strtab - vaddr for vaddr, offset, size in loads if vaddr <= strtab < vaddr + size)
    return [data[base + value:data.index(b"\0", base + value)].decode() for tag, value in entries if tag == _DT_NEEDED]


def _loads(name: str) -> bool:
    """Whether the dynamic loader finds `name` (a library's soname) on this system."""
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def qt_directory() -> Path | None:
    """PySide6's Qt folder (plugins and libraries), found without importing PySide6."""
    spec = importlib.util.find_spec("PySide6")
    return Path(spec.submodule_search_locations[0]) / "Qt" if spec and spec.submodule_search_locations else None


def missing_libraries(qt: Path, loads: Callable[[str], bool] | None = None) -> list[str]:
    """The system libraries the xcb plugin needs that `loads` cannot find, in the plugin's order;
    the Qt libraries shipped beside it are followed, not looked up."""
    bundled = qt / "lib"
    pending, seen, missing = [qt / "plugins" / "platforms" / "libqxcb.so"], set(), []
    while pending:
        needed = needed_libraries(pending.pop(0))
        for name in needed or ():
            if name in seen:
                continue
            seen.add(name)
            if (bundled / name).exists():
                pending.append(bundled / name)
            elif not (loads or _loads)(name):
                missing.append(name)
    return missing


def _debian_package(library: str) -> str:
    """libxcb-icccm.so.4 -> libxcb-icccm4, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0 (Debian's rule)."""
    if library in _DEBIAN_EXCEPTIONS:
        return _DEBIAN_EXCEPTIONS[library]
    stem, version = re.match(r"(.+?)\.so\.(\d+)", library).groups()
    return f"{stem.lower()}{'-' if stem[-1].isdigit() else ''}{version}"


def os_family(os_release: str) -> str:
    """"debian", "fedora" or "" from the text of /etc/os-release (ID and ID_LIKE)."""
    fields = dict(re.findall(r'^(ID|ID_LIKE)="?([^"\n]*)"?$', os_release, re.MULTILINE))
    families = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".split()
    if any(name in ("debian", "ubuntu") for name in families):
        return "debian"
    if any(name in ("fedora", "rhel", "centos") for name in families):
        return "fedora"
    return ""


def install_command(missing: list[str], family: str) -> str:
    """The one command that installs `missing` on a system of `family`, '' where unknown."""
    if family == "debian":
        return "sudo apt install " + " ".join(dict.fromkeys(_debian_package(name) for name in missing))
    if family == "fedora":
        return "sudo dnf install " + " ".join(dict.fromkeys(_FEDORA_PACKAGES.get(name, f"/usr/lib64/{name}")
                                                             for name in missing))
    return ""


def missing_libraries_message(missing: list[str], os_release: str) -> str:
    command = install_command(missing, os_family(os_release))
    how = (f"Install them with:\n\n    {command}\n" if command else
           "Install the packages of your system that provide them.\n")
    return (f"netbuilder: Qt's X11 platform plugin (xcb) cannot start: these system libraries are missing: "
            f"{', '.join(missing)}.\n{how}"
            "(Or run without a window: netbuilder-cli --help.)")


def uses_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will load the xcb plugin: on Linux, when asked to, or by default on an X display
    (a Wayland session uses Qt's Wayland plugin; offscreen and other platforms need no X libraries)."""
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(";")[0].split(":")[0] == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


OS_RELEASE = Path("/etc/os-release")


def check_xcb_libraries(loads: Callable[[str], bool] | None = None) -> str:
    """The message for the user when the xcb plugin will not load for missing libraries, else ''."""
    if not sys.platform.startswith("linux") or not uses_xcb(os.environ):
        return ""
    qt = qt_directory()
    if qt is None or not (qt / "plugins" / "platforms" / "libqxcb.so").exists():
        return ""  # a PySide6 laid out differently (a system Qt): Qt's own message is all there is
    missing = missing_libraries(qt, loads)
    if not missing:
        return ""
    try:
        os_release = OS_RELEASE.read_text(encoding="utf-8", errors="replace")
    except OSError:
        os_release = ""
    return missing_libraries_message(missing, os_release)


def x_display_answers(display: str | None = None) -> bool:
    """Whether an X server answers at `display` (None: $DISPLAY), asked through libxcb as Qt's xcb
    plugin will ask; True when libxcb itself cannot be loaded (the library check says why)."""
    try:
        xcb = ctypes.CDLL(ctypes.util.find_library("xcb") or "libxcb.so.1")
    except OSError:
        return True
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(None if display is None else display.encode(), None)
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def check_x_display(answers: Callable[[], bool] = x_display_answers) -> str:
    """The message for the user when Qt will use X but no X server answers at $DISPLAY (Qt would
    abort blaming xcb-cursor0), else ''."""
    if not sys.platform.startswith("linux") or not uses_xcb(os.environ) or answers():
        return ""
    display = os.environ.get("DISPLAY", "")
    return (f"netbuilder: no X server answers at DISPLAY={display!r}: the desktop session may have ended, or "
            "this user may not be allowed to open windows on it. Start netbuilder from your desktop session, "
            "or use the headless commands: netbuilder-cli --help")
