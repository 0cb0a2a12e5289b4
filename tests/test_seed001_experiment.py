"""Seed 001 experiment: the asserted shape of the rtla hwnoise table, what pvsched does not
reproduce (a strict xfail with the reason), the mechanism behind it, the nohz_full limitation, and
the README's table checked against a fresh run."""
import os
import re

import pytest

from pvsched import Simulation
from pvsched.cli import main as cli_main
from pvsched.experiments import seed001

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def table():
    """The default run (scopes layout, seed 1, 60 s + 120 s), as printed and in the README."""
    return seed001.run_main_table(seed001.Setup())


@pytest.fixture(scope="module")
def flat():
    return seed001.run_main_table(seed001.Setup(layout="flat"), modes=("off", "exact"))


def test_off_busy_vcpus_lose_tens_of_percent(table, flat):
    for cells in (table, flat):
        off = cells["off"]
        assert off["busy_avail_mean"] < 80                    # seed: 31.6-67.8 %
        assert max(r["max_single_us"] for r in off["rows"].values()) >= 8_000   # >= two host ticks
        assert off["hog_migrations"] > 100                    # hogs wander over all 16 pCPUs


def test_exact_moves_every_hog_to_the_idle_vcpus_when_vcpus_and_hogs_are_plain_tasks(flat):
    ex = flat["exact"]
    assert sorted(ex["hog_cpus"]) == list(range(8, 16))
    assert ex["busy_avail_min"] >= 99.0                       # seed: 99.88-100 %
    assert ex["util"]["idle"] < 10 <= ex["util"]["idle_raw"] # the balancer saw the discounted signal


def test_exact_improves_the_busy_vcpus_in_the_default_layout(table):
    off, ex = table["off"], table["exact"]
    assert ex["busy_avail_mean"] > off["busy_avail_mean"] + 15
    assert sum(1 for c in ex["hog_cpus"] if c >= 8) >= 6
    assert ex["util"]["idle"] < 10 and ex["util"]["idle_raw"] > 300


@pytest.mark.xfail(strict=True, reason=(
    "pvsched does not reproduce the patched rows (>= 99.88 % on every CPU) when QEMU and stress sit in two "
    "sibling cgroups (the layout that reproduces the baseline): a halted vCPU that waits while a hog runs is not "
    "in guest mode, so that time is not discounted; its group cfs_rq keeps about 60 % load, the VM group's "
    "shares shift to the idle vCPUs and the busy vCPUs' group entities weigh less than the hogs', so busy pCPUs "
    "look lighter and the periodic balance keeps pulling hogs back (about 92 % available; some seeds settle). "
    "With vCPUs and hogs in one cgroup the shape holds (test above). See pvsched/experiments/seed001.py."))
def test_exact_reaches_99_percent_on_every_busy_vcpu_in_the_default_layout(table):
    assert table["exact"]["busy_avail_min"] >= 99.0


def test_the_mechanism_behind_the_default_layout_result():
    # In exact mode the busy vCPUs' group entities end up lighter than the hogs' group entities.
    setup = seed001.Setup(warmup_ns=20_000_000_000, duration_ns=1_000_000_000)
    sim = Simulation(seed001.scenario(setup, "exact"))
    r = sim.run(until_ns=21_000_000_000)
    e = sim.engine
    q, st = sim.cgroup_index("qemu"), sim.cgroup_index("stress")
    busy_w = [e.entity(e.group_entity(q, c))["weight"] for c in range(8)]
    hog_w = [e.entity(e.group_entity(st, c))["weight"] for c in range(16)]
    assert max(busy_w) < min(hog_w)
    # ... because the idle vCPUs' group queues still carry load where a hog shares their pCPU
    shared = {int(r.task(f"hog[{j}]").cpu) for j in range(8)} - set(range(8))
    assert shared and all(e.cfs_rq_state(q, c)["load_avg"] > 300 for c in shared)


def test_tick_is_reported_and_coincides_with_exact_here(table):
    # every stay of a halted vCPU ends at a host tick, so both modes hand the same halted time to
    # the same PELT updates; tick reads MSRs only per tick
    assert table["tick"]["rows"] == table["exact"]["rows"]
    assert table["tick"]["msr_reads_per_s"] == 2 * 16 * 250
    assert table["exact"]["msr_reads_per_s"] > table["tick"]["msr_reads_per_s"]


def test_nohz_full_limitation():
    setup = seed001.Setup(warmup_ns=10_000_000_000, duration_ns=10_000_000_000)
    off = seed001.run_cell(setup.replace(no_hz_full=True), "off")
    ex = seed001.run_cell(setup.replace(no_hz_full=True), "exact")
    assert ex["rows"] == off["rows"]                          # the hook is compiled out
    iso = {m: seed001.run_cell(setup.replace(nohz_full=list(range(1, 16))), m) for m in ("exact", "tick")}
    for m, c in iso.items():                                  # idle vCPUs' pCPUs never tick: nothing moves
        assert c["hog_migrations"] == 0 and c["busy_avail_mean"] < 70, m


def test_readme_holds_the_measured_tables(table, flat):
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert seed001.markdown_table(table) in readme
    assert seed001.markdown_summary({"scopes": table, "flat": flat}) in readme


def test_reproduce_runs_from_the_cli(capsys):
    assert cli_main(["reproduce", "seed001", "--quick", "--no-sweep"]) == 0
    out = capsys.readouterr().out
    assert "mode exact" in out and re.search(r"^\s+0\s+\d+ \(4443\)", out, re.M)
