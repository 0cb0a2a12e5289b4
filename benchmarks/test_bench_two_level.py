"""Two-level engine throughput: 16 pCPUs, 4 VMs x 16 vCPUs, guest cyclictest + hogs + periodic
tasks, host hogs. Two windows of one run (see ``measure.py``): the first simulated second and a
steady-state window (2 s after 2 s of untimed warm-up). Prints events/s and simulated seconds per
wall second."""
from measure import bench_window


def test_two_level_16pcpu_4vm_x16(benchmark):
    w = bench_window(benchmark, "two", "first", "two-level 16 pCPU / 4 VMs x 16 vCPUs")
    assert w.events > 100_000


def test_two_level_16pcpu_4vm_x16_steady(benchmark):
    w = bench_window(benchmark, "two", "steady", "two-level 16 pCPU / 4 VMs x 16 vCPUs")
    assert w.events > 100_000
