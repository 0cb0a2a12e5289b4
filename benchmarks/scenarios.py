"""Benchmark scenarios shared by the pytest-benchmark files and ``pvsched bench``."""
from pvsched import Cgroup, Host, Scenario, Task
from pvsched.workloads import Hog, Periodic, RunSleep


def host_only(cpus: int = 64, tasks: int = 1024, duration_ns: int = 1_000_000_000, seed: int = 1) -> Scenario:
    """Host-only load: ``tasks`` threads (1/4 hogs, 3/4 periodic and run/sleep sleepers) spread
    over a 3-level cgroup tree (4 top groups x 4 children x 4 leaves = 64 leaves), HZ=1000."""
    cgroups = []
    leaves = []
    for a in range(4):
        cgroups.append(Cgroup(f"g{a}", weight=50 + 50 * a))
        for b in range(4):
            cgroups.append(Cgroup(f"g{a}.{b}", parent=f"g{a}", weight=100 + 100 * b))
            for c in range(4):
                name = f"g{a}.{b}.{c}"
                cgroups.append(Cgroup(name, parent=f"g{a}.{b}", weight=100 * (c + 1)))
                leaves.append(name)
    out = []
    for i in range(tasks):
        leaf = leaves[i % len(leaves)]
        kind = i % 4
        if kind == 0:
            w = Hog()
        elif kind == 1:
            w = Periodic(run_ns=150_000 + 10_000 * (i % 7), period_ns=1_000_000 + 250_000 * (i % 5),
                         jitter_ns=50_000)
        elif kind == 2:
            w = RunSleep(run_ns=400_000 + 20_000 * (i % 11), sleep_ns=1_500_000 + 100_000 * (i % 9),
                         run_jitter_ns=100_000, sleep_jitter_ns=200_000)
        else:
            w = Periodic(run_ns=50_000, period_ns=500_000 + 50_000 * (i % 3), jitter_ns=20_000)
        out.append(Task(f"t{i}", w, cgroup=leaf, nice=(i % 5) - 2))
    return Scenario(host=Host(cpus=cpus, hz=1000), cgroups=cgroups, tasks=out,
                    duration_ns=duration_ns, seed=seed)
