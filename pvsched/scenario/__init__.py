"""Scenarios: the declarative description of a host, its cgroups and tasks, and VMs.

A scenario is plain data. ``Simulation(scenario).run(until_ns=...)`` validates it, compiles it to
flat arrays for the C engine and returns a :class:`pvsched.results.Result`.

>>> from pvsched import Scenario, Host, Cgroup, Task, Simulation
>>> from pvsched.workloads import Hog
>>> sc = Scenario(host=Host(cpus=1), cgroups=[Cgroup("a", weight=200), Cgroup("b")],
...               tasks=[Task("x", Hog(), cgroup="a"), Task("y", Hog(), cgroup="b")])
>>> r = Simulation(sc).run(until_ns=100_000_000)
>>> round(r.task("x").cpu_ns / r.task("y").cpu_ns, 1)
2.0

The package: ``elements`` (Host, Cgroup, Task, GuestKernel, VM), ``description`` (Scenario),
``compile`` (to the engine's arrays), ``toml_io`` (dict and TOML forms); value checks are
:mod:`pvsched.validate`.
"""
from pvsched.scenario.description import Scenario  # noqa: F401
from pvsched.scenario.elements import (  # noqa: F401
    FAIR_CLASSES, KERNEL_VERSION, POLICIES, PREEMPT_MODELS, RT_GUARDS, SLICE_SCALING, VM, Cgroup, GuestKernel, Host,
    Task, _validate_features, _validate_sched, _validate_task)
from pvsched.validate import _bool, _choice, _fields, _int, _list  # noqa: F401

__all__ = ["Scenario", "Host", "Cgroup", "Task", "GuestKernel", "VM", "KERNEL_VERSION", "POLICIES", "PREEMPT_MODELS",
           "SLICE_SCALING", "RT_GUARDS", "FAIR_CLASSES"]
