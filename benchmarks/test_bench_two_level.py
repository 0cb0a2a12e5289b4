"""Two-level engine throughput: 16 pCPUs, 4 VMs x 16 vCPUs, guest cyclictest + hogs + periodic
tasks, host hogs. Two windows of one run (see ``measure.py``): the first simulated second and a
steady-state window (2 s after 2 s of untimed warm-up). Prints events/s and simulated seconds per
wall second."""
import pytest

from measure import bench_window


@pytest.mark.parametrize("window", ["first", "steady"])
def test_two_level_16pcpu_4vm_x16(benchmark, window):
    w = bench_window(benchmark, "two", window, "two-level 16 pCPU / 4 VMs x 16 vCPUs")
    assert w.events > 100_000
