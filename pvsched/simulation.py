"""Simulation: compile a scenario once, run it, read a Result."""
from __future__ import annotations

import time
import warnings
from typing import Optional

import numpy as np

from pvsched.limits import MAX_TIME_NS
from pvsched.results import Result
from pvsched.scenario import Scenario


class Simulation:
    """Runs a :class:`Scenario` on the C engine.

    >>> from pvsched import Scenario, Host, Task, Simulation
    >>> from pvsched.workloads import Hog
    >>> sim = Simulation(Scenario(host=Host(cpus=2), tasks=[Task("h", Hog(), count=2)]))
    >>> r = sim.run(until_ns=10_000_000)
    >>> r.task("h[0]").cpu_ns
    10000000
    """

    def __init__(self, scenario: Optional[Scenario] = None, **kw):
        from pvsched._core import Engine
        self.scenario = scenario if scenario is not None else Scenario(**kw)
        kwargs, self.task_names, self.cgroup_names = self.scenario.compile()
        try:
            self.engine = Engine(**kwargs)
        except MemoryError:
            from pvsched.errors import ScenarioError
            from pvsched.scenario.compile import memory_estimate
            raise ScenarioError("tasks", f"{len(self.task_names):,} tasks", "the engine's arrays (about "
                                f"{memory_estimate(self.scenario) / 2**30:,.1f} GiB) could not be allocated") from None
        self._wall = 0.0
        self._meta = _trace_meta(self.scenario, kwargs) if self.scenario.trace.enabled else None

    def run(self, until_ns: Optional[int] = None) -> Result:
        """Run until ``until_ns`` (default: the scenario's duration) and return the results so far.
        May be called again with a later time to continue."""
        from pvsched.errors import ScenarioError
        until = self.scenario.duration_ns if until_ns is None else until_ns
        if isinstance(until, bool) or not isinstance(until, (int, np.integer)) or until < 0:
            raise ScenarioError("until_ns", until, "must be a non-negative integer")
        until = int(until)
        if until > MAX_TIME_NS:
            raise ScenarioError("until_ns", until, f"must be <= {MAX_TIME_NS} (the simulated horizon, 2**62 ns)")
        if until < self.engine.now_ns:
            raise ScenarioError("until_ns", until, f"is before the current time {self.engine.now_ns}")
        from pvsched import progress
        t0 = time.perf_counter()
        progress.run_engine(self.engine, until)   # in slices with a progress line inside progress.report()
        self._wall += time.perf_counter() - t0
        if self.engine.stalled:
            warnings.warn(f"pvsched: the model made more than {self.engine.same_instant_limit} events at "
                          f"t = {self.engine.now_ns} ns without simulated time advancing (a livelock, "
                          "reported as violations['livelock']); the run stopped there", RuntimeWarning, stacklevel=2)
        return Result(self.engine.results(), self.task_names, self.scenario, self._wall, meta=self._meta)

    def task_index(self, name: str) -> int:
        return self.task_names.index(name)

    def cgroup_index(self, name: Optional[str]) -> int:
        return self.cgroup_names.index(name)


def _trace_meta(scenario, kwargs) -> dict:
    """What a Trace needs to name things: each task's kernel and kernel prio, the VMs' vCPUs and
    the prio a boosted vCPU thread runs at."""
    import numpy as np
    from pvsched._core import POLICIES
    rt = np.isin(kwargs["task_policy"], [POLICIES["fifo"], POLICIES["rr"]])
    prio = np.where(rt, 99 - kwargs["task_rt_prio"], 120 + kwargs["task_nice"])
    vcpu_vm = kwargs["vcpu_vm"]
    boost = [99 - vm.boost.priority if vm.boost.mode not in ("off", "static") else -1 for vm in scenario.vms]
    return dict(task_kern=kwargs["task_kern"], task_prio=prio, vcpu_vm=vcpu_vm,
                vm_names=[vm.name for vm in scenario.vms], boost_prio=[boost[k] for k in vcpu_vm])
