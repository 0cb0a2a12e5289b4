"""PELT unit tests: kernel/sched/pelt.c integer math, reproduced exactly.

The vectors below were derived from the v6.x kernel sources (pelt.c,
sched-pelt.h, fair.c).  ``_RefAvg`` is an independent pure-Python transcription
of the same C code (with explicit u32/u64 wrap-around) used for differential
testing of the Cython implementation.
"""
import doctest

import pytest
from hypothesis import given, settings, strategies as st

from pvsched.kernel import (
    LOAD_AVG_MAX,
    PELT_MIN_DIVIDER,
    PeltAvg,
    accumulate_pelt_segments,
    decay_load,
)

NS_PER_MS = 1_000_000
U32 = (1 << 32) - 1
U64 = (1 << 64) - 1

# kernel/sched/sched-pelt.h
_YN_INV = [
    0xFFFFFFFF, 0xFA83B2DA, 0xF5257D14, 0xEFE4B99A, 0xEAC0C6E6, 0xE5B906E6,
    0xE0CCDEEB, 0xDBFBB796, 0xD744FCC9, 0xD2A81D91, 0xCE248C14, 0xC9B9BD85,
    0xC5672A10, 0xC12C4CC9, 0xBD08A39E, 0xB8FBAF46, 0xB504F333, 0xB123F581,
    0xAD583EE9, 0xA9A15AB4, 0xA5FED6A9, 0xA2704302, 0x9EF5325F, 0x9B8D39B9,
    0x9837F050, 0x94F4EFA8, 0x91C3D373, 0x8EA4398A, 0x8B95C1E3, 0x88980E80,
    0x85AAC367, 0x82CD8698,
]


# --------------------------------------------------------------------------
# Pure-Python reference (transcription of kernel/sched/pelt.c)
# --------------------------------------------------------------------------
def _ref_decay(val, n):
    if n > 32 * 63:
        return 0
    if n >= 32:
        val >>= n // 32
        n %= 32
    return (val * _YN_INV[n]) >> 32


def _ref_segments(periods, d1, d3):
    c1 = _ref_decay(d1, periods) & U32
    c2 = (LOAD_AVG_MAX - _ref_decay(LOAD_AVG_MAX, periods) - 1024) & U32
    return (c1 + c2 + d3) & U32


class _RefAvg:
    FIELDS = ("last_update_time", "load_sum", "runnable_sum", "util_sum",
              "period_contrib", "load_avg", "runnable_avg", "util_avg")

    def __init__(self):
        for f in self.FIELDS:
            setattr(self, f, 0)

    def _accumulate(self, delta, load, runnable, running):
        contrib = delta & U32
        delta += self.period_contrib
        periods = delta // 1024
        if periods:
            self.load_sum = _ref_decay(self.load_sum, periods)
            self.runnable_sum = _ref_decay(self.runnable_sum, periods)
            self.util_sum = _ref_decay(self.util_sum, periods)
            delta %= 1024
            if load:
                contrib = _ref_segments(periods, 1024 - self.period_contrib, delta)
        self.period_contrib = delta
        if load:
            self.load_sum = (self.load_sum + load * contrib) & U64
        if runnable:
            self.runnable_sum = (self.runnable_sum + ((runnable * contrib) << 10)) & U64
        if running:
            self.util_sum = (self.util_sum + (contrib << 10)) & U32
        return periods & U32

    def update(self, now, load, runnable, running, avg_weight=1):
        delta = (now - self.last_update_time) & U64
        if delta >= 1 << 63:
            self.last_update_time = now
            return False
        delta >>= 10
        if not delta:
            return False
        self.last_update_time += delta << 10
        if not load:
            runnable = running = 0
        if not self._accumulate(delta, load, runnable, int(bool(running))):
            return False
        divider = PELT_MIN_DIVIDER + self.period_contrib
        self.load_avg = ((avg_weight * self.load_sum) & U64) // divider
        self.runnable_avg = self.runnable_sum // divider
        self.util_avg = self.util_sum // divider
        return True

    def state(self):
        return tuple(getattr(self, f) for f in self.FIELDS)


def _state(avg):
    return tuple(getattr(avg, f) for f in _RefAvg.FIELDS)


def _always_running(ms_points):
    """nice-0 task, one update per ms, always running; util_avg at each point."""
    a = PeltAvg()
    out = {}
    last = max(ms_points)
    for ms in range(1, last + 1):
        a.update(ms * NS_PER_MS, 1, 1, True, avg_weight=1024)
        if ms in ms_points:
            out[ms] = a.util_avg
    return out


# --------------------------------------------------------------------------
# decay_load / accumulate_pelt_segments / constants
# --------------------------------------------------------------------------
def test_constants():
    assert LOAD_AVG_MAX == 47742
    assert PELT_MIN_DIVIDER == 46718 == LOAD_AVG_MAX - 1024


@pytest.mark.parametrize("val, n, expected", [
    (1000, 1, 978),
    (1000, 32, 499),
    (2 ** 20, 100, 120193),
    (1000, 0, 999),            # y^0 entry is 0xffffffff, not 2^32
    (LOAD_AVG_MAX, 1, LOAD_AVG_MAX - 1024),   # LOAD_AVG_MAX * y == LOAD_AVG_MAX - 1024
])
def test_decay_load_vectors(val, n, expected):
    assert decay_load(val, n) == expected


@pytest.mark.parametrize("val", [0, 1, 1000, 2 ** 20, 2 ** 40, U64])
def test_decay_load_beyond_2016_periods_is_zero(val):
    assert decay_load(val, 2017) == 0
    assert decay_load(val, 10 ** 30) == 0


def test_decay_load_exact_for_full_u64_range():
    # (val * yN_inv) >> 32 must not lose the high bits of a 96-bit product.
    assert decay_load(U64, 0) == (U64 * 0xFFFFFFFF) >> 32 == U64 - (1 << 32)
    assert decay_load(U64, 1) == (U64 * 0xFA83B2DA) >> 32
    assert decay_load(U64, 63) == ((U64 >> 1) * 0x82CD8698) >> 32


@given(st.integers(0, U64), st.integers(0, 2100))
def test_decay_load_matches_reference(val, n):
    assert decay_load(val, n) == _ref_decay(val, n)


def test_accumulate_pelt_segments_vectors():
    assert accumulate_pelt_segments(1, 1024, 0) == 1002
    assert accumulate_pelt_segments(2, 1024, 0) == 1981


@given(st.integers(0, 3000), st.integers(0, 1024), st.integers(0, 1023))
def test_accumulate_pelt_segments_matches_reference(periods, d1, d3):
    assert accumulate_pelt_segments(periods, d1, d3) == _ref_segments(periods, d1, d3)


def test_load_avg_max_is_fixed_point():
    s, iterations = 0, 0
    while True:
        nxt = decay_load(s, 1) + 1024
        if nxt == s:
            break
        s, iterations = nxt, iterations + 1
    assert s == LOAD_AVG_MAX
    assert iterations == 347


# --------------------------------------------------------------------------
# PeltAvg: reference trajectories
# --------------------------------------------------------------------------
def test_util_avg_ramp_always_running():
    expected = {2: 41, 4: 81, 8: 156, 16: 288, 32: 495, 64: 751, 100: 894,
                200: 1008, 345: 1023}
    assert _always_running(set(expected)) == expected


def test_always_running_saturation():
    # With this 1 ms cadence util_avg first reaches 1023 at 314 ms (still 1023
    # at 345 ms) and settles at 1024 from 364 ms on: util_sum keeps 10 more
    # bits than load_sum through the truncating decays, so its fixed point sits
    # slightly above 1024 * divider (load_avg stays at 1023).
    got = _always_running({313, 314, 345, 363, 364, 500, 1000})
    assert got == {313: 1022, 314: 1023, 345: 1023, 363: 1023, 364: 1024,
                   500: 1024, 1000: 1024}
    a = PeltAvg()
    for ms in range(1, 1001):
        a.update(ms * NS_PER_MS, 1, 1, True, avg_weight=1024)
    assert (a.util_avg, a.runnable_avg, a.load_avg) == (1024, 1024, 1023)


def test_runnable_and_load_track_util_when_always_running():
    a = PeltAvg()
    for ms in range(1, 33):
        a.update(ms * NS_PER_MS, 1, 1, True, avg_weight=1024)
    assert (a.util_avg, a.runnable_avg, a.load_avg) == (495, 495, 495)


def _duty_cycle(on_ms, off_ms, total_ms):
    a = PeltAvg()
    period = on_ms + off_ms
    for ms in range(1, total_ms + 1):
        # state during the interval ((ms-1) ms, ms ms]
        on = (ms - 1) % period < on_ms
        a.update(ms * NS_PER_MS, int(on), int(on), on, avg_weight=1024)
    return a


def test_duty_cycle_5ms_on_5ms_off():
    a = _duty_cycle(5, 5, 2000)
    # Exact value with this cadence (last interval is an "off" one): 485.
    assert abs(a.util_avg - 485) <= 15
    assert a.util_avg == 485
    ref = _RefAvg()
    for ms in range(1, 2001):
        on = (ms - 1) % 10 < 5
        ref.update(ms * NS_PER_MS, int(on), int(on), on, 1024)
    assert _state(a) == ref.state()


# --------------------------------------------------------------------------
# PeltAvg: clock handling
# --------------------------------------------------------------------------
def test_backwards_clock_resets_last_update_time_only():
    a = PeltAvg()
    for ms in range(1, 11):
        a.update(ms * NS_PER_MS, 1, 1, True, avg_weight=1024)
    before = _state(a)
    assert a.update(5 * NS_PER_MS + 123, 1, 1, True, avg_weight=1024) is False
    after = _state(a)
    assert a.last_update_time == 5 * NS_PER_MS + 123
    assert after[1:] == before[1:]          # sums, period_contrib, avgs unchanged
    # Time then moves forward normally from the new origin.
    assert a.update(7 * NS_PER_MS, 1, 1, True, avg_weight=1024) is True
    assert a.last_update_time > 5 * NS_PER_MS + 123


def test_sub_unit_delta_changes_nothing():
    a = PeltAvg()
    assert a.update(1023, 1, 1, True) is False
    assert _state(a) == (0,) * 8


def test_leftover_ns_carry_over():
    a = PeltAvg()
    a.update(1500, 1, 1, True)
    assert a.last_update_time == 1024 and a.period_contrib == 1
    a.update(3000, 1, 1, True)              # 3000 - 1024 = 1976 ns -> 1 unit
    assert a.last_update_time == 2048 and a.period_contrib == 2
    a.update(4500, 1, 1, True)              # 4500 - 2048 = 2452 ns -> 2 units
    assert a.last_update_time == 4096 and a.period_contrib == 4
    t = 4500
    for _ in range(200):
        t += 1500
        a.update(t, 1, 1, True)
        assert a.last_update_time % 1024 == 0
        assert 0 <= t - a.last_update_time < 1024


def test_averages_refresh_only_on_period_boundary():
    a = PeltAvg()
    # 1023 units: no boundary crossed yet, sums accrue but averages stay 0.
    assert a.update(1023 * 1024, 1, 1, True, avg_weight=1024) is False
    assert a.util_sum == 1023 << 10 and a.util_avg == 0 and a.period_contrib == 1023
    assert a.update(1024 * 1024, 1, 1, True, avg_weight=1024) is True
    assert a.period_contrib == 0
    assert a.util_avg == a.util_sum // PELT_MIN_DIVIDER > 0


# --------------------------------------------------------------------------
# PeltAvg: load == 0 rule
# --------------------------------------------------------------------------
def test_zero_load_forces_runnable_and_running_to_zero():
    a, b = PeltAvg(), PeltAvg()
    for ms in range(1, 21):
        a.update(ms * NS_PER_MS, 1, 1, True, avg_weight=1024)
        b.update(ms * NS_PER_MS, 1, 1, True, avg_weight=1024)
    assert _state(a) == _state(b)
    for ms in range(21, 41):
        a.update(ms * NS_PER_MS, 0, 1, True, avg_weight=1024)   # load 0
        b.update(ms * NS_PER_MS, 0, 0, False, avg_weight=1024)  # all 0
    assert _state(a) == _state(b)
    assert a.util_avg < 495 and a.runnable_avg == a.util_avg


def test_zero_load_from_empty_state_accrues_nothing():
    a = PeltAvg()
    for ms in range(1, 50):
        a.update(ms * NS_PER_MS, 0, 5, True, avg_weight=1024)
    assert (a.load_sum, a.runnable_sum, a.util_sum) == (0, 0, 0)
    assert (a.load_avg, a.runnable_avg, a.util_avg) == (0, 0, 0)


def test_cfs_rq_style_weights():
    # cfs_rq: load = sum of weights, runnable = nr runnable, avg_weight = 1.
    a, ref = PeltAvg(), _RefAvg()
    for ms in range(1, 300):
        a.update(ms * NS_PER_MS, 2048, 2, True, avg_weight=1)
        ref.update(ms * NS_PER_MS, 2048, 2, True, 1)
    assert _state(a) == ref.state()
    assert (a.load_avg, a.runnable_avg, a.util_avg) == (2044, 2044, 1022)


def test_huge_values_wrap_without_crashing():
    a = PeltAvg()
    big = (1 << 64) - 1
    a.update(10 * NS_PER_MS, big, big, True, avg_weight=big)
    a.update(big, big, big, True, avg_weight=big)
    a.update(0, 1, 1, True)                 # backwards
    ref = _RefAvg()
    ref.update(10 * NS_PER_MS, big, big, True, big)
    ref.update(big, big, big, True, big)
    ref.update(0, 1, 1, True)
    assert _state(a) == ref.state()


# --------------------------------------------------------------------------
# init_entity / post_init_util
# --------------------------------------------------------------------------
def test_init_entity():
    a = PeltAvg()
    for ms in range(1, 5):
        a.update(ms * NS_PER_MS, 1, 1, True, avg_weight=1024)
    a.init_entity(1024)
    assert _state(a) == (0, 0, 0, 0, 0, 1024, 0, 0)
    a.init_entity(0)                        # group entity
    assert _state(a) == (0,) * 8


@pytest.mark.parametrize("cfs_util, cfs_load, w, expected", [
    (0, 0, 1024, 512),          # empty rq: half the capacity
    (512, 1024, 1024, 256),     # the kernel comment's series 512, 256, 128 ...
    (768, 2048, 1024, 128),
    (896, 3072, 1024, 64),
    (960, 4096, 1024, 32),
    (300, 2048, 1024, 149),     # extrapolated 300*1024/2049 = 149 < cap 362
    (1022, 100, 1024, 1),       # cap = 1
])
def test_post_init_util(cfs_util, cfs_load, w, expected):
    a = PeltAvg()
    a.init_entity(w)
    a.post_init_util(cfs_util, cfs_load, w)
    assert a.util_avg == expected and a.runnable_avg == expected
    divider = PELT_MIN_DIVIDER + a.period_contrib
    assert a.util_sum == expected * divider
    assert a.runnable_sum == expected * divider
    assert a.load_avg == w and a.load_sum == w * divider // w


@pytest.mark.parametrize("cfs_util", [1023, 1024, 1025, 5000])
def test_post_init_util_no_headroom_leaves_util_unchanged(cfs_util):
    a = PeltAvg()
    a.init_entity(1024)
    a.post_init_util(cfs_util, 1024, 1024)
    assert a.util_avg == 0 and a.runnable_avg == 0
    assert a.util_sum == 0 and a.runnable_sum == 0


def test_post_init_then_running_continues_from_initial_values():
    a = PeltAvg()
    a.init_entity(1024)
    a.post_init_util(0, 0, 1024)
    assert a.update(NS_PER_MS, 1, 1, True, avg_weight=1024) is False   # 976 units
    assert a.update(2 * NS_PER_MS, 1, 1, True, avg_weight=1024) is True
    assert 512 < a.util_avg < 600
    assert 1000 < a.load_avg <= 1024


# --------------------------------------------------------------------------
# Invariants (hypothesis)
# --------------------------------------------------------------------------
# (load, runnable, running) for a task entity: sleeping, waiting, running.
_TASK_STATES = st.sampled_from([(0, 0, False), (1, 1, False), (1, 1, True)])
_DELTAS = st.one_of(
    st.integers(0, 2048),                       # sub-unit / sub-period steps
    st.integers(0, 5 * NS_PER_MS),
    st.integers(0, 3000 * NS_PER_MS),           # long sleeps (> 2016 periods)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_DELTAS, _TASK_STATES), min_size=1, max_size=120),
       st.sampled_from([2, 15, 335, 1024, 88761]))
def test_invariants_random_sequences(steps, weight):
    a = PeltAvg()
    now = 0
    for delta, (load, runnable, running) in steps:
        now += delta
        a.update(now, load, runnable, running, avg_weight=weight)
        assert 0 <= a.util_avg <= 1024
        assert a.runnable_avg >= a.util_avg
        assert a.load_avg <= weight
        assert 0 <= a.period_contrib < 1024
        assert a.last_update_time <= now and now - a.last_update_time < 1024


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-3 * NS_PER_MS, 40 * NS_PER_MS),
                          st.integers(0, 3000), st.integers(0, 4),
                          st.booleans(), st.integers(0, 100000)),
                min_size=1, max_size=80))
def test_matches_pure_python_reference(steps):
    a, ref = PeltAvg(), _RefAvg()
    now = 10 * NS_PER_MS
    for delta, load, runnable, running, weight in steps:
        now = max(0, now + delta)               # occasionally goes backwards
        assert a.update(now, load, runnable, running, avg_weight=weight) \
            == ref.update(now, load, runnable, running, weight)
        assert _state(a) == ref.state()


# --------------------------------------------------------------------------
# Python-level input validation
# --------------------------------------------------------------------------
@pytest.mark.parametrize("call, argname", [
    (lambda: decay_load(-1, 1), "val"),
    (lambda: decay_load(1, -1), "n"),
    (lambda: decay_load(1 << 64, 1), "val"),
    (lambda: accumulate_pelt_segments(-1, 1024, 0), "periods"),
    (lambda: accumulate_pelt_segments(1, -1, 0), "d1"),
    (lambda: accumulate_pelt_segments(1, 1024, -5), "d3"),
    (lambda: accumulate_pelt_segments(1, 1 << 32, 0), "d1"),
    (lambda: PeltAvg().update(-1, 1, 1, True), "now_ns"),
    (lambda: PeltAvg().update(1 << 64, 1, 1, True), "now_ns"),
    (lambda: PeltAvg().update(1, -1, 1, True), "load"),
    (lambda: PeltAvg().update(1, 1, -1, True), "runnable"),
    (lambda: PeltAvg().update(1, 1, 1, -1), "running"),
    (lambda: PeltAvg().update(1, 1, 1, True, avg_weight=-1024), "avg_weight"),
    (lambda: PeltAvg().update(1, 1 << 64, 1, True), "load"),
    (lambda: PeltAvg().init_entity(-1), "se_weight"),
    (lambda: PeltAvg().post_init_util(-1, 0, 1024), "cfs_util_avg"),
    (lambda: PeltAvg().post_init_util(0, -1, 1024), "cfs_load_avg"),
    (lambda: PeltAvg().post_init_util(0, 0, -1024), "se_weight"),
])
def test_bad_input_raises_value_error(call, argname):
    with pytest.raises(ValueError, match=argname):
        call()


@pytest.mark.parametrize("call", [
    lambda: decay_load(1.5, 1),
    lambda: decay_load("1000", 1),
    lambda: accumulate_pelt_segments(None, 1024, 0),
    lambda: PeltAvg().update(1.0, 1, 1, True),
])
def test_non_integer_input_raises_type_error(call):
    with pytest.raises(TypeError):
        call()


def test_failed_validation_leaves_state_untouched():
    a = PeltAvg()
    a.update(5 * NS_PER_MS, 1, 1, True, avg_weight=1024)
    before = _state(a)
    with pytest.raises(ValueError):
        a.update(6 * NS_PER_MS, 1, 1, True, avg_weight=-1)
    assert _state(a) == before


def test_properties_are_read_only():
    a = PeltAvg()
    with pytest.raises(AttributeError):
        a.util_avg = 5


# --------------------------------------------------------------------------
# Public API surface / docstrings
# --------------------------------------------------------------------------
def test_public_names_and_docstring_examples():
    assert decay_load.__name__ == "decay_load"
    assert accumulate_pelt_segments.__name__ == "accumulate_pelt_segments"
    globs = {"decay_load": decay_load, "PeltAvg": PeltAvg,
             "accumulate_pelt_segments": accumulate_pelt_segments}
    objs = [decay_load, accumulate_pelt_segments, PeltAvg, PeltAvg.update,
            PeltAvg.init_entity, PeltAvg.post_init_util]
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for obj in objs:
        assert obj.__doc__ and ">>>" in obj.__doc__, obj
        test = parser.get_doctest(obj.__doc__, dict(globs), obj.__name__, None, 0)
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_pickle_and_copy_roundtrip():
    import copy
    import pickle

    a = PeltAvg()
    for ms in range(1, 8):
        a.update(ms * NS_PER_MS + 77, 1, 1, ms % 2 == 0, avg_weight=1024)
    for b in (pickle.loads(pickle.dumps(a)), copy.copy(a), copy.deepcopy(a)):
        assert b is not a and _state(b) == _state(a)
        b.update(20 * NS_PER_MS, 1, 1, True, avg_weight=1024)
        a2 = copy.copy(a)
        a2.update(20 * NS_PER_MS, 1, 1, True, avg_weight=1024)
        assert _state(b) == _state(a2) != _state(a)
