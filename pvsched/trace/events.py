"""The trace of one run: numpy columns of scheduler events plus the run's topology.

A :class:`Trace` is what ``Result.trace`` returns when tracing was on; it can also be built
directly from records (the exporters and plots only need this class).

>>> import numpy as np
>>> from pvsched.trace import Trace, KIND
>>> t = Trace.from_columns(time_ns=[0, 1_000, 3_000], kind=[KIND["sched_switch"]] * 3, cpu=[0, 0, 0],
...                        a=[-1, 0, 1], b=[0, 1, -1], c=[0, 0x100, 1], task_names=["a", "b"], ncpu=1,
...                        end_ns=5_000)
>>> t.busy_ns().tolist(), [t.task_name(x, 0) for x in t.switches()["next"]]
([3000], ['a', 'b', 'swapper/0'])
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from pvsched.trace.schema import COLUMNS, KIND, KINDS, RECORD_DTYPE, kind_name

_SWITCH = KIND["sched_switch"]
_MODE = KIND["vcpu_mode"]
_BOOST = KIND["vcpu_boost"]
_CURR = KIND["sched_curr"]
_UNBOOST = KIND["vcpu_unboost"]
TRUNCATED = KIND["truncated"]


def _names(module_attr: str, fallback: Sequence[str]) -> Sequence[str]:
    try:
        import pvsched._core as _core
        return getattr(_core, module_attr)
    except (ImportError, AttributeError):     # pragma: no cover - the extension is always built
        return fallback


class Trace:
    """Scheduler events of one run as numpy columns (``time_ns``, ``kind``, ``cpu``, ``a``, ``b``,
    ``c``; see :mod:`pvsched.trace.schema` for each kind's fields), sorted by time, plus what is
    needed to name things: task names and kernels, the host's CPU count, the VMs and their vCPUs.

    ``start_ns`` / ``end_ns`` bound the traced window ``[from_ns, to_ns)`` (clipped to the run);
    ``truncated_at_ns`` is set when the buffer cap was reached (no events kept after it;
    ``dropped`` counts them); in ring mode ``dropped`` counts the oldest events overwritten and
    ``start_ns`` moves to the first kept event.
    """

    def __init__(self, records: np.ndarray, *, task_names: Sequence[str], ncpu: int,
                 task_kern: Optional[Sequence[int]] = None, task_prio: Optional[Sequence[int]] = None,
                 vcpu_vm: Optional[Sequence[int]] = None, vcpu_task: Optional[Sequence[int]] = None,
                 vm_names: Optional[Sequence[str]] = None, start_ns: int = 0, end_ns: Optional[int] = None,
                 truncated_at_ns: Optional[int] = None, dropped: int = 0, cap: Optional[int] = None,
                 boost_prio: Optional[Sequence[int]] = None):
        rec = np.asarray(records)
        if rec.dtype != RECORD_DTYPE:
            raise TypeError(f"records must have dtype RECORD_DTYPE, not {rec.dtype}")
        self.records = rec
        self.task_names: List[str] = list(task_names)
        nt = len(self.task_names)
        self.ncpu = int(ncpu)
        self.task_kern = np.zeros(nt, np.int64) if task_kern is None else np.asarray(task_kern, np.int64)
        self.task_prio = np.full(nt, 120, np.int64) if task_prio is None else np.asarray(task_prio, np.int64)
        self.vcpu_vm = np.zeros(0, np.int64) if vcpu_vm is None else np.asarray(vcpu_vm, np.int64)
        nv = len(self.vcpu_vm)
        self.vm_names: List[str] = (list(vm_names) if vm_names is not None
                                    else [f"vm{k}" for k in range(int(self.vcpu_vm.max()) + 1 if nv else 0)])
        self.vcpu_task = np.full(nv, -1, np.int64) if vcpu_task is None else np.asarray(vcpu_task, np.int64)
        # prio a vCPU thread has while boosted (boost policy: SCHED_FIFO 1 = prio 98); -1 = unknown
        self.boost_prio = np.full(nv, -1, np.int64) if boost_prio is None else np.asarray(boost_prio, np.int64)
        self.start_ns = int(start_ns)
        self.end_ns = int(end_ns) if end_ns is not None else (int(rec["time_ns"][-1]) if len(rec) else self.start_ns)
        self.truncated_at_ns = None if truncated_at_ns is None else int(truncated_at_ns)
        self.dropped = int(dropped)
        self.cap = cap
        first = {}
        for v, k in enumerate(self.vcpu_vm):
            first.setdefault(int(k), v)
        self._vm_first_vcpu = first

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_columns(cls, *, time_ns, kind, cpu, a, b, c, **meta) -> "Trace":
        """Build a trace from equal-length columns (sorted by time)."""
        n = len(time_ns)
        rec = np.zeros(n, RECORD_DTYPE)
        for k, v in (("time_ns", time_ns), ("kind", kind), ("cpu", cpu), ("a", a), ("b", b), ("c", c)):
            arr = np.asarray(v)
            if arr.shape != (n,):
                raise ValueError(f"column {k} has {arr.shape} values, time_ns has {n}")
            rec[k] = arr
        return cls(rec, **meta)

    def _meta(self) -> dict:
        return dict(task_names=self.task_names, ncpu=self.ncpu, task_kern=self.task_kern,
                    task_prio=self.task_prio, vcpu_vm=self.vcpu_vm, vcpu_task=self.vcpu_task,
                    vm_names=self.vm_names, start_ns=self.start_ns, end_ns=self.end_ns,
                    truncated_at_ns=self.truncated_at_ns, dropped=self.dropped, cap=self.cap,
                    boost_prio=self.boost_prio)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the trace (records and topology) to a ``.npz`` file; :meth:`load` reads it."""
        meta = self._meta()
        np.savez_compressed(
            path, records=self.records, task_names=np.array(self.task_names, dtype=str),
            vm_names=np.array(self.vm_names, dtype=str),
            **{k: np.asarray(v) for k, v in meta.items() if k not in ("task_names", "vm_names", "truncated_at_ns", "cap")},
            truncated_at_ns=np.int64(-1 if self.truncated_at_ns is None else self.truncated_at_ns),
            cap=np.int64(-1 if self.cap is None else self.cap))

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Trace":
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        tr = int(d.pop("truncated_at_ns"))
        cap = int(d.pop("cap"))
        rec = d.pop("records")
        return cls(rec, task_names=[str(x) for x in d.pop("task_names")], vm_names=[str(x) for x in d.pop("vm_names")],
                   ncpu=int(d.pop("ncpu")), start_ns=int(d.pop("start_ns")), end_ns=int(d.pop("end_ns")),
                   dropped=int(d.pop("dropped")), truncated_at_ns=None if tr < 0 else tr, cap=None if cap < 0 else cap,
                   **d)

    # ------------------------------------------------------------------ columns
    def __len__(self) -> int:
        return len(self.records)

    @property
    def time_ns(self) -> np.ndarray:
        return self.records["time_ns"]

    @property
    def kind(self) -> np.ndarray:
        return self.records["kind"]

    @property
    def cpu(self) -> np.ndarray:
        return self.records["cpu"]

    @property
    def a(self) -> np.ndarray:
        return self.records["a"]

    @property
    def b(self) -> np.ndarray:
        return self.records["b"]

    @property
    def c(self) -> np.ndarray:
        return self.records["c"]

    @property
    def columns(self) -> Dict[str, np.ndarray]:
        """The six columns as a dict of numpy arrays (views, no copy)."""
        return {k: self.records[k] for k in COLUMNS}

    @property
    def truncated(self) -> bool:
        return self.truncated_at_ns is not None

    def __repr__(self):
        tr = f", truncated at {self.truncated_at_ns} ns" if self.truncated else ""
        return f"<Trace {len(self)} events, [{self.start_ns}, {self.end_ns}) ns{tr}>"

    def counts(self) -> Dict[str, int]:
        """Events per kind name."""
        codes, n = np.unique(self.kind, return_counts=True)
        return {kind_name(k): int(c) for k, c in zip(codes, n)}

    def where(self, mask) -> "Trace":
        """The events selected by a boolean mask (or index array), same topology."""
        return Trace(self.records[mask], **self._meta())

    def of_kind(self, *names: str) -> "Trace":
        codes = [KIND[n] for n in names]
        return self.where(np.isin(self.kind, codes))

    def window(self, from_ns: int = 0, to_ns: Optional[int] = None) -> "Trace":
        """Events in ``[from_ns, to_ns)``; start/end follow the window. The state at ``from_ns``
        (what runs where, each vCPU's mode) is kept as ``sched_curr`` / ``vcpu_mode`` snapshot
        records, as the engine writes when its own window opens late."""
        to = self.end_ns if to_ns is None else min(int(to_ns), self.end_ns)
        lo = max(int(from_ns), self.start_ns)
        inside = self.records[(self.time_ns >= lo) & (self.time_ns < to)]
        snap = []
        if lo > self.start_ns:
            nrq = self.ncpu + len(self.vcpu_vm)
            for kern in self.kernel_names():
                sl = self.cpu_slices(kern)
                on = (sl["start_ns"] <= lo) & (sl["end_ns"] > lo)
                curr = dict(zip(sl["rq"][on].tolist(), sl["task"][on].tolist()))
                snap += [(lo, _CURR, rq, curr.get(rq, -1), 0, 0) for rq in self.kernel_rqs(kern).tolist()]
            iv = self.vcpu_modes()
            on = (iv["start_ns"] <= lo) & (iv["end_ns"] > lo)
            mode = dict(zip(iv["vcpu"][on].tolist(), iv["mode"][on].tolist()))
            snap += [(lo, _MODE, -1, v, mode.get(v, 0), mode.get(v, 0)) for v in range(len(self.vcpu_vm))]
            assert len(snap) == nrq + len(self.vcpu_vm)
        extra = np.zeros(len(snap), RECORD_DTYPE)
        for i, (tm, k, c, a, b, cc) in enumerate(snap):
            extra[i] = (tm, cc, c, a, b, k, 0)
        t = Trace(np.concatenate([extra, inside]), **self._meta())
        t.start_ns, t.end_ns = lo, max(lo, to)
        if t.truncated_at_ns is not None and t.truncated_at_ns >= t.end_ns:
            t.truncated_at_ns = None
        return t

    # ------------------------------------------------------------------ naming
    def kernel_of_rq(self, rq: int) -> int:
        """0 for a host CPU, k + 1 for a vCPU of VM k."""
        return 0 if rq < self.ncpu else int(self.vcpu_vm[rq - self.ncpu]) + 1

    def local_cpu(self, rq: int) -> int:
        """The CPU number inside its own kernel (vCPU number for a guest run-queue)."""
        if rq < self.ncpu:
            return int(rq)
        v = rq - self.ncpu
        return v - self._vm_first_vcpu[int(self.vcpu_vm[v])]

    def kernel_names(self) -> List[str]:
        return ["host"] + list(self.vm_names)

    def _kernel_index(self, kernel: Union[str, int]) -> int:
        if isinstance(kernel, str):
            names = self.kernel_names()
            if kernel not in names:
                raise KeyError(f"no kernel named {kernel!r}; known: {names}")
            return names.index(kernel)
        return int(kernel)

    def kernel_rqs(self, kernel: Union[str, int] = "host") -> np.ndarray:
        """Global run-queue indices of a kernel's CPUs, in CPU order."""
        k = self._kernel_index(kernel)
        if k == 0:
            return np.arange(self.ncpu)
        return self.ncpu + np.nonzero(self.vcpu_vm == k - 1)[0]

    def rq_name(self, rq: int) -> str:
        if rq < self.ncpu:
            return f"CPU {rq}"
        v = rq - self.ncpu
        return f"{self.vm_names[int(self.vcpu_vm[v])]}/vcpu{self.local_cpu(rq)}"

    def task_name(self, task: int, rq: Optional[int] = None) -> str:
        """A task's name; -1 (idle) is ``swapper/N`` like the kernel's idle threads."""
        if task < 0:
            return f"swapper/{self.local_cpu(rq)}" if rq is not None and rq >= 0 else "swapper"
        return self.task_names[task]

    def vcpu_name(self, vcpu: int) -> str:
        t = int(self.vcpu_task[vcpu]) if len(self.vcpu_task) else -1
        if t >= 0:
            return self.task_names[t]
        return f"{self.vm_names[int(self.vcpu_vm[vcpu])]}/vcpu{vcpu - self._vm_first_vcpu[int(self.vcpu_vm[vcpu])]}"

    def event_vcpu(self, code: int, a: int) -> int:
        """The vCPU an event is about, for placing it on that vCPU's tracks: field ``a`` when it
        is a vCPU, or the vCPU whose thread task ``a`` is; -1 otherwise."""
        k = KINDS.get(int(code))
        if k is None:
            return -1
        if k.a in ("vcpu", "src_vcpu"):
            return int(a) if 0 <= a < len(self.vcpu_vm) else -1
        if k.a == "task":
            hit = np.flatnonzero(self.vcpu_task == a)
            return int(hit[0]) if len(hit) else -1
        return -1

    def field_names(self, code: int) -> Dict[str, str]:
        k = KINDS.get(int(code))
        return k.fields() if k else {"cpu": "cpu", "a": "a", "b": "b", "c": "c"}

    # ------------------------------------------------------------------ derived views
    def switches(self, kernel: Union[str, int, None] = None) -> Dict[str, np.ndarray]:
        """sched_switch events (all kernels, or one: "host" / a VM name): time_ns, cpu (global
        rq), prev, next (task indices, -1 idle), prev_state (kernel encoding)."""
        m = self.kind == _SWITCH
        if kernel is not None:
            m &= np.isin(self.cpu, self.kernel_rqs(kernel))
        r = self.records[m]
        return {"time_ns": r["time_ns"], "cpu": r["cpu"], "prev": r["a"], "next": r["b"], "prev_state": r["c"]}

    def cpu_slices(self, kernel: Union[str, int] = "host") -> Dict[str, np.ndarray]:
        """Who ran when on each CPU of a kernel: arrays rq, start_ns, end_ns, task (idle omitted).
        The task running when the trace starts is given by a ``sched_curr`` snapshot (a window that
        opens late) or else is the CPU's first switch's ``prev``; the last task runs to
        :attr:`end_ns` (or to the truncation point)."""
        sw = self.switches(kernel)
        end = self.end_ns if self.truncated_at_ns is None else min(self.end_ns, self.truncated_at_ns)
        snap = self.records[self.kind == _CURR]
        initial = {int(c): int(a) for c, a in zip(snap["cpu"], snap["a"])}
        rqs, starts, ends, tasks = [], [], [], []
        order = np.argsort(sw["cpu"], kind="stable")
        cpu, t, prev, nxt = (sw[k][order] for k in ("cpu", "time_ns", "prev", "next"))
        bounds = np.flatnonzero(np.diff(cpu)) + 1
        runs = {int(cpu[lo]): (lo, hi) for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(cpu)]) if lo < hi}
        for rq in self.kernel_rqs(kernel).tolist():
            lo, hi = runs.get(rq, (0, 0))
            first = initial.get(rq, int(prev[lo]) if hi > lo else -1)
            st = np.r_[self.start_ns, t[lo:hi]]
            en = np.r_[t[lo:hi], end]
            tk = np.r_[first, nxt[lo:hi]]
            keep = (tk >= 0) & (en > st)
            rqs.append(np.full(int(keep.sum()), rq, np.int64))
            starts.append(st[keep])
            ends.append(en[keep])
            tasks.append(tk[keep])
        cat = lambda xs: np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64)
        return {"rq": cat(rqs), "start_ns": cat(starts), "end_ns": cat(ends), "task": cat(tasks)}

    def busy_ns(self, kernel: Union[str, int] = "host") -> np.ndarray:
        """Per-CPU time a task (not idle) ran, summed from the sched_switch events. For a complete
        trace (no window, not truncated) this equals ``Result.cpus["busy_ns"]`` exactly; a CPU that
        never switched in the trace counts as idle."""
        rqs = self.kernel_rqs(kernel)
        sl = self.cpu_slices(kernel)
        out = np.zeros(len(rqs), np.int64)
        pos = {int(r): i for i, r in enumerate(rqs)}
        np.add.at(out, [pos[int(r)] for r in sl["rq"]], sl["end_ns"] - sl["start_ns"])
        return out

    def vcpu_modes(self) -> Dict[str, np.ndarray]:
        """vCPU mode intervals from the vcpu_mode events: vcpu, start_ns, end_ns, mode (index into
        :data:`pvsched._core.VCPU_MODES` + 1; "off" intervals omitted)."""
        r = self.records[self.kind == _MODE]
        end = self.end_ns if self.truncated_at_ns is None else min(self.end_ns, self.truncated_at_ns)
        out = {k: [] for k in ("vcpu", "start_ns", "end_ns", "mode")}
        order = np.argsort(r["a"], kind="stable")
        r = r[order]
        bounds = np.flatnonzero(np.diff(r["a"])) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(r)]):
            if lo == hi:
                continue
            st = np.r_[self.start_ns, r["time_ns"][lo:hi]]
            en = np.r_[r["time_ns"][lo:hi], end]
            md = np.r_[r["c"][lo], r["b"][lo:hi]]
            keep = (md > 0) & (en > st)
            out["vcpu"].append(np.full(int(keep.sum()), r["a"][lo], np.int64))
            out["start_ns"].append(st[keep])
            out["end_ns"].append(en[keep])
            out["mode"].append(md[keep])
        return {k: (np.concatenate(v).astype(np.int64) if v else np.zeros(0, np.int64)) for k, v in out.items()}

    def mode_ns(self) -> Dict[str, np.ndarray]:
        """Time per vCPU in each mode, summed from the trace (columns named like ``Result.vcpus``)."""
        modes = _names("VCPU_MODES", ("guest", "exit", "poll", "halted", "preempted", "vmm"))
        iv = self.vcpu_modes()
        out = {}
        for k, m in enumerate(modes):
            acc = np.zeros(len(self.vcpu_vm), np.int64)
            sel = iv["mode"] == k + 1
            np.add.at(acc, iv["vcpu"][sel], iv["end_ns"][sel] - iv["start_ns"][sel])
            out[m + "_ns"] = acc
        return out

    def prio(self, tasks: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Kernel prio (0..139, 120 = nice 0) of each ``tasks[i]`` at ``times[i]``: static, except
        that a vCPU thread has :attr:`boost_prio` between a vcpu_boost and the next vcpu_unboost.
        Idle (-1) is 120, as the kernel prints for swapper (as is any index that is no task)."""
        tasks = np.asarray(tasks, np.int64)
        times = np.asarray(times, np.int64)
        ok = (tasks >= 0) & (tasks < len(self.task_prio))
        out = np.full(len(tasks), 120, np.int64)
        out[ok] = self.task_prio[tasks[ok]]
        r = self.records[np.isin(self.kind, [_BOOST, _UNBOOST])]
        for v in np.unique(r["a"]):
            if self.boost_prio[v] < 0 or self.vcpu_task[v] < 0:
                continue
            ev = r[r["a"] == v]
            sel = np.flatnonzero(tasks == self.vcpu_task[v])
            # the last boost/unboost at or before each time decides (ties: the event came first)
            i = np.searchsorted(ev["time_ns"], times[sel], side="right") - 1
            boosted = (i >= 0) & (ev["kind"][np.maximum(i, 0)] == _BOOST)
            out[sel[boosted]] = self.boost_prio[v]
        return out

    def to_pandas(self):
        """A DataFrame with one row per event and a ``kind_name`` column (needs pandas)."""
        import pandas as pd
        df = pd.DataFrame({k: self.records[k] for k in COLUMNS})
        df.insert(2, "kind_name", [kind_name(k) for k in df["kind"]])
        return df

    # ------------------------------------------------------------------ exports
    def to_perfetto(self, path: Union[str, os.PathLike, None] = None, **kw) -> bytes:
        """Perfetto native protobuf (``.pftrace``; open it at ui.perfetto.dev). See
        :func:`pvsched.trace.perfetto.write_perfetto`."""
        from pvsched.trace.perfetto import write_perfetto
        return write_perfetto(self, path, **kw)

    def to_ftrace(self, path: Union[str, os.PathLike, None] = None, kernel: Union[str, int] = "host",
                  **kw) -> str:
        """ftrace text (``trace-cmd report`` lines) of one kernel. See
        :func:`pvsched.trace.ftrace.write_ftrace`."""
        from pvsched.trace.ftrace import write_ftrace
        return write_ftrace(self, path, kernel=kernel, **kw)

    def to_chrome_json(self, path: Union[str, os.PathLike, None] = None, **kw) -> dict:
        """Chrome trace-event JSON (chrome://tracing, Perfetto, speedscope). See
        :func:`pvsched.trace.chrome.write_chrome_json`."""
        from pvsched.trace.chrome import write_chrome_json
        return write_chrome_json(self, path, **kw)

