"""The engine's event queue (engine/events.pxd) against a plain model: whatever the arms, cancels
and pops (with a popped root's place left as a hole until the handler is done, as in the event
loop), it pops the earliest (time, arm order) first and keeps its layout invariants."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvsched._core import event_queue_replay

T_NEVER_NS = 2**63 - 1      # events armed here never fire
M64 = 2**64 - 1

NSLOTS = 40
# Few distinct times, so that ties (many CPUs' ticks at one instant) are common; times within
# and past the timer wheel's span (1024 buckets of 2^12 ns), on bucket edges, and before its
# first bucket; T_NEVER.
TIMES = st.one_of(st.integers(0, 12), st.integers(0, 2**23), st.sampled_from([2**12 * k + d for k in range(1100) for d in (-1, 0)][1:]),
                  st.integers(0, 2**40), st.just(T_NEVER_NS))
OP = st.one_of(
    st.tuples(st.just("arm"), st.integers(0, NSLOTS - 1), TIMES),
    st.tuples(st.just("cancel"), st.integers(0, NSLOTS - 1)),
    st.tuples(st.just("pop")),
)


def model(ops, shuffle=False):
    """Event-loop shaped op list (pops become take ... settle around the next few ops) and the
    pops a sorted model expects: by time, then arm order (or, shuffled, a seeded xorshift key
    with the arm count in its low half, as the engine draws it)."""
    armed, seq, out, expect = {}, 0, [], []
    rng = 0x9E3779B97F4A7C15
    pending = 0             # ops left before the current pop's settle
    for op in ops:
        if op[0] == "pop":
            if pending:
                continue
            if not armed:
                continue
            slot = min(armed, key=armed.get)
            expect.append((slot, armed.pop(slot)[0]))
            out.append(("take",))
            pending = 3     # the handler: up to three more ops before the loop settles
            continue
        if op[0] == "arm":
            seq += 1
            key = seq
            if shuffle:
                rng ^= (rng << 13) & M64
                rng ^= rng >> 7
                rng ^= (rng << 17) & M64
                key = (rng & 0xFFFFFFFF00000000) | (seq & 0xFFFFFFFF)
            armed[op[1]] = (op[2], key)
        else:
            armed.pop(op[1], None)
        out.append(op)
        if pending:
            pending -= 1
            if not pending:
                out.append(("settle",))
    if pending:
        out.append(("settle",))
    return out, expect


@settings(max_examples=300, deadline=None)
@given(st.lists(OP, max_size=300))
def test_pops_in_time_then_arm_order(ops):
    seq_ops, expect = model(ops)
    pops, layout_ok = event_queue_replay(NSLOTS, seq_ops)
    assert pops == expect
    assert layout_ok


@settings(max_examples=100, deadline=None)
@given(st.lists(OP, max_size=200))
def test_shuffled_ties_pop_in_seeded_order(ops):
    seq_ops, expect = model(ops, shuffle=True)
    pops, layout_ok = event_queue_replay(NSLOTS, seq_ops, shuffle_ties=True)
    assert pops == expect
    assert layout_ok


def test_bad_ops_raise():
    with pytest.raises(ValueError):
        event_queue_replay(2, [("arm", 2, 5)])
    with pytest.raises(ValueError):
        event_queue_replay(2, [("take",)])
