"""Training on two CPU processes (gloo) started by torchrun, as a user starts it."""
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from netbuilder.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")


def torchrun(*argv, cwd):
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           *map(str, argv)],
                          cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    run = torchrun(WORKER, out, cwd=out)
    assert run.returncode == 0, run.stderr[-3000:]
    return [torch.load(out / f"rank{rank}.pt") for rank in (0, 1)]


def test_both_ranks_end_with_the_same_weights(ranks):
    first, second = ranks
    assert first["reason"] == second["reason"] == "completed"
    for name, value in first["weights"].items():
        assert torch.equal(value, second["weights"][name]), name


def test_the_loss_curve_and_weights_match_one_process_with_the_same_global_batch(ranks):
    first = ranks[0]
    positions, losses = zip(*first["losses"])
    single_positions, single_losses = zip(*first["single_losses"])
    assert positions == pytest.approx(single_positions)
    assert losses == pytest.approx(single_losses, rel=1e-4, abs=1e-5)
    assert losses[-1] < 0.5 * losses[0]  # it learned, so the comparison compares something
    for name, value in first["weights"].items():
        assert torch.allclose(value, first["single_weights"][name], atol=1e-4), name


def test_a_stop_on_one_rank_stops_every_rank_at_the_same_batch(ranks):
    assert ranks[0]["stopped"] == ranks[1]["stopped"] == "stopped"
    assert ranks[0]["stopped_message"] == ranks[1]["stopped_message"] == "Stopped at epoch 1, batch 4 of 7."


def test_the_command_line_names_processes_and_backend_first_and_rank_0_alone_logs_and_saves(
        tmp_path, make_project, cluster_rows):
    (tmp_path / "train.csv").write_text(cluster_rows([30, 30, 30], seed=0))
    project = make_project(tmp_path / "points.nbproj", tmp_path / "train.csv", [("dense", {"units": 3})],
                           {"kind": "vector", "shape": [2]}, epochs=2)
    run = torchrun("-m", "netbuilder", "train", project, "--out", tmp_path / "weights", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[0] == "Distributed training: 2 processes, gloo backend (CPU)"
    assert [line.split()[1] for line in lines if line.startswith("epoch")] == ["1/2", "2/2"]
    assert lines[-1] == f"Saved the weights, history and data recipe to {tmp_path / 'weights' / 'points.safetensors'}"
    assert sorted(path.name for path in (tmp_path / "weights").iterdir()) == ["points.runs", "points.safetensors"]
    assert len(RunStore(project, tmp_path / "weights").runs().runs) == 1  # rank 0 alone keeps the run


def test_a_run_failing_on_every_rank_ends_with_rank_0s_message_once(tmp_path, make_project, cluster_rows):
    (tmp_path / "train.csv").write_text(cluster_rows([30, 30, 30], seed=0))
    # three output scores, but a layer of 2: every rank finds the mismatch before training
    project = make_project(tmp_path / "points.nbproj", tmp_path / "train.csv", [("dense", {"units": 2})],
                           {"kind": "vector", "shape": [2]})
    run = torchrun("-m", "netbuilder", "train", project, cwd=tmp_path)
    assert run.returncode != 0
    messages = [line for line in run.stderr.splitlines() if line.startswith("netbuilder: ")]
    assert len(messages) == 1 and "3 classes" in messages[0], run.stderr[-3000:]
    assert not project.with_suffix(".safetensors").exists()


_TORCHRUN_VALUES = st.one_of(st.integers(-3, 5).map(str), st.text(max_size=12),
                             st.sampled_from(["abc", "1" * 30, " 1", "٣", "1.0", "-0", "", "\x1b[2J"]))


@settings(max_examples=150, deadline=None)
@given(rank=_TORCHRUN_VALUES, size=_TORCHRUN_VALUES, local_rank=st.none() | _TORCHRUN_VALUES,
       local_size=st.none() | _TORCHRUN_VALUES)
# Found on another machine: values whose escapes made the message exactly 400 characters, one
# past the bound, when each value was cut to 20 characters before escaping rather than after.
@example(rank="\U000e0080" * 12, size="\x1b" * 10, local_rank="abcde", local_size=None)
def test_torchrun_variables_set_by_hand_are_a_place_or_one_printable_message(rank, size, local_rank, local_size):
    """RANK=-1, WORLD_SIZE=abc, a rank beyond the world: a TrainingError naming the values, before
    torch.distributed fails on them or waits for processes that never come."""
    from netbuilder.common.text import MESSAGE_CHARACTERS, one_line
    from netbuilder.training.control import TrainingError
    from netbuilder.training.distributed import _placement_from_environment

    values = {"RANK": rank, "WORLD_SIZE": size, "LOCAL_RANK": local_rank, "LOCAL_WORLD_SIZE": local_size}
    if any("\x00" in value for value in values.values() if value is not None):
        return  # an environment cannot hold NUL
    with mock.patch.dict(os.environ, {name: value for name, value in values.items() if value is not None}):
        for name in ("LOCAL_RANK", "LOCAL_WORLD_SIZE"):
            if values[name] is None:
                os.environ.pop(name, None)
        try:
            placement = _placement_from_environment()
        except TrainingError as error:
            message = str(error)
            assert one_line(message) == message and len(message) < MESSAGE_CHARACTERS and "torchrun" in message
            return
    assert 0 <= placement.rank < placement.size and 0 <= placement.local_rank < placement.local_size <= placement.size


def test_every_rank_starts_from_the_models_weights(tmp_path, make_project, cluster_rows, cli):
    from netbuilder.model.checkpoint import read_weights

    (tmp_path / "train.csv").write_text(cluster_rows([30, 30, 30], seed=0))
    project = make_project(tmp_path / "points.nbproj", tmp_path / "train.csv", [("dense", {"units": 3})],
                           {"kind": "vector", "shape": [2]}, epochs=2)
    assert cli("train", project, "--threads", "1") == 0
    trained = read_weights(project.with_suffix(".safetensors"))
    run = torchrun("-m", "netbuilder", "train", project, "--from-weights", "--epochs", "1", "--learning-rate", "1e-7",
                   cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines().count("note: Starting from the model's weights: all 2 tensors.") == 1  # rank 0's
    retrained = read_weights(project.with_suffix(".safetensors"))  # a rank starting fresh would pull it away
    for name, value in trained.items():
        assert torch.allclose(retrained[name], value, atol=1e-4), name
