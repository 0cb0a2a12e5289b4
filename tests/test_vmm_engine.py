"""HLT/MWAIT exit paths and VMM deferred work in the engine: each mechanism on a small scenario
(MWAIT NOP emulation with and without yield, alone and shared; MWAIT pass-through; the RFC's HLT
and MWAIT userspace exits; Graf's per-KVM_RUN interception toggle; the fallback timer; VMM
signals; worker threads and the pCPUs a VM occupies), the work accounting, and per-vCPU time
conservation with the new exits."""
import itertools

import numpy as np
import pytest

from pvsched import VM, GuestKernel, Host, NotModelledError, Scenario, ScenarioError, Simulation, Task
from pvsched.policies import DeferredWork as DW
from pvsched.workloads import Cyclictest, Hog, Phases, RunSleep, SpinlockLoop

MODES = ("guest_ns", "exit_ns", "poll_ns", "halted_ns", "preempted_ns", "vmm_ns")
MS = 1_000_000


def run(vm_kw, host_tasks=(), cpus=1, dur=100 * MS, host=None, seed=0):
    vm = VM("g", **vm_kw)
    sc = Scenario(host=host or Host(cpus=cpus), vms=[vm], tasks=list(host_tasks), duration_ns=dur,
                  check_invariants=True, seed=seed)
    r = Simulation(sc).run()
    assert r.violations["count"] == 0
    check_accounting(r)
    return r


def check_accounting(r):
    """Exact work accounting and per-vCPU conservation, whatever the policy."""
    t, raw = r.deferred_work, r.raw["vmm"]
    assert (t["arrived"] == t["dropped"] + t["done"] + t["queued"] + t["in_service"]).all()
    assert (t["done"] == t["worker_items"] + t["main_items"] + t["vcpu_items"]).all()
    for k in range(len(t["name"])):
        assert int(r.raw["vmm_lat_hist"][k].sum()) == int(t["done"][k])
        assert t["lat_max_ns"][k] <= r.now_ns
    v = r.vcpus
    life = r.now_ns - 0
    for i in range(len(v["name"])):
        assert sum(int(v[m][i]) for m in MODES) == life
        assert 0 <= v["guest_idle_ns"][i] <= v["guest_ns"][i]
        assert 0 <= v["idle_exit_ns"][i] <= v["exit_ns"][i]
    assert (t["vcpu_work_ns"] <= np.array([int(v["vmm_ns"][v["vm"] == k].sum()) for k in range(len(t["name"]))])).all()
    return raw


def mwait_vm(**kw):
    return dict(vcpus=1, pin=[0], guest=GuestKernel(idle_instruction="mwait"), **kw)


# ------------------------------------------------------------------ MWAIT emulated as a NOP
def test_idle_mwait_guest_spins_through_exits_and_never_halts():
    r = run(mwait_vm())
    v = r.vcpu("g/vcpu0")
    assert v["halted_ns"] == 0 and v["poll_ns"] == 0
    assert v["exits_mwait"] == v["exits_monitor"] > 0
    # one pass = idle loop (1 us guest) + MONITOR and MWAIT exits (1.5 us each)
    assert v["exits_mwait"] == pytest.approx(100 * MS / 4_000, rel=0.01)
    assert v["guest_idle_ns"] + v["idle_exit_ns"] >= 0.99 * 100 * MS
    assert r.cpus["busy_ns"][0] == 100 * MS                 # the host sees a 100% busy vCPU thread


def test_mwait_yield_alone_on_its_runqueue_changes_nothing():
    a = run(mwait_vm())
    b = run(mwait_vm(mwait_yield=True))
    va, vb = a.vcpu("g/vcpu0"), b.vcpu("g/vcpu0")
    assert 0 <= vb["exits_mwait"] - vb["mwait_yields"] <= 1 and va["mwait_yields"] == 0   # the last may be in progress
    assert vb["exits_mwait"] == va["exits_mwait"] and vb["preempted_ns"] == 0
    assert b.task("g/vcpu0").nr_switches == a.task("g/vcpu0").nr_switches


def _shared(yield_, forfeit=False):
    # the VMM worker, in the VM's cgroup, always has work: a CPU hog beside the idle vCPU
    host = Host(cpus=1, features={"YIELD_FORFEIT": True} if forfeit else {})
    return run(mwait_vm(mwait_yield=yield_, deferred_work=DW(rate_per_s=100_000, size_ns=100_000, size_dist="fixed",
                                                                 queue_capacity=100)), host=host)


def test_mwait_yield_shared_runqueue_v615_keeps_eevdf_shares_forfeit_gives_way():
    # v6.15 yield only pushes the deadline: EEVDF eligibility keeps the 50/50 share.
    no, yes = _shared(False), _shared(True)
    assert yes.vcpu("g/vcpu0")["mwait_yields"] > 1000
    assert no.deferred_work["vmm_cpu_ns"][0] == pytest.approx(50 * MS, rel=0.02)
    assert yes.deferred_work["vmm_cpu_ns"][0] == pytest.approx(50 * MS, rel=0.02)
    # v6.18+ ("forfeit vruntime on yield"): each yield gives the rest of the slice away
    fy = _shared(True, forfeit=True)
    assert fy.deferred_work["vmm_cpu_ns"][0] > 0.9 * 100 * MS


def test_mwait_yield_reaches_only_the_yielders_cgroup():
    # A host hog outside the VM's cgroup: yield() works inside the vCPU thread's group queue, so
    # the hog's share does not move even with forfeit semantics.
    for feat in ({}, {"YIELD_FORFEIT": True}):
        shares = []
        for y in (False, True):
            r = run(mwait_vm(mwait_yield=y), host_tasks=[Task("hog", Hog(), cpus=[0])], host=Host(cpus=1, features=feat))
            shares.append(r.task("hog").cpu_ns)
        assert shares[0] == pytest.approx(50 * MS, rel=0.01) and shares[1] == pytest.approx(50 * MS, rel=0.01)


def test_mwait_yield_lets_a_shared_worker_start_sooner():
    kw = dict(deferred_work=DW(rate_per_s=2000, size_ns=20_000))
    lat = [run(mwait_vm(mwait_yield=y, **kw), dur=200 * MS).deferred_work["lat_mean_ns"][0] for y in (False, True)]
    assert lat[1] < lat[0]


def test_mwait_pass_through_holds_the_pcpu_in_guest_mode_without_exits():
    r = run(mwait_vm(mwait_exits=False, tasks=[Task("ct", Cyclictest(interval_ns=MS))]))
    v = r.vcpu("g/vcpu0")
    assert v["exits_mwait"] == v["exits_monitor"] == v["idle_exit_ns"] == 0
    assert v["guest_idle_ns"] > 0.95 * 100 * MS and v["halted_ns"] == 0
    assert r.latency("g/ct").max_ns <= 2 * 1_500           # timer exit only: no wake-up from a halt


def test_mwait_guest_wakeups_send_no_ipi_hlt_guests_do():
    # two vCPUs; guest periodic tasks pinned to vCPU 1 are woken by timers on vCPU 1 itself, so
    # wake remote tasks through the guest's load balancer instead: compare the IPI-receive exits
    tasks = [Task("rs", RunSleep(run_ns=300_000, sleep_ns=200_000), count=3)]
    ipis = {}
    for insn in ("hlt", "mwait"):
        r = run(dict(vcpus=2, pin=[0, 1], tasks=tasks, guest=GuestKernel(idle_instruction=insn)), cpus=2)
        ipis[insn] = int(r.vcpus["exits_ipi_recv"].sum() + r.vcpus["exits_ipi_send"].sum())
    assert ipis["mwait"] < ipis["hlt"]


# ------------------------------------------------------------------ the RFC: userspace exits
def test_without_signals_the_rfc_bits_are_never_set_for_a_guest_that_never_returns():
    # The RFC decides per KVM_RUN; an idle MWAIT guest never comes back to userspace on its own.
    r = run(mwait_vm(deferred_work=DW(rate_per_s=20_000, size_ns=10_000, executor="vcpu", kick=False)))
    assert r.vcpu("g/vcpu0")["user_exits"] == 0 and r.deferred_work["done"][0] == 0


def test_rfc_mwait_userspace_exits_run_work_within_the_budget():
    # the VMM signals the vCPU when work appears, so that its next KVM_RUN sets the MWAIT bit
    w = dict(rate_per_s=20_000, size_ns=10_000, size_dist="fixed", executor="vcpu")
    res = {b: run(mwait_vm(deferred_work=DW(mwait_budget_ns=b, **w))) for b in (0, 25_000, 10**9)}
    v0, t0 = res[0].vcpu("g/vcpu0"), res[0].deferred_work
    assert v0["mwait_user_exits"] > 0 and t0["done"][0] == 0 and t0["queued"][0] == t0["arrived"][0]
    v, t = res[25_000].vcpu("g/vcpu0"), res[25_000].deferred_work
    assert t["done"][0] == t["vcpu_items"][0] > 0.95 * t["arrived"][0]
    # an item starts only while under the budget: at most 3 x 10 us per exit
    assert v["vcpu_items"] <= 3 * v["mwait_user_exits"]
    assert v["vmm_ns"] >= res[25_000].raw["vmm"]["work_low_ns"][0] == t["vcpu_work_ns"][0]
    assert not [n for n in res[25_000].task_names if "vmm-" in n]          # no VMM threads at all
    # an unbounded budget drains the queue at each exit: fewer userspace exits for the same work
    assert res[10**9].deferred_work["done"][0] == res[10**9].deferred_work["arrived"][0]


def test_rfc_hlt_exit_keeps_the_vcpu_halted_then_blocks_in_the_kernel():
    # queue always non-empty at HLT time: bits set, HLT returns to userspace, the VMM runs work
    # while no wake-up is pending, then re-enters and the kernel blocks the thread.
    r = run(dict(vcpus=1, pin=[0], tasks=[Task("ct", Cyclictest(interval_ns=MS))],
                 deferred_work=DW(rate_per_s=40_000, size_ns=20_000, size_dist="fixed", executor="vcpu")),
            dur=50 * MS)
    v, t = r.vcpu("g/vcpu0"), r.deferred_work
    assert v["hlt_user_exits"] > 0 and v["exits_hlt"] >= v["hlt_user_exits"]
    assert t["vcpu_items"][0] > 0 and t["worker_items"][0] == 0
    # overloaded queue (800 ms of work per second... of 1 s): the thread keeps working, so a wake-up
    # during an item waits for it: cyclictest sees up to one item of delay, never more than ~2
    assert 5_000 < r.latency("g/ct").max_ns <= 2 * 20_000 + 20_000


def test_rfc_signal_wakes_a_blocked_vcpu_to_run_new_work():
    r = run(dict(vcpus=1, pin=[0], tasks=[Task("ct", Cyclictest(interval_ns=MS))],
                 deferred_work=DW(rate_per_s=1000, size_ns=20_000, executor="vcpu")))
    v, t = r.vcpu("g/vcpu0"), r.deferred_work
    assert v["signals"] > 0.9 * t["arrived"][0] and t["vcpu_items"][0] == t["done"][0] > 0
    assert v["halted_ns"] > 0.9 * 100 * MS                   # it halts again after the work
    assert t["lat_mean_ns"][0] < 40_000


def test_rfc_without_fallback_a_busy_guest_starves_low_work_fallback_bounds_it():
    vm = dict(vcpus=1, pin=[0], tasks=[Task("hog", Hog())])
    none = run(dict(vm, deferred_work=DW(rate_per_s=2000, size_ns=10_000, executor="vcpu")))
    t = none.deferred_work
    assert t["arrived"][0] > 100 and t["done"][0] == 0 and t["queued"][0] == t["arrived"][0]
    fb = run(dict(vm, deferred_work=DW(rate_per_s=2000, size_ns=10_000, executor="vcpu", fallback_timer_ns=2 * MS)))
    t = fb.deferred_work
    assert t["main_items"][0] == t["done"][0] > 0.9 * t["arrived"][0]
    assert t["lat_max_ns"][0] < 2 * MS + 200_000               # one period plus scheduling and service
    assert "g/vmm-main" in fb.task_names and fb.task("g/vmm-main").cpu_ns == t["vmm_cpu_ns"][0]


def test_rfc_high_items_preempt_a_busy_guest_low_items_wait():
    vm = dict(vcpus=1, pin=[0], tasks=[Task("hog", Hog())])
    hi = run(dict(vm, deferred_work=DW(rate_per_s=2000, size_ns=10_000, priority="high", executor="vcpu", kick=False)))
    off = run(dict(vm, deferred_work=DW(rate_per_s=2000, size_ns=10_000, priority="high", executor="vcpu", kick=False,
                                        preempt_high=False)))
    t = hi.deferred_work
    assert t["done"][0] == t["vcpu_items"][0] > 0.95 * t["arrived"][0] and hi.vcpu("g/vcpu0")["exits_signal"] > 0
    assert t["lat_max_ns"][0] < 100_000
    assert off.deferred_work["done"][0] == 0                   # nobody signals: the guest never idles


def test_mmio_exits_queue_completions_and_return_to_userspace():
    ph = Phases([("run", 50_000), ("mmio", 2_000), ("sleep", 200_000)])
    r = run(dict(vcpus=1, pin=[0], tasks=[Task("io", ph)],
                 deferred_work=DW(mmio_items=True, mmio_size_ns=5_000, executor="thread")), cpus=2)
    v, t = r.vcpu("g/vcpu0"), r.deferred_work
    assert t["arrived"][0] == v["exits_mmio"] > 100
    assert r.raw["vmm"]["arrived_high"][0] == t["arrived"][0]
    assert v["user_exits"] >= v["exits_mmio"]


# ------------------------------------------------------------------ Graf's toggle
def test_toggle_passes_hlt_through_while_nothing_is_pending():
    ct = [Task("ct", Cyclictest(interval_ns=MS))]
    stock = run(dict(vcpus=1, pin=[0], tasks=ct, deferred_work=DW(rate_per_s=200, size_ns=20_000)))
    tog = run(dict(vcpus=1, pin=[0], tasks=ct, deferred_work=DW(rate_per_s=200, size_ns=20_000, intercept_toggle=True)))
    vs, vt = stock.vcpu("g/vcpu0"), tog.vcpu("g/vcpu0")
    assert vs["exits_hlt"] > 90 and vs["guest_idle_ns"] == 0
    assert vt["exits_hlt"] < vs["exits_hlt"] / 3 and vt["guest_idle_ns"] > 0.5 * 100 * MS
    assert vt["kvm_runs"] > 0 and tog.deferred_work["done"][0] == tog.deferred_work["arrived"][0]


def test_toggle_intercepts_the_next_hlt_after_work_is_queued_and_clears_it_after():
    # With the vCPU executor (Graf's steps 1-4) the work waits for the guest's next HLT, which
    # exits to userspace; the following KVM_RUN, with the queue empty, passes HLT through again.
    r = run(dict(vcpus=1, pin=[0], tasks=[Task("ct", Cyclictest(interval_ns=MS))],
                 deferred_work=DW(rate_per_s=200, size_ns=20_000, intercept_toggle=True, executor="vcpu")))
    v, t = r.vcpu("g/vcpu0"), r.deferred_work
    assert v["hlt_user_exits"] > 0 and v["exits_hlt"] == v["hlt_user_exits"]   # every HLT exit goes to the VMM
    assert t["vcpu_items"][0] == t["done"][0] > 0
    assert MS / 4 < t["lat_mean_ns"][0] < 2 * MS               # waits for the next idle period
    assert v["guest_idle_ns"] > 0.5 * 100 * MS


# ------------------------------------------------------------------ threads and pCPUs
def test_separate_threads_let_a_vm_run_on_more_pcpus_than_vcpus():
    vm = dict(vcpus=1, tasks=[Task("hog", Hog())])
    thr = run(dict(vm, deferred_work=DW(rate_per_s=20_000, size_ns=40_000, threads=2)), cpus=3)
    t = thr.deferred_work
    assert t["max_running"][0] == 3 and t["over_vcpus_ns"][0] > 0.3 * 100 * MS
    assert t["vmm_cpu_ns"][0] == sum(thr.task(f"g/vmm-worker{i}").cpu_ns for i in range(2))
    vc = run(dict(vm, deferred_work=DW(rate_per_s=20_000, size_ns=40_000, executor="vcpu", priority="high")), cpus=3)
    t = vc.deferred_work
    assert t["max_running"][0] == 1 and t["over_vcpus_ns"][0] == 0 and t["vmm_cpu_ns"][0] == 0
    assert t["done"][0] > 0


def test_workers_live_in_the_vm_cgroup_or_the_configured_one():
    from pvsched import Cgroup
    base = dict(vcpus=1, pin=[0], tasks=[Task("hog", Hog())])
    sc = Scenario(host=Host(cpus=1), cgroups=[Cgroup("vmm", weight=10000)],
                  tasks=[], vms=[VM("g", **base, deferred_work=DW(rate_per_s=100_000, size_ns=100_000, queue_capacity=10))],
                  duration_ns=100 * MS)
    same = Simulation(sc).run().deferred_work["vmm_cpu_ns"][0]
    sc.vms[0].deferred_work.thread_cgroup = "vmm"
    other = Simulation(sc).run().deferred_work["vmm_cpu_ns"][0]
    assert same == pytest.approx(50 * MS, rel=0.05)            # shares the VM's weight with the vCPU
    assert other > 0.95 * 100 * MS                             # weight 10000 vs the VM's 100


def test_workers_follow_the_vcpu_threads_when_the_vm_has_no_cgroup_of_its_own():
    # own_cgroup=False (seed 001): the vCPU threads sit in the root, and so does the worker: it
    # gets a third of the pCPU beside the vCPU and a host hog, not a quarter (half of the VM's half)
    share = {}
    for own in (True, False):
        vm = VM("g", vcpus=1, pin=[0], tasks=[Task("hog", Hog())], own_cgroup=own,
                deferred_work=DW(rate_per_s=100_000, size_ns=100_000, queue_capacity=10))
        sc = Scenario(host=Host(cpus=1), vms=[vm], tasks=[Task("hhog", Hog())], duration_ns=300 * MS)
        share[own] = Simulation(sc).run().deferred_work["vmm_cpu_ns"][0] / (300 * MS)
    assert share[True] == pytest.approx(0.25, abs=0.03)
    assert share[False] == pytest.approx(1 / 3, abs=0.03)


def test_mwait_pass_through_is_halted_time_for_seed001_nop_emulation_is_not_tracked():
    # seed 001's ground truth: an MWAIT guest whose MWAIT stays in guest mode is halted while idle
    from pvsched import HaltedPelt
    for exits in (False, True):
        vm = VM("g", **mwait_vm(mwait_exits=exits, tasks=[Task("rs", RunSleep(run_ns=200_000, sleep_ns=800_000))]))
        sc = Scenario(host=Host(cpus=1, halted_pelt=HaltedPelt("exact")), vms=[vm], duration_ns=200 * MS,
                      check_invariants=True)
        r = Simulation(sc).run()
        assert r.violations["count"] == 0
        v = r.vcpu("g/vcpu0")
        if exits:                                           # the NOP loop executes: never halted
            assert v["guest_halted_ns"] == v["gtime_halted_ns"] == 0
        else:
            assert v["guest_halted_ns"] + v["guest_unhalted_ns"] == v["guest_ns"]
            assert v["guest_halted_ns"] == pytest.approx(0.8 * 200 * MS, rel=0.05)
            assert 0 < v["gtime_halted_ns"] <= v["guest_halted_ns"]


# ------------------------------------------------------------------ accounting and conservation
def test_full_queue_drops_and_accounting_stays_exact():
    r = run(dict(vcpus=1, pin=[0], tasks=[Task("hog", Hog())],
                 deferred_work=DW(rate_per_s=50_000, size_ns=50_000, queue_capacity=4)))
    t = r.deferred_work
    assert t["dropped"][0] > 0 and t["queued"][0] <= 4 and t["in_service"][0] <= 1


POLICIES = {
    "stock": dict(),
    "nop_yield": dict(mwait_yield=True),
    "pass": dict(mwait_exits=False, hlt_exits=False),
    "rfc": dict(deferred_work=DW(rate_per_s=3000, size_ns=30_000, executor="vcpu", fallback_timer_ns=5 * MS)),
    "toggle": dict(deferred_work=DW(rate_per_s=3000, size_ns=30_000, intercept_toggle=True, fallback_timer_ns=5 * MS)),
    "toggle_vcpu": dict(deferred_work=DW(rate_per_s=3000, size_ns=30_000, intercept_toggle=True, executor="vcpu",
                                         mmio_items=True)),
    "threads": dict(deferred_work=DW(rate_per_s=3000, size_ns=30_000, threads=3, mmio_items=True, priority="high")),
}


@pytest.mark.parametrize("insn,policy", list(itertools.product(["hlt", "mwait"], POLICIES)))
def test_conservation_and_determinism_across_policies(insn, policy):
    tasks = [Task("ct", Cyclictest(interval_ns=500_000)),
             Task("io", Phases([("run", 100_000), ("mmio", 3_000), ("sleep", 400_000)]), count=2)]
    vm = dict(vcpus=2, tasks=tasks, guest=GuestKernel(idle_instruction=insn), **POLICIES[policy])
    a = run(vm, host_tasks=[Task("bg", RunSleep(run_ns=700_000, sleep_ns=900_000))], cpus=2, dur=60 * MS, seed=3)
    b = run(vm, host_tasks=[Task("bg", RunSleep(run_ns=700_000, sleep_ns=900_000))], cpus=2, dur=60 * MS, seed=3)
    assert a.events == b.events
    for k in ("vmm", "vcpu"):
        for col, val in a.raw[k].items():
            assert np.array_equal(val, b.raw[k][col]), col


# ------------------------------------------------------------------ scenario options
def test_options_round_trip_and_bad_values():
    vm = VM("g", vcpus=2, guest=GuestKernel(idle_instruction="mwait", idle_loop_ns=700), mwait_yield=True,
            userspace_exit_ns=6_000, tasks=[Task("ct", Cyclictest())],
            deferred_work=DW(rate_per_s=1500.5, executor="vcpu", thread_cpus=[1], fallback_timer_ns=MS))
    sc = Scenario(host=Host(cpus=2), vms=[vm])
    assert Scenario.from_toml(sc.to_toml()) == sc
    d = sc.to_dict()
    assert d["vms"][0]["deferred_work"]["rate_per_s"] == 1500.5 and d["vms"][0]["guest"]["idle_instruction"] == "mwait"
    for path, val in [("vms[0].guest.idle_instruction", "pause"), ("vms[0].guest.idle_loop_ns", 0),
                      ("vms[0].mwait_exits", "no"), ("vms[0].userspace_exit_ns", -1),
                      ("vms[0].deferred_work.executor", "gpu"), ("vms[0].deferred_work.thread_cpus[0]", 2),
                      ("vms[0].deferred_work.thread_cgroup", "missing"), ("vms[0].deferred_work.bogus", 1)]:
        from pvsched.paths import set_path
        bad = sc.to_dict()
        set_path(bad, path, val)
        with pytest.raises(ScenarioError) as e:
            Scenario.from_dict(bad)
        assert e.value.path == path, (path, e.value)
    with pytest.raises(ScenarioError) as e:      # the guest kernel's constructor checks it
        GuestKernel(idle_instruction="mwait", idle_poll_ns=1000)
    assert e.value.path == "GuestKernel.idle_poll_ns"


def test_unmodelled_combinations_say_so():
    from pvsched import BoostPolicy
    with pytest.raises(NotModelledError):
        Scenario(host=Host(cpus=1), vms=[VM("g", vcpus=1, boost=BoostPolicy("dynamic"),
                                             guest=GuestKernel(idle_instruction="mwait"))]).validate()
    with pytest.raises(NotModelledError):
        Scenario(host=Host(cpus=1), vms=[VM("g", vcpus=2, tasks=[Task("l", SpinlockLoop())],
                                             deferred_work=DW(rate_per_s=10))]).validate()


def test_options_are_sweepable_by_field_path():
    pytest.importorskip("pandas")
    import pvsched
    base = Scenario(host=Host(cpus=1), duration_ns=30 * MS,
                    vms=[VM("g", vcpus=1, pin=[0], tasks=[Task("ct", Cyclictest(interval_ns=MS))],
                            deferred_work=DW(rate_per_s=2000, size_ns=20_000))])
    df = pvsched.sweep(base, grid={"vms[0].deferred_work.executor": ["thread", "vcpu"],
                                   "vms[0].guest.idle_instruction": ["hlt", "mwait"]},
                       metrics=["work_done_per_s:g", "work_lat_p99_ns:g", "vmm_cpu_frac:g", "exits_mwait:g",
                                "idle_burn_frac:g", "user_exits:g"], workers=0)
    assert len(df) == 4
    mw = df[df["vms[0].guest.idle_instruction"] == "mwait"]
    assert (mw["exits_mwait:g"] > 0).all() and (df[df["vms[0].guest.idle_instruction"] == "hlt"]["exits_mwait:g"] == 0).all()
    vc = df[df["vms[0].deferred_work.executor"] == "vcpu"]
    assert (vc["vmm_cpu_frac:g"] == 0).all() and (vc["user_exits:g"] > 0).all()
    assert (df["work_done_per_s:g"] > 1000).all()
    with pytest.raises(ScenarioError):
        pvsched.sweep(base, grid={"vms[0].deferred_work.executor": ["gpu"]}, workers=0)


# ------------------------------------------------------------------ random configurations
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@st.composite
def vmm_scenarios(draw):
    cpus = draw(st.integers(1, 3))
    vcpus = draw(st.integers(1, 3))
    pin = draw(st.one_of(st.none(), st.lists(st.integers(0, cpus - 1), min_size=vcpus, max_size=vcpus)))
    tasks = []
    for i in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["ct", "hog", "rs", "io"]))
        w = {"ct": Cyclictest(interval_ns=draw(st.integers(200_000, 2 * MS))), "hog": Hog(),
             "rs": RunSleep(run_ns=draw(st.integers(10_000, MS)), sleep_ns=draw(st.integers(10_000, MS))),
             "io": Phases([("run", draw(st.integers(5_000, 300_000))), ("mmio", draw(st.integers(500, 5_000))),
                           ("sleep", draw(st.integers(10_000, MS)))])}[kind]
        count = draw(st.integers(1, 2))
        policy = draw(st.sampled_from(["normal", "normal", "fifo"]))
        # a Task validates itself: give the fifo ones their priority when constructed
        tasks.append(Task(f"t{i}", w, count=count, policy=policy, rt_priority=50 if policy == "fifo" else 0))
    dw = DW(rate_per_s=draw(st.sampled_from([0, 500, 5000, 50_000])), arrival=draw(st.sampled_from(["poisson", "periodic"])),
            size_ns=draw(st.integers(1, 300_000)), size_dist=draw(st.sampled_from(["fixed", "uniform", "exponential"])),
            size_spread_ns=draw(st.integers(0, 100_000)), priority=draw(st.sampled_from(["low", "high"])),
            mmio_items=draw(st.booleans()), mmio_priority=draw(st.sampled_from(["low", "high"])),
            executor=draw(st.sampled_from(["thread", "vcpu"])), threads=draw(st.integers(1, 3)),
            thread_policy=draw(st.sampled_from(["normal", "batch", "idle"])),
            mwait_budget_ns=draw(st.sampled_from([0, 20_000, 10**6])), preempt_high=draw(st.booleans()),
            intercept_toggle=draw(st.booleans()), kick=draw(st.booleans()),
            fallback_timer_ns=draw(st.sampled_from([0, 0, 500_000, 3 * MS])),
            queue_capacity=draw(st.sampled_from([1, 8, 65_536])))
    insn = draw(st.sampled_from(["hlt", "mwait"]))
    vm = VM("g", vcpus=vcpus, pin=pin, tasks=tasks, deferred_work=dw,
            guest=GuestKernel(idle_instruction=insn, idle_loop_ns=draw(st.integers(200, 5_000)),
                              idle_poll_ns=draw(st.sampled_from([0, 20_000])) if insn == "hlt" else 0),
            hlt_exits=draw(st.booleans()), mwait_exits=draw(st.booleans()), mwait_yield=draw(st.booleans()),
            userspace_exit_ns=draw(st.integers(0, 10_000)), halt_poll_ns=draw(st.sampled_from([0, 200_000])))
    host_tasks = [Task("bg", RunSleep(run_ns=400_000, sleep_ns=600_000))] if draw(st.booleans()) else []
    return Scenario(host=Host(cpus=cpus, features={"YIELD_FORFEIT": draw(st.booleans())}), vms=[vm],
                    tasks=host_tasks, duration_ns=20 * MS, check_invariants=True, seed=draw(st.integers(0, 99)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=vmm_scenarios())
def test_random_configurations_keep_accounting_conservation_and_invariants(sc):
    r = Simulation(sc).run()
    assert r.violations["count"] == 0
    check_accounting(r)
    t = r.deferred_work
    assert (t["queued"] <= sc.vms[0].deferred_work.queue_capacity * 2).all()
    if not sc.vms[0].deferred_work.enabled():
        assert t["arrived"][0] == 0 and not [n for n in r.task_names if "/vmm-" in n]


def test_python_policy_sees_kvm_run_leave_and_context_switch():
    from pvsched import Policy

    class Watch(Policy):
        def __init__(self):
            self.kinds, self.runs, self.switches = {}, 0, 0

        def on_kvm_run_leave(self, ctx):
            self.kinds[ctx.kind] = self.kinds.get(ctx.kind, 0) + 1

        def on_kvm_run(self, ctx):
            self.runs += 1

    class Host0(Policy):
        def __init__(self):
            self.switches = 0

        def on_context_switch(self, ctx):
            assert ctx.cpu == 0 and ctx.vm is None
            self.switches += 1

    w, h = Watch(), Host0()
    vm = VM("g", vcpus=1, pin=[0], policy=w, guest=GuestKernel(idle_instruction="mwait"),
            tasks=[Task("ct", Cyclictest(interval_ns=MS))],
            deferred_work=DW(rate_per_s=2000, size_ns=10_000, executor="vcpu"))
    r = Simulation(Scenario(host=Host(cpus=1, policy=h), vms=[vm], duration_ns=20 * MS)).run()
    v = r.vcpu("g/vcpu0")
    # every return to userspace, plus one call per item run there, and a KVM_RUN after each visit
    assert sum(w.kinds.values()) == v["user_exits"] + v["vcpu_items"]
    assert w.kinds.get("mwait", 0) >= v["mwait_user_exits"] > 0
    assert w.runs == v["kvm_runs"] + 1                    # + the first KVM_RUN at thread start
    assert h.switches == int(r.cpus["nr_switches"][0])


# ------------------------------------------------------------------ the event trace (issue 18)
@pytest.mark.parametrize("scenario,policy", [("dedicated", "userspace"), ("dedicated", "nop_yield"),
                                             ("overcommit", "toggle"), ("busy", "userspace_fb")])
def test_trace_of_the_new_paths_agrees_with_the_engine_and_changes_nothing(scenario, policy):
    from pvsched._core import EXIT_REASONS
    from pvsched.experiments import seed004
    from pvsched.trace import TraceConfig
    build = getattr(seed004, f"scenario_{scenario}")
    off = Simulation(build(policy, duration_ns=60 * MS)).run()
    sc = build(policy, duration_ns=60 * MS)
    sc.trace = TraceConfig(enabled=True)
    r = Simulation(sc).run()
    t = r.trace
    for k in ("vmm", "vcpu", "task", "cpu"):
        a, b = off.raw[k], r.raw[k]
        for c in a:
            assert np.array_equal(a[c], b[c]), (k, c)
    assert np.array_equal(off.raw["vmm_lat_hist"], r.raw["vmm_lat_hist"]) and off.events == r.events
    for k, col in t.mode_ns().items():                      # vmm (userspace) time included
        assert col.tolist() == r.vcpus[k].tolist(), k
    ex = t.of_kind("kvm_exit")
    for i, reason in enumerate(EXIT_REASONS):                # mwait, monitor, signal included
        if reason != "entry":
            assert np.bincount(ex.a[ex.b == i], minlength=len(t.vcpu_vm)).tolist() == \
                r.vcpus["exits_" + reason].tolist(), reason
    text = t.to_ftrace(kernel="host")
    assert "reason UNKNOWN" not in text
    if int(r.vcpus["exits_mwait"].sum()):
        assert "reason MWAIT_INSTRUCTION" in text and "reason MONITOR_INSTRUCTION" in text


def test_perfetto_and_plot_show_the_vmm_mode_and_mwait_exits():
    pb2 = pytest.importorskip("perfetto.protos.perfetto.trace.perfetto_trace_pb2")
    pytest.importorskip("matplotlib")
    from pvsched.experiments import seed004
    from pvsched.plot import vcpu_modes
    from pvsched.trace import TraceConfig
    sc = seed004.scenario_dedicated("userspace", duration_ns=20 * MS)
    sc.trace = TraceConfig(enabled=True)
    r = Simulation(sc).run()
    names = set()
    for p in pb2.Trace.FromString(r.trace.to_perfetto()).packet:    # the Perfetto protos, not our writer
        if p.HasField("track_event") and p.track_event.name:
            names.add(p.track_event.name)
    assert {"vmm", "exit: mwait", "guest"} <= names
    fig = vcpu_modes(r)
    assert "vmm" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
