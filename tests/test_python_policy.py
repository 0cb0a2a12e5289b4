"""Python policies (pvsched.Policy): the example re-implementation of IPI-aware yield gives
bit-identical full results to the built-in C policy; hooks are called only where implemented; a
raising hook surfaces as PolicyError; bad attachments are clear errors."""
import importlib.util
import os

import pytest

from pvsched import VM, Host, Policy, PolicyError, Scenario, ScenarioError, Simulation, Task
from pvsched.policies import YieldPolicy
from pvsched.workloads import Hog, RunSleep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("python_ipi_aware_yield",
                                               os.path.join(ROOT, "examples", "python_ipi_aware_yield.py"))
EX = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(EX)


def assert_identical(a, b):
    assert EX.differences(a, b) == []


@pytest.mark.parametrize("load,order,relaxed", [("dedup", "scan", True), ("dbench", "scan", True),
                                                ("dedup", "priority", True), ("dedup", "scan", False)])
def test_python_ipi_aware_yield_is_bit_identical_to_the_builtin(load, order, relaxed):
    builtin, python = EX.scenarios(duration_ns=40_000_000, load=load)
    for vm in builtin.vms:
        vm.yield_policy = YieldPolicy(ipi_aware=True, candidate_order=order, relaxed_round=relaxed)
    for vm in python.vms:
        vm.policy = EX.IpiAwareYield(vm.vcpus, priority_order=order == "priority", relaxed=relaxed)
    a = Simulation(builtin).run()
    b = Simulation(python).run()
    assert_identical(a, b)
    # the hooks really ran: candidates were classified (and, with IPIs, IPIs tracked and their
    # receivers boosted through them)
    assert b.vms["yield_to_attempts"].sum() > 0
    assert b.vms["boost_vanilla"].sum() == 0
    if load == "dedup":
        assert b.vms["ipi_tracked"].sum() > 0 and b.vms["boost_ipi_receiver"].sum() > 0


def test_python_policy_differs_from_stock_kvm():
    # the identity above is not vacuous: without the policy the same cell runs differently
    _, python = EX.scenarios(duration_ns=40_000_000)
    stock = EX.scenarios(duration_ns=40_000_000)[1]
    for vm in stock.vms:
        vm.policy = None
    assert Simulation(stock).run().vms["boost_ipi_receiver"].sum() == 0
    assert Simulation(python).run().vms["boost_ipi_receiver"].sum() > 0


class Recorder(Policy):
    def __init__(self):
        self.calls = {}

    def _hit(self, ctx):
        self.calls[ctx.point] = self.calls.get(ctx.point, 0) + 1

    on_vcpu_exit = on_vcpu_enter = on_kick = on_halt = on_sched_in = on_sched_out = _hit
    on_guest_switch = on_guest_enqueue = on_kvm_run = on_tick = on_vcpu_mode = _hit


def _one_vm(policy=None, host_policy=None):
    vm = VM("vm", vcpus=2, policy=policy, tasks=[Task("w", RunSleep(run_ns=1_500_000, sleep_ns=500_000), count=2)])
    return Scenario(host=Host(cpus=2, policy=host_policy), vms=[vm], tasks=[Task("h", Hog())], duration_ns=20_000_000)


def test_hooks_are_called_only_where_implemented_and_agree_with_the_counters():
    p = Recorder()
    r = Simulation(_one_vm(p)).run()
    assert set(p.points()) == {"vcpu_exit", "vcpu_enter", "kick", "halt", "sched_in", "sched_out", "guest_switch",
                               "guest_enqueue", "kvm_run", "tick", "vcpu_mode"}
    exits = sum(int(r.vcpus["exits_" + k].sum()) for k in ("host_tick", "host_intr", "guest_timer", "ipi_send", "ipi_recv",
                                                            "hlt", "mmio", "doorbell", "budget", "ple", "hypercall", "eoi"))
    assert p.calls["vcpu_exit"] == exits
    assert p.calls["kvm_run"] == 2 and p.calls["halt"] == int(r.vcpus["nr_blocks"].sum())
    assert p.calls["tick"] == int(r.vcpus["guest_ticks"].sum()) > 0     # a VM policy sees its guest's ticks
    # results do not depend on a policy that only observes
    assert_identical(r, Simulation(_one_vm()).run())


def test_host_policy_sees_host_ticks_and_pelt_updates():
    class HostObserver(Policy):
        ticks = pelt = 0

        def on_tick(self, ctx):
            assert ctx.vm is None and ctx.cpu in (0, 1)
            HostObserver.ticks += 1

        def on_pelt_update(self, ctx):
            HostObserver.pelt += 1

    sc = Scenario(host=Host(cpus=2, policy=HostObserver()), tasks=[Task("h", Hog(), count=3)], duration_ns=10_000_000)
    r = Simulation(sc).run()
    assert HostObserver.ticks == int(r.cpus["nr_ticks"].sum()) and HostObserver.pelt > 0


def test_a_raising_hook_stops_the_run_with_a_policy_error():
    class Broken(Policy):
        def on_vcpu_exit(self, ctx):
            if ctx.now > 5_000_000:
                raise KeyError("boom")

    sim = Simulation(_one_vm(Broken()))
    with pytest.raises(PolicyError, match=r"VM 0's Python policy raised KeyError in on_vcpu_exit") as e:
        sim.run()
    assert isinstance(e.value.__cause__, KeyError)
    with pytest.raises(PolicyError):        # the engine cannot go on
        sim.engine.run(30_000_000)


def test_spin_results_are_checked():
    class BadKind(EX.IpiAwareYield):
        def on_spin(self, ctx):
            return "best"

    _, python = EX.scenarios(duration_ns=20_000_000)
    python.vms[0].policy = BadKind(python.vms[0].vcpus)
    with pytest.raises(PolicyError, match="on_spin must return one of"):
        Simulation(python).run()


def test_bad_attachments_are_clear_errors():
    with pytest.raises(ScenarioError, match=r"^VM\('vm'\)\.policy"):
        Simulation(_one_vm(policy=object())).run()
    with pytest.raises(ValueError, match="needs the policy on a VM"):
        Simulation(_one_vm(host_policy=Recorder()))
    with pytest.raises(ScenarioError, match="Python policy is code, not data"):
        _one_vm(Recorder()).to_dict()
    builtin, _ = EX.scenarios(duration_ns=10_000_000)
    builtin.vms[0].policy = EX.IpiAwareYield(builtin.vms[0].vcpus)
    with pytest.raises(ValueError, match="attach one"):
        Simulation(builtin)


def test_set_vcpu_sched_boosts_the_vcpu_thread():
    class BoostOnKick(Policy):
        def on_kick(self, ctx):
            ctx.set_vcpu_sched(ctx.vcpu, "rr", 8)

        def on_vcpu_exit(self, ctx):
            if ctx.reason == "hlt":
                ctx.set_vcpu_sched(ctx.vcpu, "normal")

    r = Simulation(_one_vm(BoostOnKick())).run()
    assert r.vcpus["exits_hlt"].sum() > 0
    with pytest.raises(PolicyError, match="not allowed at 'tick'"):
        class Wrong(Policy):
            def on_tick(self, ctx):
                ctx.set_vcpu_sched(0, "rr", 8)
        Simulation(_one_vm(Wrong())).run()
