import os
import subprocess
import sys

import pytest

from netbuilder.common.machine import usable_cores


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_a_process_held_to_one_cpu_uses_one_core_not_the_machines_count():
    # A container or `taskset` allows fewer CPUs than os.cpu_count() reports: digit generation and
    # image decoding start one process per usable core, so they must count those, not the machine's.
    one_cpu = min(os.sched_getaffinity(0))
    script = ("import os; os.sched_setaffinity(0, {%d}); "
              "from netbuilder.common.machine import usable_cores; print(usable_cores())" % one_cpu)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "1"


def test_a_process_can_use_at_least_one_core():
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
