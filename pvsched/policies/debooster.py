"""The vCPU debooster (a host-scheduler change, ``Host(debooster=...)``): on a successful
``yield_to()`` whose target shares the yielder's runqueue, the yielder's entity at the cgroup LCA
is pushed back by a bounded vruntime penalty (patches 1-5 of the 2025 yield series). C part:
``policies/debooster.pxi``.

>>> from pvsched.policies.debooster import Debooster
>>> Debooster(enabled=True).engine_dict()["rate_limit_ns"]
6000000
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from pvsched.validate import _bool, _choice, _int, normalize, self_check

PENALTY_CURVES = ("steps", "linear")
RATE_LIMIT_MODES = ("v1", "v2")


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

    def __post_init__(self):
        normalize(self)
        self_check(self, "Debooster")

    def validate(self, path: str) -> None:
        _bool(f"{path}.enabled", self.enabled)
        _choice(f"{path}.curve", self.curve, PENALTY_CURVES)
        _int(f"{path}.rate_limit_ns", self.rate_limit_ns, 0, 10**12)
        _choice(f"{path}.rate_limit_mode", self.rate_limit_mode, RATE_LIMIT_MODES)
        _int(f"{path}.debounce_ns", self.debounce_ns, 0, 10**12)

    def engine_dict(self) -> dict:
        return asdict(self)
