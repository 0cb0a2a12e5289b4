"""Kernel scheduling rules as Python-callable functions (Linux v6.15 semantics).

Everything here runs the engine's own C code (``pvsched._core``), so a test of these functions is
a test of the simulator. See ``FairRunqueue`` for driving one EEVDF queue step by step.

>>> from pvsched.kernel import calc_delta_fair, FairRunqueue
>>> calc_delta_fair(1_000_000, nice=5)
3056716
"""
from typing import Optional

from pvsched._core import (  # noqa: F401
    DEFAULT_FEATURES,
    FEATURE_BITS,
    LOAD_AVG_MAX,
    PELT_MIN_DIVIDER,
    FairRunqueue,
    PeltAvg,
    accumulate_pelt_segments,
    base_slice_ns,
    decay_load,
    sched_prio_to_weight,
    sched_prio_to_wmult,
)
import pvsched._core as _core
from pvsched._core import SLICE_MAX_NS, SLICE_MIN_NS  # noqa: F401
from pvsched.errors import SliceClampedWarning  # noqa: F401


def _as_kernel_function(fn, impl):
    """``fn`` (a typed Python signature under the kernel's name) documented by the C entry point
    ``impl`` it calls; the docstring's examples use the kernel name."""
    doc = impl.__doc__ or ""
    first, _, rest = doc.partition("\n")
    if first.startswith(impl.__name__ + "("):      # Cython's embedded C signature line
        doc = rest.lstrip("\n")
    fn.__doc__ = doc.replace(impl.__name__ + "(", fn.__name__ + "(")
    return fn


def calc_delta_fair(delta_ns: int, nice: Optional[int] = None, weight: Optional[int] = None) -> int:
    return _core.py_calc_delta_fair(delta_ns, nice, weight)


def calc_group_shares(tg_shares: int, grq_load_weight: int, grq_load_avg: int, tg_load_avg: int,
                      tg_load_avg_contrib: int) -> int:
    return _core.py_calc_group_shares(tg_shares, grq_load_weight, grq_load_avg, tg_load_avg, tg_load_avg_contrib)


def scale_load_down(w: int) -> int:
    return _core.py_scale_load_down(w)


def tick_nsec(hz: int) -> int:
    return _core.py_tick_nsec(hz)


def setparam_fair_slice(sched_runtime_ns: int) -> int:
    return _core.py_setparam_fair_slice(sched_runtime_ns)


for _fn, _impl in ((calc_delta_fair, _core.py_calc_delta_fair), (calc_group_shares, _core.py_calc_group_shares),
                   (scale_load_down, _core.py_scale_load_down), (tick_nsec, _core.py_tick_nsec),
                   (setparam_fair_slice, _core.py_setparam_fair_slice)):
    _as_kernel_function(_fn, _impl)

NICE_0_LOAD = 1 << 20
MIN_SHARES = 2
MAX_SHARES = 1 << 18

__all__ = [
    "FairRunqueue", "PeltAvg", "calc_delta_fair", "calc_group_shares", "scale_load_down",
    "sched_prio_to_weight", "sched_prio_to_wmult", "base_slice_ns", "decay_load",
    "accumulate_pelt_segments", "LOAD_AVG_MAX", "PELT_MIN_DIVIDER", "NICE_0_LOAD", "MIN_SHARES",
    "MAX_SHARES", "FEATURE_BITS", "DEFAULT_FEATURES", "tick_nsec", "setparam_fair_slice",
    "SLICE_MIN_NS", "SLICE_MAX_NS", "SliceClampedWarning",
]

# Directed yield: the debooster's rules, the PLE window, ipi_context, probes of a live engine, benches.
from pvsched._core import (  # noqa: E402,F401
    IpiContext,
    bench_find_matching_se,
    bench_ipi_context,
    deboost_call,
    deboost_entity,
    deboost_factor,
    deboost_lca,
    ple_window_grow,
    ple_window_shrink,
    yield_on_spin,
    yield_vcpu_state,
    yield_vm_state,
)


def deboost_penalty(gran: int, need: int, nr_queued: int, reverse: bool = False, curve: str = "steps") -> int:
    return _core.py_deboost_penalty(gran, need, nr_queued, reverse, curve)


_as_kernel_function(deboost_penalty, _core.py_deboost_penalty)

__all__ += [
    "IpiContext", "bench_find_matching_se", "bench_ipi_context", "deboost_call", "deboost_entity",
    "deboost_factor", "deboost_lca", "deboost_penalty", "ple_window_grow", "ple_window_shrink",
    "yield_on_spin", "yield_vcpu_state", "yield_vm_state",
]

# Guest halted time (the Feb 2025 RFC) and the halted-aware PELT update: the per-exit measurement,
# the split update, probes of a live engine. The tick mode samples with the same rule as an exit
# (``gtime_halted_stay(tick_period_ns, unhalted_ns)``) and hands the result to the same split.
from pvsched._core import (  # noqa: E402,F401
    HaltedPeltAvg,
    account_gtime_halted,
    gtime_halted_cycles,
    gtime_halted_levels,
    gtime_halted_stay,
    mperf_cycles,
)

__all__ += ["HaltedPeltAvg", "account_gtime_halted", "gtime_halted_cycles", "gtime_halted_levels",
            "gtime_halted_stay", "mperf_cycles"]
# VMM deferred work and the HLT/MWAIT exit rules (the queue, per-KVM_RUN settings, idle actions).
from pvsched._core import (  # noqa: E402,F401
    WorkQueue,
    arrival_gaps,
    idle_action,
    kick_target,
    kvm_run_settings,
    stale_signal,
    user_work_choice,
    work_sizes,
)

__all__ += ["WorkQueue", "arrival_gaps", "idle_action", "kick_target", "kvm_run_settings", "stale_signal",
            "user_work_choice", "work_sizes"]
