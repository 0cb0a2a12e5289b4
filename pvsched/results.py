"""Results: tidy tables and latency histograms copied out of the engine once, at the end.

>>> from pvsched import Scenario, Host, Task, Simulation
>>> from pvsched.workloads import Cyclictest, Hog
>>> r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("ct", Cyclictest(interval_ns=1_000_000)),
...                Task("hog", Hog())])).run(until_ns=200_000_000)
>>> r.latency("ct").count
200
"""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from pvsched.latency import SUB, SUB_BITS, LatencyHistogram, bucket_bounds  # noqa: F401  (their old home)


class TaskView:
    """One task's row of the task table, as attributes (``r.task("x").cpu_ns``)."""

    def __init__(self, result: "Result", i: int):
        self._r = result
        self._i = i

    def __getattr__(self, k):
        cols = self._r.raw["task"]
        if k in cols:
            return int(cols[k][self._i])
        raise AttributeError(k)

    @property
    def name(self):
        return self._r.task_names[self._i]

    @property
    def latency(self) -> LatencyHistogram:
        return self._r.latency(self.name)


class Result:
    """What a run produced: per-task, per-CPU, per-vCPU and per-VM tables, latency histograms and
    run statistics (:meth:`pvsched.Simulation.run` returns it).

    ``tasks`` / ``cpus`` / ``vcpus`` / ``vms`` are dicts of numpy columns; :meth:`to_pandas` gives
    DataFrames (needs pandas: ``pip install pandas pyarrow``); :meth:`to_dict` and :meth:`write`
    export everything, scenario and seed included, in one schema (:mod:`pvsched.export`).

    >>> from pvsched import Scenario, Host, Task, Simulation
    >>> from pvsched.workloads import Hog, RunSleep
    >>> r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("hog", Hog()),
    ...                Task("rs", RunSleep(run_ns=100_000, sleep_ns=900_000))])).run(until_ns=100_000_000)
    >>> r.task("rs").nr_wakeups > 90, r.task("hog").cpu_ns + r.task("rs").cpu_ns == r.now_ns
    (True, True)
    >>> sorted(r.to_dict())[:4]
    ['cpus', 'events', 'kernel', 'now_ns']
    """

    TASK_COLUMNS = ("cpu_ns", "wait_ns", "nr_switches", "nr_preempted", "nr_wakeups", "nr_migrations",
                    "nr_yields", "nr_overruns", "lat_count", "lat_sum_ns", "lat_max_ns")

    def __init__(self, raw: dict, task_names: List[str], scenario=None, wall_s: float = float("nan"),
                 meta: Optional[dict] = None):
        self.raw = raw
        self.task_names = list(task_names)
        self.scenario = scenario
        self.wall_s = wall_s
        self.meta = meta or {}
        self._index = {n: i for i, n in enumerate(self.task_names)}
        self._trace = None

    @property
    def now_ns(self) -> int:
        return int(self.raw["now_ns"])

    @property
    def events(self) -> int:
        return int(self.raw["events"])

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def violations(self) -> dict:
        return self.raw["violations"]

    def _i(self, name: str) -> int:
        if name not in self._index:
            raise KeyError(f"no task named {name!r}")
        return self._index[name]

    def woke_up(self, name: str) -> bool:
        """Whether the task woke up after it started, i.e. has a wake-up latency worth showing (a
        CPU hog's only sample is its start)."""
        i = self._i(name)
        return bool(self.raw["task"]["nr_wakeups"][i] > 1 and self.raw["task"]["lat_count"][i] > 0)

    def task(self, name: str) -> TaskView:
        """One task's row by name (``"x"``, ``"x[2]"`` for a copy, ``"vm/x"`` for a guest task):
        its :attr:`TASK_COLUMNS` as attributes, and ``.latency``. KeyError for an unknown name.

        >>> from pvsched import Scenario, Host, Task, Simulation
        >>> from pvsched.workloads import Hog
        >>> r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("h", Hog(), count=2)])).run(until_ns=10_000_000)
        >>> r.task("h[0]").cpu_ns + r.task("h[1]").cpu_ns, r.task("h[1]").name
        (10000000, 'h[1]')
        """
        return TaskView(self, self._i(name))

    def latency(self, name_or_prefix: str) -> LatencyHistogram:
        """Wake-up latency histogram of a task, or merged over ``name[...]`` copies when given
        the base name of a ``count > 1`` task."""
        idx = [self._index[name_or_prefix]] if name_or_prefix in self._index else [
            i for n, i in self._index.items() if n.startswith(name_or_prefix + "[")]
        if not idx:
            raise KeyError(f"no task named {name_or_prefix!r}")
        t = self.raw["task"]
        counts = self.raw["task_lat_hist"][idx].astype(np.uint64).sum(axis=0)
        return LatencyHistogram(counts, int(t["lat_count"][idx].sum()), int(t["lat_sum_ns"][idx].sum()),
                                int(t["lat_max_ns"][idx].max()))

    @property
    def tasks(self) -> Dict[str, np.ndarray]:
        """The task table as numpy columns: ``name`` and :attr:`TASK_COLUMNS` (CPU and wait time in
        ns, switches, preemptions, wake-ups, migrations, yields, periodic overruns, latency count /
        sum / max), one row per task in :attr:`task_names` order (host tasks, then per VM its vCPU
        threads and guest tasks).

        >>> from pvsched import Scenario, Host, Task, Simulation
        >>> from pvsched.workloads import Hog
        >>> t = Simulation(Scenario(host=Host(cpus=2), tasks=[Task("h", Hog(), count=2)])).run(until_ns=10_000_000).tasks
        >>> list(t["name"]), t["cpu_ns"].tolist()
        (['h[0]', 'h[1]'], [10000000, 10000000])
        """
        d = {"name": np.array(self.task_names, dtype=object)}
        d.update({k: self.raw["task"][k] for k in self.TASK_COLUMNS})
        return d

    @property
    def cpus(self) -> Dict[str, np.ndarray]:
        """The host pCPU table as numpy columns: ``cpu``, ``busy_ns``, ``idle_ns``, switches, ticks,
        fair-server activations, RT throttling, load-balancing counts (``lb_runs`` / ``lb_moved`` /
        ``lb_failed``), one row per pCPU.

        >>> from pvsched import Scenario, Host, Task, Simulation
        >>> from pvsched.workloads import Hog
        >>> c = Simulation(Scenario(host=Host(cpus=2), tasks=[Task("h", Hog())])).run(until_ns=10_000_000).cpus
        >>> c["cpu"].tolist(), sorted(c["busy_ns"].tolist())
        ([0, 1], [0, 10000000])
        """
        d = dict(self.raw["cpu"])
        d["cpu"] = np.arange(len(d["busy_ns"]))
        d["idle_ns"] = self.now_ns - d["busy_ns"]
        return d

    @property
    def balance(self) -> Dict[str, Dict[str, int]]:
        """Load-balancing counts, host and guest kernels apart: tasks pulled by the idle paths
        (newly-idle and NOHZ idle-kick, all kernels together), and the busy CPUs' periodic
        balance passes, tasks they moved, and passes that found an imbalance but moved nothing
        (``cpus`` has the host's per-CPU ``lb_runs`` / ``lb_moved`` / ``lb_failed``).

        >>> from pvsched import Host, Scenario, Simulation, Task
        >>> from pvsched.workloads import Hog
        >>> sc = Scenario(host=Host(cpus=4), tasks=[Task("h", Hog(), count=6)])
        >>> b = Simulation(sc).run(until_ns=1_000_000_000).balance
        >>> b["periodic_moved"]["host"] > 0, b["periodic_moved"]["guests"]
        (True, 0)
        """
        d = {k: dict(v) for k, v in self.raw["balance"].items()}
        d["idle_pulls"] = int(self.raw["balance_pulls"])
        return d

    @property
    def vcpus(self) -> Dict[str, np.ndarray]:
        """Per-vCPU table: time in each mode (guest, exit, poll, halted, preempted = steal, vmm =
        the thread in userspace running VMM deferred work; they add up to the time since the VM
        started), exits by reason, halt-polling counters; ``guest_idle_ns`` (guest mode with the
        guest idle) and ``idle_exit_ns`` (MONITOR/MWAIT NOP exits), userspace exits and VMM signals
        (see :attr:`deferred_work`)."""
        d = {"name": np.array([self.task_names[t] for t in self.raw["vcpu"]["task"]], dtype=object)}
        d.update(self.raw["vcpu"])
        d["steal_ns"] = d["preempted_ns"]
        if "exits_doorbell" in d:
            d["doorbell_per_s"] = d["exits_doorbell"] * 1e9 / max(self.now_ns, 1)
        return d

    def vcpu(self, name: str) -> Dict[str, object]:
        """One vCPU's row, by its thread name (``"vm/vcpu0"``); ``mode`` is the mode it ended the
        run in, by name (``guest``, ``exit``, ``poll``, ``halted``, ``preempted``)."""
        from pvsched._core import VCPU_MODES
        i = self._i(name)
        rows = np.nonzero(self.raw["vcpu"]["task"] == i)[0]
        if not len(rows):
            raise KeyError(f"{name!r} is not a vCPU thread")
        row = {k: (float(v[rows[0]]) if k.endswith("_per_s") else int(v[rows[0]]))
               for k, v in self.vcpus.items() if k != "name"}
        row["mode"] = VCPU_MODES[row["mode"] - 1] if row["mode"] else "off"
        return row

    @property
    def vms(self) -> Dict[str, np.ndarray]:
        """Per-VM table: guest lock acquisitions and critical sections (also per second),
        IPI round trips (mean/max latency), guest-mode spin time, PLE exits, kvm_vcpu_on_spin and
        yield_to outcomes by reason and by candidate class, debooster penalties applied / debounced
        / rate-limited. Counts are totals since the start; ``*_per_s`` divide by the run time."""
        raw = self.raw.get("vm", {})
        n = len(next(iter(raw.values()))) if raw else 0
        names = [vm.name for vm in self.scenario.vms] if self.scenario is not None else [f"vm{k}" for k in range(n)]
        d = {"name": np.array(names[:n], dtype=object)}
        d.update(raw)
        secs = max(self.now_ns, 1) / 1e9
        d["lock_acquisitions_per_s"] = d["lock_acquisitions"] / secs
        d["critical_sections_per_s"] = d["critical_sections"] / secs
        d["ipi_round_trips_per_s"] = d["ipi_round_trips"] / secs
        with np.errstate(divide="ignore", invalid="ignore"):
            d["ipi_rtt_mean_ns"] = np.where(d["ipi_round_trips"] > 0,
                                            d["ipi_rtt_sum_ns"] / np.maximum(d["ipi_round_trips"], 1), np.nan)
        d["yield_to_failures"] = (d["yield_to_esrch"] + d["yield_to_class"] + d["yield_to_running"]
                                  + d["yield_to_not_runnable"] + d["yield_to_not_queued"])
        return d

    def vm_row(self, name: str) -> Dict[str, float]:
        """One VM's row of :attr:`vms` by name."""
        t = self.vms
        rows = [i for i, n in enumerate(t["name"]) if n == name]
        if not rows:
            raise KeyError(f"no VM named {name!r}")
        return {k: v[rows[0]].item() if hasattr(v[rows[0]], "item") else v[rows[0]] for k, v in t.items() if k != "name"}

    @property
    def deferred_work(self) -> Dict[str, np.ndarray]:
        """Per-VM table of VMM deferred work (:class:`pvsched.DeferredWork`) and of the idle
        paths around it. Items: ``arrived`` / ``dropped`` (class full) / ``done`` / ``queued`` (still
        waiting) / ``in_service`` (taken, unfinished), so arrived = dropped + done + queued +
        in_service; ``done_per_s``; latency queued -> done ``lat_mean_ns`` / ``lat_p99_ns`` /
        ``lat_max_ns`` over both classes (``*_low`` / ``*_high`` per class are in ``raw["vmm"]``).
        Who ran it: ``worker_items`` / ``main_items`` / ``vcpu_items``. Host CPU beyond the vCPU
        threads: ``vmm_cpu_ns`` (worker + main threads); on the vCPU threads: ``vcpu_work_ns``
        (the ``vmm`` mode). ``over_vcpus_ns``: time the VM's threads ran on more pCPUs at once than it
        has vCPUs (``max_running`` at most). Idle: ``guest_idle_ns`` (guest mode with the guest idle:
        pass-through HLT/MWAIT or the NOP loop's guest part), ``idle_exit_ns`` (MONITOR/MWAIT NOP
        exits), ``idle_burn_ns`` (their sum: pCPU time an idle guest held), ``user_exits``,
        ``kicks`` (VMM signals), all summed over the VM's vCPUs; per second: ``exits_per_s`` (all
        reasons), ``mwait_exits_per_s``, ``hlt_exits_per_s``, ``user_exits_per_s``, ``signals_per_s``.

        >>> from pvsched import VM, GuestKernel, Host, Scenario, Simulation, Task
        >>> from pvsched import DeferredWork
        >>> from pvsched.workloads import Cyclictest
        >>> vm = VM("g", vcpus=1, pin=[0], tasks=[Task("ct", Cyclictest())],
        ...         deferred_work=DeferredWork(rate_per_s=1000, size_ns=10_000, executor="vcpu"))
        >>> t = Simulation(Scenario(host=Host(cpus=1), vms=[vm])).run(until_ns=100_000_000).deferred_work
        >>> int(t["arrived"][0]) == int(t["done"][0] + t["queued"][0] + t["in_service"][0] + t["dropped"][0])
        True
        """
        raw = self.raw["vmm"]
        n = len(raw["arrived_low"])
        names = [vm.name for vm in self.scenario.vms] if self.scenario is not None else [f"vm{k}" for k in range(n)]
        d = {"name": np.array(names[:n], dtype=object)}
        secs = max(self.now_ns, 1) / 1e9
        for k in ("arrived", "dropped", "done", "queued"):
            d[k] = raw[k + "_low"] + raw[k + "_high"]
        d["in_service"] = raw["in_service"]
        d["done_per_s"] = d["done"] / secs
        lat_sum = raw["lat_sum_low_ns"] + raw["lat_sum_high_ns"]
        with np.errstate(divide="ignore", invalid="ignore"):
            d["lat_mean_ns"] = np.where(d["done"] > 0, lat_sum / np.maximum(d["done"], 1), np.nan)
        d["lat_p99_ns"] = np.array([self.work_latency(nm).p99 for nm in d["name"]], dtype=float)
        d["lat_max_ns"] = np.maximum(raw["lat_max_low_ns"], raw["lat_max_high_ns"])
        for k in ("worker_items", "main_items", "vcpu_items", "over_vcpus_ns", "max_running", "kicks"):
            d[k] = raw[k]
        d["vmm_cpu_ns"] = raw["worker_cpu_ns"] + raw["main_cpu_ns"]
        vc = self.raw["vcpu"]
        for k, col in (("vcpu_work_ns", "vmm_ns"), ("guest_idle_ns", "guest_idle_ns"),
                       ("idle_exit_ns", "idle_exit_ns"), ("user_exits", "user_exits")):
            d[k] = np.array([int(vc[col][vc["vm"] == i].sum()) for i in range(n)], dtype=np.int64)
        d["idle_burn_ns"] = d["guest_idle_ns"] + d["idle_exit_ns"]
        for k, col in (("mwait_exits_per_s", "exits_mwait"), ("hlt_exits_per_s", "exits_hlt"),
                       ("user_exits_per_s", "user_exits"), ("signals_per_s", "signals")):
            d[k] = np.array([int(vc[col][vc["vm"] == i].sum()) for i in range(n)], dtype=np.int64) / secs
        d["exits_per_s"] = np.array([sum(int(vc[c][vc["vm"] == i].sum()) for c in vc
                                         if c.startswith("exits_") and c != "exits_entry") for i in range(n)]) / secs
        return d

    def work_latency(self, vm: str, cls: Optional[str] = None) -> LatencyHistogram:
        """Deferred-work latency (queued -> done) of a VM's items, of one class (``low`` /
        ``high``) or both."""
        names = [v.name for v in self.scenario.vms] if self.scenario is not None else []
        if vm not in names:
            raise KeyError(f"no VM named {vm!r}")
        if cls not in (None, "low", "high"):
            raise KeyError(f"no work class {cls!r} (low, high)")
        k = names.index(vm)
        raw = self.raw["vmm"]
        classes = ("low", "high") if cls is None else (cls,)
        counts = sum(self.raw["vmm_lat_hist"][k, 0 if c == "low" else 1].astype(np.uint64) for c in classes)
        return LatencyHistogram(counts, int(sum(raw["done_" + c][k] for c in classes)),
                                int(sum(raw[f"lat_sum_{c}_ns"][k] for c in classes)),
                                int(max(raw[f"lat_max_{c}_ns"][k] for c in classes)))

    def ipi_latency(self, vm: str) -> LatencyHistogram:
        """IPI round-trip latency (send -> last handler done) of a VM's guest tasks."""
        return self._vm_hist(vm, "vm_ipi_hist", "ipi_round_trips", "ipi_rtt_sum_ns", "ipi_rtt_max_ns")

    def lock_wait(self, vm: str) -> LatencyHistogram:
        """Contended spinlock wait (attempt -> acquisition) of a VM's guest tasks (no max kept)."""
        return self._vm_hist(vm, "vm_lock_hist", None, "lock_wait_ns", None)

    def _vm_hist(self, vm, key, ncol, scol, mcol):
        t = self.vms
        rows = [i for i, n in enumerate(t["name"]) if n == vm]
        if not rows:
            raise KeyError(f"no VM named {vm!r}")
        i = rows[0]
        counts = self.raw[key][i].astype(np.uint64)
        n = int(counts.sum()) if ncol is None else int(t[ncol][i])
        mx = int(t[mcol][i]) if mcol else 0
        if not mcol and n:
            lo, width = bucket_bounds(len(counts))
            mx = int(lo[np.nonzero(counts)[0][-1]] + width[np.nonzero(counts)[0][-1]] - 1)
        return LatencyHistogram(counts, n, int(t[scol][i]), mx)

    def hwnoise(self) -> Dict[str, np.ndarray]:
        """The ``rtla hwnoise`` summary of every :class:`~pvsched.workloads.HwNoise` task, one row
        per task: counted windows (``periods``), their total ``runtime_ns`` and ``noise_ns`` (sum of
        gaps of at least the threshold), ``cpu_available_pct`` = 100 (runtime - noise) / runtime,
        ``max_noise_ns`` (largest noise of one window), ``max_single_ns`` (largest gap), ``gaps``
        (rtla's HW column).

        >>> from pvsched import VM, Host, Scenario, Simulation, Task
        >>> from pvsched.workloads import HwNoise
        >>> vm = VM("g", vcpus=1, tasks=[Task("hw", HwNoise(period_ns=10_000_000, runtime_ns=9_000_000),
        ...                                    policy="fifo", rt_priority=50)])
        >>> t = Simulation(Scenario(host=Host(cpus=1), vms=[vm])).run(until_ns=100_000_000).hwnoise()
        >>> list(t["name"]), t["periods"].tolist(), t["cpu_available_pct"].tolist()
        (['g/hw'], [10], [100.0])
        """
        cols = self.raw["task"]
        idx = np.nonzero(cols["hw_periods"] > 0)[0] if "hw_periods" in cols else np.zeros(0, dtype=np.int64)
        if self.scenario is not None:
            hw = [f"{vm.name}/{n}" for vm in self.scenario.vms for t in vm.tasks
                  if getattr(t.workload, "kind", "") == "hwnoise" for n in t.names()]
            idx = np.array(sorted(self._index[n] for n in hw), dtype=np.int64)
        d = {"name": np.array([self.task_names[i] for i in idx], dtype=object)}
        for k in ("periods", "runtime_ns", "noise_ns", "max_noise_ns", "max_single_ns", "gaps"):
            d[k] = cols["hw_" + k][idx] if "hw_" + k in cols else np.zeros(len(idx), dtype=np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            d["cpu_available_pct"] = np.where(d["runtime_ns"] > 0,
                                              100.0 * (d["runtime_ns"] - d["noise_ns"]) / np.maximum(d["runtime_ns"], 1),
                                              np.nan)
        return d
    @property
    def trace(self):
        """The run's event trace (:class:`pvsched.trace.Trace`: numpy columns and exporters) when
        the scenario turned it on (``Scenario(trace=TraceConfig(enabled=True))``), else None.

        >>> from pvsched import Host, Scenario, Simulation, Task
        >>> from pvsched.trace import TraceConfig
        >>> from pvsched.workloads import Hog
        >>> sc = Scenario(host=Host(cpus=1), tasks=[Task("h", Hog(), count=2)], trace=TraceConfig(enabled=True))
        >>> r = Simulation(sc).run(until_ns=10_000_000)
        >>> t = r.trace
        >>> t.busy_ns().tolist() == r.cpus["busy_ns"].tolist(), t.counts()["sched_switch"] > 2
        (True, True)
        """
        raw = self.raw.get("trace")
        if raw is None:
            return None
        if self._trace is None:
            from pvsched.trace import Trace
            m = self.meta
            vc = self.raw.get("vcpu", {})
            rec = raw["records"]
            start = raw["from_ns"]
            if raw["ring"] and raw["dropped"] and len(rec):
                start = max(start, int(rec["time_ns"][0]))    # the oldest records were overwritten
            end = self.now_ns if raw["to_ns"] is None else min(self.now_ns, raw["to_ns"])
            self._trace = Trace(rec, task_names=self.task_names, ncpu=len(self.raw["cpu"]["busy_ns"]),
                                task_kern=m.get("task_kern"), task_prio=m.get("task_prio"),
                                vcpu_vm=m.get("vcpu_vm", vc.get("vm")), vcpu_task=vc.get("task"),
                                vm_names=m.get("vm_names"), boost_prio=m.get("boost_prio"),
                                start_ns=min(start, end), end_ns=end,
                                truncated_at_ns=None if raw["ring"] else raw["truncated_at_ns"],
                                dropped=raw["dropped"], cap=raw["cap"])
        return self._trace

    def plot_latency(self, names=None, **kw):
        """Wake-up latency CDF of tasks (:func:`pvsched.plot.latency_cdf`); returns the figure."""
        from pvsched.plot import latency_cdf
        return latency_cdf(self, names, **kw)

    def plot_timeline(self, from_ns: Optional[int] = None, to_ns: Optional[int] = None, **kw):
        """Gantt chart of host CPUs and vCPUs from the trace (:func:`pvsched.plot.timeline`)."""
        from pvsched.plot import timeline
        if self.trace is None:
            raise ValueError("no trace: run the scenario with trace=TraceConfig(enabled=True)")
        return timeline(self.trace, from_ns, to_ns, **kw)

    def plot_vcpu_modes(self, **kw):
        """Each vCPU's time by mode (:func:`pvsched.plot.vcpu_modes`)."""
        from pvsched.plot import vcpu_modes
        return vcpu_modes(self, **kw)

    @property
    def rcu(self) -> Optional[dict]:
        """Host RCU, when modelled (``Host.nohz_full``, synchronize_rcu() callers or an RCU guest
        policy), else None: grace periods (``gps_started``, ``gps_done``, ``gp_ns_sum``/``max``),
        synchronize_rcu() calls and latencies, nohz_full CPUs' QS reports (GP start -> reported),
        FQS scans, stall warnings for other CPUs, GPs held past rcu_nohz_full_cpu()'s limit, and
        ``cpu``: per-CPU columns (ticks, rcuc wake-ups, QS reported locally / by FQS, forced
        ticks, resched IPIs, stall self-reports, rcu_pending() outcome by rule and skips by
        reason, and the skip predicate's false positives/negatives by cause, see
        :mod:`pvsched.rcu`)."""
        return self.raw.get("rcu")

    def rcu_latency(self, what: str = "sync") -> LatencyHistogram:
        """``"sync"``: synchronize_rcu() call -> return; ``"gp"``: grace-period duration; ``"qs"``:
        GP start -> a nohz_full CPU's quiescent state reported."""
        r = self.rcu
        if r is None:
            raise KeyError("RCU is not modelled in this run")
        cols = {"sync": ("sync_done", "sync_ns_sum", "sync_ns_max"), "gp": ("gps_done", "gp_ns_sum", "gp_ns_max"),
                "qs": ("qs_reports", "qs_ns_sum", "qs_ns_max")}
        if what not in cols:
            raise KeyError(f"{what!r}: one of {sorted(cols)}")
        n, s, m = cols[what]
        return LatencyHistogram(r[f"{what}_hist"].astype(np.uint64), int(r[n]), int(r[s]), int(r[m]))

    def to_pandas(self, table: str = "tasks"):
        """One table as a pandas DataFrame, with the columns every export format uses
        (:mod:`pvsched.export`): ``table`` is ``"tasks"`` (key column ``task``, counters and the
        latency summary ``lat_mean_ns`` / ``lat_p50_ns`` / ``lat_p99_ns`` / ``lat_p999_ns``, NaN for
        a task that never woke), ``"cpus"`` (``cpu``), ``"vcpus"`` (``vcpu``, ``vm``, ``mode``) or
        ``"vms"`` (``vm``); besides the schema, ``"hwnoise"`` (:meth:`hwnoise`) and
        ``"deferred_work"`` (:attr:`deferred_work`). Needs pandas (``pip install pandas pyarrow``).

        >>> from pvsched import Scenario, Host, Task, Simulation
        >>> from pvsched.workloads import Cyclictest
        >>> r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("ct", Cyclictest(interval_ns=1_000_000))])).run(
        ...     until_ns=100_000_000)
        >>> df = r.to_pandas("tasks")
        >>> df.loc[0, "task"], int(df.loc[0, "lat_count"]), list(df.columns[-4:])
        ('ct', 100, ['lat_mean_ns', 'lat_p50_ns', 'lat_p99_ns', 'lat_p999_ns'])
        """
        import pandas as pd
        from pvsched import export
        if table == "hwnoise":
            return pd.DataFrame(self.hwnoise())
        if table == "deferred_work":
            return pd.DataFrame(self.deferred_work)
        if table not in export.TABLES:
            raise ValueError(f"unknown table {table!r} ({', '.join(export.TABLES)}, hwnoise, deferred_work)")
        return pd.DataFrame(export.tables(self)[table])

    def to_dict(self) -> dict:
        """Everything as plain JSON-ready data: the header (schema, version, kernel, ``scenario`` as
        a dict, ``seed``, ``now_ns``, ``events``) and each table as a list of rows; NaN is None."""
        from pvsched import export
        return export.document(self)

    def write(self, path: str, fmt: str = "json") -> List[str]:
        """Write the results as ``json`` (one file), ``csv`` or ``parquet`` (one file per table and
        the scenario beside them); returns the paths written (:mod:`pvsched.export`)."""
        from pvsched import export
        return export.write(self, path, fmt)

    def summary(self, max_rows: int = 40) -> str:
        """A fixed-width text table: per task CPU share, wait, switches, and wake-up latency
        (``-`` for a task that never woke up after it started, such as a CPU hog).

        >>> from pvsched import Scenario, Host, Task, Simulation
        >>> from pvsched.workloads import Hog, RunSleep
        >>> r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("hog", Hog()),
        ...                Task("rs", RunSleep(run_ns=100_000, sleep_ns=900_000))])).run(until_ns=100_000_000)
        >>> print(r.summary().splitlines()[2])
        hog                    90.10      9.90     100     100       -        -        -         -
        """
        now = max(self.now_ns, 1)
        hdr = (f"{'task':<20} {'cpu%':>7} {'wait_ms':>9} {'switch':>7} {'preempt':>7} {'lat_n':>7} "
               f"{'p50_us':>8} {'p99_us':>8} {'max_us':>9}")
        lines = [hdr, "-" * len(hdr)]
        t = self.raw["task"]
        for i, n in enumerate(self.task_names[:max_rows]):
            h = self.latency(n)
            row = (f"{n[:20]:<20} {100.0 * t['cpu_ns'][i] / now:7.2f} {t['wait_ns'][i] / 1e6:9.2f} "
                   f"{t['nr_switches'][i]:7d} {t['nr_preempted'][i]:7d} ")
            if not self.woke_up(n):
                # only its start (a hog, a vCPU that never halted): no wake-up latency to show
                row += f"{'-':>7} {'-':>8} {'-':>8} {'-':>9}"
            else:
                row += f"{h.count:7d} {h.p50 / 1e3:8.1f} {h.p99 / 1e3:8.1f} {h.max_ns / 1e3:9.1f}"
            lines.append(row)
        if len(self.task_names) > max_rows:
            lines.append(f"... {len(self.task_names) - max_rows} more tasks")
        busy = self.raw["cpu"]["busy_ns"]
        lines.append("cpu% = CPU time / simulated time (100 = one CPU; a guest task's CPU time is time on its vCPU "
                     "in guest mode, so it excludes steal); wake-up latency = wake-up to running")
        lines.append(f"simulated {self.now_ns / 1e9:.3f} s, {self.events} events; host CPU busy "
                     f"{100.0 * busy.sum() / (now * len(busy)):.1f}%")
        return "\n".join(lines)

    def __repr__(self):
        return f"<Result {len(self.task_names)} tasks, {self.now_ns} ns, {self.events} events>"
