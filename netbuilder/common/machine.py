"""What this machine lets the process use; Qt-, torch- and core-free, so every layer can ask."""
from __future__ import annotations

import os


def usable_cores() -> int:
    """CPUs this process may run on (a container or taskset may allow fewer than the machine has)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
