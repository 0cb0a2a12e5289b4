"""Command line: ``pvsched run SCENARIO.toml``, ``pvsched bench``.

>>> main(["--help"])  # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import List, Optional

from pvsched.errors import NotModelledError, ScenarioError


def _cmd_run(args) -> int:
    from pvsched import Scenario, Simulation
    sc = Scenario.from_toml(args.scenario, is_path=True)
    if args.seed is not None:
        sc.seed = args.seed
    until = args.until_ns if args.until_ns is not None else sc.duration_ns
    sim = Simulation(sc)
    r = sim.run(until_ns=until)
    print(r.summary(max_rows=args.rows))
    print(f"wall {r.wall_s:.3f} s, {r.events_per_s / 1e6:.2f} M events/s")
    if args.json:
        rows = []
        for n in r.task_names:
            tv = r.task(n)
            d = {"task": n}
            d.update({k: getattr(tv, k) for k in r.TASK_COLUMNS})
            d.update(r.latency(n).summary())
            rows.append(d)
        with open(args.json, "w") as f:
            json.dump({"tasks": rows, "now_ns": r.now_ns, "events": r.events}, f, indent=1)
    if args.csv:
        import csv
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            cols = ["task"] + list(r.TASK_COLUMNS)
            w.writerow(cols)
            for i, n in enumerate(r.task_names):
                w.writerow([n] + [int(r.raw["task"][k][i]) for k in r.TASK_COLUMNS])
    return 0


def _cmd_bench(args) -> int:
    import os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    try:
        from scenarios import host_only
    except ImportError:
        print("pvsched bench needs the source tree's benchmarks/ directory", file=sys.stderr)
        return 2
    from pvsched import Simulation
    best = None
    for _ in range(args.repeat):
        sim = Simulation(host_only(duration_ns=args.duration_ns))
        t0 = time.perf_counter()
        r = sim.run()
        wall = time.perf_counter() - t0
        best = wall if best is None else min(best, wall)
    print(f"host-only 64 pCPU / 1024 tasks: {r.events} events in {best:.3f} s = "
          f"{r.events / best / 1e6:.2f} M events/s, {r.now_ns / 1e9 / best:.2f} simulated s per wall s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pvsched", description="Simulate double scheduling (Linux/KVM host and guests).")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a scenario TOML file and print its summary table")
    r.add_argument("scenario")
    r.add_argument("--until-ns", type=int, default=None, help="simulated time (default: the scenario's duration_ns)")
    r.add_argument("--seed", type=int, default=None)
    r.add_argument("--rows", type=int, default=40, help="task rows to print")
    r.add_argument("--json", help="write the task table as JSON")
    r.add_argument("--csv", help="write the task table as CSV")
    r.set_defaults(fn=_cmd_run)
    b = sub.add_parser("bench", help="measure engine throughput (events/s)")
    b.add_argument("--duration-ns", type=int, default=1_000_000_000)
    b.add_argument("--repeat", type=int, default=3)
    b.set_defaults(fn=_cmd_bench)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (ScenarioError, NotModelledError, FileNotFoundError) as e:
        print(f"pvsched: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
