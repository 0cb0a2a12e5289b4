"""A guest's NOHZ idle-balance kick pulls a task to an idle vCPU: that vCPU must be woken (the kick
is an IPI), or the pulled task waits on a halted vCPU until something else wakes it."""
from pvsched import VM, Host, Scenario, Simulation, Task
from pvsched.workloads import Hog, Phases


def test_task_pulled_to_a_halted_vcpu_runs_soon():
    tasks = [Task("sensor", Phases([("run", 2_000_000), ("sleep", 31_000_000)])),
             Task("isp", Phases([("run", 6_000_000), ("sleep", 27_000_000)]), nice=-5),
             Task("ui", Phases([("run", 1_500_000), ("timer", 16_667_000)]), cpus=[1]),
             Task("stats", Phases([("run", 300_000), ("sleep", 100_000_000), ("yield",)]), start_ns=50_000_000)]
    sc = Scenario(host=Host(cpus=2), vms=[VM("cam", vcpus=2, tasks=tasks)], tasks=[Task("hog", Hog())])
    r = Simulation(sc).run(2_000_000_000)
    # before the fix "sensor" sat runnable on halted vcpu0 from 151 ms to the end (1.86 s of wait)
    assert r.task("cam/sensor").wait_ns < 100_000_000
    assert r.task("cam/sensor").nr_switches > 55        # ~60 periods of 33 ms in 2 s
    assert r.balance["idle_pulls"] > 0
