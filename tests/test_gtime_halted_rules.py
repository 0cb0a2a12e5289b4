"""Guest halted time and the halted-aware PELT update, rule by rule (the Feb 2025 RFC, patches 2
and 3, and the reviewer's per-tick alternative).

Every expected number below is worked out by hand from the patch's code and the kernel's PELT
tables (kernel/sched/pelt.c, sched-pelt.h: y^n * 2^32 = runnable_avg_yN_inv[n]); the steps are
in the comments. ``_dl`` is the test's own transcription of decay_load, used only to show the
arithmetic, never to produce the expected value by calling the code under test.
"""
import pytest
from hypothesis import given, settings, strategies as st

from pvsched.kernel import (PeltAvg, HaltedPeltAvg, decay_load, gtime_halted_cycles,
                            gtime_halted_stay, mperf_cycles)

PERIOD_NS = 1024 * 1024
_YN = [0xFFFFFFFF, 0xFA83B2DA, 0xF5257D14, 0xEFE4B99A, 0xEAC0C6E6, 0xE5B906E6, 0xE0CCDEEB,
       0xDBFBB796, 0xD744FCC9]


def _dl(v, n):
    """decay_load for the small n used here (n < 32 * 9)."""
    v >>= n // 32
    return (v * _YN[n % 32]) >> 32


# ------------------------------------------------------------------------ patch 2: one stay
def test_per_exit_halted_is_tsc_minus_mperf_only_when_positive():
    # likely(cycles > unhalted_cycles): strictly greater, else nothing is counted
    assert gtime_halted_cycles(4_000_000, 1_000_000) == 3_000_000
    assert gtime_halted_cycles(1_000_000, 1_000_000) == 0
    assert gtime_halted_cycles(1_000_000, 1_000_001) == 0
    # a stay of 4 ms with 1 ms unhalted: TSC 4 ms, MPERF 1 ms -> 3 ms halted
    assert gtime_halted_stay(4_000_000, 1_000_000) == 3_000_000
    # fully busy and fully halted stays
    assert gtime_halted_stay(4_000_000, 4_000_000) == 0
    assert gtime_halted_stay(4_000_000, 0) == 4_000_000


def test_mperf_rate_mismatch():
    # MPERF 0.1% fast: 2 ms unhalted reads as 2.002 ms, so 2 ms halted of a 4 ms stay read 1.998 ms
    assert mperf_cycles(2_000_000, 1000) == 2_002_000
    assert gtime_halted_stay(4_000_000, 2_000_000, mperf_ppm=1000) == 1_998_000
    # slow MPERF makes a fully busy stay look partly halted: 4 ms * 0.1% = 4 us
    assert gtime_halted_stay(4_000_000, 4_000_000, mperf_ppm=-1000) == 4_000
    # fast MPERF hides a short halt entirely: 1 us halted, 3.999 ms * 1.001 > 4 ms
    assert gtime_halted_stay(4_000_000, 3_999_000, mperf_ppm=1000) == 0
    # truncation: 999_999 ns at +1 ppm = 999_999 + floor(0.999999)
    assert mperf_cycles(999_999, 1) == 999_999
    assert mperf_cycles(1_000_000, 1) == 1_000_001
    # no overflow for a whole-run stay (2**62 ns) at the largest mismatch
    big = 1 << 62
    assert mperf_cycles(big, 999_999) == (big // 10**6) * 1_999_999 + (big % 10**6) * 1_999_999 // 10**6


def test_per_exit_rejects_bad_arguments():
    with pytest.raises(ValueError):
        gtime_halted_stay(1_000, 2_000)
    with pytest.raises(ValueError):
        gtime_halted_stay(1_000, 0, mperf_ppm=10**6)
    with pytest.raises(TypeError):
        gtime_halted_stay(1_000, 0.5)
    with pytest.raises(ValueError):
        gtime_halted_cycles(-1, 0)


@settings(max_examples=200, deadline=None)
@given(stay=st.integers(0, 10**13), frac=st.floats(0, 1), ppm=st.integers(-999_999, 999_999))
def test_per_exit_properties(stay, frac, ppm):
    unhalted = int(stay * frac)
    h = gtime_halted_stay(stay, unhalted, mperf_ppm=ppm)
    assert 0 <= h <= stay
    if ppm == 0:
        assert h == stay - unhalted           # a matched MPERF measures the truth exactly
    elif ppm > 0:
        assert h <= stay - unhalted           # fast MPERF under-counts
    else:
        assert h >= stay - unhalted


# ------------------------------------------------------------------------ patch 3: one entity
def test_split_update_one_entity():
    # A fresh nice-0 entity, running throughout, updated once at now = 4 periods with 2 periods
    # of halted time pending: h = min(4 periods, 2 periods) = 2 periods.
    a = HaltedPeltAvg()
    a.account(2 * PERIOD_NS)
    assert a.update(4 * PERIOD_NS, 1, 1, True, avg_weight=1024)
    # 1) ___update_load_sum(now - h = 2 periods, real flags): 2048 units, periods = 2,
    #    contrib = decay_load(1024, 2) + (47742 - decay_load(47742, 2) - 1024) + 0
    #            = 980 + (47742 - 45717 - 1024) = 1981  (kernel-reference vector (p=2,1024,0))
    #    load_sum = 1981, runnable_sum = util_sum = 1981 << 10 = 2028544
    assert _dl(1024, 2) == 980 and _dl(47742, 2) == 45717
    # 2) ___update_load_sum(now, 0, 0, 0): 2 more periods, only decay:
    #    load_sum = decay_load(1981, 2) = 1897; runnable/util = decay_load(2028544, 2) = 1942540
    assert (a.load_sum, a.runnable_sum, a.util_sum) == (1897, 1942540, 1942540)
    assert (a.last_update_time, a.period_contrib, a.gtime_halted) == (4 * PERIOD_NS, 0, 0)
    # 3) averages, divider 46718: load_avg = 1024 * 1897 // 46718 = 41; util = 1942540 // 46718 = 41
    assert (a.load_avg, a.runnable_avg, a.util_avg) == (41, 41, 41)
    # Without the discount the same 4 periods contribute decay_load(1024, 4) + (47742 -
    # decay_load(47742, 4) - 1024) = 3878, util (3878 << 10) // 46718 = 85: the halted half is
    # removed from the *end*, so what remains has decayed by two periods (41, not 85 / 2).
    b = PeltAvg()
    b.update(4 * PERIOD_NS, 1, 1, True, avg_weight=1024)
    assert b.util_avg == 85 and b.load_sum == 3878


def test_split_update_one_cfs_rq_with_sub_unit_remainders():
    # A cfs_rq holding two nice-0 entities (load 2048, h_nr_runnable 2, curr set), fresh, updated
    # at now = 3,000,000 ns with 1,000,000 ns pending.
    c = HaltedPeltAvg()
    c.account(1_000_000)
    assert c.update(3_000_000, 2048, 2, True, avg_weight=1)
    # 1) to now - h = 2,000,000 ns: 1953 units (1953 * 1024 = 1,999,872; 128 ns carried), crossing
    #    one period: d1 = 1024, d3 = 1953 % 1024 = 929 ->
    #    contrib = decay_load(1024, 1) + (47742 - decay_load(47742, 1) - 1024) + 929 = 1002 + 0 + 929 = 1931
    #    load_sum = 2048 * 1931 = 3954688, runnable_sum = (2 * 1931) << 10 = 3954688,
    #    util_sum = 1931 << 10 = 1977344, period_contrib = 929
    assert _dl(1024, 1) == 1002 and _dl(47742, 1) == 46718
    # 2) to now with zeros: 3,000,000 - 1,999,872 = 1,000,128 ns (the 128 ns remainder of the real
    #    part is accounted as absent), 976 units; 929 + 976 = 1905: one more period, d = 881;
    #    sums decayed by decay_load(., 1): 3869947, 3869947, 1934973
    assert (c.load_sum, c.runnable_sum, c.util_sum) == (3869947, 3869947, 1934973)
    assert (c.last_update_time, c.period_contrib) == (2_999_296, 881)
    # 3) divider 46718 + 881 = 47599: load 3869947 // 47599 = 81, runnable 81, util 40
    assert (c.load_avg, c.runnable_avg, c.util_avg) == (81, 81, 40)


def test_nothing_pending_is_plain_pelt():
    a, b = HaltedPeltAvg(), PeltAvg()
    for k, (load, run, running) in enumerate([(1, 1, 1), (1, 0, 0), (0, 0, 0), (1, 1, 1)] * 20):
        now = (k + 1) * 777_777
        assert a.update(now, load, run, running, avg_weight=1024) == b.update(now, load, run, running, avg_weight=1024)
        assert repr(a) == repr(b)[:-1] + ", gtime_halted=0)"


def test_split_equals_two_plain_updates():
    # The split is literally two calls of the kernel's ___update_load_sum: a PeltAvg driven to
    # now - h with the real flags and then to now with zeros has the same sums.
    a, b = HaltedPeltAvg(), PeltAvg()
    for k in range(1, 60):
        now = k * 3_333_333
        h = (k * 987_654) % 3_333_333
        a.account(h)
        a.update(now, 1, 1, True, avg_weight=1024)
        b.update(now - h, 1, 1, True, avg_weight=1024)
        b.update(now, 0, 0, False, avg_weight=1024)
        assert (a.load_sum, a.runnable_sum, a.util_sum, a.period_contrib, a.last_update_time) == \
               (b.load_sum, b.runnable_sum, b.util_sum, b.period_contrib, b.last_update_time)
        assert a.gtime_halted == 0                       # h <= delta every time: no residual


# ------------------------------------------------------------------------ the residual decay
def _primed(contrib_units):
    """An entity whose period_contrib is ``contrib_units`` (one update from 0)."""
    a = HaltedPeltAvg()
    a.update(contrib_units * 1024, 1, 1, True, avg_weight=1024)
    assert a.period_contrib == contrib_units
    return a


def test_residual_decayed_by_delta_in_ns_when_a_period_is_crossed():
    # period_contrib 1000, update 40 units (40,960 ns) later with 100,000 ns pending:
    # h = 40,960; the real part is empty (delta 0 -> returns 0); the zero part crosses a period
    # (1000 + 40 >= 1024) -> ret = 1 -> residual 100,000 - 40,960 = 59,040 is decayed by
    # decay_load(59040, 40960 / 1024 = 40): 59040 >> 1 = 29520, * yN_inv[8] >> 32 = 24823
    a = _primed(1000)
    a.account(100_000)
    assert a.update(1000 * 1024 + 40 * 1024, 1, 1, True, avg_weight=1024)
    assert _dl(59040, 40) == 24823
    assert a.gtime_halted == 24823
    # the intended "periods" would be 40960 >> 20 = 0: no decay at all
    assert decay_load(59040, 0) == 59039


def test_residual_kept_when_no_period_is_crossed():
    # period_contrib 0: 40 more units cross nothing, ret = 0, the residual stays undecayed
    a = HaltedPeltAvg()
    a.update(4 * PERIOD_NS, 1, 1, True, avg_weight=1024)         # aligned: period_contrib 0
    a.account(100_000)
    assert not a.update(4 * PERIOD_NS + 40 * 1024, 1, 1, True, avg_weight=1024)
    assert a.gtime_halted == 100_000 - 40 * 1024


def test_residual_wiped_beyond_2016_units():
    # delta = 3 ms -> delta / 1024 = 2929 > 2016: decay_load returns 0, whatever the residual
    a = HaltedPeltAvg()
    a.update(PERIOD_NS, 1, 1, True, avg_weight=1024)
    a.account(10**15)
    a.update(PERIOD_NS + 3_000_000, 1, 1, True, avg_weight=1024)
    assert a.gtime_halted == 0
    # at 1.5 ms (1464 units) decay_load shifts by 1464 // 32 = 45 bits: (10**15 - 1.5e6) >> 45 = 28,
    # then * y^24 (0x9837f050 / 2**32 = 0.5946): 16
    b = HaltedPeltAvg()
    b.update(PERIOD_NS, 1, 1, True, avg_weight=1024)
    b.account(10**15)
    b.update(PERIOD_NS + 1_500_000, 1, 1, True, avg_weight=1024)
    assert b.gtime_halted == (28 * 0x9837F050) >> 32 == 16


# ------------------------------------------------------------------------ a 3-level hierarchy
def test_split_update_three_level_hierarchy():
    # sched_account_gtime_halted adds h to each level's entity and cfs_rq; each update_load_avg
    # then splits its own signal with its own flags. Levels (bottom up), all fresh, one update
    # at 4 periods with 2 periods pending everywhere:
    #   vCPU task se (w 1024, on_rq, runnable, curr) in cfs_rq vm (load 1024, 1 runnable, curr)
    #   group se vm (w 512, runnable_weight 1, curr) in cfs_rq machine (load 512, 1, curr)
    #   group se machine (w 1024, runnable 1, curr) in the root (load 2048: + a hog, 2 runnable)
    levels = [("se", 1, 1, 1024), ("cfs", 1024, 1, 1), ("se", 1, 1, 512), ("cfs", 512, 1, 1),
              ("se", 1, 1, 1024), ("cfs", 2048, 2, 1)]
    got = []
    for kind, load, runnable, w in levels:
        x = HaltedPeltAvg()
        x.account(2 * PERIOD_NS)
        x.update(4 * PERIOD_NS, load, runnable, True, avg_weight=w)
        got.append((x.load_avg, x.runnable_avg, x.util_avg, x.gtime_halted))
    # every level: contrib 1981 over the real 2 periods, then decay by 2 periods (y^2):
    #   se: load_sum 1897 -> load_avg = w * 1897 // 46718: 41, 20 (w 512), 41
    #   cfs_rq: load_sum = decay_load(load * 1981, 2): 1024*1981 -> 1942540 // 46718 = 41,
    #           512*1981 -> 971270 // 46718 = 20, 2048*1981 -> 3885080 // 46718 = 83
    #   runnable = decay_load((runnable * 1981) << 10, 2) // 46718: 41 (1 runnable), 83 (2)
    #   util = 1942540 // 46718 = 41 everywhere
    assert _dl(512 * 1981, 2) == 971270 and _dl(2048 * 1981, 2) == 3885080
    assert got == [(41, 41, 41, 0), (41, 41, 41, 0), (20, 41, 41, 0), (20, 41, 41, 0),
                   (41, 41, 41, 0), (83, 83, 41, 0)]
    # The root queue loses the hog's load too for those 2 periods, so its sums no longer equal
    # the sums of its entities (a reviewer's "this breaks the hierarchy"): the hog's undiscounted
    # load_sum (4 periods on_rq: 3878) plus the machine entity's (1897), weighted, exceed the
    # root's 2048-weighted, half-discounted sum.
    hog = PeltAvg()
    hog.update(4 * PERIOD_NS, 1, 1, False, avg_weight=1024)
    assert hog.load_sum == 3878
    assert 1024 * 3878 + 1024 * 1897 == 5913600 > _dl(2048 * 1981, 2) == 3885080


# ------------------------------------------------------------------------ the tick mode's scaling
def test_tick_mode_scales_the_period_by_the_unhalted_fraction():
    # At a host tick (4 ms, HZ=250) the CPU's TSC advanced 4 ms and MPERF 1 ms: f = 1/4 unhalted,
    # h = gtime_halted_stay(4 ms, 1 ms) = 3 ms goes pending and the tick's PELT update accumulates
    # the first 1 ms with the real flags and the last 3 ms absent.
    tick = 4_000_000
    start = 10 * PERIOD_NS
    h = gtime_halted_stay(tick, 1_000_000)
    assert h == 3_000_000
    a, ref = HaltedPeltAvg(), PeltAvg()
    for x in (a, ref):
        x.update(start, 1, 1, True, avg_weight=1024)
    a.account(h)
    a.update(start + tick, 1, 1, True, avg_weight=1024)
    ref.update(start + tick - h, 1, 1, True, avg_weight=1024)
    ref.update(start + tick, 0, 0, False, avg_weight=1024)
    assert (a.util_sum, a.load_sum, a.runnable_sum) == (ref.util_sum, ref.load_sum, ref.runnable_sum)
    # What the period contributed, against a uniform scaling by f: the unhalted part sits first, so
    # it decays by up to the period's length; it lies between f * y^4 and f times the full
    # contribution (4 ms ~ 3.8 PELT periods).
    full, none = PeltAvg(), PeltAvg()
    for x in (full, none):
        x.update(start, 1, 1, True, avg_weight=1024)
    full.update(start + tick, 1, 1, True, avg_weight=1024)
    none.update(start + tick, 0, 0, False, avg_weight=1024)
    c_full = full.util_sum - none.util_sum
    c_tick = a.util_sum - none.util_sum
    assert 0.25 * c_full * (0.5 ** (4 / 32)) <= c_tick <= 0.25 * c_full


class _PatchRef:
    """The patched __update_load_avg_se restated in Python over two plain PeltAvg updates."""

    def __init__(self):
        self.sa = PeltAvg()
        self.pending = 0

    def update(self, now, load, runnable, running, w):
        delta = (now - self.sa.last_update_time) % (1 << 64)
        h = min(delta, self.pending)
        ret = self.sa.update(now - h, load, runnable, running, avg_weight=w)
        if h:
            ret = self.sa.update(now, 0, 0, False, avg_weight=w) or ret
            self.pending -= h
            if ret and self.pending:
                self.pending = decay_load(self.pending, delta // 1024)
        return ret


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(1, 5_000_000), st.integers(0, 6_000_000), st.booleans(),
                                st.booleans()), min_size=1, max_size=40),
       w=st.sampled_from([1, 15, 1024, 88761]))
def test_split_update_matches_the_patch_restated(steps, w):
    # Arbitrary update intervals and halted amounts (sometimes more than the interval, leaving a
    # residual that the next update decays or spends): the C split equals the restatement. The
    # restatement's PeltAvg halves would refresh the averages after the first half too, so the
    # averages are checked against one refresh on the final sums, as the patch does it.
    a, ref = HaltedPeltAvg(), _PatchRef()
    now = 0
    for dt, halted, on_rq, running in steps:
        now += dt
        a.account(halted)
        ref.pending += halted
        got = a.update(now, int(on_rq), int(on_rq), running and on_rq, avg_weight=w)
        want = ref.update(now, int(on_rq), int(on_rq), running and on_rq, w)
        assert got == bool(want)
        assert (a.load_sum, a.runnable_sum, a.util_sum, a.period_contrib, a.last_update_time) == \
               (ref.sa.load_sum, ref.sa.runnable_sum, ref.sa.util_sum, ref.sa.period_contrib,
                ref.sa.last_update_time)
        assert a.gtime_halted == ref.pending
        if got:
            # ___update_load_avg once, on the final sums (the patch recomputes after both halves)
            div = 46718 + a.period_contrib
            assert (a.load_avg, a.runnable_avg, a.util_avg) == (w * a.load_sum // div, a.runnable_sum // div,
                                                                a.util_sum // div)
