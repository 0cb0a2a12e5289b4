"""IPI-aware directed yield written in Python: the built-in policy (policies/ipi_aware_yield.pxi)
re-implemented as a :class:`pvsched.Policy` on three hook points, with bit-identical results.

- ``on_ipi``: KVM delivers a unicast fixed IPI -> record it (kvm_track_ipi_communication).
- ``on_vcpu_exit`` with reason ``"eoi"``: the trapped EOI clears the receiver's record and, if it
  is the sender's last receiver within the window, the sender's pending flag (two stages).
- ``on_spin`` / ``spin_next_round``: kvm_vcpu_on_spin's candidate classes (confirmed IPI receiver,
  visible pending interrupt, preempted in kernel mode; with ``priority`` order one tier per
  round) and the relaxed round.

Run it (prints the two runs' throughput and whether every result entry is identical)::

    python examples/python_ipi_aware_yield.py
"""
from __future__ import annotations

import time

from pvsched import Policy, Simulation
from pvsched.experiments.seed002 import scenario
from pvsched.policies import YieldPolicy

RELAXED = 3     # rounds 0..2: the strict tiers; 3: the relaxed round


class IpiAwareYield(Policy):
    """The IPI-aware yield policy of the 2025 yield series, in Python, for one VM."""

    def __init__(self, nvcpu: int, window_ns: int = 50_000_000, relaxed: bool = True,
                 priority_order: bool = False, tracking: bool = True):
        self.window_ns = window_ns
        self.relaxed = relaxed
        self.priority_order = priority_order
        self.tracking = tracking
        self.pending = [False] * nvcpu          # the vCPU's last IPI awaits its EOI
        self.last_receiver = [-1] * nvcpu
        self.last_sender = [-1] * nvcpu
        self.sent_at = [0] * nvcpu

    def on_ipi(self, ctx):
        if not (ctx.unicast and self.tracking):
            return
        s, t = ctx.vcpu, ctx.target
        self.last_receiver[s], self.pending[s], self.sent_at[s] = t, True, ctx.now
        self.last_sender[t] = s
        ctx.count("ipi_tracked")

    def on_vcpu_exit(self, ctx):
        if ctx.reason != "eoi" or not self.tracking:
            return
        v = ctx.vcpu
        sender = self.last_sender[v]
        self.pending[v], self.last_sender[v], self.last_receiver[v] = False, -1, -1
        ctx.count("eoi_clear_receiver")
        if sender >= 0 and self.last_receiver[sender] == v and ctx.now - self.sent_at[sender] <= self.window_ns:
            self.pending[sender] = False
            ctx.count("eoi_clear_sender")

    def _is_receiver(self, me, c, now):
        return (self.tracking and self.pending[me] and self.last_receiver[me] == c
                and now - self.sent_at[me] <= self.window_ns)

    def on_spin(self, ctx):
        c = ctx.vcpu_state(ctx.candidate)
        if ctx.round == RELAXED:
            return "relaxed" if c["preempted"] else None
        if self._is_receiver(ctx.vcpu, ctx.candidate, ctx.now):
            kind, tier = "ipi_receiver", 0
        elif c["pending_interrupt"]:
            kind, tier = "pending_irq", 1
        elif c["preempted"] and c["preempted_in_kernel"]:
            kind, tier = "kernel", 2
        else:
            return None
        if self.priority_order and tier != ctx.round:
            return None
        return kind

    def spin_next_round(self, ctx):
        if ctx.yielded > 0 or ctx.round == RELAXED:
            return None
        if self.priority_order and ctx.round < 2 and not ctx.exhausted:
            return ctx.round + 1
        if self.relaxed:
            ctx.count("relaxed_rounds")
            return RELAXED
        return None


def scenarios(duration_ns: int = 60_000_000, load: str = "dedup"):
    """The same two-VM cell twice: the built-in IPI-aware policy, and the Python one (with KVM's
    own last_boosted_vcpu fix, which the built-in policy switches on as patch 6 of the series)."""
    builtin = scenario(2, load, "ipi", duration_ns=duration_ns)
    python = scenario(2, load, "baseline", duration_ns=duration_ns)
    for vm in python.vms:
        vm.yield_policy = YieldPolicy(fix_last_boosted=True)
        vm.policy = IpiAwareYield(vm.vcpus)
    return builtin, python


def main():
    from pvsched.experiments.seed002 import throughput
    builtin, python = scenarios()
    out = []
    for name, sc in (("built-in (C)", builtin), ("Python policy", python)):
        t0 = time.perf_counter()
        r = Simulation(sc).run()
        out.append(r)
        print(f"{name:14s} {throughput(r, 'dedup'):10.0f} IPI round trips/s, "
              f"{r.vms['boost_ipi_receiver'].sum()} boosts of IPI receivers, {time.perf_counter() - t0:.2f} s wall")
    diff = differences(out[0], out[1])
    same = not diff
    print("full results identical:", same, "" if same else f"(differ: {diff[:10]})")
    return same


def differences(ra, rb) -> list:
    """The entries of two runs' full results (Result.raw, flattened) that are not bit-identical."""
    import numpy as np

    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}/") if isinstance(v, dict) else {prefix + k: v})
        return out
    fa, fb = flat(ra.raw), flat(rb.raw)
    diff = sorted(set(fa) ^ set(fb))
    for k in sorted(set(fa) & set(fb)):
        a, b = fa[k], fb[k]
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            same = (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                    and a.shape == b.shape and a.tobytes() == b.tobytes())
        else:
            same = type(a) is type(b) and a == b
        if not same:
            diff.append(k)
    return diff


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
