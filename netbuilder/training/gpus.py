"""How many GPUs a training run could use, known without importing torch (which takes seconds)."""
from __future__ import annotations

import os
import re
from pathlib import Path

NVIDIA_DRIVER_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the driver runs
DEVICE_FILES = Path("/dev")  # nvidia0, nvidia1, ...: what a container is given of them


def visible_gpu_count(driver_gpus: Path = NVIDIA_DRIVER_GPUS, device_files: Path = DEVICE_FILES) -> int:
    """The NVIDIA GPUs the driver lists (or, where /proc does not show it, the GPU device files),
    as many as CUDA_VISIBLE_DEVICES lets CUDA see.

    Linux only, like training on several GPUs (nccl); elsewhere 0. CUDA reads the variable's ids up
    to the first one that is not a GPU (such as -1, which hides all).
    """
    try:
        count = sum(1 for entry in driver_gpus.iterdir() if entry.is_dir())
    except OSError:
        try:
            count = sum(1 for entry in device_files.iterdir() if re.fullmatch(r"nvidia\d+", entry.name))
        except OSError:
            return 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return count
    listed = 0
    for device in visible.split(","):
        device = device.strip()
        if not device or device.startswith("-"):
            break
        listed += 1
    return min(count, listed)
