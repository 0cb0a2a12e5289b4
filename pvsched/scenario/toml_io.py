"""A scenario's dict and TOML forms: ``to_dict`` gives a plain, TOML-ready dict that
``from_dict`` turns back into an equal, validated scenario; errors name the file and key path.
The functions take the Scenario class or object (pvsched.scenario.description delegates here)."""
from __future__ import annotations

import dataclasses
from typing import Optional

from pvsched.errors import ScenarioError
from pvsched.policies.boost import BoostPolicy
from pvsched.policies.debooster import Debooster
from pvsched.policies.halted_pelt import HaltedPelt
from pvsched.policies.ipi_aware_yield import YieldPolicy
from pvsched.scenario.elements import VM, Cgroup, GuestKernel, Host, Task
from pvsched.trace.config import TraceConfig
from pvsched.validate import _fields, _from, _list, build
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
        "host": {k: v for k, v in dataclasses.asdict(self.host).items() if k != "policy"},
        "cgroups": [{k: v for k, v in dataclasses.asdict(c).items() if v is not None} for c in self.cgroups],
        "tasks": [],
    }
    d["tasks"] = [_task_dict(t) for t in self.tasks]
    if self.vms:
        d["vms"] = []
        for vm in self.vms:
            vd = {f.name: getattr(vm, f.name) for f in dataclasses.fields(VM)
                  if f.name not in ("tasks", "guest", "boost", "yield_policy", "policy") and getattr(vm, f.name) is not None}
            vd["boost"] = dataclasses.asdict(vm.boost)
            vd["yield_policy"] = dataclasses.asdict(vm.yield_policy)
            for k in ("pin", "cpus"):
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
            raise ScenarioError(k, d[k], f"unknown key; known: {sorted(top)}")
    hd = d.get("host", {})
    if not isinstance(hd, dict):
        raise ScenarioError("host", hd, "must be a table")
    hfields = {f.name for f in dataclasses.fields(Host)}
    for k in hd:
        if k not in hfields:
            raise ScenarioError(f"host.{k}", hd[k], f"unknown key; known: {sorted(hfields)}")
    hd = dict(hd)
    if "debooster" in hd:
        hd["debooster"] = _from(Debooster, hd["debooster"], "host.debooster")
    if "halted_pelt" in hd:
        hd["halted_pelt"] = _from(HaltedPelt, hd["halted_pelt"], "host.halted_pelt")
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


def scenario_from_toml(cls, text_or_path, *, is_path: Optional[bool] = None):
    """Load from TOML text or a file path; errors name the file and key path."""
    import os
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    source = "<string>"
    text = text_or_path
    if is_path or (is_path is None and isinstance(text_or_path, (str, os.PathLike))
                   and "\n" not in str(text_or_path) and os.path.exists(str(text_or_path))):
        source = str(text_or_path)
        try:
            with open(source, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ScenarioError(source, "<file>", f"cannot be read: {e.strerror or e}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[:e.start].count(b"\n") + 1
            raise ScenarioError(source, "<file>", f"is not UTF-8 text (byte {data[e.start]:#04x} at line {line}); "
                                "TOML files are UTF-8") from None
    if not isinstance(text, str):
        raise ScenarioError(source, text, "must be TOML text or the path of a TOML file")
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(source, "<toml>", f"malformed TOML: {e}") from None
    return scenario_from_dict(cls, d, source=source)


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
