"""Compare the engine throughput of two built source trees side by side, interleaved in one run
(the machine is shared and noisy: never compare timings taken at different moments).

    python setup.py build_ext --inplace                      # this tree
    git archive main | tar -x -C /tmp/main && (cd /tmp/main && python setup.py build_ext --inplace)
    python benchmarks/compare_builds.py /tmp/main --rounds 7

Each round runs every benchmark scenario once per tree, in alternating order, each in a fresh
interpreter that imports pvsched from that tree; a scenario's events/s is the best of its rounds.
``--trace`` also runs this tree with the event trace on (a ring of ``--trace-cap`` events).
``--cpu-time`` divides by the child's CPU time (time.process_time) instead of wall time and also
prints the median of the per-round ratios: steadier when other jobs share the machine.
Prints events/s per tree and the ratio this/other; it reports, it does not fail.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
THIS = os.path.dirname(HERE)

CHILD = r"""
import json, sys, time
sys.path.insert(0, {tree!r})
sys.path.insert(1, {bench!r})
import pvsched
assert pvsched.__file__.startswith({tree!r}), pvsched.__file__
from pvsched import Simulation
from scenarios import host_only, two_level
sc = {{"host": host_only, "two_level": two_level}}[{name!r}]()
if {trace_cap!r}:
    from pvsched.trace import TraceConfig
    sc.trace = TraceConfig(enabled=True, cap_events={trace_cap!r}, mode="ring")
sim = Simulation(sc)
t0, c0 = time.perf_counter(), time.process_time()
r = sim.run()
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({{"events": r.events, "wall": wall, "cpu": cpu}}))
"""


def run_once(tree: str, name: str, trace_cap: int = 0) -> dict:
    code = CHILD.format(tree=os.path.abspath(tree), bench=HERE, name=name, trace_cap=trace_cap)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", help="the other built source tree (e.g. main)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scenarios", default="host,two_level")
    ap.add_argument("--trace", action="store_true", help="also time this tree with tracing on")
    ap.add_argument("--trace-cap", type=int, default=1_000_000)
    ap.add_argument("--cpu-time", action="store_true", help="events per CPU second of the child, not per wall second")
    args = ap.parse_args(argv)
    variants = [("this", THIS, 0), ("other", args.other, 0)]
    if args.trace:
        variants.append(("this+trace", THIS, args.trace_cap))
    best, ratios = {}, {}
    for rnd in range(args.rounds):
        for name in args.scenarios.split(","):
            order = variants if rnd % 2 == 0 else variants[::-1]
            got = {}
            for label, tree, cap in order:
                r = run_once(tree, name, cap)
                key = (name, label)
                eps = r["events"] / (r["cpu"] if args.cpu_time else r["wall"])
                got[label] = eps
                best[key] = max(best.get(key, 0.0), eps)
                best[(name, "events", label)] = r["events"]
            ratios.setdefault(name, []).append(got["this"] / got["other"])
    for name in args.scenarios.split(","):
        this, other = best[(name, "this")], best[(name, "other")]
        line = (f"{name:>10}: this {this / 1e6:6.3f} M events/s, other {other / 1e6:6.3f} M events/s, "
                f"this/other {this / other:.3f}")
        if best[(name, "events", "this")] != best[(name, "events", "other")]:
            line += f" (events differ: {best[(name, 'events', 'this')]} vs {best[(name, 'events', 'other')]})"
        rs = sorted(ratios[name])
        line += f", median round ratio {rs[len(rs) // 2]:.3f} (range {rs[0]:.3f}-{rs[-1]:.3f})"
        if args.trace:
            on = best[(name, "this+trace")]
            line += f"; tracing on {on / 1e6:6.3f} M events/s ({on / this:.2f} x off)"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
