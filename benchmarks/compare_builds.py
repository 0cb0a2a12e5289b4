"""Compare engine throughput of this tree with another git revision, side by side in one run.

The machine is shared and noisy, so both builds run the same benchmark scenarios alternately in
fresh processes, and the report gives the median of the per-pair ratios (this tree / the other)
besides each side's best and median events/s. Nothing fails: read the ratio.

    python benchmarks/compare_builds.py --ref main --reps 8      # needs Cython (pip install cython)

The other revision is exported with ``git archive`` into a temporary directory and built in
place; this tree must already be built (``pip install -e .``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = r"""
import sys, time
root, which = sys.argv[1], sys.argv[2]
sys.path.insert(0, root); sys.path.insert(0, root + "/benchmarks")
import pvsched
assert pvsched.__file__.startswith(root), pvsched.__file__
from pvsched import Simulation
from scenarios import host_only, two_level
sim = Simulation(host_only() if which == "host" else two_level())
t0 = time.perf_counter(); r = sim.run(); w = time.perf_counter() - t0
print(r.events, r.events / w)
"""


def build(ref: str, where: str) -> str:
    tree = os.path.join(where, "tree")
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd=tree, check=True,
                   capture_output=True)
    return tree


def run(tree: str, which: str) -> tuple:
    out = subprocess.run([sys.executable, "-c", CHILD, tree, which], check=True, capture_output=True, text=True)
    ev, eps = out.stdout.split()
    return int(ev), float(eps)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", default="main", help="git revision to compare with (default: main)")
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--bench", nargs="+", default=["host", "two"], choices=["host", "two"])
    a = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="pvsched-ref-")
    try:
        ref_tree = build(a.ref, tmp)
        for which in a.bench:
            ours, theirs, ratios = [], [], []
            for _ in range(a.reps):
                ev_r, r = run(ref_tree, which)
                ev_o, o = run(ROOT, which)
                if ev_r != ev_o:
                    print(f"{which}: event counts differ ({ev_o} here, {ev_r} at {a.ref}): results changed")
                ours.append(o)
                theirs.append(r)
                ratios.append(o / r)
            print(f"{which}: here best {max(ours) / 1e6:.2f} / median {statistics.median(ours) / 1e6:.2f} M events/s; "
                  f"{a.ref} best {max(theirs) / 1e6:.2f} / median {statistics.median(theirs) / 1e6:.2f}; "
                  f"median pairwise ratio {statistics.median(ratios):.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
