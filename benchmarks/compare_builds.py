"""Compare the engine throughput of this tree with another build, side by side in one run (the
machine is shared and noisy: never compare timings taken at different moments).

    python setup.py build_ext --inplace                      # this tree (or pip install -e .)
    git archive main | tar -x -C /tmp/main && (cd /tmp/main && python setup.py build_ext --inplace)
    python benchmarks/compare_builds.py /tmp/main --rounds 7
    python benchmarks/compare_builds.py --ref main            # export and build a git revision
    python benchmarks/compare_builds.py /tmp/main --callgrind --rounds 0

Each round runs every benchmark window once per tree, in alternating order, each in a fresh
interpreter that imports pvsched from that tree. Windows (``measure.py``): ``first`` (simulated
0-1 s) and ``steady`` (after 2 s of untimed warm-up). Timed by the thread's CPU clock (default:
the steadier number on a loaded machine) or the wall clock (``--clock wall``). The report gives
each side's best and median events/s and the median of the per-round ratios. ``--trace`` also
runs this tree with the event trace on (a ring of ``--trace-cap`` events). ``--callgrind`` counts
instructions and branch mispredicts per event of each window under valgrind (one run per side:
the counts do not depend on machine load). Both sides must process the same events (a difference
means results changed, and is printed). It reports; it does not fail.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = r"""
import sys
root, which, window, bench, cap = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
sys.path.insert(0, root); sys.path.insert(1, root + "/benchmarks"); sys.path.insert(2, bench)
import pvsched
assert pvsched.__file__.startswith(root), pvsched.__file__
from measure import prepare, timed
w = timed(*prepare(which, window, trace_cap=cap))
print(w.events, w.wall_s, w.cpu_s)
"""

NAMES = {"host": "host", "two": "two", "two_level": "two"}
BENCHES = {"host": "host-only 64 pCPU / 1024 tasks", "two": "two-level 16 pCPU / 4 VMs x 16 vCPUs"}
CLOCK = {"wall": 0, "cpu": 1}


def build(ref: str, where: str) -> str:
    tree = os.path.join(where, "tree")
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd=tree, check=True,
                   capture_output=True)
    return tree


def run(tree: str, which: str, window: str, prefix=(), clock: str = "cpu", trace_cap: int = 0) -> tuple:
    """(events, seconds) of one window in a fresh process, by the wall or the thread CPU clock."""
    out = subprocess.run([*prefix, sys.executable, "-c", CHILD, os.path.abspath(tree), which, window, HERE,
                          str(trace_cap)], check=True, capture_output=True, text=True, cwd="/")
    ev, wall, cpu = out.stdout.split()[-3:]
    return int(ev), (float(wall), float(cpu))[CLOCK[clock]]


def _run_symbol(tree: str) -> str:
    """The C name of Engine.run's wrapper in a tree's built core (its number varies by build)."""
    so = glob.glob(os.path.join(tree, "pvsched", "_core*.so"))[0]
    syms = subprocess.run(["nm", so], check=True, capture_output=True, text=True).stdout.split()
    return next(x for x in syms if re.fullmatch(r"__pyx_pw_7pvsched_5_core_6Engine_\d+run", x))


def callgrind(tree: str, which: str, window: str) -> tuple:
    """(events, instructions, branch mispredicts) of the window, counted inside Engine.run only
    (one profile dump per Engine.run call: the warm-up's, then the window's)."""
    sym = _run_symbol(tree)
    with tempfile.TemporaryDirectory(prefix="pvsched-cg-") as d:
        out = os.path.join(d, "cg.out")
        ev, _ = run(tree, which, window, prefix=[
            "valgrind", "--tool=callgrind", "--branch-sim=yes", f"--callgrind-out-file={out}",
            "--collect-atstart=no", f"--toggle-collect={sym}", f"--dump-after={sym}"])
        dumps = sorted(glob.glob(out + "*"), key=lambda p: int(p.rsplit(".", 1)[-1]) if p[-1].isdigit() else 0)
        totals = []
        for p in dumps:
            with open(p) as f:
                head = [ln for ln in f if ln.startswith(("events:", "summary:", "totals:"))]
            names = next(ln.split()[1:] for ln in head if ln.startswith("events:"))
            vals = next(ln.split()[1:] for ln in head if ln.startswith(("totals:", "summary:")))
            totals.append(dict(zip(names, map(int, vals))))
        last = [e for e in totals if e.get("Ir")][-1]           # the timed window's Engine.run call
        return ev, last["Ir"], last.get("Bcm", 0) + last.get("Bim", 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("other", nargs="?", help="the other built source tree (e.g. an export of main)")
    ap.add_argument("--ref", help="instead: a git revision to export and build (needs Cython)")
    ap.add_argument("--rounds", "--reps", type=int, default=5, help="timed rounds per window (0: none)")
    ap.add_argument("--scenarios", "--bench", default="host,two", help="host, two (two_level) or both")
    ap.add_argument("--window", nargs="+", default=["steady", "first"], choices=["first", "steady"])
    ap.add_argument("--clock", default="cpu", choices=["cpu", "wall"],
                    help="the thread's CPU clock (default; steadier on a loaded machine) or the wall clock")
    ap.add_argument("--trace", action="store_true", help="also time this tree with tracing on")
    ap.add_argument("--trace-cap", type=int, default=1_000_000)
    ap.add_argument("--cpu-time", action="store_const", const="cpu", dest="clock",
                    help="same as --clock cpu (the default)")
    ap.add_argument("--callgrind", action="store_true", help="also count instructions per event (valgrind)")
    a = ap.parse_args(argv)
    if bool(a.other) == bool(a.ref):
        ap.error("give the other tree or --ref REV")
    tmp = None
    try:
        if a.other:
            other, other_name = os.path.abspath(a.other), a.other
        else:
            tmp = tempfile.mkdtemp(prefix="pvsched-ref-")
            other, other_name = build(a.ref, tmp), a.ref
        unit = "M events per CPU-second" if a.clock == "cpu" else "M events/s"
        for name in a.scenarios.replace(",", " ").split():
            which = NAMES[name]
            for window in a.window:
                label = f"{which} {window}"
                if a.rounds > 0:
                    sides = {"this": [], "other": [], "trace": []}
                    ratios, events = [], {}
                    variants = [("this", ROOT, 0), ("other", other, 0)]
                    if a.trace:
                        variants.append(("trace", ROOT, a.trace_cap))
                    for rnd in range(a.rounds):
                        got = {}
                        for side, tree, cap in (variants if rnd % 2 == 0 else variants[::-1]):
                            ev, t = run(tree, which, window, clock=a.clock, trace_cap=cap)
                            events[side] = ev
                            got[side] = ev / t
                            sides[side].append(ev / t)
                        ratios.append(got["this"] / got["other"])
                    this, oth = sides["this"], sides["other"]
                    line = (f"{label} ({BENCHES[which]}, {events['this']} events): this best {max(this) / 1e6:.2f} / "
                            f"median {statistics.median(this) / 1e6:.2f} {unit}; {other_name} best "
                            f"{max(oth) / 1e6:.2f} / median {statistics.median(oth) / 1e6:.2f}; median per-round "
                            f"this/other {statistics.median(ratios):.3f} (best/best {max(this) / max(oth):.3f})")
                    if events["this"] != events["other"]:
                        line += f"; EVENTS DIFFER ({events['this']} vs {events['other']}): results changed"
                    if a.trace:
                        line += (f"; tracing on: best {max(sides['trace']) / 1e6:.2f} "
                                 f"({max(sides['trace']) / max(this):.2f} x off)")
                    print(line, flush=True)
                if a.callgrind:
                    ev_o, ir_o, bm_o = callgrind(other, which, window)
                    ev_t, ir_t, bm_t = callgrind(ROOT, which, window)
                    print(f"{label} callgrind: this {ir_t / ev_t:,.0f} instructions and {bm_t / ev_t:.1f} branch "
                          f"mispredicts per event; {other_name} {ir_o / ev_o:,.0f} and {bm_o / ev_o:.1f}; "
                          f"instructions {ir_o / ir_t:.3f}x fewer" +
                          ("" if ev_o == ev_t else f" (EVENTS DIFFER: {ev_t} vs {ev_o})"), flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
