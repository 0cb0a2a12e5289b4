"""Benchmark scenarios: the engine-throughput loads of ``pvsched bench`` and of the pytest-benchmark
files in ``benchmarks/``.

>>> sc = host_only(cpus=4, tasks=8, duration_ns=1_000_000)
>>> len(sc.tasks), sc.host.cpus
(8, 4)
"""
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


def two_level(cpus: int = 16, vms: int = 4, vcpus: int = 16, duration_ns: int = 1_000_000_000,
              seed: int = 1) -> Scenario:
    """Double scheduling: ``vms`` VMs x ``vcpus`` vCPUs on ``cpus`` pCPUs; each guest runs a
    cyclictest per vCPU (1 ms), CPU hogs on a quarter of its vCPUs and periodic tasks; the host
    runs a few hogs of its own."""
    from pvsched import VM
    from pvsched.workloads import Cyclictest
    out_vms = []
    for k in range(vms):
        tasks = [Task("ct", Cyclictest(interval_ns=1_000_000), count=vcpus),
                 Task("hog", Hog(), count=max(1, vcpus // 4), nice=5),
                 Task("per", Periodic(run_ns=200_000, period_ns=2_000_000, jitter_ns=100_000), count=vcpus)]
        out_vms.append(VM(f"vm{k}", vcpus=vcpus, tasks=tasks))
    host_tasks = [Task("hog", Hog(), count=max(1, cpus // 4))]
    return Scenario(host=Host(cpus=cpus, hz=1000), vms=out_vms, tasks=host_tasks,
                    duration_ns=duration_ns, seed=seed)
