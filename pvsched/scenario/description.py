"""The whole simulation input: :class:`Scenario` (host, cgroups, host tasks, VMs, duration, seed),
its validation, and its compiled, dict and TOML forms (delegated to ``compile`` and ``toml_io``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from pvsched.errors import ScenarioError
from pvsched.limits import MAX_CGROUP_DEPTH, MAX_TIME_NS
from pvsched.scenario import compile as _compile
from pvsched.scenario import toml_io as _io
from pvsched.scenario.elements import VM, Cgroup, Host, Task, _check_copies_clash, _validate_task
from pvsched.trace.config import TraceConfig
from pvsched.validate import _bool, _int, normalize


@dataclass
class Scenario:
    """A whole simulation input: host, cgroups, host tasks, VMs, duration and seed; ``trace``
    (:class:`pvsched.trace.TraceConfig`) turns on the event trace (``Result.trace``). Plain data
    with a dict / TOML form. It is checked when built (a task's CPU beyond the host's, a cgroup
    that does not exist, ...; its parts check themselves when constructed), and again, with the
    rule that it needs at least one task or VM, when it is run (or with :meth:`validate`).

    >>> from pvsched import Cgroup, Host, Scenario, Simulation, Task
    >>> from pvsched.workloads import Hog
    >>> sc = Scenario(host=Host(cpus=1), cgroups=[Cgroup("big", weight=200), Cgroup("small")],
    ...               tasks=[Task("a", Hog(), cgroup="big"), Task("b", Hog(), cgroup="small")],
    ...               duration_ns=300_000_000, seed=1)
    >>> r = Simulation(sc).run()
    >>> round(r.task("a").cpu_ns / r.task("b").cpu_ns, 1)
    2.0
    >>> Scenario(host=Host(cpus=2), tasks=[Task("t", Hog(), cpus=[2])])
    Traceback (most recent call last):
    ...
    pvsched.errors.ScenarioError: tasks[0].cpus = 2: must be <= 1
    """

    host: Host = field(default_factory=Host)
    cgroups: List[Cgroup] = field(default_factory=list)
    tasks: List[Task] = field(default_factory=list)
    vms: List[VM] = field(default_factory=list)
    duration_ns: int = 1_000_000_000
    seed: int = 0
    shuffle_ties: bool = False
    check_invariants: bool = False
    trace: TraceConfig = field(default_factory=TraceConfig)

    def __post_init__(self):
        for k in ("cgroups", "tasks", "vms"):
            if isinstance(getattr(self, k), tuple):
                setattr(self, k, list(getattr(self, k)))
        normalize(self)
        self.validate(require_work=False)

    # ------------------------------------------------------------------ validation
    def validate(self, require_work: bool = True) -> None:
        """Raise :class:`ScenarioError` (naming the field path) on the first bad value;
        ``require_work``: a scenario without any task or VM is an error too."""
        if not isinstance(self.host, Host):
            raise ScenarioError("host", self.host, "must be a Host")
        for k, cls in (("cgroups", Cgroup), ("tasks", Task), ("vms", VM)):
            if not isinstance(getattr(self, k), list):
                raise ScenarioError(k, getattr(self, k), f"must be a list of {cls.__name__}")
        self.host.validate()
        _int("duration_ns", self.duration_ns, 1, MAX_TIME_NS)
        _int("seed", self.seed, 0, 2**64 - 1)
        _bool("shuffle_ties", self.shuffle_ties)
        _bool("check_invariants", self.check_invariants)
        if not isinstance(self.trace, TraceConfig):
            raise ScenarioError("trace", self.trace, "must be a TraceConfig")
        self.trace.validate("trace")
        names = {}
        for i, cg in enumerate(self.cgroups):
            p = f"cgroups[{i}]"
            if not isinstance(cg, Cgroup):
                raise ScenarioError(p, cg, "must be a Cgroup")
            cg.validate(p)
            if cg.name in names:
                raise ScenarioError(f"{p}.name", cg.name, "must be a unique non-empty string")
            names[cg.name] = i
        for i, cg in enumerate(self.cgroups):
            if cg.parent is not None and (not isinstance(cg.parent, str) or cg.parent not in names):
                raise ScenarioError(f"cgroups[{i}].parent", cg.parent, "names no cgroup")
        for i, cg in enumerate(self.cgroups):
            seen, cur = set(), cg
            while cur.parent is not None:
                if cur.name in seen:
                    raise ScenarioError(f"cgroups[{i}].parent", cg.parent, "the cgroup hierarchy has a cycle")
                seen.add(cur.name)
                if len(seen) >= MAX_CGROUP_DEPTH:
                    raise ScenarioError(f"cgroups[{i}].parent", cg.parent,
                                        f"nests cgroups more than {MAX_CGROUP_DEPTH} deep")
                cur = self.cgroups[names[cur.parent]]
        tnames = set()
        if require_work and not self.tasks and not self.vms:
            raise ScenarioError("tasks", self.tasks, "a scenario needs at least one task or VM")
        for i, t in enumerate(self.tasks):
            p = f"tasks[{i}]"
            _validate_task(p, t, self.host.cpus, names)
            if getattr(t.workload, "guest_only", False):
                raise ScenarioError(f"{p}.workload", t.workload.kind, "runs only in a guest (VM task)")
            if any(op[0] == "vmexit" for op in t.workload.ops()):
                raise ScenarioError(f"{p}.workload.phases", t.workload.phases, "mmio, fault and irq phases (VM exits) run only in a guest (VM task)")
            for n in t.names():
                if n in tnames:
                    raise ScenarioError(f"{p}.name", t.name, "task names must be unique")
                tnames.add(n)
        _check_copies_clash(self.tasks, "tasks")
        vnames = set()
        for i, vm in enumerate(self.vms):
            p = f"vms[{i}]"
            if not isinstance(vm, VM):
                raise ScenarioError(p, vm, "must be a VM")
            vm.validate(p, self.host, names)
            if vm.name in vnames:
                raise ScenarioError(f"{p}.name", vm.name, "VM names must be unique")
            vnames.add(vm.name)
            if vm.cgroup_name() in names:
                raise ScenarioError(f"{p}.name", vm.name, f"the VM's cgroup {vm.cgroup_name()!r} clashes with a cgroup")
        if _compile.rcu_enabled(self):
            _compile.validate_rcu(self)

    # ------------------------------------------------------------------ compile
    def compile(self):
        """Validate and flatten into ``(engine_kwargs, task_names, cgroup_names)`` for
        :class:`pvsched._core.Engine`. Task order: host tasks, then per VM its vCPU threads
        (``vm/vcpuN``) and its guest tasks (``vm/name``)."""
        return _compile.compile_scenario(self)

    # ------------------------------------------------------------------ dict / TOML
    def to_dict(self) -> dict:
        """A plain dict (TOML-ready) that :meth:`from_dict` turns back into an equal scenario."""
        return _io.scenario_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "") -> "Scenario":
        """Build (and validate) a scenario from a dict; errors name ``source`` and the key path."""
        return _io.scenario_from_dict(cls, d, source)

    def to_toml(self) -> str:
        """The scenario as TOML text (the format of ``examples/*.toml``): :meth:`from_toml` reads
        it back into an equal scenario. Workloads of user classes need their own ``kind``.

        >>> from pvsched import Host, Scenario, Task
        >>> from pvsched.workloads import Periodic
        >>> sc = Scenario(host=Host(cpus=2), tasks=[Task("p", Periodic(run_ns=1000, period_ns=5000))])
        >>> print(sc.to_toml().split("[[tasks]]")[1].strip())
        name = "p"
        policy = "normal"
        nice = 0
        rt_priority = 0
        start_ns = 0
        count = 1
        <BLANKLINE>
        [tasks.workload]
        kind = "periodic"
        run_ns = 1000
        period_ns = 5000
        jitter_ns = 0
        run_jitter_ns = 0
        offset_ns = 0
        >>> Scenario.from_toml(sc.to_toml()) == sc
        True
        """
        return _io.scenario_to_toml(self)

    @classmethod
    def from_toml(cls, source, *, is_path: Optional[bool] = None) -> "Scenario":
        """Load from a TOML file (a path: ``str`` or ``pathlib.Path``) or from TOML text; errors
        name the file and the key path. A ``str`` is text if it has a newline, or on one line a
        ``=``, a ``[table]`` or a comment (and does not end in ``.toml``); otherwise a path, and a
        missing one is reported as such. ``is_path=True/False`` forces either reading.

        >>> import os, tempfile
        >>> sc = Scenario.from_toml('[[tasks]]\\nname = "h"\\nworkload = { kind = "hog" }')
        >>> p = os.path.join(tempfile.mkdtemp(), "s.toml"); _ = open(p, "w").write(sc.to_toml())
        >>> from pathlib import Path
        >>> Scenario.from_toml(Path(p)) == Scenario.from_toml(p) == sc
        True
        >>> Scenario.from_toml("examples/typo.toml")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pvsched.errors.ScenarioError: examples/typo.toml: no such file (relative to ...); expected a scenario TOML file
        """
        return _io.scenario_from_toml(cls, source, is_path=is_path)
