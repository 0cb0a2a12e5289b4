"""The campaign runner: cases in forked worker processes with a timeout, crash and hang detection,
and the ``python -m pvsched.fuzz`` command line."""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
import traceback
import warnings
from multiprocessing.connection import wait as mp_wait
from typing import Any, Callable, Dict, List, Optional, Sequence

from pvsched.fuzz.cases import KINDS, make_case, run_case


def _child(conn, fn):
    try:
        conn.send(("ok", fn()))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(e).__name__}: {e}"))


def in_child(fn: Callable[[], Any], timeout_s: float = 60.0):
    """``fn()`` in a forked process: ``("ok", value)``, ``("error", "Type: message")``,
    ``("hang", seconds)`` or ``("crash", exit code)`` -- a crash or a hang cannot take the caller
    down. The value must be picklable."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(child, fn))
    p.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            p.kill()
            return ("hang", timeout_s)
        try:
            return parent.recv()
        except EOFError:
            p.join()
            return ("crash", p.exitcode)
    finally:
        p.join()
        parent.close()


def _worker(conn, seed, indices, kinds, parent):
    from pvsched.sweep.executors import _worker_init
    _worker_init(parent)            # die with the campaign driver; Ctrl-C goes to the driver
    for i in indices:
        conn.send(("start", i, time.monotonic()))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")     # a case's scenario advice is not the campaign's output
                case = make_case(seed, i, kinds)
        except Exception as e:  # noqa: BLE001 - a generator bug is reported, not a dead worker
            conn.send(("done", i, {"status": "failed", "kind": "?", "what": "making the case",
                                   "detail": f"harness: {type(e).__name__}: {e}"[:500]}))
            continue
        out = run_case(case)
        out.update(kind=case.kind, what=case.what[:500])
        conn.send(("done", i, out))
    conn.send(("exit", None, None))


def campaign(seed: int = 1, cases: int = 1000, start: int = 0, workers: int = 1, timeout_s: float = 60.0,
             kinds: Sequence[str] = KINDS, progress: Optional[Callable[[int, Dict], None]] = None) -> Dict[str, Any]:
    """Run cases ``start .. start + cases - 1`` of campaign ``seed`` in ``workers`` forked worker
    processes; a case that raises in an unexpected way, crashes its worker or runs longer than
    ``timeout_s`` is a failure. Returns counts by kind and status, and the failures."""
    ctx = multiprocessing.get_context("fork")
    todo = {w: [i for i in range(start, start + cases) if (i - start) % max(1, workers) == w]
            for w in range(max(1, workers))}
    counts: Dict[str, Dict[str, int]] = {}
    failures: List[Dict[str, Any]] = []
    unexpected = 0
    rejected: List[Dict[str, Any]] = []      # the first valid specs rejected (a generator's mistake)
    live = {}

    def spawn(w):
        if not todo[w]:
            return
        a, b = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_worker, args=(b, seed, list(todo[w]), tuple(kinds), os.getpid()), daemon=True)
        p.start()
        b.close()
        live[a] = {"w": w, "p": p, "case": None, "t0": None}

    def record(i, out):
        nonlocal unexpected
        c = counts.setdefault(out["kind"], {})
        c[out["status"]] = c.get(out["status"], 0) + 1
        if out.get("unexpected"):
            unexpected += 1
            if len(rejected) < 20:
                rejected.append({"case": f"{seed}:{i}", **out})
        if out["status"] == "failed":
            failures.append({"case": f"{seed}:{i}", **out})
        if progress:
            progress(i, out)

    def describe(i):
        try:
            case = make_case(seed, i, kinds)
            return case.kind, case.what[:500]
        except Exception:  # noqa: BLE001
            return "?", "?"

    for w in todo:
        spawn(w)
    while live:
        ready = mp_wait(list(live), timeout=1.0)
        for conn in ready:
            st = live[conn]
            try:
                msg, i, payload = conn.recv()
            except (EOFError, OSError):
                st["p"].join()
                i = st["case"]
                del live[conn]
                if i is None and todo[st["w"]]:
                    i = todo[st["w"]][0]        # died before its first case: blame that one
                if i is not None:
                    record(i, {"status": "failed", "kind": describe(i)[0], "what": describe(i)[1],
                               "detail": f"worker died (exit code {st['p'].exitcode}): a crash"})
                    todo[st["w"]] = [j for j in todo[st["w"]] if j > i]
                    spawn(st["w"])
                continue
            if msg == "start":
                st["case"], st["t0"] = i, time.monotonic()
            elif msg == "done":
                todo[st["w"]] = [j for j in todo[st["w"]] if j > i]
                st["case"] = None
                record(i, payload)
            else:
                st["p"].join()
                del live[conn]
        now = time.monotonic()
        for conn, st in list(live.items()):
            if st["case"] is not None and now - st["t0"] > timeout_s:
                st["p"].kill()
                st["p"].join()
                del live[conn]
                i = st["case"]
                record(i, {"status": "failed", "kind": describe(i)[0], "what": describe(i)[1],
                           "detail": f"hang: no result after {timeout_s:.0f} s"})
                todo[st["w"]] = [j for j in todo[st["w"]] if j > i]
                spawn(st["w"])
    total = sum(sum(c.values()) for c in counts.values())
    return {"seed": seed, "start": start, "cases": total, "counts": counts, "failures": failures,
            "valid_rejected": unexpected, "valid_rejected_cases": rejected}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pvsched.fuzz", description="Fuzz campaign: random and mutated scenarios, each a ScenarioError or a run that passes the conservation checks.")
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first case index")
    ap.add_argument("--workers", "-j", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    ap.add_argument("--json", metavar="FILE", help="write the summary (with every failure) as JSON")
    ap.add_argument("--replay", metavar="SEED:INDEX", help="run one case in this process and show its outcome")
    a = ap.parse_args(argv)
    kinds = tuple(k for k in a.kinds.split(",") if k)
    if any(k not in KINDS for k in kinds):
        ap.error(f"--kinds: choose from {','.join(KINDS)}")
    if a.replay:
        seed, idx = (int(x) for x in a.replay.split(":"))
        case = make_case(seed, idx, kinds)
        print(f"case {seed}:{idx} [{case.kind}] {case.what}")
        sc = None
        try:
            sc = case.make()
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        if sc is not None:
            print(sc.to_toml() if hasattr(sc, "to_toml") else sc)
        print(run_case(case))
        return 0
    t0 = time.time()
    done = [0]

    def progress(i, out):
        done[0] += 1
        if out["status"] == "failed":
            print(f"FAIL {a.seed}:{i} [{out['kind']}] {out['what'][:160]}\n     {out['detail'][:300]}", flush=True)
        elif out.get("unexpected"):
            print(f"VALID SPEC REJECTED {a.seed}:{i} [{out['kind']}]\n     {out['detail'][:300]}", flush=True)
        if done[0] % 1000 == 0:
            print(f"... {done[0]} cases, {time.time() - t0:.0f} s", flush=True)

    s = campaign(a.seed, a.cases, a.start, a.workers, a.timeout, kinds, progress)
    s["wall_s"] = round(time.time() - t0, 1)
    print(f"{s['cases']} cases (seed {a.seed}, from {a.start}) in {s['wall_s']} s: "
          + ", ".join(f"{k}: " + "/".join(f"{n} {st}" for st, n in sorted(v.items())) for k, v in sorted(s["counts"].items()))
          + f"; {len(s['failures'])} failures; {s['valid_rejected']} valid specs rejected")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(s, f, indent=1, default=str)
    return 1 if s["failures"] else 0
