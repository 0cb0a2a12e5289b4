"""Compiling a scenario: validate it and flatten it into the integer arrays the C engine takes
(``Engine(**kwargs)``), with the task and cgroup names in engine order."""
from __future__ import annotations

import os

import numpy as np

from pvsched.errors import ScenarioError
from pvsched.rcu.config import RcuConfig
from pvsched.scenario.elements import Cgroup

#: bytes one task costs: its latency histogram in the engine and again in the results, its task
#: and entity structs, its queue slot, the compile step's names and columns (measured: 1.9 GB
#: peak for 200,000 run/sleep tasks run 30 ms and read out)
TASK_BYTES = 10_000


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        return 1 << 62


def memory_estimate(sc) -> int:
    """About how many bytes compiling and building ``sc`` takes (dominated by its tasks)."""
    nvcpu = sum(vm.vcpus for vm in sc.vms)
    guest = [sum(t.count for t in vm.tasks) for vm in sc.vms]
    ntask = sum(t.count for t in sc.tasks) + nvcpu + sum(guest)
    ntg = 1 + len(sc.cgroups) + len(sc.vms)
    rings = sum(vm.vcpus * (g + 1) for vm, g in zip(sc.vms, guest))
    return ntask * TASK_BYTES + ntg * sc.host.cpus * 700 + (sc.host.cpus + nvcpu) * 1_600 + rings * 4


def rcu_enabled(sc) -> bool:
    """RCU is modelled when the host has an RcuConfig, synchronize_rcu() callers or an RCU guest
    policy other than vanilla."""
    h = sc.host
    return h.rcu is not None or h.rcu_guest_policy.mode != "vanilla" \
        or any(getattr(t.workload, "kind", "") == "rcu_updater" for t in sc.tasks)


def validate_rcu(sc) -> None:
    """With RCU modelled: a housekeeping CPU (the GP kthread's, the timekeeper), and tick exits."""
    from pvsched.errors import ScenarioError
    h = sc.host
    if len(set(h.nohz_full)) >= h.cpus:
        raise ScenarioError("host.nohz_full", h.nohz_full, "must leave a housekeeping CPU when RCU is modelled")
    if not h.tick_exits:
        raise ScenarioError("host.tick_exits", h.tick_exits, "RCU needs the tick's exits (the RCU tick runs in "
                            "host context after the exit it causes)")


def rcu_engine_dict(sc):
    """The engine's ``rcu`` settings (rcu/rcu_engine.pxi rcu_build), or None with RCU off."""
    if not rcu_enabled(sc):
        return None
    h = sc.host
    cfg = h.rcu if h.rcu is not None else RcuConfig()
    return dict(params=cfg.engine_dict(),
                callers=sum(t.count for t in sc.tasks if getattr(t.workload, "kind", "") == "rcu_updater"),
                rcuc_ns=cfg.rcuc_ns, slow_exit_ns=cfg.slow_exit_ns, idle_entry_ns=cfg.idle_entry_ns,
                tick_dependency=cfg.tick_dependency)
def _vmm_threads(vm, k, h, remap, ops, add, mask_of):
    # The VMM's deferred-work threads of VM k: host tasks in its cgroup (or the configured one), on
    # the pCPUs its vCPU threads may use (or the configured ones), after its guest tasks.
    from pvsched._core import OPS, VMM_ROLES
    w = vm.deferred_work
    if not vm.vmm_thread_names():
        return
    cpus = w.thread_cpus if w.thread_cpus is not None else (
        sorted(set(vm.pin)) if vm.pin is not None else (vm.cpus if vm.cpus is not None else range(h.cpus)))
    if w.thread_cgroup is not None:
        tg = remap[w.thread_cgroup]
    else:                                               # where the vCPU threads are
        tg = remap[vm.cgroup_name()] if vm.own_cgroup else (0 if vm.cgroup is None else remap[vm.cgroup])
    for n in vm.vmm_thread_names():
        role = "main" if n.endswith("/vmm-main") else "worker"
        start = len(ops)
        ops.append((OPS["vmm"], k, VMM_ROLES[role], 0))
        add(n, (start, 1), w.thread_policy, w.thread_nice, 0, tg, vm.start_ns, mask_of(cpus), w.thread_slice_ns, 0, -1)


def compile_scenario(sc):
    """Validate and flatten into ``(engine_kwargs, task_names, cgroup_names)`` for
    :class:`pvsched._core.Engine`. Task order: host tasks, then per VM its vCPU threads
    (``vm/vcpuN``) and its guest tasks (``vm/name``)."""
    from pvsched._core import OPS, POLICIES as CPOL
    sc.validate()
    need, have = memory_estimate(sc), _physical_memory()
    if need > have:
        ntask = sum(t.count for t in sc.tasks) + sum(vm.vcpus + sum(t.count for t in vm.tasks) for vm in sc.vms)
        raise ScenarioError("tasks", f"{ntask:,} tasks", f"would need about {need / 2**30:,.1f} GiB of memory; "
                            f"this machine has {have / 2**30:,.1f} GiB")
    h = sc.host
    cgs = list(sc.cgroups) + [Cgroup(vm.cgroup_name(), parent=vm.cgroup, weight=vm.weight)
                              for vm in sc.vms if vm.own_cgroup]
    by = {c.name: c for c in cgs}

    def depth(c):
        d = 0
        while c.parent is not None:
            d, c = d + 1, by[c.parent]
        return d
    order = sorted(range(len(cgs)), key=lambda i: depth(cgs[i]))
    remap = {cgs[i].name: k + 1 for k, i in enumerate(order)}
    tg_parent, tg_shares, tg_idle = [-1], [1024 << 10], [0]
    for i in order:
        cg = cgs[i]
        tg_parent.append(0 if cg.parent is None else remap[cg.parent])
        tg_shares.append(cg.shares())
        tg_idle.append(int(cg.idle))
    maxw = max([(h.cpus + 63) // 64] + [(vm.vcpus + 63) // 64 for vm in sc.vms])
    cols = {k: [] for k in ("policy", "nice", "rt_prio", "tg", "start", "aff", "ps", "pl", "slice", "kern", "vcpu")}
    ops: list = []
    names = []

    def mask_of(cpus):
        mask = [0] * maxw
        for c in cpus:
            mask[c >> 6] |= 1 << (c & 63)
        return mask

    def add(name, prog, policy, nice, rt, tg, start, mask, slice_ns, kern, vcpu):
        names.append(name)
        cols["policy"].append(CPOL[policy])
        cols["nice"].append(nice)
        cols["rt_prio"].append(rt)
        cols["tg"].append(tg)
        cols["start"].append(start)
        cols["aff"].append(mask)
        cols["ps"].append(prog[0])
        cols["pl"].append(prog[1])
        cols["slice"].append(slice_ns or 0)
        cols["kern"].append(kern)
        cols["vcpu"].append(vcpu)

    rtimers: dict = {}          # rt-app timer refs: (kernel, ref[, instance]) -> index
    rtimer_relative: list = []

    def program(workload, kern=0, inst=None, path=""):
        prog = []
        for o in workload.ops():
            if o[0] == "timer":         # a named rt-app timer: shared within a kernel ("unique*": per instance)
                key = (kern, o[2], inst) if o[2].startswith("unique") else (kern, o[2])
                if key not in rtimers:
                    rtimers[key] = len(rtimer_relative)
                    rtimer_relative.append(o[3])
                elif rtimer_relative[rtimers[key]] != o[3]:
                    raise ScenarioError(f"{path}.workload", o[2], "timer ref used in both relative and absolute mode")
                o = (o[0], o[1], rtimers[key], o[3])
            prog.append((OPS[o[0]], int(o[1]), int(o[2]), int(o[3])))
        start = len(ops)
        ops.extend(prog)
        return start, len(prog)

    def per_instance(workload):
        return any(r.startswith("unique") for r in getattr(workload, "timer_refs", lambda: [])())

    for i, t in enumerate(sc.tasks):
        prog = program(t.workload, 0, None, f"tasks[{i}]")
        mask = mask_of(t.cpus if t.cpus is not None else range(h.cpus))
        for n in t.names():
            add(n, program(t.workload, 0, n, f"tasks[{i}]") if per_instance(t.workload) else prog,
                t.policy, t.nice, t.rt_priority, 0 if t.cgroup is None else remap[t.cgroup],
                t.start_ns, mask, t.slice_ns, 0, -1)
    rcu = rcu_engine_dict(sc)
    if rcu is not None:
        # rcuc/N: the per-CPU RCU core kthread of each nohz_full CPU (SCHED_FIFO kthread_prio).
        prio = (h.rcu or RcuConfig()).kthread_prio
        for c in sorted(set(int(c) for c in h.nohz_full)):
            prog = (len(ops), 2)
            ops.extend([(OPS["rcuc"], c, 0, 0), (OPS["loop"], 0, 0, 0)])
            add(f"rcuc/{c}", prog, "fifo", 0, prio, 0, 0, mask_of([c]), None, 0, -1)
    vcpu_vm = []
    vcpu_prog = None
    for k, vm in enumerate(sc.vms):
        if vcpu_prog is None:
            vcpu_prog = (len(ops), 1)
            ops.append((OPS["vcpu"], 0, 0, 0))
        for i, n in enumerate(vm.vcpu_names()):
            cpus = [vm.pin[i]] if vm.pin is not None else (vm.cpus if vm.cpus is not None else range(h.cpus))
            pol, nice, rtp = vm.thread_policy()
            tg = remap[vm.cgroup_name()] if vm.own_cgroup else (0 if vm.cgroup is None else remap[vm.cgroup])
            add(n, vcpu_prog, pol, nice, rtp, tg,
                vm.start_ns, mask_of(cpus), None, 0, len(vcpu_vm))
            vcpu_vm.append(k)
        for j, t in enumerate(vm.tasks):
            prog = program(t.workload, k + 1, None, f"vms[{k}].tasks[{j}]")
            mask = mask_of(t.cpus if t.cpus is not None else range(vm.vcpus))
            for n in t.names():
                add(f"{vm.name}/{n}", program(t.workload, k + 1, n, f"vms[{k}].tasks[{j}]")
                    if per_instance(t.workload) else prog, t.policy, t.nice, t.rt_priority, 0,
                    max(t.start_ns, vm.start_ns), mask, t.slice_ns, k + 1, -1)
        _vmm_threads(vm, k, h, remap, ops, add, mask_of)
    nt = len(names)
    arr = lambda k: np.array(cols[k], dtype=np.int64)
    return dict(
        ncpu=h.cpus, hz=h.hz, base_slice_ns=h.base_slice(), features=h.feature_mask(),
        lazy=h.preempt == "lazy", cfs=h.fair_class == "cfs",
        tg_parent=np.array(tg_parent, dtype=np.int64), tg_shares=np.array(tg_shares, dtype=np.int64),
        tg_idle=np.array(tg_idle, dtype=np.int64),
        task_policy=arr("policy"), task_nice=arr("nice"), task_rt_prio=arr("rt_prio"), task_tg=arr("tg"),
        task_start_ns=arr("start"),
        task_affinity=np.array(cols["aff"], dtype=np.uint64).reshape(nt, maxw),
        task_prog_start=arr("ps"), task_prog_len=arr("pl"), task_slice_ns=arr("slice"),
        task_kern=arr("kern"), task_vcpu=arr("vcpu"),
        vms=[vm.kernel_dict() for vm in sc.vms], vcpu_vm=np.array(vcpu_vm, dtype=np.int64),
        ops=np.array(ops, dtype=np.int64).reshape(-1, 4),
        seed=sc.seed, shuffle_ties=sc.shuffle_ties, ctx_switch_ns=h.context_switch_ns,
        idle_exit_ns=h.idle_exit_ns, cstates=[tuple(x) for x in h.idle_states],
        rt_guard=h.rt_guard, fs_runtime_ns=h.fair_server_runtime_ns, fs_period_ns=h.fair_server_period_ns,
        rt_runtime_ns=h.rt_runtime_ns, rt_period_ns=h.rt_period_ns, rr_timeslice_ms=h.rr_timeslice_ms,
        nohz_idle=h.nohz_idle, host_tick_exits=h.tick_exits, check_invariants=sc.check_invariants,
        load_balance=h.load_balance, periodic_balance=h.periodic_balance,
        debooster=h.debooster.engine_dict(), py_policy=h.policy,
        halted_pelt=dict(h.halted_pelt.engine_dict(), no_hz_full=h.halted_pelt.no_hz_full or bool(h.nohz_full)),
        nohz_full=[int(c) for c in h.nohz_full], rtimer_relative=rtimer_relative,
        trace=sc.trace.engine_dict() if sc.trace.enabled else None,
        rcu=rcu, rcu_guest=h.rcu_guest_policy.engine_dict() if rcu is not None else None,
    ), names, [None] + [cgs[i].name for i in order]
