"""A synthetic but consistent two-VM trace for the exporter tests (no engine needed).

Host: 2 CPUs, tasks hog (task 0), then VM "web" (vCPU threads 1, 2; guest tasks 3 "web/ct",
4 "web/bg") and VM "db" (vCPU thread 5; guest task 6 "db/q"). Each run-queue gets a random but
consistent switch sequence (prev = the previous next on that CPU, a task never on two CPUs of one
kernel at once), with wake-ups, vCPU modes with exits before the exit mode, boosts, counters.
"""
from __future__ import annotations

import numpy as np

from pvsched.trace import KIND, Trace

TASKS = ["hog", "web/vcpu0", "web/vcpu1", "web/ct", "web/bg", "db/vcpu0", "db/q"]
KERN = [0, 0, 0, 1, 1, 0, 2]
PRIO = [120, 120, 120, 120, 139, 120, 100]
NCPU = 2
VCPU_VM = [0, 0, 1]
VCPU_TASK = [1, 2, 5]
VM_NAMES = ["web", "db"]


def make_trace(seed: int = 1, steps: int = 300, end_ns: int = 50_000_000) -> Trace:
    rng = np.random.default_rng(seed)
    rows = []          # (time, order, kind, cpu, a, b, c)
    kern_rqs = {0: [0, 1], 1: [2, 3], 2: [4]}
    kern_tasks = {k: [t for t in range(len(TASKS)) if KERN[t] == k] for k in kern_rqs}
    for k, rqs in kern_rqs.items():
        times = np.sort(rng.choice(np.arange(1, end_ns // 1000), size=steps, replace=False)) * 1000
        curr = {rq: -1 for rq in rqs}
        for t in times.tolist():
            rq = int(rng.choice(rqs))
            free = [x for x in kern_tasks[k] if x not in curr.values()] + [-1]
            nxt = int(rng.choice(free))
            if nxt == curr[rq]:
                continue
            prev = curr[rq]
            state = int(rng.choice([0, 1, 0x100])) if prev >= 0 else 0
            if nxt >= 0:
                rows.append((t, 0, KIND["sched_wakeup"], rq, nxt, rq, 0))
            rows.append((t, 1, KIND["sched_switch"], rq, prev, nxt, state))
            curr[rq] = nxt
    # vCPU modes: a random walk guest -> exit -> guest / halted / preempted ...
    for v in range(len(VCPU_VM)):
        old, cpu = 0, v % NCPU
        for t in (np.sort(rng.choice(np.arange(1, end_ns // 1000), size=60, replace=False)) * 1000 + 7).tolist():
            new = int(rng.integers(1, 6))
            if new == old:
                continue
            if new == 2:
                rows.append((t, 0, KIND["kvm_exit"], cpu, v, int(rng.integers(1, 13)), 0))
            if new == 1:
                rows.append((t, 0, KIND["kvm_entry"], cpu, v, 0, 0))
            rows.append((t, 1, KIND["vcpu_mode"], cpu, v, new, old))
            old = new
        rows.append((int(rng.integers(1, end_ns // 2)), 2, KIND["vcpu_boost"], cpu, v, 2, 0))
        rows.append((int(rng.integers(end_ns // 2, end_ns)), 2, KIND["vcpu_unboost"], cpu, v, 0, 0))
    for t in range(1_000_000, end_ns, 1_000_000):
        rows.append((t + 3, 3, KIND["counter"], 0, 0, 0, int(rng.integers(0, 4))))
        rows.append((t + 3, 3, KIND["counter"], 2, 0, 2, int(rng.integers(0, 3))))
        rows.append((t + 5, 3, KIND["counter"], 1, 1, 1, int(rng.integers(0, 1025))))
        rows.append((t + 9, 3, KIND["yield_to"], 1, 0, 1, -1))
    rows.sort()
    arr = np.array(rows, dtype=np.int64)
    return Trace.from_columns(time_ns=arr[:, 0], kind=arr[:, 2], cpu=arr[:, 3], a=arr[:, 4], b=arr[:, 5],
                              c=arr[:, 6], task_names=TASKS, ncpu=NCPU, task_kern=KERN, task_prio=PRIO,
                              vcpu_vm=VCPU_VM, vcpu_task=VCPU_TASK, vm_names=VM_NAMES, end_ns=end_ns,
                              boost_prio=[98, 98, 98])
