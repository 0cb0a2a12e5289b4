"""Published figures in README.md come from the current code.

Every figure README.md publishes from an experiment sits in a generated block::

    <!-- generated: seed000 -->
    ```text
    ...exactly what the code below prints...
    ```
    <!-- /generated -->

and this module registers, for each block NAME, the code that produces it. The test
(``tests/test_readme_outputs.py``) re-runs it and compares with README.md; after a deliberate
change, rewrite the blocks with::

    python tests/readme_outputs.py --update            # every block
    python tests/readme_outputs.py --update seed002    # some blocks
    python tests/readme_outputs.py --check             # what the test does, all parts

Adding a section (seed 001/003 and others): put the markers in README.md, register a function
here with :func:`output` and run ``--update``. A block that takes more than a few seconds to
compute declares ``parts`` (pieces it can compute on their own, e.g. one table row each, every part
a set of whole lines of the block) and ``quick`` (the parts checked on every test run); the whole
block is then checked in CI (``CI`` set) or with ``PVSCHED_README_TEST=1``.
"""
from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import readme  # noqa: E402


@dataclass
class Output:
    name: str
    render: Callable[[Optional[Sequence[str]]], str]      # parts (None: all) -> the block's text
    parts: Sequence[str] = ()
    quick: Optional[Sequence[str]] = None                 # None: the whole block is quick; (): CI only


OUTPUTS: Dict[str, Output] = {}


def output(name: str, parts: Sequence[str] = (), quick: Optional[Sequence[str]] = None):
    """Register ``fn(parts)`` as the producer of README's generated block ``name``."""
    def deco(fn):
        OUTPUTS[name] = Output(name, fn, tuple(parts), None if quick is None else tuple(quick))
        return fn
    return deco


def _stdout(fn, *args) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(*args)
    return buf.getvalue()


def _fence(text: str, lang: str = "text") -> str:
    return f"```{lang}\n{text.rstrip()}\n```\n"


# ------------------------------------------------------------------------------------------ seed 000
@output("seed000")
def seed000(parts=None) -> str:
    """What ``python -m pvsched.experiments.seed000`` prints (about 1 s)."""
    from pvsched.experiments import seed000 as E
    return _fence(_stdout(E.main, []))


# ------------------------------------------------------------------------------------------ seed 002
SEED002_ROWS = [f"{load}/{n}" for load in ("dbench", "dedup") for n in (2, 3, 4)]


@output("seed002", parts=SEED002_ROWS, quick=["dbench/2"])
def seed002(parts=None) -> str:
    """The main table of ``pvsched reproduce seed002`` (3 seeds x 300 ms; about 4 s of CPU a row,
    25 s in all) as a Markdown table."""
    from pvsched.experiments import seed002 as E
    lines = []
    if parts is None:
        lines += ["| load | VMs | debooster | IPI-aware | both | lb-fix | noise | seed |",
                  "|---|---|---|---|---|---|---|---|"]
    for part in parts or SEED002_ROWS:
        load, n = part.split("/")
        rows = {r["policy"]: r for r in E.run(vms=(int(n),), loads=(load,), seeds=(1, 2, 3),
                                                duration_ns=300_000_000)}
        seed = f"+{E.SEED_GAINS[load][int(n)]:.1f}% ({E.SEED_POLICY[load]})"
        gains = " | ".join(f"{rows[p]['gain_pct']:+.1f}%".replace("-", "\u2212") for p in ("debooster", "ipi", "both", "lbfix"))
        lines.append(f"| {load} | {n} | {gains} | {rows['baseline']['noise_pct']:.1f}% | {seed} |")
    return "\n".join(lines) + "\n"


@output("seed002-pvsy")
def seed002_pvsy(parts=None) -> str:
    """Guest PV sched yield vs IPI-aware yield on 2-target cross-calls, 3 VMs, seeds 1 and 2 (about 1 s)."""
    from pvsched.experiments import seed002 as E
    lines = ["| 3 VMs, 2-target cross-calls | seed 1 | seed 2 |", "|---|---|---|"]
    per = {seed: {r["policy"]: r["gain_pct"] for r in E.run_pvsy(vms=(3,), seeds=(seed,))} for seed in (1, 2)}
    for policy in list(E.PVSY_POLICIES)[1:]:
        lines.append(f"| {policy} | " + " | ".join(f"{per[s][policy]:+.1f}%".replace("-", "\u2212") for s in (1, 2))
                     + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ seed 003
@output("seed003-s1")
def seed003_s1(parts=None) -> str:
    """S1 of ``pvsched reproduce seed003`` under every RCU guest policy (about 0.3 s)."""
    from pvsched.experiments import seed003 as E
    return E.markdown_s1(E.run(["S1"])) + "\n"


@output("seed003-claims")
def seed003_claims(parts=None) -> str:
    """The thread's claims beside the measured values, every scenario (about 1 s)."""
    from pvsched.experiments import seed003 as E
    return E.markdown_claims(E.run()) + "\n"


@output("seed003-s7")
def seed003_s7(parts=None) -> str:
    """S7: 30 s of interrupt + softirq work in the run loop, every policy (about 0.2 s)."""
    from pvsched.experiments import seed003 as E
    return E.markdown_s7(E.run(["S7"])) + "\n"


@output("seed003-q7")
def seed003_q7(parts=None) -> str:
    """Question 7: the vCPU threads above rcuc, 30 s each (about 0.6 s)."""
    from pvsched.experiments import seed003 as E
    return E.markdown_priorities(E.priority_rows()) + "\n"


@output("seed003-s10")
def seed003_s10(parts=None) -> str:
    """S10: P1's window against HZ, with the verdict (about 0.3 s)."""
    from pvsched.experiments import seed003 as E
    return E.markdown_window_sweep(E.window_sweep()) + "\n"
# ------------------------------------------------------------------------------------------ seed 004
@output("seed004")
def seed004(parts=None) -> str:
    """The measured table and the claim verdicts of ``pvsched reproduce seed004`` (1 s simulated per
    cell, seed 1; about 2 s) as Markdown."""
    from pvsched.experiments import seed004 as E
    return E.readme_block(E.run_all()) + "\n"


# ------------------------------------------------------------------------------------------ checking
def check(name: str, parts: Optional[Sequence[str]] = None, text: str = None) -> Optional[str]:
    """None if README's block ``name`` holds what the code produces (only ``parts`` of it, each
    as whole lines, when given); else a message showing the difference."""
    blocks = readme.generated(text)
    if name not in blocks:
        return f"README.md has no generated block {name!r} (add <!-- generated: {name} --> ... <!-- /generated -->)"
    have = blocks[name]
    want = OUTPUTS[name].render(parts)
    if parts is None:
        ok = have == want
    else:
        have_lines = have.splitlines()
        ok = all(line in have_lines for line in want.splitlines())
    if ok:
        return None
    import difflib
    diff = "\n".join(difflib.unified_diff(have.splitlines(), want.splitlines(), "README.md", "current code",
                                          lineterm=""))
    return (f"README.md's generated block {name!r} is not what the current code produces"
            f"{'' if parts is None else f' (parts {list(parts)})'}; if the change is deliberate, run "
            f"`python tests/readme_outputs.py --update {name}`:\n{diff}")


def update(names: Sequence[str]) -> None:
    text = readme.README.read_text()
    for name in names:
        text = readme.replace_generated(text, name, OUTPUTS[name].render(None))
        print(f"updated {name}")
    readme.README.write_text(text)


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    mode = args.pop(0) if args and args[0].startswith("--") else "--check"
    names = args or list(OUTPUTS)
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown:
        print(f"unknown block(s) {unknown}; known: {list(OUTPUTS)}", file=sys.stderr)
        return 2
    if mode == "--update":
        update(names)
        return 0
    if mode == "--check":
        bad = [m for m in (check(n) for n in names) if m]
        for m in bad:
            print(m)
        return 1 if bad else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.path.insert(0, str(readme.ROOT))
    sys.exit(main(sys.argv[1:]))
