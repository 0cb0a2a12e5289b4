"""Input limits shared by validation and the C engine.

``MAX_TIME_NS`` is the simulated horizon: every instant (``duration_ns``, ``until_ns``, a task's
``start_ns``) and every duration (run, sleep, period, offset, jitter, ...) must be at most 2^62 ns
(about 146 years). The engine checks the same bound, so an instant plus a duration always fits
in 64 bits; longer sums (instant + duration + jitter) saturate beyond the horizon, where they
never fire.

>>> from pvsched.limits import MAX_TIME_NS
>>> MAX_TIME_NS == 2**62
True
"""

MAX_TIME_NS = 1 << 62
#: loop counts (workload ``loops``, ``sleep_every``) are 32-bit in the engine
MAX_LOOPS = (1 << 31) - 1
#: cgroups nested in one chain (the engine keeps an entity's depth in 16 bits)
MAX_CGROUP_DEPTH = 32000
