"""The two programs as a user starts them: `netbuilder-cli` lists its commands; `netbuilder` on a
machine without a display says so instead of aborting inside Qt, and can still take a screenshot."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import unicodedata
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


# --- every command and option against hostile values: one clear line, never a traceback --------

@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A trained project with its data, and things a user may pass by mistake."""
    from netbuilder.core.project import project_from_dict, save_project

    folder = tmp_path_factory.mktemp("hostile")
    rows = ["x1,x2,label"] + [f"{(i % 2) * 4 + (i % 7) * 0.1},{(i % 5) * 0.1},{'yes' if i % 2 else 'no'}"
                              for i in range(40)]
    (folder / "points.csv").write_text("\n".join(rows) + "\n")
    nodes = [{"id": "a", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": [2]}},
             {"id": "b", "type": "dense", "name": "fc1", "params": {"units": 2}},
             {"id": "c", "type": "output", "name": "output1", "params": {"task": "classification"}}]
    save_project(project_from_dict({"format": "netbuilder-project", "version": 1, "name": "Points", "nodes": nodes,
                                    "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}],
                                    "dataset": str(folder / "points.csv"),
                                    "training": {"epochs": 1, "batch_size": 16, "device": "cpu"}}),
                 folder / "points.nbproj")
    assert cli_main(["train", str(folder / "points.nbproj")]) == 0
    # Class names come from the labels of a CSV file: terminal escapes, a bell, a bidi override, a
    # line break and a 300-character name, printed by evaluate and predict. The network gives
    # 8 scores for 6 classes (spare scores are allowed; predict --top 8 ranks the named ones).
    labels = ["\x1b[31mred", "bell\x07", "line\nbreak", "\u202erev", "\x9bcsi", "n" * 300]
    with open(folder / "hostile.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["x\x1b[2J", "x2", "label"])
        writer.writerows([index % 7 * 0.3, index % 5 * 0.1, labels[index % len(labels)]] for index in range(60))
    hostile_nodes = [dict(nodes[0], params={"kind": "vector", "shape": [2]}), dict(nodes[1], params={"units": 8}),
                     nodes[2]]
    save_project(project_from_dict({"format": "netbuilder-project", "version": 1, "name": "Hostile\x1b[2J",
                                    "nodes": hostile_nodes, "edges": [{"source": "a", "target": "b"},
                                                                      {"source": "b", "target": "c"}],
                                    "dataset": str(folder / "hostile.csv"),
                                    "training": {"epochs": 1, "batch_size": 16, "device": "cpu"}}),
                 folder / "hostile.nbproj")
    assert cli_main(["train", str(folder / "hostile.nbproj")]) == 0
    # A network without weights (the Input feeds the Output's scores directly).
    save_project(project_from_dict({"format": "netbuilder-project", "version": 1, "name": "No weights",
                                    "nodes": [nodes[0], nodes[2]], "edges": [{"source": "a", "target": "c"}],
                                    "dataset": str(folder / "points.csv"), "training": {"epochs": 1}}),
                 folder / "no-weights.nbproj")
    (folder / "empty-folder").mkdir()
    (folder / "picture.png").write_bytes((REPOSITORY / "docs" / "screenshot.png").read_bytes()[:4000])
    (folder / "read-only.py").write_text("# keep")
    (folder / "model.py").write_text("from torch import nn\n\nclass Net(nn.Module):\n    def __init__(self, width=3):\n"
                                     "        super().__init__()\n        self.fc = nn.Linear(4, width)\n\n"
                                     "    def forward(self, x):\n        return self.fc(x)\n")
    (folder / "read-only.py").chmod(0o444)
    os.mkfifo(folder / "pipe")
    os.mkfifo(folder / "pipe.pt")
    return folder


HOSTILE_PATHS = ["", "missing.nbproj", "empty-folder", "picture.png", "points.csv", "-", "n" * 300,
                 "x\x1b[31m\x07.nbproj", "caf\u00e9\u202e.nbproj", "\udcff.nbproj", "points.safetensors"]
HOSTILE_OUTPUTS = ["", "empty-folder", "missing/x.out", "pipe", "read-only.py", "n" * 300, "points.nbproj",
                   "picture.png", "a\x1b[2J/x", "/proc/netbuilder/x"]
HOSTILE_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e999", "1" + "0" * 30, "1" * 5000, "", "2.5", "x\x1b[2J"]


def _hostile_commands():
    project = "points.nbproj"
    for path in HOSTILE_PATHS:
        yield ["summary", path]
        yield ["train", path, "--epochs", "1"]
        yield ["evaluate", path]
        yield ["predict", path, "points.csv"]
        yield ["export-code", path]
        yield ["export", path, "--format", "torchscript", "--out", "x.pt"]
        yield ["predict", project, path]
        yield ["predict", project, "--strokes", path]
        yield ["evaluate", project, "--data", path]
        yield ["evaluate", project, "--out", path]
        yield ["import-weights", project, path, "--out", "w.safetensors"]
        yield ["train", project, "--data", path]
        yield ["runs", path]
        yield ["runs", project, "--diff", path, path]
        yield ["evaluate", project, "--run", path]
        yield ["export", project, "--format", "code", "--out", "x.py", "--run", path]
        yield ["runs", project, "--use", path]
        yield ["runs", project, "--delete", path]
        yield ["runs", project, "--name", path, path]
        yield ["import", f"{path}:Net", "--input-shape", "1,28,28", "--out", "imported.nbproj"]
        yield ["import", "model.py:Net", "--input-shape", "4", "--out", path]
    for out in ("", "read-only.py", "/proc/netbuilder/x", "pipe"):
        yield ["train", project, "--tensorboard", out, "--epochs", "1"]
    for out in HOSTILE_OUTPUTS:
        yield ["train", project, "--out", out, "--epochs", "1"]
        yield ["train", project, "--events-jsonl", out, "--epochs", "1"]
        yield ["export", project, "--format", "code", "--out", out]
        yield ["export-code", project, "--out", out]
        yield ["import-weights", project, "points.safetensors", "--out", out]
    for number in HOSTILE_NUMBERS:
        for option in ("--epochs", "--batch-size", "--learning-rate", "--threads", "--seed", "--validation-split"):
            yield ["train", project, option, number] + (["--epochs", "1"] if option != "--epochs" else [])
        yield ["predict", project, "points.csv", "--top", number]
        yield ["runs", project, "--prune", number]
        yield ["import", "model.py:Net", "--input-shape", number, "--out", "imported.nbproj"]
        yield ["import", "model.py:Net", "--input-shape", "4", "--arg", number, "--out", "imported.nbproj"]
    for command in ("summary", "train", "evaluate", "predict", "export", "export-code", "import-weights", "runs",
                    "import"):
        yield [command, "--help"]
        yield [command]
    yield ["import-weights", project, "pipe.pt", "--out", "w.safetensors"]  # refused, never read (no hang)
    for hostile in (["evaluate", "hostile.nbproj"], ["predict", "hostile.nbproj", "hostile.csv", "--top", "8"],
                    ["predict", "hostile.nbproj", "hostile.csv", "--json"], ["summary", "hostile.nbproj"],
                    ["export", "hostile.nbproj", "--format", "safetensors", "--out", "h\x1b[2J.safetensors"],
                    ["train", "hostile.nbproj", "--out", "again\x1b[2J"], ["runs", "hostile.nbproj"],
                    ["runs", "hostile.nbproj", "--json"]):
        yield hostile
    yield ["train", "no-weights.nbproj"]
    for path in HOSTILE_PATHS:
        yield ["train", path, "--from-weights", "--epochs", "1"]
    yield ["train", "hostile.nbproj", "--from-weights", "--epochs", "1"]  # its layer names read back in the note
    yield ["train", project, "--from-weights", "--out", "empty-folder", "--epochs", "1"]  # no weights there
    yield ["train", project, "--from-weights", "--fresh"]
    yield ["train", project, "--fresh", "--epochs", "1"]
    yield ["train", project, "--threads", str(os.cpu_count() + 1)]
    yield ["no-such-command"]
    yield ["export", project, "--format", "no-such-format", "--out", "x"]


def test_every_command_meets_hostile_values_with_a_short_message_and_no_traceback(workspace, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(workspace / "user-data"))
    inputs = {name: (workspace / name).read_bytes() for name in ("points.nbproj", "points.csv", "hostile.nbproj")}
    checked = 0
    for argv in _hostile_commands():
        try:
            status = cli_main(argv)
        except SystemExit as exit_status:  # argparse: --help, or a usage error
            status = exit_status.code
        captured = capsys.readouterr()
        shown = captured.out + captured.err
        assert status in (0, 1, 2, 130), (argv, shown[-500:])
        assert "Traceback" not in shown and "unexpected error" not in shown, argv
        assert not any(unicodedata.category(character) in ("Cc", "Cf") for character in shown.replace("\n", "")), argv
        assert max(map(len, captured.out.splitlines()), default=0) <= 600, argv
        assert len(captured.err.splitlines()) <= 25 and max(map(len, captured.err.splitlines()), default=0) <= 600, argv
        if status == 2 and not captured.err.startswith("usage:"):
            assert captured.err.startswith("netbuilder: "), (argv, captured.err)
        checked += 1
    assert checked > 250
    assert (workspace / "read-only.py").read_text() == "# keep" and not (workspace / "user-data").exists()
    assert (workspace / "picture.png").stat().st_size == 4000
    # no output option overwrote a file the commands read (import-weights --out points.nbproj did)
    assert all((workspace / name).read_bytes() == content for name, content in inputs.items())


@pytest.mark.parametrize("raised, status, message", [
    (RuntimeError("a bug\nwith two lines"), 1, "netbuilder: unexpected error (RuntimeError: a bug\\x0awith two lines); "
                                               "the details are in "),
    (KeyboardInterrupt(), 130, "netbuilder: interrupted"),
    (PermissionError(13, "Permission denied", "/somewhere/x\x1b.csv"), 2,
     "netbuilder: /somewhere/x\\x1b.csv: Permission denied"),
    (MemoryError(), 2, "netbuilder: out of memory"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                  "tried to allocate 80000000000 bytes. Error code 12 (Cannot allocate memory)"), 2,
     "netbuilder: out of memory"),
])
def test_what_no_command_expected_is_one_line_and_a_bug_report_goes_to_the_log(tmp_path, monkeypatch, capsys,
                                                                                 raised, status, message):
    import netbuilder.__main__ as main_module

    def summary(args):
        raise raised

    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(main_module, "_summary", summary)
    assert cli_main(["summary", "x.nbproj"]) == status
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.splitlines()) == 1 and "Traceback" not in err
    log = tmp_path / "logs" / "netbuilder.log"
    assert log.exists() == (status == 1)
    if status == 1:
        assert str(log) in err and "Traceback" in log.read_text() and "RuntimeError: a bug" in log.read_text()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, a file that is always full")
def test_a_run_whose_output_cannot_be_written_still_saves_its_weights(workspace, tmp_path):
    """`train ... | head` once head has exited, or a log on a full disk: the lines are lost, the
    trained weights are not."""
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "netbuilder", "train", str(workspace / "points.nbproj"),
                                 "--epochs", "2", "--out", str(tmp_path)], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPOSITORY)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "points.safetensors").exists() and "Traceback" not in result.stderr


# Each command with its options between (and before) its positionals, and what it must read.
OPTIONS_ANYWHERE = {
    "summary": (["summary", "p.nbproj"], {"project": "p.nbproj"}),  # its only argument: nothing to intermix
    "train": (["train", "--epochs", "1", "--from-weights", "p.nbproj", "--no-augment"],
              {"project": "p.nbproj", "epochs": "1", "augment": False, "start_from_weights": True}),
    "evaluate": (["evaluate", "--out", "runs", "p.nbproj"], {"project": "p.nbproj", "out": "runs"}),
    "predict": (["predict", "p.nbproj", "--top", "1", "a.png", "--json", "b.png"],
                {"project": "p.nbproj", "top": 1, "files": ["a.png", "b.png"], "json": True}),
    "export": (["export", "--format", "onnx", "p.nbproj", "--out", "net.onnx"],
               {"project": "p.nbproj", "format": "onnx", "out": "net.onnx"}),
    "export-code": (["export-code", "--out", "net.py", "p.nbproj"], {"project": "p.nbproj", "out": "net.py"}),
    "import-weights": (["import-weights", "p.nbproj", "--out", "w.safetensors", "w.pt"],
                       {"project": "p.nbproj", "weights": "w.pt", "out": "w.safetensors"}),
    "runs": (["runs", "--diff", "a", "b", "p.nbproj", "--json"],
             {"project": "p.nbproj", "diff": ["a", "b"], "json": True}),
    "import": (["import", "--input-shape", "1,28,28", "m.py:Net", "--arg", "classes=3", "--out", "p.nbproj"],
               {"model": "m.py:Net", "input_shape": "1,28,28", "arg": ["classes=3"], "out": "p.nbproj"}),
}


def test_every_command_is_checked_with_options_among_its_positionals():
    assert OPTIONS_ANYWHERE.keys() == set(COMMANDS)


@pytest.mark.parametrize("command", OPTIONS_ANYWHERE, ids=str)
def test_options_may_stand_anywhere_among_a_commands_positionals(command):
    from netbuilder.__main__ import build_parser

    argv, expected = OPTIONS_ANYWHERE[command]
    args = build_parser(prog="netbuilder-cli").parse_args(argv)
    assert {name: getattr(args, name) for name in expected} == expected


def test_predict_reads_every_file_given_after_an_option(tmp_path, capsys):
    """`predict PROJECT --top 1 a.png` said "unrecognized arguments: a.png"; now a.png is predicted."""
    assert cli_main(["predict", str(tmp_path / "missing.nbproj"), "--top", "1", str(tmp_path / "a.png")]) == 2
    error = capsys.readouterr().err
    assert "unrecognized arguments" not in error and "missing.nbproj" in error
