"""Compare engine throughput of this tree with another build, side by side in one run.

The machine is shared and noisy, so both builds run the same benchmark windows alternately in
fresh processes, and the report gives the median of the per-pair ratios (this tree / the other)
besides each side's best and median events per CPU-second (``--clock wall``: per wall second). Windows (``measure.py``): ``first`` (simulated
0-1 s) and ``steady`` (after 2 s of untimed warm-up). ``--callgrind`` also counts instructions
and branch mispredicts per event in each window under valgrind (one run per side: the counts do
not depend on machine load). Nothing fails: read the ratios.

    python benchmarks/compare_builds.py --ref main --reps 8       # needs Cython (pip install cython)
    python benchmarks/compare_builds.py --tree /tmp/old-checkout  # an already built tree
    python benchmarks/compare_builds.py --ref main --callgrind --reps 0

The other revision is exported with ``git archive`` into a temporary directory and built in
place; this tree must already be built (``pip install -e .``). Both sides must process the same
events (a difference means results changed, and is printed).
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
root, which, window = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, root); sys.path.insert(0, root + "/benchmarks"); sys.path.insert(0, sys.argv[4])
import pvsched
assert pvsched.__file__.startswith(root), pvsched.__file__
from measure import prepare, timed
w = timed(*prepare(which, window))
print(w.events, w.wall_s, w.cpu_s)
"""

BENCHES = {"host": "host-only 64 pCPU / 1024 tasks", "two": "two-level 16 pCPU / 4 VMs x 16 vCPUs"}


def build(ref: str, where: str) -> str:
    tree = os.path.join(where, "tree")
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd=tree, check=True,
                   capture_output=True)
    return tree


CLOCK = {"wall": 0, "cpu": 1}


def run(tree: str, which: str, window: str, prefix=(), clock: str = "cpu") -> tuple:
    """(events, seconds) of one window in a fresh process, by the wall or the thread CPU clock."""
    out = subprocess.run([*prefix, sys.executable, "-c", CHILD, tree, which, window, HERE], check=True,
                         capture_output=True, text=True)
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
        events = []
        for p in dumps:
            with open(p) as f:
                head = [ln for ln in f if ln.startswith(("events:", "summary:", "totals:"))]
            names = next(ln.split()[1:] for ln in head if ln.startswith("events:"))
            vals = next(ln.split()[1:] for ln in head if ln.startswith(("totals:", "summary:")))
            events.append(dict(zip(names, map(int, vals))))
        last = [e for e in events if e.get("Ir")][-1]           # the timed window's Engine.run call
        return ev, last["Ir"], last.get("Bcm", 0) + last.get("Bim", 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", default="main", help="git revision to compare with (default: main)")
    ap.add_argument("--tree", help="an already built source tree to compare with (instead of --ref)")
    ap.add_argument("--reps", type=int, default=6, help="timed pairs per benchmark window")
    ap.add_argument("--bench", nargs="+", default=["host", "two"], choices=["host", "two"])
    ap.add_argument("--window", nargs="+", default=["steady", "first"], choices=["first", "steady"])
    ap.add_argument("--clock", default="cpu", choices=["cpu", "wall"],
                    help="time by the thread's CPU clock (default: steadier on a loaded machine) or the wall clock")
    ap.add_argument("--callgrind", action="store_true", help="also count instructions per event (valgrind)")
    a = ap.parse_args(argv)
    tmp = None
    try:
        if a.tree:
            ref_tree, ref_name = os.path.abspath(a.tree), a.tree
        else:
            tmp = tempfile.mkdtemp(prefix="pvsched-ref-")
            ref_tree, ref_name = build(a.ref, tmp), a.ref
        for which in a.bench:
            for window in a.window:
                label = f"{which} {window}"
                if a.reps > 0:
                    ours, theirs, ratios = [], [], []
                    for _ in range(a.reps):
                        ev_r, w_r = run(ref_tree, which, window, clock=a.clock)
                        ev_o, w_o = run(ROOT, which, window, clock=a.clock)
                        if ev_r != ev_o:
                            print(f"{label}: event counts differ ({ev_o} here, {ev_r} at {ref_name}): results changed")
                        ours.append(ev_o / w_o)
                        theirs.append(ev_r / w_r)
                        ratios.append(w_r / w_o)
                    unit = "M events per CPU-second" if a.clock == "cpu" else "M events/s"
                    print(f"{label} ({BENCHES[which]}, {ev_o} events): here best {max(ours) / 1e6:.2f} / median "
                          f"{statistics.median(ours) / 1e6:.2f} {unit}; {ref_name} best {max(theirs) / 1e6:.2f}"
                          f" / median {statistics.median(theirs) / 1e6:.2f}; median pairwise speed-up "
                          f"{statistics.median(ratios):.3f}x (best/best {max(ours) / max(theirs):.3f}x)", flush=True)
                if a.callgrind:
                    ev_r, ir_r, bm_r = callgrind(ref_tree, which, window)
                    ev_o, ir_o, bm_o = callgrind(ROOT, which, window)
                    print(f"{label} callgrind: here {ir_o / ev_o:,.0f} instructions and {bm_o / ev_o:.1f} branch "
                          f"mispredicts per event; {ref_name} {ir_r / ev_r:,.0f} and {bm_r / ev_r:.1f}; "
                          f"instructions {ir_r / ir_o:.3f}x fewer" +
                          ("" if ev_r == ev_o else f" (event counts differ: {ev_o} vs {ev_r})"), flush=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
