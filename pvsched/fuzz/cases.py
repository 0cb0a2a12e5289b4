"""Fuzz cases: each a pure function of (campaign seed, index), and how one is run and judged."""
from __future__ import annotations

import copy
import os
import random
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from pvsched.errors import NotModelledError, ScenarioError
from pvsched.fuzz.checks import check_result
from pvsched.fuzz.generate import LONG_UNTIL_NS, build, corrupt, random_spec
from pvsched.fuzz.mutate import example_files, mutate_bytes, mutate_data, mutate_text
from pvsched.fuzz.sweeps import sweep_available, sweep_case

KINDS = ("valid", "extreme", "invalid", "toml", "long", "sweep")
#: simulated time per case: enough for every mechanism to act, short enough for 10^4-10^5 cases
UNTIL_NS = 20_000_000
#: a case stops (and is checked) once it has processed this many events: a slow but legitimate
#: scenario (a 10 ns period) is not a hang
EVENT_BUDGET = 2_000_000


@dataclass
class Case:
    kind: str
    what: str
    make: Callable[[], Any]       # -> Scenario (may raise ScenarioError)
    until_ns: int
    expect_valid: bool
    check: Optional[Callable[[], List[str]]] = None    # instead of a run: a sweep and its checks


def make_case(seed: int, index: int, kinds: Sequence[str] = KINDS, tmpdir: Optional[str] = None) -> Case:
    """Case ``index`` of campaign ``seed`` (deterministic)."""
    rng = random.Random(f"pvsched-fuzz:{seed}:{index}")
    kinds = [k for k in kinds if (k != "toml" or example_files()) and (k != "sweep" or sweep_available())]
    kind = kinds[index % len(kinds)]
    until = rng.choice([UNTIL_NS, UNTIL_NS, 5_000_000, 1_000_000, rng.randint(0, UNTIL_NS)])
    if kind == "sweep":
        what, check = sweep_case(rng)
        return Case(kind, what, lambda: None, 0, False, check)
    if kind == "long":
        spec = random_spec(rng, small=True)
        frozen = copy.deepcopy(spec)
        return Case(kind, "long spec", lambda: build(frozen), LONG_UNTIL_NS, True)
    if kind in ("valid", "extreme", "invalid"):
        spec = random_spec(rng, extreme=kind == "extreme")
        what = ""
        if kind == "invalid":
            what = corrupt(spec, rng)
        frozen = copy.deepcopy(spec) if kind != "invalid" else spec
        return Case(kind, what or f"{kind} spec", lambda: build(frozen), until, kind != "invalid")
    files = example_files()
    src = files[rng.randrange(len(files))]
    name = os.path.basename(src)
    with open(src, "rb") as f:
        data = f.read()
    r = rng.random()
    if r < 0.15:
        blob, what = mutate_bytes(data, rng)
    elif r < 0.35:
        text, what = mutate_text(data.decode(), rng)
        blob = text.encode()
    else:
        try:
            import tomllib
        except ImportError:  # Python < 3.11
            import tomli as tomllib
        import tomli_w
        d = tomllib.loads(data.decode())
        what = "; ".join(mutate_data(d, rng) for _ in range(rng.choice([1, 1, 2, 3])))
        try:
            blob = tomli_w.dumps(d).encode()
        except (TypeError, ValueError):
            blob, what = data, f"(not TOML-representable: {what}; unmutated)"

    def make():
        import tempfile
        from pvsched import Scenario
        with tempfile.TemporaryDirectory(dir=tmpdir) as td:
            p = os.path.join(td, name)
            with open(p, "wb") as f:
                f.write(blob)
            return Scenario.from_toml(p)
    return Case("toml", f"{name}: {what}", make, until, False)


def run_case(case: Case) -> Dict[str, Any]:
    """Run one case in this process; returns {"status": ..., "detail": ...}. Status: ``rejected``
    (ScenarioError/NotModelledError), ``ok`` (an accepted run that passed the checks) or
    ``failed`` (anything else)."""
    from pvsched import Simulation
    if case.check is not None:
        return _run_check(case)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = case.make()
            sim = Simulation(sc)
            until = min(case.until_ns, int(sc.duration_ns))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # small steps, so that a scenario of a million events per ms meets the budget soon
                step = max(1, until // 1000)
                e = sim.engine
                while e.now_ns < until and e.events < EVENT_BUDGET and not e.stalled:
                    e.run(min(until, e.now_ns + step))
                if e.events >= EVENT_BUDGET:
                    until = e.now_ns
                r = sim.run(until_ns=until)
    except ScenarioError as e:
        if not e.path or not e.problem:
            return {"status": "failed", "detail": f"ScenarioError without a field path: {e}"}
        return {"status": "rejected", "detail": str(e)[:300], "unexpected": case.expect_valid}
    except NotModelledError as e:
        return {"status": "rejected", "detail": str(e)[:300], "unexpected": False}
    except Exception as e:  # noqa: BLE001 - any other exception is the failure being hunted
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"
        return {"status": "failed", "detail": f"{type(e).__name__} at {where}: {str(e)[:300]}"}
    problems = check_result(r, sc, sim.engine)
    if r.now_ns != until:
        problems.append(f"stopped at {r.now_ns} instead of {until}")
    problems += [f"warning: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
    if problems:
        return {"status": "failed", "detail": "; ".join(problems)[:600]}
    return {"status": "ok", "detail": f"{r.events} events"}


def _run_check(case: Case) -> Dict[str, Any]:
    from pvsched.sweep import SweepError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problems = case.check()
    except (ScenarioError, SweepError, NotModelledError) as e:
        if isinstance(e, ScenarioError) and (not e.path or not e.problem):
            return {"status": "failed", "detail": f"ScenarioError without a field path: {e}"}
        return {"status": "rejected", "detail": str(e)[:300], "unexpected": False}
    except Exception as e:  # noqa: BLE001
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"
        return {"status": "failed", "detail": f"{type(e).__name__} at {where}: {str(e)[:300]}"}
    if problems:
        return {"status": "failed", "detail": "; ".join(problems)[:600]}
    return {"status": "ok", "detail": "sweep"}
