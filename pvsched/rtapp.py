"""rt-app workload files: load the JSON task descriptions scheduler developers already have.

rt-app (github.com/scheduler-tools/rt-app) describes threads as phases of events. This loader
reads its JSON the way ``src/rt-app_parse_config.c`` does, tolerating the C-style comments and
trailing commas real files carry (parsed with the ``json5`` package, ``pip install
json5``, the ``rtapp`` extra; duplicate keys are kept in order, as rt-app reads them), and turns each
thread into a :class:`pvsched.Task` running a :class:`pvsched.workloads.RtApp` program:

* ``run`` (fixed work: CPU time, ``floor(us * 1000 / ns_per_loop)`` calibration loops when
  ``global.calibration`` is an integer), ``runtime`` (busy for a wall-clock duration, in 32 us
  chunks of work), ``sleep``, ``timer`` (``ref`` / ``period`` / ``mode``; one timer per ref shared
  by every thread and instance that names it, ``unique*`` refs per instance; relative by default)
  and ``yield``; event keys are matched by prefix like rt-app (``run0``, ``sleep1``, ``timer2``);
* per thread: ``instance`` (-> ``count``; 0 creates no thread), ``delay`` (-> ``start_ns``),
  ``loop``, ``phases`` (each with its own ``loop``), ``policy`` / ``priority`` (SCHED_OTHER and
  SCHED_IDLE take a nice value, SCHED_FIFO / SCHED_RR an RT priority, default 10), ``cpus``,
  ``taskgroup`` (a cgroup path, host tasks only: its cgroups are created with the default weight);
* ``global``: ``duration`` (s; -1 = run the scenario's own duration), ``default_policy``,
  ``calibration``.

Whatever pvsched cannot model is a :class:`~pvsched.ScenarioError` naming the key: locks,
conditions, barriers, suspend/resume, fork, mem/iorun, SCHED_DEADLINE, utilization clamping, and
changing the policy, priority, affinity or taskgroup from one phase to the next. Keys that only
steer rt-app's own logging or memory set-up (``logdir``, ``log_size``, ``ftrace``, ``gnuplot``,
``lock_pages``, ``nodes_membind`` ...) have no effect on a simulation and are listed in
:attr:`RtAppFile.no_effect`; any other key is an error (rt-app itself ignores unknown keys
silently, its bug #37).

>>> spec = '''{ "tasks": { "ct": {   // a 1 ms periodic thread, forever
...            "run": 200, "timer": { "ref": "tick", "period": 1000 }, }, },
...            "global": { "duration": 1, "logdir": "./", } }'''
>>> f = loads(spec)
>>> f.tasks[0].workload.phases, f.duration_ns, f.no_effect
([{'events': [['run', 200000], ['timer', 1000000, 'tick', 'relative']], 'loop': 1}], 1000000000, ['global.logdir'])
>>> from pvsched import Host, Simulation
>>> r = Simulation(f.scenario(Host(cpus=1))).run()
>>> r.task("ct").cpu_ns, r.task("ct").nr_overruns
(200000000, 0)
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

from pvsched.errors import ScenarioError

US = 1000                        # rt-app durations are microseconds
RUNTIME_CHUNK_US = 32            # src/rt-app.c: runtime loops on loadwait(32)
# rt-app's event keys, matched by prefix in this order (parse_config.c events[]; "runtime" before "run")
EVENT_PREFIXES = ("lock", "unlock", "wait", "signal", "broad", "sync", "sleep", "runtime", "run", "timer",
                  "suspend", "resume", "mem", "iorun", "yield", "barrier", "fork")
SUPPORTED_EVENTS = ("sleep", "runtime", "run", "timer", "yield")
POLICIES = {"SCHED_OTHER": "normal", "SCHED_IDLE": "idle", "SCHED_FIFO": "fifo", "SCHED_RR": "rr"}
GLOBAL_KEYS = ("duration", "default_policy", "calibration")
GLOBAL_NO_EFFECT = ("logdir", "log_basename", "log_size", "ftrace", "gnuplot", "lock_pages", "io_device",
                    "mem_buffer_size", "cumulative_slack", "pi_enabled")
SCHED_KEYS = ("policy", "priority")
NO_EFFECT = ("nodes_membind",)              # NUMA memory binding: no memory model
DEADLINE_KEYS = ("dl-runtime", "dl-period", "dl-deadline")
NOT_MODELLED = {"util_min": "utilization clamping (uclamp) is not modelled",
                "util_max": "utilization clamping (uclamp) is not modelled"}
DEFAULT_RT_PRIORITY = 10                    # rt-app DEFAULT_THREAD_PRIORITY


@dataclass
class RtAppFile:
    """A loaded rt-app file: pvsched tasks (and the cgroups of their taskgroups), the run duration
    and the keys accepted without effect on a simulation.

    Host tasks: ``Scenario(tasks=f.tasks, cgroups=f.cgroups, ...)`` or :meth:`scenario`; guest
    tasks: ``VM(name, tasks=f.tasks)`` or :meth:`vm` (``cpus`` are then vCPU numbers, taskgroups
    are refused: guest cgroups are not modelled).
    """

    tasks: list
    cgroups: list
    duration_ns: Optional[int]
    no_effect: List[str] = field(default_factory=list)
    source: str = "<string>"

    def scenario(self, host=None, *, duration_ns: Optional[int] = None, **kw):
        """A :class:`~pvsched.Scenario` running these tasks on ``host`` (default ``Host()``) for
        ``duration_ns`` (default: the file's ``global.duration``, else the Scenario default)."""
        from pvsched.scenario import Host, Scenario
        d = duration_ns if duration_ns is not None else self.duration_ns
        if d is not None:
            kw["duration_ns"] = d
        return Scenario(host=host if host is not None else Host(), cgroups=list(self.cgroups) + list(kw.pop("cgroups", [])),
                        tasks=list(self.tasks) + list(kw.pop("tasks", [])), **kw)

    def vm(self, name: str, **kw):
        """A :class:`~pvsched.VM` whose guest runs these tasks."""
        from pvsched.scenario import VM
        if self.cgroups:
            raise ScenarioError(f"{self.source}: taskgroup", [c.name for c in self.cgroups],
                                "guest cgroups are not modelled: taskgroups work for host tasks only")
        return VM(name, tasks=list(self.tasks) + list(kw.pop("tasks", [])), **kw)


def load(path: Union[str, os.PathLike]) -> RtAppFile:
    """Load an rt-app JSON file; errors name the file and the key path. ``examples/rtapp/NAME.json``
    loads the copy bundled with pvsched where the working directory has no such file."""
    from pvsched._checkout import resolve_example
    from pvsched.scenario.toml_io import read_toml_file
    return loads(read_toml_file(resolve_example(path), "rt-app JSON"), source=str(path))


def loads(text: str, *, source: str = "<string>") -> RtAppFile:
    """Load rt-app JSON from a string (comments and trailing commas allowed)."""
    try:
        import json5
    except ImportError as e:    # pragma: no cover - depends on the environment
        raise ImportError('loading rt-app files needs json5: pip install json5') from e
    try:
        root = json5.loads(text, object_pairs_hook=list)
    except ValueError as e:
        raise ScenarioError(source, "<json>", f"malformed rt-app JSON: {e}") from None
    return _Parser(source).parse(root)


Pairs = List[Tuple[str, object]]


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.no_effect: List[str] = []
        self.cgroups: Dict[str, object] = {}
        self.calibration_ns: Optional[int] = None
        self.default_policy = "SCHED_OTHER"

    def err(self, path: str, value, problem: str):
        return ScenarioError(f"{self.source}: {path}", _plain(value), problem)

    def obj(self, path: str, v) -> Pairs:
        if not isinstance(v, list) or not all(isinstance(x, tuple) and len(x) == 2 for x in v):
            raise self.err(path, v, "must be an object")
        return v

    def unique(self, path: str, pairs: Pairs, keys: Sequence[str]) -> Dict[str, object]:
        """The properties among ``keys`` (each at most once)."""
        out: Dict[str, object] = {}
        for k, v in pairs:
            if k in keys:
                if k in out:
                    raise self.err(f"{path}.{k}", v, "given twice")
                out[k] = v
        return out

    def int_(self, path: str, v, lo=None, hi=None) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.err(path, v, "must be an integer")
        if lo is not None and v < lo:
            raise self.err(path, v, f"must be >= {lo}")
        if hi is not None and v > hi:
            raise self.err(path, v, f"must be <= {hi}")
        return v

    # ------------------------------------------------------------------ top level
    def parse(self, root) -> RtAppFile:
        top = self.obj("<root>", root)
        for k, v in top:
            if k not in ("tasks", "global", "resources"):
                raise self.err(k, v, "unknown rt-app key; known: ['global', 'resources', 'tasks']")
        d = self.unique("<root>", top, ("tasks", "global", "resources"))
        duration_ns = self.parse_global(d.get("global", []))
        if "resources" in d:
            self.obj("resources", d["resources"])
            self.no_effect.append("resources")   # legacy: rt-app creates resources from the events
        if "tasks" not in d:
            raise self.err("tasks", None, "is required")
        tasks = []
        names = set()
        for name, spec in self.obj("tasks", d["tasks"]):
            if name in names:
                raise self.err(f"tasks.{name}", None, "task names must be unique")
            names.add(name)
            t = self.parse_task(name, spec)
            if t is not None:
                tasks.append(t)
        if not tasks:
            raise self.err("tasks", [n for n in names], "no thread to run (every instance is 0)")
        return RtAppFile(tasks=tasks, cgroups=list(self.cgroups.values()), duration_ns=duration_ns,
                         no_effect=self.no_effect, source=self.source)

    def parse_global(self, g) -> Optional[int]:
        pairs = self.obj("global", g)
        for k, v in pairs:
            if k in GLOBAL_NO_EFFECT:
                self.no_effect.append(f"global.{k}")
            elif k not in GLOBAL_KEYS:
                raise self.err(f"global.{k}", v, f"unknown global key; known: {sorted(GLOBAL_KEYS + GLOBAL_NO_EFFECT)}")
        d = self.unique("global", pairs, GLOBAL_KEYS)
        if "default_policy" in d:
            self.default_policy = self.policy_name("global.default_policy", d["default_policy"])
        if "calibration" in d:
            c = d["calibration"]
            if isinstance(c, bool) or not isinstance(c, (int, str)):
                raise self.err("global.calibration", c, 'must be ns per loop (integer) or "CPUn"')
            if isinstance(c, int):
                self.calibration_ns = self.int_("global.calibration", c, 1, 10**9)
            elif not (c.startswith("CPU") and c[3:].isdigit()):
                raise self.err("global.calibration", c, 'must be ns per loop (integer) or "CPUn"')
        dur = d.get("duration", -1)
        self.int_("global.duration", dur, -1)
        return dur * 1_000_000_000 if dur > 0 else None

    def policy_name(self, path: str, v) -> str:
        if v == "SCHED_DEADLINE":
            raise self.err(path, v, "SCHED_DEADLINE is not modelled")
        if v not in POLICIES:
            raise self.err(path, v, f"must be one of {sorted(POLICIES) + ['SCHED_DEADLINE']}")
        return v

    # ------------------------------------------------------------------ threads
    def parse_task(self, name: str, spec):
        from pvsched.scenario import Task
        from pvsched.workloads import RtApp
        path = f"tasks.{name}"
        if not isinstance(name, str) or not name or "/" in name:
            raise self.err(path, name, "a task name must be a non-empty string without '/'")
        pairs = self.obj(path, spec)
        props = self.unique(path, pairs, ("instance", "delay", "loop", "phases", "cpus", "taskgroup")
                            + SCHED_KEYS + NO_EFFECT + DEADLINE_KEYS + tuple(NOT_MODELLED))
        has_phases = "phases" in props
        if has_phases:
            for k, v in pairs:
                if k not in props:
                    raise self.err(f"{path}.{k}", v, "unknown thread key (events belong in a phase)"
                                   if _event_kind(k) else "unknown thread key")
        sched = self.sched(path, props, self.default_policy)
        cpus = self.cpus(f"{path}.cpus", props["cpus"]) if "cpus" in props else None
        tg = self.taskgroup(f"{path}.taskgroup", props.get("taskgroup", ""), sched[0])
        self.common(path, props, sched[0])
        instance = self.int_(f"{path}.instance", props.get("instance", 1), 0, 1_000_000)
        delay_ns = self.int_(f"{path}.delay", props.get("delay", 0), 0) * US
        if has_phases:
            phases = []
            for pname, pspec in self.obj(f"{path}.phases", props["phases"]):
                phases.append(self.parse_phase(f"{path}.phases.{pname}", pspec, sched, cpus, tg))
            if not phases:
                raise self.err(f"{path}.phases", [], "needs at least one phase")
            loop = self.int_(f"{path}.loop", props.get("loop", -1), -1)
        else:
            # a thread without "phases" is its own single phase; its "loop" counts that phase and
            # the thread then ends, no "loop" runs it forever (parse_task_data)
            phases = [self.parse_phase(path, pairs, sched, cpus, tg, thread_level=True)]
            loop = 1 if "loop" in props else -1
        if instance == 0:
            self.no_effect.append(f"{path}.instance")     # rt-app creates no thread
            return None
        policy, prio = sched
        w = RtApp(phases=phases, loop=loop, runtime_chunk_ns=self.runtime_chunk_ns())
        kw = dict(policy=POLICIES[policy])
        if policy in ("SCHED_FIFO", "SCHED_RR"):
            kw["rt_priority"] = prio
        else:
            kw["nice"] = prio
        task = Task(name, w, cpus=cpus, cgroup=tg, start_ns=delay_ns, count=instance, **kw)
        from pvsched.scenario import _validate_task
        try:
            _validate_task(path, task, 1 << 30, None)
        except ScenarioError as e:
            raise self.err(e.path, e.value, e.problem) from None
        return task

    def sched(self, path, props, default_policy) -> Tuple[str, int]:
        policy = self.policy_name(f"{path}.policy", props["policy"]) if "policy" in props else default_policy
        if policy in ("SCHED_FIFO", "SCHED_RR"):
            prio = self.int_(f"{path}.priority", props.get("priority", DEFAULT_RT_PRIORITY), 1, 99)
        else:   # rt-app: for CFS policies "priority" is the nice value
            prio = self.int_(f"{path}.priority", props.get("priority", 0), -20, 19)
        return policy, prio

    def common(self, path, props, policy):
        for k in NO_EFFECT:
            if k in props:
                self.no_effect.append(f"{path}.{k}")
        for k, why in NOT_MODELLED.items():
            if k in props:
                raise self.err(f"{path}.{k}", props[k], why)
        for k in DEADLINE_KEYS:
            if k in props:
                self.no_effect.append(f"{path}.{k}")   # deadline parameters of a non-deadline thread

    def cpus(self, path, v) -> List[int]:
        if not isinstance(v, list) or not v:
            raise self.err(path, v, "must be a non-empty array of CPU numbers")
        return [self.int_(path, c, 0) for c in v]

    def taskgroup(self, path, v, policy) -> Optional[str]:
        from pvsched.scenario import Cgroup
        if not isinstance(v, str):
            raise self.err(path, v, "must be a string")
        if v == "":
            return None
        if not v.startswith("/") or v.endswith("/") or "//" in v:
            raise self.err(path, v, "must be a cgroup path starting with '/'")
        if policy not in ("SCHED_OTHER", "SCHED_IDLE"):
            raise self.err(path, v, f"no taskgroup support for policy {policy} (rt-app: SCHED_OTHER/SCHED_IDLE only)")
        parts = v.strip("/").split("/")
        for i in range(len(parts)):
            cg = "/" + "/".join(parts[:i + 1])
            if cg not in self.cgroups:
                self.cgroups[cg] = Cgroup(cg, parent=None if i == 0 else "/" + "/".join(parts[:i]))
        return v

    def runtime_chunk_ns(self) -> int:
        # loadwait(32): floor(32000 / ns_per_loop) loops; an uncalibrated simulated CPU is exact
        p = self.calibration_ns
        return RUNTIME_CHUNK_US * US if p is None else max((RUNTIME_CHUNK_US * US // p) * p, 1)

    def run_ns(self, us: int) -> int:
        """CPU time of ``run`` (loadwait): whole seconds of floor(1e9 / p) loops, then floor(rest * 1000 / p)."""
        p = self.calibration_ns
        if p is None:
            return us * US
        secs, rest = divmod(us, 1_000_000)
        return (secs * (1_000_000_000 // p) + (rest * US) // p) * p

    # ------------------------------------------------------------------ phases and events
    def parse_phase(self, path, spec, thread_sched, thread_cpus, thread_tg, thread_level=False) -> dict:
        pairs = self.obj(path, spec)
        known = ("loop", "cpus", "taskgroup") + SCHED_KEYS + NO_EFFECT + DEADLINE_KEYS + tuple(NOT_MODELLED)
        if thread_level:
            known += ("instance", "delay")
        props = self.unique(path, pairs, known)
        events = []
        for k, v in pairs:
            if k in known:
                continue
            kind = _event_kind(k)
            if kind is None:
                raise self.err(f"{path}.{k}", v, "unknown key (not an rt-app event or phase property)")
            if kind not in SUPPORTED_EVENTS:
                raise self.err(f"{path}.{k}", v, f"rt-app '{kind}' events are not modelled; "
                                                 f"supported: {list(SUPPORTED_EVENTS)}")
            events.append(self.event(f"{path}.{k}", kind, v))
        if not events:
            raise self.err(path, None, "no events: a phase needs at least one event")
        if not thread_level:
            # rt-app would change these attributes when the phase starts; pvsched tasks keep theirs
            if any(k in props for k in SCHED_KEYS):
                policy = self.policy_name(f"{path}.policy", props["policy"]) if "policy" in props else thread_sched[0]
                if self.sched(path, props, policy) != thread_sched:
                    raise self.err(f"{path}.policy", [props.get("policy"), props.get("priority")],
                                   "changing the policy or priority per phase is not modelled")
            if "cpus" in props and self.cpus(f"{path}.cpus", props["cpus"]) != thread_cpus:
                raise self.err(f"{path}.cpus", props["cpus"], "changing the affinity per phase is not modelled")
            if "taskgroup" in props and (props["taskgroup"] or None) != thread_tg:
                raise self.err(f"{path}.taskgroup", props["taskgroup"],
                               "moving to another taskgroup per phase is not modelled")
            self.common(path, props, thread_sched[0])
        loop = self.int_(f"{path}.loop", props.get("loop", 1), -1)
        if loop == 0:
            raise self.err(f"{path}.loop", 0, "a phase loop must be -1 (forever) or >= 1")
        return {"events": events, "loop": loop}

    def event(self, path, kind, v) -> list:
        if kind in ("run", "runtime", "sleep"):
            us = self.int_(path, v, 0, 10**12)
            return [kind, self.run_ns(us) if kind == "run" else us * US]
        if kind == "yield":
            if not isinstance(v, str):
                raise self.err(path, v, "must be a string (may be empty)")
            return ["yield"]
        pairs = self.obj(path, v)        # timer
        for k, x in pairs:
            if k not in ("ref", "period", "mode"):
                raise self.err(f"{path}.{k}", x, "unknown timer key; known: ['mode', 'period', 'ref']")
        d = self.unique(path, pairs, ("ref", "period", "mode"))
        ref = d.get("ref", "unknown")
        if not isinstance(ref, str) or not ref:
            raise self.err(f"{path}.ref", ref, "must be a non-empty string")
        period = self.int_(f"{path}.period", d.get("period", 0), 0, 10**12)
        mode = d.get("mode", "relative")
        if mode not in ("relative", "absolute"):
            raise self.err(f"{path}.mode", mode, "must be 'relative' or 'absolute'")
        return ["timer", period * US, ref, mode]


def _event_kind(key: str) -> Optional[str]:
    for p in EVENT_PREFIXES:
        if key.startswith(p):
            return p
    return None


def _plain(v):
    """Object pairs back to dicts, for error messages."""
    if isinstance(v, list) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
        return {k: _plain(x) for k, x in v}
    return v
