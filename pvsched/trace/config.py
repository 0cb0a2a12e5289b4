"""The trace options of a scenario: off by default; when on, a bounded buffer in the C core.

>>> TraceConfig(enabled=True, cap_events=1000, from_ns=5_000_000).validate("trace")
>>> TraceConfig(enabled=True, mode="loop")
Traceback (most recent call last):
...
pvsched.errors.ScenarioError: TraceConfig.mode = 'loop': must be one of ['cap', 'ring']
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import List, Optional

from pvsched.errors import ScenarioError
from pvsched.trace.schema import FIRST_FREE_CODE, KIND

MODES = ("cap", "ring")
MAX_CAP_EVENTS = 1 << 28          # 8 GiB of records: a cap, not a target
RECORD_BYTES = 32


@dataclass
class TraceConfig:
    """What to record and how much memory it may take.

    - ``enabled``: record at all (off: no buffer, no cost beyond one test per event site).
    - ``cap_events``: buffer size in events (32 bytes each); memory is bounded by it whatever the
      run length. ``mode="cap"`` keeps the first ``cap_events`` events and marks where it stopped
      (``Trace.truncated_at_ns``, a ``truncated`` record, a count of the events dropped);
      ``mode="ring"`` keeps the last ``cap_events`` (the oldest are overwritten and counted).
    - ``from_ns`` / ``to_ns``: record only events in ``[from_ns, to_ns)`` (``to_ns`` None = no end).
    - ``events``: kind names to record (default: all; see :data:`pvsched.trace.KINDS`), e.g.
      ``["sched_switch", "sched_wakeup"]`` for scheduling only. Kinds registered by policies
      (codes >= 64) are recorded when ``events`` is empty or names them.
    """

    enabled: bool = False
    cap_events: int = 1_000_000
    mode: str = "cap"
    from_ns: int = 0
    to_ns: Optional[int] = None
    events: List[str] = field(default_factory=list)

    def __post_init__(self):
        from pvsched.validate import normalize, self_check
        normalize(self, ("events",))
        self_check(self, "TraceConfig")

    def validate(self, path: str = "trace") -> None:
        from pvsched.limits import MAX_TIME_NS
        from pvsched.validate import _bool, _choice, _int
        _bool(f"{path}.enabled", self.enabled)
        _int(f"{path}.cap_events", self.cap_events, 1, MAX_CAP_EVENTS)
        _choice(f"{path}.mode", self.mode, MODES)
        _int(f"{path}.from_ns", self.from_ns, 0, MAX_TIME_NS)
        if self.to_ns is not None:
            _int(f"{path}.to_ns", self.to_ns, self.from_ns + 1, MAX_TIME_NS + 1)
        if not isinstance(self.events, (list, tuple)):
            raise ScenarioError(f"{path}.events", self.events, "must be a list of event kind names")
        for i, e in enumerate(self.events):
            if not isinstance(e, str) or e not in KIND or e == "truncated":
                raise ScenarioError(f"{path}.events[{i}]", e,
                                    f"unknown event kind; known: {sorted(k for k in KIND if k != 'truncated')}")

    def kind_mask(self) -> int:
        """Bit ``code`` set for each kind (code < 63) to record; bit 63 stands for every kind
        registered by a policy (code >= 64; code 63 is unused)."""
        if not self.events:
            return (1 << 64) - 1
        mask = 0
        for e in self.events:
            code = KIND[e]
            mask |= 1 << (code if code < FIRST_FREE_CODE else 63)
        if "sched_switch" in self.events:
            mask |= 1 << KIND["sched_curr"]      # the state a late window opens on
        return mask

    def engine_dict(self) -> dict:
        d = asdict(self)
        d["kind_mask"] = self.kind_mask()
        return d

    def memory_bytes(self) -> int:
        """Upper bound of the trace buffer's size."""
        return self.cap_events * RECORD_BYTES if self.enabled else 0
