"""A scenario's dict and TOML forms: ``to_dict`` gives a plain, TOML-ready dict that
``from_dict`` turns back into an equal, validated scenario; errors name the file and key path.
The functions take the Scenario class or object (pvsched.scenario.description delegates here)."""
from __future__ import annotations

import dataclasses
from typing import Optional

from pvsched.errors import ScenarioError
from pvsched.policies.boost import BoostPolicy
from pvsched.policies.debooster import Debooster
from pvsched.policies.deferred_work import DeferredWork
from pvsched.policies.halted_pelt import HaltedPelt
from pvsched.policies.ipi_aware_yield import YieldPolicy
from pvsched.policies.rcu_guest import RcuGuestPolicy
from pvsched.rcu.config import RcuConfig
from pvsched.scenario.elements import VM, Cgroup, GuestKernel, Host, Task
from pvsched.trace.config import TraceConfig
from pvsched.validate import _fields, _from, _list, build, unknown_key
from pvsched.workloads import workload_from_dict


def scenario_to_dict(self) -> dict:
    """A plain dict (TOML-ready) that :meth:`from_dict` turns back into an equal scenario."""
    for path, p in [("host.policy", self.host.policy)] + [(f"vms[{i}].policy", vm.policy) for i, vm in enumerate(self.vms)]:
        if p is not None:
            raise ScenarioError(path, p, "a Python policy is code, not data: a scenario with one has no dict or "
                                "TOML form (run it with Simulation; sweeps and TOML files take built-in policies)")
    d = {
        "duration_ns": self.duration_ns, "seed": self.seed, "shuffle_ties": self.shuffle_ties,
        "check_invariants": self.check_invariants,
        "trace": {k: v for k, v in dataclasses.asdict(self.trace).items() if v is not None},
        "host": _host_dict(self.host),
        "cgroups": [{k: v for k, v in dataclasses.asdict(c).items() if v is not None} for c in self.cgroups],
        "tasks": [],
    }
    d["tasks"] = [_task_dict(t) for t in self.tasks]
    if self.vms:
        d["vms"] = []
        for vm in self.vms:
            vd = {f.name: getattr(vm, f.name) for f in dataclasses.fields(VM)
                  if f.name not in ("tasks", "guest", "boost", "yield_policy", "policy", "deferred_work")
                  and getattr(vm, f.name) is not None}
            vd["deferred_work"] = {k: (list(v) if k == "thread_cpus" else v)
                                   for k, v in dataclasses.asdict(vm.deferred_work).items() if v is not None}
            vd["boost"] = dataclasses.asdict(vm.boost)
            vd["yield_policy"] = dataclasses.asdict(vm.yield_policy)
            for k in ("pin", "cpus", "migrate_pin"):
                if k in vd:
                    vd[k] = list(vd[k])
            vd["guest"] = dataclasses.asdict(vm.guest)
            vd["tasks"] = [_task_dict(t) for t in vm.tasks]
            d["vms"].append(vd)
    return d


def scenario_from_dict(cls, d: dict, source: str = ""):
    """Build (and validate) a scenario from a dict; errors name ``source`` and the key path."""
    pre = f"{source}: " if source else ""
    try:
        return _scenario_from_dict(cls, d)
    except ScenarioError as e:
        if pre:
            raise ScenarioError(pre + e.path, e.value, e.problem) from None
        raise


def _scenario_from_dict(cls, d):
    if not isinstance(d, dict):
        raise ScenarioError("<root>", d, "must be a table")
    top = {"host", "cgroups", "tasks", "vms", "duration_ns", "seed", "shuffle_ties", "check_invariants", "trace"}
    for k in d:
        if k not in top:
            if k in ("scenario", "grid", "cells", "seeds", "metrics", "output"):
                raise ScenarioError(k, d[k], "unknown key: this is a sweep file (a scenario plus a grid); run it with "
                                             "`pvsched sweep FILE` or pvsched.sweep.load_sweep_file(FILE).run()")
            raise unknown_key(k, k, d[k], top)
    hd = d.get("host", {})
    if not isinstance(hd, dict):
        raise ScenarioError("host", hd, "must be a table")
    hfields = {f.name for f in dataclasses.fields(Host)}
    for k in hd:
        if k not in hfields:
            raise unknown_key(f"host.{k}", k, hd[k], hfields)
    hd = dict(hd)
    if "debooster" in hd:
        hd["debooster"] = _from(Debooster, hd["debooster"], "host.debooster")
    if "halted_pelt" in hd:
        hd["halted_pelt"] = _from(HaltedPelt, hd["halted_pelt"], "host.halted_pelt")
    if "rcu" in hd:
        hd["rcu"] = _from(RcuConfig, hd["rcu"], "host.rcu")
    if isinstance(hd.get("rcu_guest_policy"), dict):
        hd["rcu_guest_policy"] = _from(RcuGuestPolicy, hd["rcu_guest_policy"], "host.rcu_guest_policy")
    host = build(Host, hd, "host")
    cgroups = []
    for i, c in enumerate(_list(d.get("cgroups", []), "cgroups")):
        cgroups.append(build(Cgroup, _fields(c, Cgroup, f"cgroups[{i}]", required=("name",)), f"cgroups[{i}]"))
    tasks = [_task_from(t, f"tasks[{i}]") for i, t in enumerate(_list(d.get("tasks", []), "tasks"))]
    vms = []
    for i, v in enumerate(_list(d.get("vms", []), "vms")):
        kw = _fields(v, VM, f"vms[{i}]", required=("name",))
        gd = kw.get("guest", {})
        kw["guest"] = build(GuestKernel, _fields(gd, GuestKernel, f"vms[{i}].guest"), f"vms[{i}].guest")
        if "boost" in kw:
            kw["boost"] = build(BoostPolicy, _fields(kw["boost"], BoostPolicy, f"vms[{i}].boost"), f"vms[{i}].boost")
        if "yield_policy" in kw:
            kw["yield_policy"] = _from(YieldPolicy, kw["yield_policy"], f"vms[{i}].yield_policy")
        if "deferred_work" in kw:
            kw["deferred_work"] = _from(DeferredWork, kw["deferred_work"], f"vms[{i}].deferred_work")
        kw["tasks"] = [_task_from(t, f"vms[{i}].tasks[{j}]")
                       for j, t in enumerate(_list(kw.get("tasks", []), f"vms[{i}].tasks"))]
        vms.append(build(VM, kw, f"vms[{i}]"))
    extra = {k: d[k] for k in ("duration_ns", "seed", "shuffle_ties", "check_invariants") if k in d}
    if "trace" in d:
        extra["trace"] = _from(TraceConfig, d["trace"], "trace")
    sc = cls(host=host, cgroups=cgroups, tasks=tasks, vms=vms, **extra)
    sc.validate()
    return sc


def scenario_to_toml(self) -> str:
    import tomli_w
    return tomli_w.dumps(scenario_to_dict(self))


def looks_like_toml_text(s: str) -> bool:
    """How :func:`scenario_from_toml` tells TOML text from a path in a ``str``: text has a newline,
    or (on one line, not ending in ``.toml``) a ``=``, a ``[table]`` header or a comment, or is
    blank; anything else is a path.

    >>> [looks_like_toml_text(s) for s in ("examples/typo.toml", "duration_ns = 5", "a\\nb", "run1")]
    [False, True, True, False]
    """
    t = s.strip()
    if "\n" in s or not t:
        return True
    if t.endswith(".toml"):
        return False
    return "=" in t or t.startswith(("[", "#"))


def read_toml_file(path, what: str = "scenario") -> str:
    """The text of a TOML file, or a ScenarioError naming the path and saying what was expected
    (a missing file, a directory, an unreadable file)."""
    import os
    p = os.fspath(path)
    expected = f"expected a {what} file" if " " in what else f"expected a {what} TOML file"
    if os.path.isdir(p):
        raise ScenarioError(p, ScenarioError.NO_VALUE, f"is a directory; {expected}")
    if not os.path.exists(p):
        raise ScenarioError(p, ScenarioError.NO_VALUE, f"no such file (relative to {os.getcwd()}); {expected}")
    try:
        with open(p, "rb") as f:
            return f.read().decode()
    except OSError as e:
        raise ScenarioError(p, ScenarioError.NO_VALUE, f"cannot be read ({(e.strerror or str(e)).lower()})") from None
    except UnicodeDecodeError as e:
        raise ScenarioError(p, ScenarioError.NO_VALUE, f"is not UTF-8 text (byte {e.start}); {expected}") from None


def scenario_from_toml(cls, source, *, is_path: Optional[bool] = None):
    """Load from a TOML file path or TOML text; errors name the file and key path.

    A ``pathlib.Path`` (any ``os.PathLike``) is a path; a ``str`` is told apart by
    :func:`looks_like_toml_text`; ``is_path`` forces either reading. ``examples/NAME.toml`` loads
    the bundled example where the working directory has no such file."""
    import os
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    if isinstance(source, os.PathLike):
        path = is_path is not False
    elif isinstance(source, str):
        path = is_path if is_path is not None else not looks_like_toml_text(source)
    elif isinstance(source, (bytes, bytearray)) and not is_path:
        source, path = bytes(source).decode(), False
    else:
        raise ScenarioError("source", source, "must be a TOML file path (str or os.PathLike) or TOML text (str)")
    name = "<string>"
    text = source
    if path:
        from pvsched._checkout import resolve_example
        name = os.fspath(source)
        text = read_toml_file(resolve_example(name))
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(name, "<toml>", f"malformed TOML: {e}") from None
    return scenario_from_dict(cls, d, source=name)


def _host_dict(h: Host) -> dict:
    d = {k: v for k, v in dataclasses.asdict(h).items() if k != "policy"}
    d["nohz_full"] = list(d["nohz_full"])
    for k in ("rcu", "rcu_guest_policy"):           # TOML has no None: unset means the default
        if d[k] is None:
            del d[k]
        else:
            d[k] = {f: v for f, v in d[k].items() if v is not None}
    return d


def _task_dict(t: Task) -> dict:
    td = {k: v for k, v in dataclasses.asdict(t).items() if k != "workload" and v is not None}
    if td.get("cpus") is not None:
        td["cpus"] = list(td["cpus"])
    td["workload"] = t.workload.to_dict()
    return td


def _task_from(t, path) -> Task:
    kw = _fields(t, Task, path, required=("name", "workload"))
    kw["workload"] = workload_from_dict(kw["workload"], f"{path}.workload")
    return build(Task, kw, path)
