"""Policies written in Python: subclass :class:`Policy`, implement the hook points you need.

A policy object attached to a VM (``VM(policy=...)``) or to the host (``Host(policy=...)``) has
its ``on_<point>`` methods called by the engine at those hook points, with a
:class:`pvsched._core.HookContext` to read the state and act. Only the methods a subclass defines
are called, and only for the VM (or host) it is attached to; the rest of the run stays in C
without the GIL. Each call costs a few microseconds (ARCHITECTURE.md gives the measurement), so
Python policies are for research at Python speed, and built-in ones for sweeps.

An exception raised by a hook stops the run at the current simulated time; ``Simulation.run``
then raises :class:`pvsched.PolicyError` from it.

>>> from pvsched import Policy, Scenario, Host, VM, Task, Simulation
>>> from pvsched.workloads import RunSleep
>>> class CountExits(Policy):
...     def __init__(self):
...         self.reasons = {}
...     def on_vcpu_exit(self, ctx):
...         self.reasons[ctx.reason] = self.reasons.get(ctx.reason, 0) + 1
>>> p = CountExits()
>>> vm = VM("vm", vcpus=1, policy=p, tasks=[Task("w", RunSleep(run_ns=100_000, sleep_ns=400_000))])
>>> r = Simulation(Scenario(host=Host(cpus=1), vms=[vm])).run(until_ns=10_000_000)
>>> p.reasons["hlt"] == r.vcpu("vm/vcpu0")["exits_hlt"]
True
"""
from __future__ import annotations

from typing import Any, Optional

HOOK_POINTS = ("vcpu_exit", "vcpu_enter", "kick", "guest_irq", "halt", "spin", "ipi", "sched_in", "sched_out",
               "vcpu_mode", "guest_switch", "guest_enqueue", "guest_idle", "kvm_run", "tick", "yield_to",
               "pelt_update", "kvm_run_leave", "context_switch")


class Policy:
    """Base class of Python policies. Override the ``on_<point>`` methods you need; each takes a
    context ``ctx`` (see :class:`pvsched._core.HookContext`). Return values are ignored except
    where stated. Where each point is called and what it may do: ARCHITECTURE.md, "Hook points".
    """

    # ---- vCPU points (a policy attached to a VM)
    def on_vcpu_exit(self, ctx: Any) -> None:
        """A VM exit was handled (``ctx.vcpu``, ``ctx.reason``)."""

    def on_vcpu_enter(self, ctx: Any) -> None:
        """A VM entry: the vCPU enters guest mode."""

    def on_kick(self, ctx: Any) -> None:
        """KVM kicks or injects into a vCPU (``ctx.cause``: ``"timer"``, ``"intr"``, ``"unhalt"``)."""

    def on_guest_irq(self, ctx: Any) -> None:
        """The guest takes an interrupt in guest mode."""

    def on_halt(self, ctx: Any) -> None:
        """kvm_vcpu_block: the vCPU thread is about to sleep."""

    def on_spin(self, ctx: Any) -> Optional[str]:
        """kvm_vcpu_on_spin, once per candidate ``ctx.candidate`` of round ``ctx.round``: return its
        class (``"vanilla"``, ``"ipi_receiver"``, ``"pending_irq"``, ``"kernel"``, ``"relaxed"``) to
        offer it to yield_to, or ``None`` to skip it. Replaces the stock candidate rule."""
        return None

    def spin_next_round(self, ctx: Any) -> Optional[int]:
        """After a kvm_vcpu_on_spin round (``ctx.round``, ``ctx.yielded``: the last yield_to result,
        ``ctx.exhausted``: three -ESRCH): the next round's number, or ``None`` to stop."""
        return None

    def on_ipi(self, ctx: Any) -> None:
        """KVM delivers a fixed IPI from ``ctx.vcpu`` to ``ctx.target`` (``ctx.unicast``)."""

    def on_sched_in(self, ctx: Any) -> None:
        """kvm_sched_in: the vCPU thread got a pCPU."""

    def on_sched_out(self, ctx: Any) -> None:
        """kvm_sched_out: the vCPU thread lost its pCPU."""

    def on_vcpu_mode(self, ctx: Any) -> None:
        """The vCPU changes mode to ``ctx.mode`` (also called when results are read)."""

    def on_guest_switch(self, ctx: Any) -> None:
        """Guest task ``ctx.task`` returns to user on the vCPU."""

    def on_guest_enqueue(self, ctx: Any) -> None:
        """try_to_wake_up put guest task ``ctx.task`` on the vCPU's runqueue (woken from ``ctx.local``)."""

    def on_guest_idle(self, ctx: Any) -> bool:
        """The guest is about to execute its idle instruction; return True if the policy handled it."""
        return False

    def on_kvm_run(self, ctx: Any) -> None:
        """The vCPU thread enters KVM_RUN (vcpu_load): when it starts, and after each return to
        userspace."""

    def on_kvm_run_leave(self, ctx: Any) -> None:
        """KVM_RUN returned to userspace (``ctx.kind``: after a ``"hlt"``, an ``"mwait"`` or
        ``"other"`` exit), and again after VMM work a built-in policy ran there."""

    def on_kvm_run_leave(self, ctx: Any) -> None:
        """The vCPU thread leaves KVM_RUN for the VMM (vcpu_put): an exit to userspace."""

    # ---- kernel points (host policy: the host's CPUs; VM policy: its guest kernel's)
    def on_tick(self, ctx: Any) -> None:
        """The scheduler tick on runqueue ``ctx.cpu``."""

    def on_context_switch(self, ctx: Any) -> None:
        """Runqueue ``ctx.cpu`` switches from task ``ctx.task`` (-1: idle) to another."""

    def on_yield_to(self, ctx: Any) -> None:
        """yield_to_task_fair on host runqueue ``ctx.cpu`` towards task ``ctx.task`` (host policy)."""

    def on_pelt_update(self, ctx: Any) -> None:
        """A PELT signal (``ctx.entity``, or the cfs_rq ``ctx.cfs_rq`` itself) is about to be updated."""

    def points(self) -> tuple:
        """The hook points this policy implements."""
        return tuple(p for p in HOOK_POINTS if getattr(type(self), "on_" + p) is not getattr(Policy, "on_" + p))
