"""Seed 002 hot paths in ns/op, timed inside C (the Python call is outside the loop):

- ipi_context update: one unicast IPI's record (kvm_track_ipi_communication), the receiver check
  kvm_vcpu_is_ipi_receiver, and the two-stage EOI clear, per IPI;
- LCA lookup: find_matching_se between two vCPU threads on one pCPU, for a same-VM pair (siblings in
  the VM's queue) and a cross-VM pair under a shared parent cgroup (one more level to climb).
"""
from pvsched import VM, Cgroup, Host, Scenario, Simulation, Task
from pvsched.kernel import bench_find_matching_se, bench_ipi_context
from pvsched.workloads import Hog

N = 2_000_000


def _lca_engine():
    sc = Scenario(host=Host(cpus=2), cgroups=[Cgroup("tenants"), Cgroup("t1", parent="tenants")],
                  vms=[VM("a", vcpus=2, pin=[0, 0], cgroup="t1", tasks=[Task("x", Hog())]),
                       VM("b", vcpus=2, pin=[0, 1], cgroup="tenants", tasks=[Task("x", Hog())])])
    sim = Simulation(sc)
    sim.run(5_000_000)
    return sim


def _report(benchmark, name, ns):
    per = ns / N
    benchmark.extra_info.update(ns_per_op=per, ops=N)
    print(f"\n{name}: {per:.2f} ns/op ({N} ops)")
    return per


def test_bench_ipi_context_update(benchmark):
    ns = benchmark.pedantic(lambda: bench_ipi_context(N), rounds=5, iterations=1)
    assert _report(benchmark, "ipi_context update (track + receiver check + EOI clear)", ns) < 1_000


def test_bench_lca_same_vm(benchmark):
    sim = _lca_engine()
    a, b = sim.task_index("a/vcpu0"), sim.task_index("a/vcpu1")
    ns = benchmark.pedantic(lambda: bench_find_matching_se(sim.engine, a, b, N), rounds=5, iterations=1)
    assert _report(benchmark, "LCA lookup, same-VM pair (depth 3)", ns) < 1_000


def test_bench_lca_cross_vm(benchmark):
    sim = _lca_engine()
    a, b = sim.task_index("a/vcpu0"), sim.task_index("b/vcpu0")
    ns = benchmark.pedantic(lambda: bench_find_matching_se(sim.engine, a, b, N), rounds=5, iterations=1)
    assert _report(benchmark, "LCA lookup, cross-VM pair (depths 3 and 2)", ns) < 1_000
