"""Host-only engine throughput: 64 pCPUs, 1024 tasks in a 3-level cgroup tree, HZ=1000.

Two windows of one run (see ``measure.py``): the first simulated second, and a steady-state
second after 2 s of untimed warm-up (queues full, hierarchies deep, PELT ramped up; events/s is
lower there). Prints events/s (one event = one pop of the engine queue; the queue never holds
stale entries) and simulated seconds per wall second. Run:
``pytest benchmarks/ --benchmark-only -s``.
"""
import pytest

from measure import bench_window


@pytest.mark.parametrize("window", ["first", "steady"])
def test_host_only_64cpu_1024tasks(benchmark, window):
    w = bench_window(benchmark, "host", window, "host-only 64 pCPU / 1024 tasks / 3-level cgroups / HZ=1000")
    assert w.events > 100_000
