"""The GPU count that decides whether the window offers several processes, read without torch."""
import pytest

from netbuilder.training.gpus import visible_gpu_count


@pytest.fixture
def four_gpus(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    for bus in ("0000:01:00.0", "0000:02:00.0", "0000:03:00.0", "0000:04:00.0"):
        (tmp_path / bus).mkdir()
    return tmp_path


def test_every_gpu_the_driver_lists_counts(four_gpus):
    assert visible_gpu_count(four_gpus) == 4


@pytest.mark.parametrize(("visible", "count"), [("0,2", 2), ("", 0), ("-1", 0), ("1,-1,2", 1), ("0,1,2,3,4,5", 4)])
def test_cuda_visible_devices_limits_the_count_as_cuda_reads_it(four_gpus, monkeypatch, visible, count):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert visible_gpu_count(four_gpus) == count


def test_without_the_driver_list_the_gpu_device_files_count(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null"):
        (tmp_path / name).touch()
    assert visible_gpu_count(tmp_path / "missing", tmp_path) == 2


def test_without_an_nvidia_driver_there_are_none(tmp_path):
    assert visible_gpu_count(tmp_path / "missing", tmp_path / "missing") == 0
