"""Kernel scheduling rules as Python-callable functions (Linux v6.15 semantics).

Everything here runs the engine's own C code (``pvsched._core``), so a test of these functions is
a test of the simulator. See ``FairRunqueue`` for driving one EEVDF queue step by step.

>>> from pvsched.kernel import calc_delta_fair, FairRunqueue
>>> calc_delta_fair(1_000_000, nice=5)
3056716
"""
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
from pvsched._core import py_calc_delta_fair as calc_delta_fair  # noqa: F401
from pvsched._core import py_calc_group_shares as calc_group_shares  # noqa: F401
from pvsched._core import py_scale_load_down as scale_load_down  # noqa: F401

NICE_0_LOAD = 1 << 20
MIN_SHARES = 2
MAX_SHARES = 1 << 18

__all__ = [
    "FairRunqueue", "PeltAvg", "calc_delta_fair", "calc_group_shares", "scale_load_down",
    "sched_prio_to_weight", "sched_prio_to_wmult", "base_slice_ns", "decay_load",
    "accumulate_pelt_segments", "LOAD_AVG_MAX", "PELT_MIN_DIVIDER", "NICE_0_LOAD", "MIN_SHARES",
    "MAX_SHARES", "FEATURE_BITS", "DEFAULT_FEATURES",
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
from pvsched._core import py_deboost_penalty as deboost_penalty  # noqa: E402,F401

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
