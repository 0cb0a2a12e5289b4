"""pvsched: a fast, kernel-faithful simulator of double scheduling (Linux/KVM).

>>> from pvsched import Scenario, Host, Task, Simulation, workloads
>>> r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("a", workloads.Hog())])).run(until_ns=1_000_000)
>>> r.task("a").cpu_ns
1000000
"""
from pvsched import workloads
from pvsched._version import __version__  # noqa: F401
from pvsched.errors import NotModelledError, PolicyError, ScenarioError
from pvsched.policies import BoostPolicy, Debooster, HaltedPelt, Policy, YieldPolicy
from pvsched.results import LatencyHistogram, Result
from pvsched.scenario import KERNEL_VERSION, VM, Cgroup, GuestKernel, Host, Scenario, Task
from pvsched.simulation import Simulation
from pvsched.trace import Trace, TraceConfig
from pvsched.sweep import sweep  # noqa: E402  (the function; helpers: ``from pvsched.sweep import ...``)

__all__ = ["Scenario", "Host", "Cgroup", "Task", "VM", "GuestKernel", "BoostPolicy", "Simulation", "Result", "LatencyHistogram",
           "ScenarioError", "NotModelledError", "workloads", "KERNEL_VERSION", "sweep",
           "Debooster", "YieldPolicy", "HaltedPelt", "Policy", "PolicyError", "Trace", "TraceConfig"]
