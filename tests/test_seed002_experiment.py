"""Seed 002 experiment: the acceptance shape, asserted on a reduced run of the full grid
(16 pCPUs, 16 vCPUs per VM, 2/3/4 VMs, 200 ms simulated, two seeds; about 4 s).

What pvsched reproduces: the IPI-heavy (dedup-like) load gains a lot at 2 VMs, less as VMs are added,
never regresses, and the gain comes from IPI-aware directed yield. What it does not: the lock-heavy
(dbench-like) gain attributed to the debooster; that part of the published shape is kept below as a
strict xfail so that a model change that starts reproducing it is noticed.
"""
import pytest

from pvsched.experiments import seed002 as E

NOISE = 3.0     # percent; seed-to-seed spread of a cell is 0.1-2.5 points except dedup at 2 VMs (~13)
VMS = (2, 3, 4)


@pytest.fixture(scope="module")
def grid():
    rows = E.run(seeds=(1, 2), duration_ns=200_000_000)
    return {(r["load"], r["vms"], r["policy"]): r for r in rows}


def gain(grid, load, n, policy):
    return grid[(load, n, policy)]["gain_pct"]


def test_dedup_gain_with_both_is_large_at_2_vms_shrinks_and_never_regresses(grid):
    both = {n: gain(grid, "dedup", n, "both") for n in VMS}
    assert both[2] > 15.0
    assert both[2] > both[3] and both[2] > both[4]
    assert all(b > -NOISE for b in both.values())


def test_dedup_gain_comes_mostly_from_ipi_aware_yield(grid):
    for n in VMS:
        ipi, db, both = (gain(grid, "dedup", n, p) for p in ("ipi", "debooster", "both"))
        assert ipi > db + NOISE
        assert ipi > 0.75 * both
    # mechanism: the boosted vCPU is the one the spinner waits for far more often
    for n in VMS:
        base, aware = grid[("dedup", n, "baseline")], grid[("dedup", n, "ipi")]
        assert aware["boost_useful"] > 1.5 * base["boost_useful"]


def test_dbench_never_regresses_beyond_noise_with_both(grid):
    for n in VMS:
        assert gain(grid, "dbench", n, "both") > -NOISE


def test_debooster_cells_really_apply_penalties(grid):
    # the debooster's (lack of) effect is not an inert switch: it fires in every cell where it is on
    for load in E.LOADS:
        for n in VMS:
            assert grid[(load, n, "debooster")]["deboost_applied"] > 0
            assert grid[(load, n, "baseline")]["deboost_applied"] == 0


@pytest.mark.xfail(strict=True, reason=(
    "pvsched does not reproduce the seed's dbench gain from the debooster: it acts only on same-runqueue "
    "targets, its 6 ms per-rq limiter is mostly consumed by cross-runqueue yields, and its penalty lands on "
    "spinning waiters that later become queue heads/holders and are then ineligible for directed yield "
    "(the 600 us debounce can never fire under the 6 ms limiter). See pvsched/experiments/seed002.py."))
def test_dbench_shape_as_published(grid):
    both = {n: gain(grid, "dbench", n, "both") for n in VMS}
    assert both[2] > NOISE and both[2] > both[4]
    for n in VMS:
        assert gain(grid, "dbench", n, "debooster") > gain(grid, "dbench", n, "ipi")


def test_table_prints_seed_numbers_beside_the_simulated_gains(grid):
    text = E.table(list(grid.values()))
    lines = [ln for ln in text.splitlines() if ln.startswith(("dbench", "dedup"))]
    assert len(lines) == 6
    for load in E.LOADS:
        for n in VMS:
            line = next(ln for ln in lines if ln.split()[:2] == [load, str(n)])
            assert f"+{E.SEED_GAINS[load][n]:.1f}%" in line
            assert f"{gain(grid, load, n, 'both'):+.1f}%" in line


def test_main_prints_the_table(capsys):
    assert E.main(["--duration-ms", "20", "--vms", "2", "--cpus", "4", "--vcpus", "4"]) == 0
    out = capsys.readouterr().out
    assert "seed (both)" in out and "+47.1%" in out and "+14.4%" in out


def test_scenario_cells_differ_only_in_the_policy():
    a = E.scenario(2, "dedup", "baseline")
    b = E.scenario(2, "dedup", "both")
    assert [vm.pin for vm in a.vms] == [vm.pin for vm in b.vms]
    assert not a.host.debooster.enabled and b.host.debooster.enabled
    assert not a.vms[0].yield_policy.ipi_aware and b.vms[0].yield_policy.ipi_aware
    # the stand-in placement is balanced: every pCPU holds one vCPU thread per VM
    pins = [c for vm in a.vms for c in vm.pin]
    assert sorted(pins) == sorted(list(range(16)) * 2)
    with pytest.raises(ValueError):
        E.scenario(2, "vips", "both")


def test_hardware_ipi_virtualization_hides_tracking_but_not_the_pending_tier():
    rows = {r["hw"]: r for r in E.run_hw(vms=(2,), duration_ns=150_000_000)}
    sw, apicv, ipiv = rows["software LAPIC"], rows["APICv"], rows["APICv + IPIv"]
    assert sw["ipi_tracked"] > 0 and apicv["ipi_tracked"] > 0           # the ICR write still exits with APICv
    assert ipiv["ipi_tracked"] == 0 and ipiv["boost_ipi_receiver"] == 0  # with IPIv KVM never sees the IPI
    # with APICv the stock kernel already sees a preempted receiver's pending interrupt
    assert apicv["baseline"] > 1.1 * sw["baseline"]
    assert sw["gain_pct"] > apicv["gain_pct"] > 0 and ipiv["gain_pct"] > 0
    assert "APICv + IPIv" in E.hw_table(list(rows.values()))
