"""Guest halted time and halted-aware PELT (the Feb 2025 "Guest halted time" RFC and its review).

With HLT/MWAIT in guest (``VM(hlt_exits=False)``, QEMU ``-overcommit cpu-pm=on``) an idle guest
halts inside guest mode, so the host sees its vCPU thread 100% busy. ``HaltedPelt`` is a host
scheduler setting (``Host(halted_pelt=...)``), default ``off`` = today's kernel:

- ``exact`` (the RFC, patches 2 and 3): at every VM exit KVM reads TSC and MPERF, the stay's
  ``halted = TSC delta - MPERF delta`` (if positive) goes to a pending ``gtime_halted`` counter on
  the vCPU thread's entity, its cfs_rq and every ancestor entity and cfs_rq; every PELT update of
  an entity or cfs_rq then accumulates up to ``now - h`` with its real flags and the last
  ``h = min(delta, pending)`` ns with load, runnable and running zero (the residual decay keeps the
  patch's ``decay_load(residual, delta / 1024)`` with ``delta`` in ns). Cost: 2 MSR reads per
  entry/exit pair.
- ``tick`` (the reviewer's alternative, as the author offered to prototype it): at each host tick
  the CPU's TSC and MPERF deltas since its previous tick give the halted ns of that interval (the
  unhalted fraction f of the tick period is MPERF delta / TSC delta); if the tick finds a vCPU
  thread of such a VM current and pinned to this CPU, those ``(1 - f) * period`` ns are handed to
  the scheduler exactly as an exit does in ``exact`` mode. What is scaled: the tick's own PELT
  update then accumulates the interval's first ``f * period`` ns with the real flags and the rest
  with load = runnable = running = 0, for the thread's entity and every ancestor entity and
  cfs_rq; i.e. the period's running, runnable and load contributions are those of an entity
  present for f of the period (placed first, so up to one period's decay below a uniform
  scaling). A tick that finds another task current corrects nothing; a tick after a tickless idle
  stretch carries that idle time. Cost: 2 reads per tick, which x86 already does for frequency
  invariance (``arch_scale_freq_tick``).
- ``mperf_ppm``: MPERF runs this many ppm faster (> 0) or slower than the TSC (the RFC assumes
  equal rates and says the SDM does not promise it).
- ``no_hz_full``: the host kernel is built with CONFIG_NO_HZ_FULL, where the patch compiles
  ``sched_account_gtime_halted`` to a no-op (the author's stated limitation): ``exact`` then
  discounts nothing; the per-task ``gtime_halted`` metric is still measured. Implied by
  ``Host(nohz_full=[...])``. The ``tick`` mode has no such exception, but a nohz_full CPU running
  one task has no tick to sample.

The simulator tracks the ground truth (halted time inside guest mode per vCPU) for every VM with
HLT/MWAIT in guest, whatever the mode; ``Result.vcpus`` reports it beside what KVM measures.

>>> from pvsched.policies import HaltedPelt
>>> HaltedPelt("exact").engine_dict()
{'mode': 'exact', 'mperf_ppm': 0, 'no_hz_full': False}
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from pvsched.validate import _bool, _choice, _int, normalize, self_check

HALTED_PELT_MODES = ("off", "exact", "tick")


@dataclass
class HaltedPelt:
    """Halted-aware PELT for vCPU threads of VMs with HLT/MWAIT in guest (see the module)."""

    mode: str = "off"
    mperf_ppm: int = 0
    no_hz_full: bool = False

    def __post_init__(self):
        normalize(self)
        self_check(self, "HaltedPelt")

    def validate(self, path: str) -> None:
        _choice(f"{path}.mode", self.mode, HALTED_PELT_MODES)
        _int(f"{path}.mperf_ppm", self.mperf_ppm, -999_999, 999_999)
        _bool(f"{path}.no_hz_full", self.no_hz_full)

    def engine_dict(self) -> dict:
        return asdict(self)
