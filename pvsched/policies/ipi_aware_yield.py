"""IPI-aware directed yield and KVM's directed-yield options, per VM (``VM(yield_policy=...)``):
``kvm_vcpu_on_spin`` candidate selection. ``ipi_aware`` turns on the KVM half of the 2025 yield
series (patches 6-10): ipi_context tracking of unicast fixed IPIs, the two-stage EOI clearing, the
tiered candidate filter (confirmed IPI receiver, pending interrupt, preempted in kernel mode), the
relaxed second round and the last_boosted_vcpu fix. C part: ``policies/ipi_aware_yield.pxi``.

>>> from pvsched.policies.ipi_aware_yield import YieldPolicy
>>> YieldPolicy(ipi_aware=True).engine_dict()["relaxed_round"]
True
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from pvsched.validate import _bool, _choice, _int, normalize, self_check

CANDIDATE_ORDERS = ("scan", "priority")


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

    def __post_init__(self):
        normalize(self)
        self_check(self, "YieldPolicy")

    def validate(self, path: str) -> None:
        for k in ("ipi_aware", "relaxed_round", "fix_last_boosted", "ipi_tracking"):
            _bool(f"{path}.{k}", getattr(self, k))
        _choice(f"{path}.candidate_order", self.candidate_order, CANDIDATE_ORDERS)
        _int(f"{path}.ipi_window_ns", self.ipi_window_ns, 0, 10**12)

    def engine_dict(self) -> dict:
        return asdict(self)
