"""Seed 002 experiment: the acceptance shape, asserted on a reduced run of the full grid
(16 pCPUs, 16 vCPUs per VM, 2/3/4 VMs, 200 ms simulated, two seeds; about 6 s).

What pvsched reproduces: with both mechanisms on, both loads gain at 2 VMs, less at 4, and never
regress; the IPI-heavy (dedup-like) gain comes from IPI-aware directed yield. What it does not: the
lock-heavy (dbench-like) gain attributed to the debooster. In pvsched the KVM half's
last_boosted_vcpu fix (patch 6) carries the dbench gain, and the debooster alone (the posted v1
limiter lets about one penalty per run through) stays within the baseline's perturbation noise.
That part of the published shape is a strict xfail so that a model change that reproduces it is
noticed.
"""
import pytest

from pvsched.experiments import seed002 as E

VMS = (2, 3, 4)


@pytest.fixture(scope="module")
def grid():
    rows = E.run(seeds=(1, 2), duration_ns=200_000_000)
    return {(r["load"], r["vms"], r["policy"]): r for r in rows}


def gain(grid, load, n, policy):
    return grid[(load, n, policy)]["gain_pct"]


def noise(grid, load, n):
    # the baseline's own sensitivity to a 1 ns perturbation, floored at 1 point
    return max(1.0, grid[(load, n, "baseline")]["noise_pct"])


@pytest.mark.parametrize("load", E.LOADS)
def test_gain_with_both_is_positive_at_2_vms_smaller_at_4_and_never_a_regression(grid, load):
    both = {n: gain(grid, load, n, "both") for n in VMS}
    assert both[2] > 15.0
    assert both[2] > both[4]
    for n in VMS:
        assert both[n] > -noise(grid, load, n)


def test_dedup_gain_comes_mostly_from_ipi_aware_yield(grid):
    for n in (3, 4):      # at 2 VMs the baseline is bistable (noise of hundreds of percent)
        ipi, db, both = (gain(grid, "dedup", n, p) for p in ("ipi", "debooster", "both"))
        assert ipi > db + noise(grid, "dedup", n)
        assert ipi > 0.75 * both
        assert ipi > gain(grid, "dedup", n, "lbfix") + noise(grid, "dedup", n)   # more than patch 6 alone
    # mechanism: the boosted vCPU is the one the spinner waits for far more often
    for n in VMS:
        base, aware = grid[("dedup", n, "baseline")], grid[("dedup", n, "ipi")]
        assert aware["boost_useful"] > 1.5 * base["boost_useful"]


def test_dbench_kvm_side_gain_is_the_last_boosted_fix(grid):
    for n in VMS:
        fix, ipi = gain(grid, "dbench", n, "lbfix"), gain(grid, "dbench", n, "ipi")
        assert fix > 10.0
        assert abs(ipi - fix) < 2.0 + noise(grid, "dbench", n)


def test_debooster_is_live_but_rarely_passes_the_v1_limiter(grid):
    for load in E.LOADS:
        for n in VMS:
            assert grid[(load, n, "baseline")]["deboost_applied"] == 0
            assert grid[(load, n, "debooster")]["deboost_applied"] < 20      # per run, for ~10^5 yields
    assert sum(grid[(load, n, "debooster")]["deboost_applied"] for load in E.LOADS for n in VMS) > 0


@pytest.mark.xfail(strict=True, reason=(
    "pvsched does not reproduce the seed's dbench gain from the debooster alone: with the posted v1 "
    "limiter (the 6 ms window restarts on every yield_to) about one penalty per run passes during "
    "pause-loop storms, so the debooster's effect stays within the baseline's perturbation noise; "
    "with the v2 limiter or none, penalties land on FIFO-lock waiters that become queue heads and "
    "throughput falls. The KVM half's last_boosted_vcpu fix carries the dbench gain instead, and an "
    "independent s390 test of the same change measured dbench +1.3 % (PEER_ANCHORS). "
    "See pvsched/experiments/seed002.py."))
def test_dbench_gain_comes_from_the_debooster_as_published(grid):
    for n in VMS:
        assert gain(grid, "dbench", n, "debooster") > noise(grid, "dbench", n)
        assert gain(grid, "dbench", n, "debooster") > gain(grid, "dbench", n, "ipi")


def test_debooster_dbench_gain_sides_with_the_independent_s390_measurement(grid):
    # Borntraeger/Buturla measured the same scheduler-side change at 2:1 overcommit: +1.3 %.
    anchor = E.PEER_ANCHORS["dbench"][2][0]
    sim = gain(grid, "dbench", 2, "debooster")
    assert abs(sim - anchor) < abs(sim - E.SEED_GAINS["dbench"][2])


def test_main_prints_the_independent_anchor(capsys):
    E.main(["--duration-ms", "20", "--seeds", "1", "--vms", "2", "--no-hw", "--no-pvsy"])
    out = capsys.readouterr().out
    assert "independent anchor, dbench 2 VMs: +1.3%" in out and "Borntraeger" in out


def test_table_prints_seed_numbers_beside_the_simulated_gains(grid):
    text = E.table(list(grid.values()))
    lines = [ln for ln in text.splitlines() if ln.startswith(("dbench", "dedup"))]
    assert len(lines) == 6
    for load in E.LOADS:
        for n in VMS:
            line = next(ln for ln in lines if ln.split()[:2] == [load, str(n)])
            assert f"+{E.SEED_GAINS[load][n]:.1f}% ({E.SEED_POLICY[load]})" in line
            for p in ("debooster", "ipi", "both", "lbfix"):
                assert f"{gain(grid, load, n, p):+.1f}%" in line


def test_main_prints_the_table(capsys):
    assert E.main(["--duration-ms", "20", "--vms", "2", "--cpus", "4", "--vcpus", "4"]) == 0
    out = capsys.readouterr().out
    assert "+47.1% (both)" in out and "+14.4% (debooster)" in out and "lb-fix" in out


def test_scenario_cells_differ_only_in_the_policy():
    a = E.scenario(2, "dedup", "baseline")
    b = E.scenario(2, "dedup", "both")
    assert [vm.pin for vm in a.vms] == [vm.pin for vm in b.vms]
    assert not a.host.debooster.enabled and b.host.debooster.enabled
    assert not a.vms[0].yield_policy.ipi_aware and b.vms[0].yield_policy.ipi_aware
    # the stand-in placement is balanced: every pCPU holds two vCPU threads (VMs mixed at random)
    pins = [c for vm in a.vms for c in vm.pin]
    assert sorted(pins) == sorted(list(range(16)) * 2)
    assert not a.vms[0].yield_policy.fix_last_boosted                   # v6.18 KVM: the bug
    assert E.scenario(2, "dedup", "lbfix").vms[0].yield_policy.fix_last_boosted
    assert E.scenario(2, "dedup", "baseline", kvm="v6.19").vms[0].yield_policy.fix_last_boosted
    with pytest.raises(ValueError):
        E.scenario(2, "vips", "both")
    with pytest.raises(ValueError):
        E.scenario(2, "dedup", "both", kvm="v7.0")


def test_hardware_ipi_virtualization_hides_tracking_but_not_the_pending_tier():
    rows = {r["hw"]: r for r in E.run_hw(vms=(2,), duration_ns=150_000_000)}
    sw, apicv, ipiv = rows["software LAPIC"], rows["APICv"], rows["APICv + IPIv"]
    assert sw["ipi_tracked"] > 0 and apicv["ipi_tracked"] > 0           # the ICR write still exits with APICv
    assert ipiv["ipi_tracked"] == 0 and ipiv["boost_ipi_receiver"] == 0  # with IPIv KVM never sees the IPI
    # with APICv the stock kernel already sees a preempted receiver's pending interrupt
    assert apicv["baseline"] > 1.1 * sw["baseline"]
    assert sw["gain_pct"] > apicv["gain_pct"] > 0 and ipiv["gain_pct"] > 0
    assert "APICv + IPIv" in E.hw_table(list(rows.values()))


def test_guest_pv_sched_yield_already_covers_multi_target_calls():
    rows = {(r["vms"], r["policy"]): r["gain_pct"] for r in E.run_pvsy(vms=(3, 4), seeds=(1, 2),
                                                                      duration_ns=200_000_000)}
    for n in (3, 4):
        pvsy, ipi, both = rows[(n, "guest pv-sched-yield")], rows[(n, "ipi-aware")], rows[(n, "both")]
        assert pvsy > 5.0 and ipi > 0.0
        assert pvsy > ipi                   # the guest's own hint beats the host-side inference here
        assert both < pvsy + 3.0            # and IPI-aware yield adds nothing on top of it
    assert "guest pv-sched-yield" in E.pvsy_table(E.run_pvsy(vms=(2,), duration_ns=20_000_000, cpus=4, vcpus=4))
