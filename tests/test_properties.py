"""Property tests (hypothesis): EEVDF bookkeeping invariants under random operation sequences,
long-run proportional share, work conservation / affinity / exclusivity on random scenarios,
and determinism.
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvsched import Cgroup, Host, Scenario, Simulation, Task
from pvsched.kernel import FairRunqueue, sched_prio_to_weight
from pvsched.workloads import Cyclictest, Hog, Periodic, Phases, RunSleep

U64 = 1 << 64


def s64(x):
    x %= U64
    return x - U64 if x >= 1 << 63 else x


# ------------------------------------------------------------------------------------------
# FairRunqueue: random operation sequences
# ------------------------------------------------------------------------------------------
OPS = st.one_of(
    st.tuples(st.just("new"), st.integers(-20, 19), st.integers(-3_000_000, 3_000_000),
              st.one_of(st.none(), st.integers(100_000, 20_000_000)), st.booleans()),
    st.tuples(st.just("wake"), st.integers(0, 10**6)),
    st.tuples(st.just("sleep"), st.integers(0, 10**6), st.booleans()),
    st.tuples(st.just("pick")),
    st.tuples(st.just("advance"), st.integers(0, 5_000_000)),
    st.tuples(st.just("yield")),
    st.tuples(st.just("reweight"), st.integers(0, 10**6), st.integers(2, 88761)),
    st.tuples(st.just("buddy"), st.integers(0, 10**6)),
)


def check_invariants(rq, nents):
    st_ = rq.state()
    ents = [rq.entity(i) for i in range(nents)]
    queued = [i for i in range(nents) if ents[i]["on_rq"]]
    curr = st_["curr"]
    tree = sorted(st_["tree"])
    # tree = queued entities minus curr
    assert tree == sorted(i for i in queued if i != curr)
    # nr_queued counts tree + curr if on_rq (delayed entities included)
    assert st_["nr_queued"] == len(queued)
    # load.weight = sum of queued load.weight (curr and delayed included)
    assert st_["load_weight"] == sum(ents[i]["load_weight"] for i in queued)
    # W_tree and S_tree bookkeeping
    assert st_["avg_load"] == sum(ents[i]["weight"] for i in tree)
    v0 = st_["min_vruntime"]
    assert st_["avg_vruntime"] == sum(s64(ents[i]["vruntime"] - v0) * ents[i]["weight"] for i in tree)
    # sum of lags is zero up to V's floor bias: -W < sum w_i (V - v_i) <= 0
    W = st_["sum_weight"]
    if W:
        assert -W < st_["sum_weighted_lag"] <= 0, st_
    # every delayed entity is queued
    for e in ents:
        if e["sched_delayed"]:
            assert e["on_rq"]
    # the next buddy (if any) is queued
    if st_["next"] is not None:
        assert ents[st_["next"]]["on_rq"]
    return st_


def apply(rq, op, nents, features):
    kind = op[0]
    queued = [i for i in range(nents) if rq.entity(i)["on_rq"]]
    if kind == "new":
        _, nice, vlag, slc, initial = op
        rq.enqueue(nice=nice, vlag=vlag, slice_ns=slc, flags="initial" if initial else "wakeup")
        return nents + 1
    if kind == "wake":
        sleeping = [i for i in range(nents) if not rq.entity(i)["on_rq"]]
        if sleeping:
            rq.enqueue(sleeping[op[1] % len(sleeping)])
        return nents
    if kind == "sleep":
        cand = [i for i in queued if not rq.entity(i)["sched_delayed"]]
        if cand:
            i = cand[op[1] % len(cand)]
            rq.dequeue(i, sleep=op[2])
            if rq.curr == i:
                rq.put_prev()          # __schedule() puts the blocked task right away
        return nents
    if kind == "pick":
        i = rq.pick()
        if i is not None:
            rq.set_curr(i)
        return nents
    if kind == "advance":
        c = rq.curr
        if c is not None and rq.entity(c)["on_rq"]:
            rq.advance(op[1])
        return nents
    if kind == "yield":
        if rq.curr is not None and rq.entity(rq.curr)["on_rq"]:
            rq.yield_()
        return nents
    if kind == "reweight":
        if nents:
            rq.reweight(op[1] % nents, op[2])
        return nents
    if kind == "buddy":
        cand = [i for i in queued if not rq.entity(i)["sched_delayed"]]
        if cand:
            rq.set_next_buddy(cand[op[1] % len(cand)])
        return nents
    raise AssertionError(kind)


FEATURE_SETS = st.fixed_dictionaries({
    "DELAY_DEQUEUE": st.booleans(), "DELAY_ZERO": st.booleans(), "RUN_TO_PARITY": st.booleans(),
    "PLACE_LAG": st.booleans(), "YIELD_FORFEIT": st.booleans(), "PREEMPT_SHORT": st.booleans(),
})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=80), features=FEATURE_SETS,
       nr_cpus=st.sampled_from([1, 2, 8]), hz=st.sampled_from([100, 250, 1000]),
       v0=st.one_of(st.just(None), st.integers(0, U64 - 1)))
def test_fair_runqueue_invariants_random_ops(ops, features, nr_cpus, hz, v0):
    rq = FairRunqueue(nr_cpus=nr_cpus, hz=hz, features=features, min_vruntime=v0)
    n = 0
    for op in ops:
        n = apply(rq, op, n, features)
        check_invariants(rq, n)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(OPS, min_size=1, max_size=60))
def test_pick_is_earliest_eligible_deadline(ops):
    """After any sequence of operations, pick_eevdf (with RUN_TO_PARITY off and no curr)
    returns the first eligible entity in deadline order."""
    rq = FairRunqueue(features={"RUN_TO_PARITY": False})
    n = 0
    for op in ops:
        n = apply(rq, op, n, None)
    rq.put_prev()
    st_ = rq.state()
    tree = st_["tree"]
    if not tree:
        return
    got = rq.pick_eevdf()
    if st_["nr_queued"] == 1:
        assert got == tree[0]
        return
    ents = {i: rq.entity(i) for i in tree}
    eligible = [i for i in tree if rq.eligible(i)]
    assert eligible, "V itself is always eligible, so some entity must be"
    best = min(s64(ents[i]["deadline"] - st_["min_vruntime"]) for i in eligible)
    assert got in eligible
    assert s64(ents[got]["deadline"] - st_["min_vruntime"]) == best


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(OPS, min_size=1, max_size=40))
def test_some_queued_entity_is_always_eligible(ops):
    rq = FairRunqueue()
    n = 0
    for op in ops:
        n = apply(rq, op, n, None)
        queued = [i for i in range(n) if rq.entity(i)["on_rq"]]
        if queued:
            assert any(rq.eligible(i) for i in queued)


# ------------------------------------------------------------------------------------------
# Long-run CPU share is proportional to weight
# ------------------------------------------------------------------------------------------
TEN_S = 10_000_000_000


@settings(max_examples=40, deadline=None)
@given(nices=st.lists(st.integers(-5, 5), min_size=2, max_size=5), fair_class=st.sampled_from(["eevdf", "cfs"]))
def test_share_proportional_to_weight_one_cpu(nices, fair_class):
    tasks = [Task(f"t{i}", Hog(), nice=n) for i, n in enumerate(nices)]
    r = Simulation(Scenario(host=Host(cpus=1, fair_class=fair_class), tasks=tasks)).run(until_ns=TEN_S)
    W = sum(sched_prio_to_weight(n) for n in nices)
    total = 0
    for i, n in enumerate(nices):
        got = r.task(f"t{i}").cpu_ns
        total += got
        expect = TEN_S * sched_prio_to_weight(n) / W
        # CFS START_DEBIT places each new task a vslice ahead once; the first one, alone on the
        # queue, is debited a whole 6 ms period of its own runtime, which 10 s never pays back
        debit = 6_000_000 if fair_class == "cfs" else 0
        assert abs(got - expect) <= 0.01 * expect + debit, (i, n, got, expect)
    assert total == TEN_S


def test_share_nested_cgroups_mixed_weights():
    sc = Scenario(host=Host(cpus=1), cgroups=[
        Cgroup("A", weight=300), Cgroup("A1", parent="A", weight=100),
        Cgroup("A2", parent="A", weight=200), Cgroup("B", weight=100)],
        tasks=[Task("a1", Hog(), cgroup="A1", count=2), Task("a2", Hog(), cgroup="A2"),
               Task("b", Hog(), cgroup="B")])
    r = Simulation(sc).run(until_ns=TEN_S)
    # A:B = 3:1; inside A, A1:A2 = 1:2; A1's two hogs split evenly
    expect = {"a1[0]": 0.125, "a1[1]": 0.125, "a2": 0.5, "b": 0.25}
    for name, frac in expect.items():
        got = r.task(name).cpu_ns
        assert abs(got - frac * TEN_S) <= 0.01 * frac * TEN_S, (name, got)


@settings(max_examples=25, deadline=None)
@given(wa=st.integers(20, 500), wb=st.integers(20, 500), na=st.integers(1, 3), nb=st.integers(1, 3))
def test_share_between_cgroups_independent_of_task_count(wa, wb, na, nb):
    sc = Scenario(host=Host(cpus=1), cgroups=[Cgroup("A", weight=wa), Cgroup("B", weight=wb)],
                  tasks=[Task("a", Hog(), cgroup="A", count=na), Task("b", Hog(), cgroup="B", count=nb)])
    r = Simulation(sc).run(until_ns=TEN_S)
    sa, sb = Cgroup("A", weight=wa).shares(), Cgroup("B", weight=wb).shares()
    got_a = sum(r.task(n).cpu_ns for n in r.task_names if n.startswith("a"))
    expect_a = TEN_S * sa / (sa + sb)
    assert abs(got_a - expect_a) <= 0.01 * min(expect_a, TEN_S - expect_a)


# ------------------------------------------------------------------------------------------
# Work conservation, exclusivity, affinity on random multi-CPU scenarios
# ------------------------------------------------------------------------------------------
@st.composite
def scenarios(draw, fair_classes=("eevdf", "cfs")):
    ncpu = draw(st.integers(2, 6))
    ncg = draw(st.integers(0, 4))
    cgroups = []
    for i in range(ncg):
        parent = draw(st.one_of(st.none(), st.sampled_from([c.name for c in cgroups]))) if cgroups else None
        cgroups.append(Cgroup(f"g{i}", parent=parent, weight=draw(st.integers(1, 10000)),
                              idle=draw(st.booleans()) if i == 0 else False))
    ntask = draw(st.integers(1, 10))
    tasks = []
    for i in range(ntask):
        kind = draw(st.sampled_from(["hog", "periodic", "runsleep", "phases", "cyclictest"]))
        if kind == "hog":
            w = Hog()
        elif kind == "periodic":
            period = draw(st.integers(200_000, 20_000_000))
            w = Periodic(run_ns=draw(st.integers(1_000, period)), period_ns=period,
                         jitter_ns=draw(st.integers(0, 100_000)),
                         run_jitter_ns=draw(st.integers(0, 100_000)),
                         offset_ns=draw(st.integers(0, 1_000_000)))
        elif kind == "runsleep":
            w = RunSleep(run_ns=draw(st.integers(1_000, 5_000_000)), sleep_ns=draw(st.integers(1_000, 5_000_000)),
                         run_jitter_ns=draw(st.integers(0, 500_000)), sleep_jitter_ns=draw(st.integers(0, 500_000)))
        elif kind == "phases":
            n = draw(st.integers(1, 4))
            ph = []
            for _ in range(n):
                k = draw(st.sampled_from(["run", "sleep", "yield", "timer"]))
                ph.append(("yield",) if k == "yield" else (k, draw(st.integers(1_000, 3_000_000))))
            kinds = {p[0] for p in ph}
            if "yield" in kinds and not kinds & {"run", "sleep"}:     # a timed phase that takes time
                ph.append(("run", 100_000))
            w = Phases(ph, loops=draw(st.integers(0, 20)))
        else:
            w = Cyclictest(interval_ns=draw(st.integers(100_000, 2_000_000)), work_ns=draw(st.integers(1, 50_000)))
        policy = draw(st.sampled_from(["normal", "normal", "normal", "batch", "idle", "fifo", "rr"]))
        rt = draw(st.integers(1, 99)) if policy in ("fifo", "rr") else 0
        cpus = None
        if draw(st.booleans()):
            cpus = sorted(draw(st.sets(st.integers(0, ncpu - 1), min_size=1)))
        cg = draw(st.sampled_from([None] + [c.name for c in cgroups])) if policy not in ("fifo", "rr") else None
        tasks.append(Task(f"t{i}", w, policy=policy, rt_priority=rt, nice=draw(st.integers(-20, 19)),
                          cgroup=cg, cpus=cpus, start_ns=draw(st.integers(0, 5_000_000)),
                          slice_ns=draw(st.one_of(st.none(), st.integers(100_000, 10_000_000))),
                          count=draw(st.integers(1, 3))))
    fair_class = draw(st.sampled_from(fair_classes))
    if fair_class == "eevdf":
        features = {"DELAY_DEQUEUE": draw(st.booleans()), "NEXT_BUDDY": draw(st.booleans())}
    else:
        features = {"NEXT_BUDDY": draw(st.booleans()), "GENTLE_FAIR_SLEEPERS": draw(st.booleans())}
    hkw = dict(cpus=ncpu, hz=draw(st.sampled_from([100, 250, 1000])),
                preempt=draw(st.sampled_from(["full", "lazy"])),
                rt_guard=draw(st.sampled_from(["fair_server", "rt_throttle", "none"])),
                nohz_idle=draw(st.booleans()),
                features=features,
                fair_server_runtime_ns=draw(st.sampled_from([50_000_000, 5_000_000])),
                fair_server_period_ns=draw(st.sampled_from([1_000_000_000, 100_000_000])),
                rt_runtime_ns=draw(st.sampled_from([95_000_000, 950_000_000])),
                rt_period_ns=draw(st.sampled_from([100_000_000, 1_000_000_000])),
                load_balance=draw(st.booleans()),
                periodic_balance=draw(st.booleans()),
                fair_class=fair_class)
    hkw["fair_server_runtime_ns"] = min(hkw["fair_server_runtime_ns"], hkw["fair_server_period_ns"])
    hkw["rt_runtime_ns"] = min(hkw["rt_runtime_ns"], hkw["rt_period_ns"])
    host = Host(**hkw)        # a Host validates itself: build it from consistent values
    until = draw(st.integers(50_000_000, 200_000_000))
    return Scenario(host=host, cgroups=cgroups, tasks=tasks, seed=draw(st.integers(0, 2**64 - 1)),
                    shuffle_ties=draw(st.booleans()), check_invariants=True), until


def _affinity(sc, name):
    base = name.split("[")[0]
    t = next(t for t in sc.tasks if t.name == base)
    return set(range(sc.host.cpus)) if t.cpus is None else set(t.cpus)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
def test_random_scenarios_keep_invariants(case):
    sc, until = case
    sim = Simulation(sc)
    # run in a few pieces: results must be consistent at every stop
    for stop in (until // 3, until):
        r = sim.run(until_ns=stop)
        assert r.violations["count"] == 0, r.violations
        assert r.now_ns == stop
        cpu_ns = r.raw["task"]["cpu_ns"]
        busy = r.raw["cpu"]["busy_ns"]
        assert (cpu_ns >= 0).all() and (cpu_ns <= stop).all()
        assert (busy >= 0).all() and (busy <= stop).all()
        # CPU time handed out equals CPU time used (no context-switch cost configured)
        assert int(cpu_ns.sum()) == int(busy.sum())
        assert int(cpu_ns.sum()) <= sc.host.cpus * stop
        # every periodic-balance move is a migration; none happens with balancing off
        moved = int(r.cpus["lb_moved"].sum())
        assert moved <= int(r.raw["task"]["nr_migrations"].sum())
        if not (sc.host.load_balance and sc.host.periodic_balance):
            assert int(r.cpus["lb_runs"].sum()) == 0
        assert (r.cpus["lb_failed"] <= r.cpus["lb_runs"]).all()
        assert ((r.cpus["lb_moved"] == 0) | (r.cpus["lb_runs"] > 0)).all()
        # tasks pinned to one CPU together never get more than that CPU's time
        pinned = {}
        for i, name in enumerate(r.task_names):
            aff = _affinity(sc, name)
            assert r.raw["task"]["cpu"][i] in aff, (name, aff)
            if len(aff) == 1:
                c = next(iter(aff))
                pinned[c] = pinned.get(c, 0) + int(cpu_ns[i])
        for c, tot in pinned.items():
            assert tot <= int(busy[c]) <= stop
        # a task is running or waiting for at most its lifetime
        wait_ns = r.raw["task"]["wait_ns"]
        for i, name in enumerate(r.task_names):
            base = next(t for t in sc.tasks if t.name == name.split("[")[0])
            life = max(0, stop - base.start_ns)
            assert 0 <= wait_ns[i]
            assert cpu_ns[i] + wait_ns[i] <= life, (name, cpu_ns[i], wait_ns[i], life)
        # where every task is currently running, it is allowed, and no task runs twice
        running = [t for t in sim.engine.running() if t >= 0]
        assert len(running) == len(set(running))
        for c, t in enumerate(sim.engine.running()):
            if t >= 0:
                assert c in _affinity(sc, r.task_names[t])
                assert r.raw["task"]["cpu"][t] == c


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
def test_running_never_double_booked_fine_grained(case):
    """Sample the engine every 100 us: a task is current on at most one CPU, idle CPUs have
    no runnable work they are allowed to run (checked by the engine), and affinity holds."""
    sc, until = case
    sim = Simulation(sc)
    until = min(until, 30_000_000)
    for t in range(0, until + 1, 100_000):
        sim.engine.run(t)
        running = sim.engine.running()
        busy = [x for x in running if x >= 0]
        assert len(busy) == len(set(busy))
        for c, x in enumerate(running):
            if x >= 0:
                assert c in _affinity(sc, sim.task_names[x])
    assert sim.engine.violations["count"] == 0


# ------------------------------------------------------------------------------------------
# Determinism
# ------------------------------------------------------------------------------------------
def _raw_equal(a, b):
    import numpy as np
    for k in a["task"]:
        if not np.array_equal(a["task"][k], b["task"][k]):
            return False
    for k in a["cpu"]:
        if not np.array_equal(a["cpu"][k], b["cpu"][k]):
            return False
    return (np.array_equal(a["task_lat_hist"], b["task_lat_hist"]) and a["events"] == b["events"]
            and a["now_ns"] == b["now_ns"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
def test_same_scenario_same_seed_same_result(case):
    sc, until = case
    r1 = Simulation(sc).run(until_ns=until)
    r2 = Simulation(sc).run(until_ns=until)
    assert _raw_equal(r1.raw, r2.raw)


def _jittery(seed, shuffle=False):
    return Scenario(host=Host(cpus=2), seed=seed, shuffle_ties=shuffle, tasks=[
        Task("p", Periodic(run_ns=200_000, period_ns=1_000_000, jitter_ns=300_000, run_jitter_ns=200_000), count=3),
        Task("rs", RunSleep(run_ns=500_000, sleep_ns=700_000, run_jitter_ns=400_000, sleep_jitter_ns=400_000), count=2),
        Task("h", Hog())])


@pytest.mark.parametrize("shuffle", [False, True])
def test_determinism_with_seed(shuffle):
    a = Simulation(_jittery(7, shuffle)).run(until_ns=200_000_000)
    b = Simulation(_jittery(7, shuffle)).run(until_ns=200_000_000)
    assert _raw_equal(a.raw, b.raw)


def test_different_seeds_differ_with_jitter():
    a = Simulation(_jittery(1)).run(until_ns=200_000_000)
    b = Simulation(_jittery(2)).run(until_ns=200_000_000)
    assert not _raw_equal(a.raw, b.raw)


def test_shuffle_ties_seed_matters():
    # equal-time events (ticks on every CPU, simultaneous timers) are ordered by the seed
    def sc(seed):
        return Scenario(host=Host(cpus=4), seed=seed, shuffle_ties=True,
                        tasks=[Task("c", Cyclictest(interval_ns=1_000_000, work_ns=300_000), count=8)])
    runs = [Simulation(sc(s)).run(until_ns=100_000_000) for s in range(6)]
    assert any(not _raw_equal(runs[0].raw, r.raw) for r in runs[1:])


def test_run_in_pieces_equals_one_run():
    sim = Simulation(_jittery(3))
    for t in range(10_000_000, 200_000_001, 10_000_000):
        r1 = sim.run(until_ns=t)
    r2 = Simulation(_jittery(3)).run(until_ns=200_000_000)
    assert _raw_equal(r1.raw, r2.raw)


# ------------------------------------------------------------------------------------------
# RT: the highest-priority RT tasks are the ones running (push/pull, cpupri)
# ------------------------------------------------------------------------------------------
TS_RUNNABLE = 1


def _rt_scenario(seed):
    import random
    rnd = random.Random(seed)
    ncpu = rnd.randint(2, 5)
    tasks = []
    for i in range(rnd.randint(2, 10)):
        pol = rnd.choice(["fifo", "rr", "normal"])
        w = rnd.choice([Hog(),
                        RunSleep(run_ns=rnd.randint(10_000, 3_000_000), sleep_ns=rnd.randint(10_000, 3_000_000)),
                        Periodic(run_ns=rnd.randint(10_000, 500_000), period_ns=rnd.randint(600_000, 3_000_000))])
        cpus = sorted(rnd.sample(range(ncpu), rnd.randint(1, ncpu))) if rnd.random() < 0.5 else None
        tasks.append(Task(f"t{i}", w, policy=pol, rt_priority=rnd.randint(1, 99) if pol != "normal" else 0,
                          cpus=cpus, start_ns=rnd.randint(0, 3_000_000)))
    # no RT starvation guard: with one, fair work legitimately runs while RT waits
    return Scenario(host=Host(cpus=ncpu, rt_guard="none"), tasks=tasks, seed=seed)


def _rt_priority_violations(sc, until=30_000_000, step=100_000):
    sim = Simulation(sc)
    out = []

    def prio(t):   # kernel prio of what a CPU runs: idle and fair are below every RT prio
        if t < 0:
            return 1000
        task = sc.tasks[t]
        return 99 - task.rt_priority if task.policy in ("fifo", "rr") else 500

    for now in range(0, until + 1, step):
        sim.engine.run(now)
        state = sim.engine.results()["task"]["state"]
        running = sim.engine.running()
        for i, task in enumerate(sc.tasks):
            if task.policy not in ("fifo", "rr") or state[i] != TS_RUNNABLE:
                continue
            mine = 99 - task.rt_priority
            for c in (task.cpus if task.cpus is not None else range(sc.host.cpus)):
                if prio(running[c]) > mine:
                    out.append((now, task.name, c, running[c]))
    return out


def test_waiting_rt_task_never_has_a_lower_priority_cpu():
    bad = {}
    for seed in range(40):
        v = _rt_priority_violations(_rt_scenario(seed))
        if v:
            bad[seed] = v[:3]
    assert not bad, bad


# ------------------------------------------------------------------------------------------
# Engine-wide cfs_rq bookkeeping in random hierarchies
# ------------------------------------------------------------------------------------------
def _check_engine_cfs(sim):
    e = sim.engine
    sc = sim.scenario
    ncpu = sc.host.cpus
    names = sim.cgroup_names                     # engine tg index -> cgroup name (0 = root)
    ntg = len(names)
    parent = {c.name: c.parent for c in sc.cgroups}

    def ancestors(tg):                           # tg indices from tg up to the root
        out = [tg]
        n = names[tg]
        while n is not None:
            n = parent[n]
            out.append(names.index(n))
        return out

    ntask = len(sim.task_names)
    tasks = [e.entity(i) for i in range(ntask)]
    policy = {}
    for t in sc.tasks:
        for n in t.names():
            policy[n] = t.policy
    fair = [i for i, n in enumerate(sim.task_names) if policy[n] in ("normal", "batch", "idle")]
    task_tg = {i: names.index(next(t.cgroup for t in sc.tasks if sim.task_names[i] in t.names())) for i in fair}
    running = e.running()
    for tg in range(ntg):
        for c in range(ncpu):
            st = e.cfs_rq_state(tg, c)
            ents = {n: e.entity(n) for n in set(st["tree"]) | set(st["members"])}
            assert st["avg_load"] == sum(ents[n]["weight"] for n in st["tree"])
            v0 = st["min_vruntime"]
            assert st["avg_vruntime"] == sum(s64(ents[n]["vruntime"] - v0) * ents[n]["weight"] for n in st["tree"])
            if st["sum_weight"]:
                assert -st["sum_weight"] < st["sum_weighted_lag"] <= 0
            assert st["nr_queued"] == len(st["members"])
            assert st["load_weight"] == sum(ents[n]["load_weight"] for n in st["members"])
            for n in st["members"]:
                assert ents[n]["on_rq"]
                assert ents[n]["cfs_rq"] == tg * ncpu + c
            if st["curr"] is not None:
                assert st["curr"] not in st["tree"]
            # hierarchical counts: fair tasks of this group's subtree queued on this CPU
            queued = [i for i in fair if tasks[i]["on_rq"] and tasks[i]["cfs_rq"] % ncpu == c
                      and tg in ancestors(task_tg[i])]
            assert st["h_nr_queued"] == len(queued), (tg, c, st, queued)
            assert st["h_nr_runnable"] == sum(1 for i in queued if not tasks[i]["sched_delayed"])
            # a group queue with work keeps its group entity queued
            if tg > 0 and st["nr_queued"]:
                assert e.entity(e.group_entity(tg, c))["on_rq"]
    # the running fair task is curr at every level of its hierarchy
    for c, t in enumerate(running):
        if t >= 0 and t in fair:
            n = t
            while n >= 0:
                ent = e.entity(n)
                q = ent["cfs_rq"]
                assert e.cfs_rq_state(q // ncpu, q % ncpu)["curr"] == n
                n = ent["parent"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios(fair_classes=("eevdf",)))
def test_engine_cfs_rq_bookkeeping(case):
    sc, until = case
    sim = Simulation(sc)
    step = max(until // 25, 1)
    for t in range(0, until + 1, step):
        sim.engine.run(t)
        _check_engine_cfs(sim)
