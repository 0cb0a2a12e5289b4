"""vCPU priority boosting (seed 000): the experiment's shapes and every policy rule."""
import numpy as np
import pytest

from pvsched import VM, BoostPolicy, GuestKernel, Host, Scenario, ScenarioError, Simulation, Task
from pvsched.experiments import seed000
from pvsched.workloads import Cyclictest, Hog, Periodic, Phases, RunSleep


@pytest.fixture(scope="module")
def seed_rows():
    return seed000.run_cyclictest(seed000.Setup())


def test_busy_host_vanilla_at_least_10x_dynamic(seed_rows):
    for interval in (500, 1000):
        row = seed_rows[("busy", interval)]
        assert row["vanilla"]["guest_avg"] >= 10 * row["dynamic"]["guest_avg"]


def test_busy_host_dynamic_within_2x_of_static(seed_rows):
    for interval in (500, 1000):
        row = seed_rows[("busy", interval)]
        d, s = row["dynamic"]["guest_avg"], row["static"]["guest_avg"]
        assert max(d, s) <= 2 * min(d, s)


def test_idle_host_all_modes_within_2x(seed_rows):
    for interval in (500, 1000):
        avgs = [seed_rows[("idle", interval)][m]["guest_avg"] for m in seed000.MODES]
        assert max(avgs) <= 2 * min(avgs)


def test_static_hurts_host_max_most_on_busy_host(seed_rows):
    for interval in (500, 1000):
        row = seed_rows[("busy", interval)]
        assert row["static"]["host_max"] > row["vanilla"]["host_max"]
        assert row["static"]["host_max"] > row["dynamic"]["host_max"]


def test_audio_misses_fall_with_dynamic_at_short_buffers_only():
    rows = seed000.run_oboe(seed000.Setup(duration_ns=2_000_000_000), buffers_ms=(4, 10))
    assert rows[4]["busy vanilla"] >= 3 * max(rows[4]["busy dynamic"], 1)
    assert abs(rows[10]["busy vanilla"] - rows[10]["busy dynamic"]) <= 2
    assert rows[4]["noload vanilla"] <= 2 and rows[4]["noload dynamic"] <= 2


def one_vcpu(tasks, boost, host_tasks=(), host=None, **vm):
    return Scenario(host=host or Host(cpus=1, fair_class="cfs"), vms=[VM("g", vcpus=1, tasks=tasks, boost=boost,
                                                                   guest=GuestKernel(fair_class="cfs"), **vm)],
                    tasks=list(host_tasks), check_invariants=True)


def run(sc, until=1_000_000_000):
    r = Simulation(sc).run(until_ns=until)
    assert r.violations["count"] == 0
    return r


def test_lazy_boost_request_takes_effect_only_at_the_next_exit():
    # A guest RT task's lazy boost request needs an exit: with no host tick exits, no timer
    # exits and no halts (the vCPU never idles), the host never reads it.
    tasks = [Task("rt", Periodic(run_ns=100_000, period_ns=1_000_000), policy="fifo", rt_priority=10),
             Task("spin", Hog())]
    quiet = Host(cpus=1, fair_class="cfs", tick_exits=False)
    r = run(one_vcpu(tasks, BoostPolicy("dynamic"), host=quiet, timer_exits=False), 200_000_000)
    assert r.vcpu("g/vcpu0")["boosts_request"] == 0
    r = run(one_vcpu(tasks, BoostPolicy("dynamic"), timer_exits=False), 200_000_000)  # host ticks exit
    assert r.vcpu("g/vcpu0")["boosts_request"] > 0


def test_cap_unboosts_preempt_disabled_boost_after_3000us():
    # Patch-3 variant: preempt-disabled alone asks for a boost; a 20 ms section hits the cap.
    tasks = [Task("k", Phases([("critical", 20_000_000), ("sleep", 30_000_000)]))]
    pol = BoostPolicy("dynamic", triggers={"preempt_disabled": True, "halt": False, "kick_timer": False})
    sc = one_vcpu(tasks, pol, host_tasks=[Task("hog", Hog())])
    r = run(sc, 1_000_000_000)
    v = r.vcpu("g/vcpu0")
    assert v["unboosts_cap"] >= 15
    # each boost of a section ends at the first exit after 3 ms (host tick: 1 ms)
    assert v["boosted_run_ns"] <= v["boosts_preempt_disabled"] * 4_100_000
    off = BoostPolicy("dynamic", cap_us=0, triggers={"preempt_disabled": True, "halt": False, "kick_timer": False})
    v2 = run(one_vcpu(tasks, off, host_tasks=[Task("hog", Hog())]), 1_000_000_000).vcpu("g/vcpu0")
    assert v2["unboosts_cap"] == 0 and v2["boosted_run_ns"] > 2 * v["boosted_run_ns"]


def test_bounded_budget_never_holds_rt_longer_than_budget_and_repays_debt():
    rogue = dict(rogue="hold_boost", generic_budget_ns=50_000_000, cs_budget_ns=2_000_000)
    sc = one_vcpu([Task("spin", Hog())], BoostPolicy("bounded", **rogue), host_tasks=[Task("hog", Hog())])
    r = run(sc, 1_000_000_000)
    v = r.vcpu("g/vcpu0")
    assert v["unboosts_budget"] >= 1
    boosted = v["boosted_run_ns"] + v["boosted_wait_ns"] + v["boosted_blocked_ns"]
    # 1:1 recovery: at most half the time boosted (plus one budget), each boost <= the budget
    assert boosted <= 0.5 * 1e9 + 50_000_000
    assert boosted <= (v["boosts_request"] + v["boosts_pending"] + v["boosts_halt"]) * 50_000_000 + 2_000_000
    # the host hog keeps a fair share; under plain dynamic the rogue guest starves it
    hog_bounded = r.task("hog").cpu_ns
    r2 = run(one_vcpu([Task("spin", Hog())], BoostPolicy("dynamic", rogue="hold_boost"),
                      host_tasks=[Task("hog", Hog())]), 1_000_000_000)
    assert r2.task("hog").cpu_ns < 0.1 * 1e9
    assert hog_bounded > 3 * r2.task("hog").cpu_ns


def test_posted_interrupts_remove_host_proactive_interrupt_boosts():
    tasks = [Task("w", RunSleep(run_ns=200_000, sleep_ns=150_000), count=6)]

    def sc(posted):
        return Scenario(host=Host(cpus=4, fair_class="cfs"),
                        vms=[VM("g", vcpus=4, tasks=tasks, boost=BoostPolicy("dynamic"), posted_interrupts=posted)])
    plain = Simulation(sc(False)).run(until_ns=300_000_000).vcpus
    posted = Simulation(sc(True)).run(until_ns=300_000_000).vcpus
    assert plain["boosts_kick_intr"].sum() > 0
    assert posted["boosts_kick_intr"].sum() == 0


def test_each_trigger_switches_off_on_its_own():
    tasks = [Task("ct", Cyclictest(interval_ns=1_000_000))]
    base = run(one_vcpu(tasks, BoostPolicy("dynamic"), host_tasks=[Task("hog", Hog())]), 300_000_000).vcpu("g/vcpu0")
    assert base["boosts_halt"] > 0 and base["exits_doorbell"] > 0
    no_halt = run(one_vcpu(tasks, BoostPolicy("dynamic", triggers={"halt": False}),
                           host_tasks=[Task("hog", Hog())]), 300_000_000).vcpu("g/vcpu0")
    assert no_halt["boosts_halt"] == 0
    no_user = run(one_vcpu(tasks, BoostPolicy("dynamic", triggers={"user_return": False, "irq_exit": False}),
                           host_tasks=[Task("hog", Hog())]), 300_000_000).vcpu("g/vcpu0")
    assert no_user["exits_doorbell"] == 0


def test_doorbell_storm_and_metrics():
    sc = one_vcpu([Task("spin", Hog())], BoostPolicy("dynamic", rogue="doorbell_storm"))
    v = run(sc, 500_000_000).vcpu("g/vcpu0")
    assert v["exits_doorbell"] >= 450          # one per guest tick (1000 Hz)
    assert abs(v["doorbell_per_s"] - v["exits_doorbell"] / 0.5) < 1e-6
    for k in ("boosted_run_ns", "boosted_blocked_ns", "boosted_wait_ns", "boosts_request", "unboosts_doorbell",
              "budget_refused"):
        assert k in v


def test_static_makes_vcpu_threads_rt_and_vanilla_never_boosts():
    tasks = [Task("ct", Cyclictest(interval_ns=1_000_000))]
    r = run(one_vcpu(tasks, BoostPolicy("static"), host_tasks=[Task("hog", Hog())]), 200_000_000)
    assert r.task("hog").cpu_ns < 0.999 * 2e8        # the RT vCPU always wins its wake-ups
    v = run(one_vcpu(tasks, BoostPolicy("vanilla")), 200_000_000).vcpu("g/vcpu0")
    assert sum(v[k] for k in v if k.startswith("boosts_")) == 0 and v["exits_doorbell"] == 0


def test_boost_policy_bad_input():
    # the constructor validates: the error names the policy and the field where it is made
    with pytest.raises(ScenarioError, match=r"^BoostPolicy\.mode"):
        BoostPolicy("turbo")
    with pytest.raises(ScenarioError, match=r"^BoostPolicy\.priority"):
        BoostPolicy("dynamic", priority=100)
    with pytest.raises(ScenarioError, match=r"^BoostPolicy\.triggers\.nope"):
        BoostPolicy("dynamic", triggers={"nope": True})
    with pytest.raises(ScenarioError, match=r"^BoostPolicy\.rogue"):
        BoostPolicy("vanilla", rogue="hold_boost")
    # a policy changed after construction is caught where the scenario is checked, with its path
    b = BoostPolicy("dynamic")
    b.priority = 100
    with pytest.raises(ScenarioError, match=r"^VM\('g'\)\.boost\.priority"):
        VM("g", boost=b)


def test_boost_round_trips_through_toml():
    sc = one_vcpu([Task("ct", Cyclictest())], BoostPolicy("bounded", triggers={"halt": False}, cap_us=100))
    assert Scenario.from_toml(sc.to_toml()).to_dict() == sc.to_dict()
