"""Property tests of the RCU unit: random but legal event sequences on nohz_full and housekeeping
CPUs (guest entries and exits, idle, userspace, KVM hook points, ticks in every context, rcuc
passes, synchronize_rcu() callers) never break the invariants (no GP ends while a CPU owes a
quiescent state, no report without one, no caller returns early), and once every isolated CPU
sits in an extended quiescent state every caller returns and RCU goes idle."""
from hypothesis import given, settings
from hypothesis import strategies as st

from pvsched.rcu import RCU_POLICIES, RcuMachine

MS = 1_000_000
# op: (from state, to state, RcuMachine method)
MOVES = {"guest": ("kernel", "guest", "guest_enter"), "exit": ("guest", "kernel", "guest_exit"),
         "idle": ("kernel", "idle", "idle_enter"), "unidle": ("idle", "kernel", "idle_exit"),
         "user": ("kernel", "user", "user_enter"), "unuser": ("user", "kernel", "user_exit")}
OPS = ("guest", "exit", "exit_irq_tick", "idle", "unidle", "user", "unuser", "load", "put",
       "sched_out", "sched_in", "switch", "tick", "rcuc", "sync", "hk_tick", "irq")


@st.composite
def scenario(draw):
    policy = draw(st.sampled_from(RCU_POLICIES))
    hz = draw(st.sampled_from([100, 250, 1000]))
    # time steps in quarter ticks, drawn uniformly so that FQS deadlines are reached
    steps = draw(st.lists(st.tuples(st.sampled_from(OPS), st.integers(1, 2), st.sampled_from(range(13))),
                          min_size=1, max_size=120))
    return policy, hz, steps


def drive(m, steps, hz):
    tick = 1_000_000_000 // hz
    state = {1: "kernel", 2: "kernel"}
    t = 0
    for op, cpu, q in steps:
        dt = q * tick // 4 + q     # + q: not always on a jiffy boundary
        t += dt
        m.advance(t)
        s = state[cpu]
        if op in MOVES and s == MOVES[op][0]:
            getattr(m, MOVES[op][2])(cpu, t)
            state[cpu] = MOVES[op][1]
        elif op == "exit_irq_tick" and s == "guest":
            m.guest_exit(cpu, t, irq=True)
            m.irq_enter_check_tick(cpu)
            m.tick(cpu, t, preemptible=False, cause="guest_tick")
            m.guest_timing_exit(cpu)
            state[cpu] = "kernel"
        elif op == "load" and s == "kernel":
            m.vcpu_load(cpu, dt % 2 == 0)
        elif op == "put" and s == "kernel":
            m.vcpu_put(cpu)
        elif op == "sched_out" and s == "kernel":
            m.kvm_sched_out(cpu)
            m.context_switch(cpu)
        elif op == "sched_in" and s == "kernel":
            m.context_switch(cpu)
            m.kvm_sched_in(cpu)
        elif op == "switch" and s == "kernel":
            m.context_switch(cpu)
        elif op == "tick" and s != "guest":
            m.tick(cpu, t, cause="runloop" if s == "kernel" else "other")
        elif op == "rcuc" and s == "kernel":
            m.context_switch(cpu)
            m.rcuc_run(cpu, t)
            m.context_switch(cpu)
        elif op == "irq" and s == "kernel":
            m.irq_enter_check_tick(cpu)
        elif op == "sync":
            if m.totals()["sync_calls"] - m.totals()["sync_done"] < 8:
                m.sync_call(0, t)
        elif op == "hk_tick":
            m.tick(0, t)
            m.rcu_core(0, t)
        assert m.violations["count"] == 0, (op, cpu, t)
        for c in m.resched_requests():
            assert c in (1, 2)
    return state, t, tick


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_random_event_sequences_keep_the_invariants_and_finish(sc):
    policy, hz, steps = sc
    m = RcuMachine(ncpu=3, nohz_full=[1, 2], hz=hz, policy=policy, max_callers=8)
    state, t, tick = drive(m, steps, hz)
    # settle: every isolated CPU enters the guest; the housekeeping CPU keeps ticking
    for cpu, s in state.items():
        if s == "idle":
            m.idle_exit(cpu, t)
        elif s == "user":
            m.user_exit(cpu, t)
        if s != "guest":
            m.guest_enter(cpu, t)
    for k in range(1, 200):
        now = t + k * tick
        m.advance(now)
        m.tick(0, now)
        m.rcu_core(0, now)
    m.advance(t + 200 * tick)
    tot = m.totals()
    assert tot["sync_done"] == tot["sync_calls"]
    assert not m.gp_in_progress
    assert tot["gps_done"] == tot["gps_started"]
    assert m.violations["count"] == 0
