"""pvsched: a fast, kernel-faithful simulator of double scheduling (Linux/KVM).

>>> from pvsched import Scenario, Host, Task, Simulation, workloads
>>> r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("a", workloads.Hog())])).run(until_ns=1_000_000)
>>> r.task("a").cpu_ns
1000000
"""
import importlib as _importlib

from pvsched import _checkout

try:
    _core = _importlib.import_module("pvsched._core")
except ModuleNotFoundError as _e:
    if _e.name != "pvsched._core":
        raise
    # Say what happened and what to run rather than "No module named 'pvsched._core'" (name="pvsched":
    # then `python -m pvsched` prints it as one line).
    raise ImportError(_checkout.missing_core_message(), name="pvsched") from None
_stale = _checkout.stale_core_source(_core.__file__)
if _stale:
    import warnings

    warnings.warn(_checkout.stale_core_message(_core.__file__, _stale), RuntimeWarning, stacklevel=2)

from pvsched import workloads  # noqa: E402
from pvsched._version import __version__  # noqa: F401,E402
from pvsched.errors import NotModelledError, PolicyError, ScenarioError  # noqa: E402
from pvsched.policies import BoostPolicy, Debooster, DeferredWork, HaltedPelt, Policy, RcuGuestPolicy, YieldPolicy  # noqa: E402
from pvsched.rcu.config import RcuConfig  # noqa: E402
from pvsched.results import LatencyHistogram, Result  # noqa: E402
from pvsched.scenario import KERNEL_VERSION, VM, Cgroup, GuestKernel, Host, Scenario, Task  # noqa: E402
from pvsched.simulation import Simulation  # noqa: E402
from pvsched.trace import Trace, TraceConfig  # noqa: E402
from pvsched.sweep import sweep  # noqa: E402  (the function; helpers: ``from pvsched.sweep import ...``)

__all__ = ["Scenario", "Host", "Cgroup", "Task", "VM", "GuestKernel", "BoostPolicy", "Simulation", "Result", "LatencyHistogram",
           "ScenarioError", "NotModelledError", "workloads", "KERNEL_VERSION", "sweep",
           "Debooster", "YieldPolicy", "HaltedPelt", "DeferredWork", "Policy", "PolicyError", "Trace", "TraceConfig",
           "RcuConfig", "RcuGuestPolicy"]
