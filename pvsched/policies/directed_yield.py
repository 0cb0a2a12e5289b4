"""Seed 002 policies: the scheduler-side vCPU debooster and KVM's (IPI-aware) directed yield.

``Debooster`` is a host-scheduler change (``Host(debooster=...)``): on a successful
``yield_to()`` whose target shares the yielder's runqueue, the yielder's entity at the cgroup LCA
is pushed back by a bounded vruntime penalty (patches 1-5 of the series).

``YieldPolicy`` is per VM (``VM(yield_policy=...)``): ``kvm_vcpu_on_spin`` candidate selection.
``ipi_aware`` turns on the series' KVM half (patches 6-10): ipi_context tracking of unicast fixed
IPIs, the two-stage EOI clearing, the tiered candidate filter (confirmed IPI receiver, pending
interrupt, preempted in kernel mode), the relaxed second round and the last_boosted_vcpu fix.

>>> from pvsched.directed_yield import Debooster, YieldPolicy
>>> Debooster(enabled=True).engine_dict()["rate_limit_ns"], YieldPolicy(ipi_aware=True).engine_dict()["relaxed_round"]
(6000000, True)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from pvsched.errors import ScenarioError

PENALTY_CURVES = ("steps", "linear")
RATE_LIMIT_MODES = ("v1", "v2")
CANDIDATE_ORDERS = ("scan", "priority")


@dataclass
class Debooster:
    """The vCPU debooster in ``yield_to_task_fair`` (off by default, as in a stock kernel).

    - ``curve``: penalty cap by the number of entities queued at the LCA, in units of the
      granularity (calc_delta_fair(base_slice) of the yielder's entity there). ``steps`` is the
      patch's table: 2 -> 6.0, 3 -> 4.0, 4-6 -> 2.5, 7-8 -> 2.0, 9-12 -> 1.5, > 12 -> 1.0.
      ``linear`` interpolates 6.0 at 2 down to 1.0 at 12 (-0.5 per entity), 1.0 above.
    - penalty = clamp(gran + 1.1 x need, gran, cap), need = max(0, target vruntime - yielder
      vruntime) at the LCA; a reverse pair (B yields to A within ``debounce_ns`` of A yielding to
      B, same runqueue) is first cut to max(need, gran).
    - ``rate_limit_ns``: per-runqueue rate limit (0 = off). ``v1`` (the default: the seed's
      posting, patch 2/10) restarts the window on every call, limited or not, so a penalty is
      applied only to the first yield after ``rate_limit_ns`` without any yield_to on that
      runqueue; during a pause-loop storm none passes. ``v2`` (the Dec 2025 repost) lets one call
      through per window (the window restarts only when a call passes).
    - The rest follows v1 (Linux v6.18-rc4 base): the cap counts the LCA cfs_rq's ``nr_queued``,
      vlag is set to V - vruntime and min_vruntime updated after the push. pvsched reads the
      exact clock where v1 reads ``rq->clock`` without updating it (fixed in v2).
    Note: with the defaults (6 ms > 600 us) the debounce can never trigger, because a reverse pair
    within 600 us on one runqueue is always rate-limited first.
    """

    enabled: bool = False
    curve: str = "steps"
    rate_limit_ns: int = 6_000_000
    rate_limit_mode: str = "v1"
    debounce_ns: int = 600_000

    def validate(self, path: str) -> None:
        from pvsched.scenario import _bool, _choice, _int
        _bool(f"{path}.enabled", self.enabled)
        _choice(f"{path}.curve", self.curve, PENALTY_CURVES)
        _int(f"{path}.rate_limit_ns", self.rate_limit_ns, 0, 10**12)
        _choice(f"{path}.rate_limit_mode", self.rate_limit_mode, RATE_LIMIT_MODES)
        _int(f"{path}.debounce_ns", self.debounce_ns, 0, 10**12)

    def engine_dict(self) -> dict:
        return asdict(self)


@dataclass
class YieldPolicy:
    """KVM directed-yield candidate selection for one VM (``kvm_vcpu_on_spin``).

    - ``ipi_aware`` (off = stock v6.15 KVM): the series' IPI-aware selection. The strict round
      accepts a vCPU that is the spinner's confirmed IPI receiver (ipi_context, within
      ``ipi_window_ns``), or has a pending interrupt (APICv only), or was preempted in kernel
      mode; ``relaxed_round`` adds a second round gated only by "preempted".
    - ``candidate_order``: ``scan`` (the patch: the tiers filter one round-robin scan from
      last_boosted_vcpu + 1) or ``priority`` (three scans: receiver, then pending, then kernel).
    - ``fix_last_boosted``: store the boosted vCPU's index (v6.19; v6.12-v6.18 store the loop
      count). Always on with ``ipi_aware`` (patch 6 is part of the series).
    - ``ipi_tracking``: the ipi_context record itself (module parameter ipi_tracking_enabled).
    With hardware IPI virtualization (``VM(ipi_virtualization=True)``) the ICR write never exits,
    so nothing is tracked; with APICv (``posted_interrupts=True``) EOIs are not seen, so records
    are only aged out by the window.
    """

    ipi_aware: bool = False
    relaxed_round: bool = True
    candidate_order: str = "scan"
    fix_last_boosted: bool = False
    ipi_tracking: bool = True
    ipi_window_ns: int = 50_000_000

    def validate(self, path: str) -> None:
        from pvsched.scenario import _bool, _choice, _int
        for k in ("ipi_aware", "relaxed_round", "fix_last_boosted", "ipi_tracking"):
            _bool(f"{path}.{k}", getattr(self, k))
        _choice(f"{path}.candidate_order", self.candidate_order, CANDIDATE_ORDERS)
        _int(f"{path}.ipi_window_ns", self.ipi_window_ns, 0, 10**12)

    def engine_dict(self) -> dict:
        return asdict(self)


def _from(cls, d, path):
    if isinstance(d, cls):
        return d
    if not isinstance(d, dict):
        raise ScenarioError(path, d, "must be a table")
    known = set(cls.__dataclass_fields__)
    for k in d:
        if k not in known:
            raise ScenarioError(f"{path}.{k}", d[k], f"unknown key; known: {sorted(known)}")
    return cls(**d)
