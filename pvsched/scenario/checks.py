"""Checks the scenario's elements share (:mod:`pvsched.scenario.elements` re-exports them): the
scheduler knobs of a host or guest kernel, fair feature flags, Python policies.

>>> from pvsched.scenario.checks import _validate_features
>>> _validate_features("host", {"DELAY_DEQUEUE": 1}, "eevdf")
Traceback (most recent call last):
    ...
pvsched.errors.ScenarioError: host.features.DELAY_DEQUEUE = 1: must be true or false
"""
from __future__ import annotations

from pvsched.errors import ScenarioError
from pvsched.policies.policy import Policy
from pvsched.validate import _bool, _choice, _int, unknown_key

POLICIES = ("normal", "batch", "idle", "fifo", "rr")
PREEMPT_MODELS = ("full", "lazy")
SLICE_SCALING = ("none", "log", "linear")
RT_GUARDS = ("fair_server", "rt_throttle", "none")
FAIR_CLASSES = ("eevdf", "cfs")


def _validate_sched(path, k):
    """The scheduler knobs a host and a guest kernel share."""
    _int(f"{path}.hz", k.hz, 1, 10000)
    _choice(f"{path}.preempt", k.preempt, PREEMPT_MODELS)
    _choice(f"{path}.fair_class", k.fair_class, FAIR_CLASSES)
    _int(f"{path}.base_slice_ns", k.base_slice_ns, 1, 10**9)
    _choice(f"{path}.slice_scaling", k.slice_scaling, SLICE_SCALING)
    _validate_features(path, k.features, k.fair_class)


def _validate_features(path, features, fair_class):
    from pvsched._core import CFS_FEATURES, FEATURE_BITS
    if not isinstance(features, dict):
        raise ScenarioError(f"{path}.features", features, "must be a table of name = bool")
    eevdf_only = {"PLACE_LAG", "PLACE_DEADLINE_INITIAL", "PLACE_REL_DEADLINE", "RUN_TO_PARITY",
                  "PREEMPT_SHORT", "PICK_BUDDY", "DELAY_DEQUEUE", "DELAY_ZERO", "YIELD_FORFEIT",
                  "REWEIGHT_INPLACE"}
    for k, v in features.items():
        if k not in FEATURE_BITS:
            raise unknown_key(f"{path}.features.{k}", k, v, FEATURE_BITS, "feature")
        if fair_class == "cfs" and k not in CFS_FEATURES:
            raise ScenarioError(f"{path}.features.{k}", v, "not a CFS (v6.5) feature")
        if fair_class == "eevdf" and k not in eevdf_only | {"NEXT_BUDDY", "WAKEUP_PREEMPTION"}:
            raise ScenarioError(f"{path}.features.{k}", v, "not an EEVDF (v6.15) feature")
        _bool(f"{path}.features.{k}", v)


VCPU_POINTS = ("kick", "guest_irq", "halt", "spin", "ipi", "sched_in", "sched_out", "vcpu_mode", "guest_switch",
               "guest_enqueue", "guest_idle", "kvm_run", "vcpu_exit", "vcpu_enter")


def _check_policy(path, p, host=False):
    if p is None:
        return
    if not isinstance(p, Policy):
        raise ScenarioError(path, p, "must be a pvsched.Policy (a Python policy object) or None")
    points = p.points()
    wrong = [x for x in points if x in VCPU_POINTS] if host else [x for x in points if x == "yield_to"]
    if wrong:
        raise ScenarioError(path, type(p).__name__, f"on_{wrong[0]}: " + (
            "a vCPU hook needs the policy on a VM, not the host" if host else
            "yield_to runs in the host; attach it to the host"))
    if type(p).spin_next_round is not Policy.spin_next_round and "spin" not in points:
        raise ScenarioError(path, type(p).__name__, "spin_next_round needs on_spin too")


def _check_copies_clash(tasks, path: str) -> None:
    """A count > 1 task's base name (results merge ``name[0]``, ``name[1]``, ... under it) must not
    also name a single task of the same scope."""
    single = {t.name: i for i, t in enumerate(tasks) if t.count == 1}
    for i, t in enumerate(tasks):
        if t.count > 1 and t.name in single:
            raise ScenarioError(f"{path}[{i}].name", t.name, f"is also the name of {path}[{single[t.name]}]: the "
                                f"copies {t.name}[0], {t.name}[1], ... are read back together as {t.name!r}")
