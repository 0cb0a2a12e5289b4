"""Command line: ``pvsched run|trace|sweep|reproduce|bench`` (also ``python -m pvsched``).

- ``pvsched run SCENARIO.toml`` prints the summary table (and per-VM vCPU time split); ``--json``,
  ``--csv``, ``--parquet`` write the task table, ``--plot out.png`` the latency CDFs and the vCPU
  mode breakdown.
- ``pvsched trace SCENARIO.toml --out run.pftrace`` runs with the event trace on and writes it for
  Perfetto (``.pftrace``), as ftrace text (``.txt``: one file per kernel), Chrome JSON (``.json``) or
  numpy (``.npz``); ``--from-ns`` / ``--to-ns`` bound the window, ``--cap`` the buffer.
- ``pvsched sweep SWEEP.toml --workers N [--scheduler ADDR]`` runs a sweep file
  (:func:`pvsched.sweep.load_sweep_file`), streaming runs to the output directory; re-running the
  same command resumes.
- ``pvsched reproduce NAME`` reproduces a seed's published experiment (``--list`` names them).
- ``pvsched bench`` measures engine throughput.

Bad input gives a one-line ``pvsched: error: ...`` on stderr and exit status 2.

>>> main(["reproduce", "--list"])  # doctest: +ELLIPSIS
seed000 ...
0
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import List, Optional

from pvsched import progress
from pvsched.errors import NotModelledError, ScenarioError

#: Experiments ``pvsched reproduce`` knows: one per seed (a mailing-list thread). An experiment
#: is implemented once :data:`pvsched.experiments.EXPERIMENTS` registers its module (which has
#: ``main(argv) -> int``); until then ``reproduce`` says it is not implemented yet.
EXPERIMENTS = {
    "seed000": "dynamic vCPU priority boosting via guest/host shared memory (Google, Dec 2023)",
    "seed001": "guest halted time discounted from PELT under HLT pass-through (Amazon, Feb 2025)",
    "seed002": "vCPU debooster in yield_to_task_fair + IPI-aware directed yield (Tencent, Nov 2025)",
    "seed003": "skip rcuc wake-ups on nohz_full CPUs running a guest (Red Hat, 2024)",
    "seed004": "exit to userspace on HLT/MWAIT for deferred VMM work (Amazon, Sep 2023)",
}

EXIT_BAD_INPUT = 2
EXIT_NOT_IMPLEMENTED = 3


class CliError(Exception):
    """A one-line user-facing error (exit status ``code``)."""

    def __init__(self, msg: str, code: int = EXIT_BAD_INPUT):
        super().__init__(msg)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (no usage dump) on bad arguments."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _pandas_hint(e: ImportError) -> CliError:
    return CliError(f"{e}; this output needs pandas and pyarrow: pip install pandas pyarrow")


def _nonneg(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{v} must be >= 0")
    return v


def _toml_input(path: str, what: str) -> str:
    """``path`` (or the bundled example it names) if it is a readable file of kind ``what``
    ("scenario" or "sweep"); otherwise a CliError saying what was expected."""
    from pvsched._checkout import resolve_example
    real = os.fspath(resolve_example(path))
    example = "examples/vm_busy_host.toml" if what == "scenario" else "examples/sweep_busy_host.toml"
    if os.path.isdir(real):
        raise CliError(f"{path} is a directory; expected a {what} TOML file such as {example}")
    if not os.path.exists(real):
        raise CliError(f"{path}: no such file (in {os.getcwd()}); expected a {what} TOML file such as {example}")
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    try:
        with open(real, "rb") as f:
            keys = set(tomllib.loads(f.read().decode()))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return path                              # the loader reports these with the key path
    from pvsched.sweep.files import SWEEP_KEYS
    sweep_only = {"scenario", "grid", "cells", "seeds", "metrics", "output"} & set(SWEEP_KEYS)
    if what == "scenario" and keys & sweep_only and "host" not in keys and "tasks" not in keys:
        raise CliError(f"{path} is a sweep file (it has {', '.join(sorted(keys & sweep_only))}); "
                       f"run it with: pvsched sweep {path}")
    if what == "sweep" and "scenario" not in keys and keys & {"host", "tasks", "vms", "cgroups"}:
        raise CliError(f"{path} is a scenario file, not a sweep file; run it with: pvsched run {path}")
    return path


def _check_outputs(args) -> None:
    """Refuse an output path that cannot be written before a long run, not after it."""
    for flag in ("json", "csv", "parquet"):
        path = getattr(args, flag, None)
        if not path:
            continue
        parent = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise CliError(f"--{flag} {path}: is a directory; expected a file name")
        if not os.path.isdir(parent):
            raise CliError(f"--{flag} {path}: the directory {os.path.dirname(path) or '.'} does not exist")


# ------------------------------------------------------------------------------------------------ run
def _vm_summary(r) -> str:
    v = r.vcpus
    if not len(v["name"]):
        return ""
    modes = ("guest_ns", "exit_ns", "poll_ns", "halted_ns", "preempted_ns")
    hdr = (f"{'vm':<20} {'vcpus':>5} {'guest%':>7} {'exit%':>7} {'poll%':>7} {'halt%':>7} {'steal%':>7} {'exits/s':>9}"
           f" {'in-guest halted%':>16}")
    if int(v["vmm_ns"].sum()):
        modes += ("vmm_ns",)
        hdr += f" {'vmm%':>7}"
    lines = [hdr, "-" * len(hdr)]
    vms = []
    for n in v["name"]:
        vm = n.rsplit("/vcpu", 1)[0]
        if vm not in vms:
            vms.append(vm)
    secs = max(r.now_ns, 1) / 1e9
    for vm in vms:
        rows = [i for i, n in enumerate(v["name"]) if n.rsplit("/vcpu", 1)[0] == vm]
        tot = {m: int(v[m][rows].sum()) for m in modes}
        life = max(sum(tot.values()), 1)
        exits = int(sum(v[k][rows].sum() for k in v if k.startswith("exits_")))
        ghalt = int(v["guest_halted_ns"][rows].sum()) if "guest_halted_ns" in v else 0
        cells = [f"{100.0 * tot[m] / life:7.2f}" for m in modes]
        lines.append(f"{vm[:20]:<20} {len(rows):5d} " + " ".join(cells[:5]) + f" {exits / secs:9.0f}"
                     + f" {100.0 * ghalt / life:16.2f}" + "".join(" " + c for c in cells[5:]))
    w = r.deferred_work
    if int(w["arrived"].sum()):
        hdr = (f"{'deferred work':<20} {'done/s':>8} {'lat_us':>8} {'p99_us':>8} {'max_us':>9} {'pending':>7} "
               f"{'vmm_cpu%':>8} {'>vcpus%':>8}")
        lines += ["", hdr, "-" * len(hdr)]
        for i, vm in enumerate(w["name"]):
            if not w["arrived"][i]:
                continue
            lines.append(f"{vm[:20]:<20} {w['done_per_s'][i]:8.0f} {w['lat_mean_ns'][i] / 1e3:8.1f} "
                         f"{w['lat_p99_ns'][i] / 1e3:8.1f} {w['lat_max_ns'][i] / 1e3:9.1f} "
                         f"{int(w['queued'][i] + w['in_service'][i]):7d} {100.0 * w['vmm_cpu_ns'][i] / r.now_ns:8.2f} "
                         f"{100.0 * w['over_vcpus_ns'][i] / r.now_ns:8.2f}")
    return "\n".join(lines)


def _cmd_run(args) -> int:
    from pvsched import Scenario, Simulation
    sc = Scenario.from_toml(_toml_input(args.scenario, "scenario"), is_path=True)
    _check_outputs(args)
    if args.seed is not None:
        sc.seed = args.seed
    until = args.until_ns if args.until_ns is not None else sc.duration_ns
    sim = Simulation(sc)
    with progress.report(f"pvsched run {args.scenario}"):
        r = sim.run(until_ns=until)
    print(r.summary(max_rows=args.rows))
    vms = _vm_summary(r)
    if vms:
        print()
        print(vms)
    if r.rcu is not None:
        rc = r.rcu
        nz = [int(c) for c in rc["nohz_full"]]
        print(f"\nrcu: {rc['gps_done']} GPs (max {rc['gp_ns_max'] / 1e6:.1f} ms), synchronize_rcu mean "
              f"{rc['sync_ns_sum'] / max(rc['sync_done'], 1) / 1e6:.2f} ms max {rc['sync_ns_max'] / 1e6:.1f} ms; "
              f"nohz_full {nz}: rcuc wake-ups {int(sum(rc['cpu']['rcuc_wakeups'][c] for c in nz))}, "
              f"vCPU preemptions by rcuc {int(r.vcpus['rcuc_preemptions'].sum())}, "
              f"forced ticks {int(rc['cpu']['forced_ticks'].sum())}")
    print(f"wall {r.wall_s:.3f} s, {r.events_per_s / 1e6:.2f} M events/s")
    for fmt in ("json", "csv", "parquet"):
        if getattr(args, fmt):
            try:
                written = r.write(getattr(args, fmt), fmt)
            except ImportError as e:
                raise _pandas_hint(e) from None
            print(f"wrote {', '.join(written)}")
    if args.plot:
        _write_plot(r, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _write_plot(r, path: str) -> None:
    """Latency CDFs of the tasks with samples (the 8 with most) and, with VMs, the vCPU modes."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from pvsched import plot
    except ImportError as e:
        raise CliError(f"{e}; --plot needs matplotlib: pip install matplotlib") from None
    counts = r.raw["task"]["lat_count"]
    names = [r.task_names[i] for i in sorted(range(len(counts)), key=lambda i: -counts[i])[:8] if counts[i] > 0]
    vms = len(r.vcpus["name"]) > 0
    fig, axes = plt.subplots(1, 2 if vms else 1, figsize=(14 if vms else 7, 4.5), squeeze=False)
    if names:
        plot.latency_cdf(r, names, ax=axes[0][0])
    else:
        axes[0][0].text(0.5, 0.5, "no wake-up latency samples", ha="center")
    if vms:
        plot.vcpu_modes(r, ax=axes[0][1])
    plot.save(fig, path)


# ---------------------------------------------------------------------------------------------- trace
TRACE_FORMATS = {".pftrace": "perfetto", ".perfetto-trace": "perfetto", ".pb": "perfetto", ".txt": "ftrace",
                 ".json": "chrome", ".npz": "npz"}


def _cmd_trace(args) -> int:
    from pvsched import Scenario, Simulation
    from pvsched.trace import TraceConfig
    sc = Scenario.from_toml(_toml_input(args.scenario, "scenario"), is_path=True)
    if args.seed is not None:
        sc.seed = args.seed
    fmt = args.format or TRACE_FORMATS.get(os.path.splitext(args.out)[1].lower())
    if fmt is None:
        raise CliError(f"--out {args.out}: cannot tell the format from the extension; give --format "
                       f"({', '.join(sorted(set(TRACE_FORMATS.values())))})")
    tc = sc.trace
    from pvsched.validate import build
    sc.trace = build(TraceConfig, dict(enabled=True, cap_events=args.cap if args.cap is not None else tc.cap_events,
                                       mode="ring" if args.ring else tc.mode,
                                       from_ns=args.from_ns if args.from_ns is not None else tc.from_ns,
                                       to_ns=args.to_ns if args.to_ns is not None else tc.to_ns,
                                       events=args.events.split(",") if args.events else list(tc.events)), "trace")
    until = args.until_ns if args.until_ns is not None else sc.duration_ns
    r = Simulation(sc).run(until_ns=until)
    t = r.trace
    written = []
    if fmt == "perfetto":
        t.to_perfetto(args.out)
        written.append(args.out)
    elif fmt == "ftrace":
        stem, ext = os.path.splitext(args.out)
        for k, name in enumerate(t.kernel_names()):
            path = args.out if k == 0 else f"{stem}.{name}{ext or '.txt'}"
            t.to_ftrace(path, kernel=name)
            written.append(path)
    elif fmt == "chrome":
        t.to_chrome_json(args.out)
        written.append(args.out)
    else:
        t.save(args.out)
        written.append(args.out)
    cut = f"; buffer full at {t.truncated_at_ns} ns, {t.dropped} later events dropped (raise --cap)" if t.truncated \
        else (f"; ring: {t.dropped} oldest events overwritten" if t.dropped else "")
    print(f"{len(t)} events in [{t.start_ns}, {t.end_ns}) ns (buffer {sc.trace.cap_events} events, "
          f"{sc.trace.memory_bytes() / 2**20:.1f} MiB){cut}")
    for w in written:
        print(f"wrote {w}")
    if fmt == "perfetto":
        print("open it at https://ui.perfetto.dev (Open trace file), or with Perfetto's trace_processor")
    return 0


# ---------------------------------------------------------------------------------------------- sweep
def _cmd_sweep(args) -> int:
    from pvsched.sweep import SweepError, load_sweep_file, sweep
    spec = load_sweep_file(_toml_input(args.sweep, "sweep"))
    _check_outputs(args)
    out = args.out or spec.output or os.path.splitext(os.path.basename(args.sweep))[0] + ".sweep"
    seeds = args.seeds if args.seeds is not None else spec.seeds
    if args.workers is not None and args.workers < 0:
        raise CliError(f"--workers {args.workers}: must be >= 0")
    try:
        import pandas  # noqa: F401
    except ImportError as e:
        raise _pandas_hint(e) from None
    t0 = time.perf_counter()

    class _Terminated(KeyboardInterrupt):
        pass

    def _on_term(signum, frame):
        raise _Terminated()                      # unwinds through the executor, which stops its workers
    old_term = signal.signal(signal.SIGTERM, _on_term)
    try:
        df = sweep(spec.base, spec.grid, seeds, spec.metrics, out=out, workers=args.workers,
                   scheduler=args.scheduler, progress=False if args.no_progress else None,
                   overwrite=args.overwrite)
    except ScenarioError as e:
        raise ScenarioError(f"{args.sweep}: {e.path}", e.value, e.problem) from None
    except SweepError as e:
        raise CliError(f"{args.sweep}: {e}") from None
    except KeyboardInterrupt as e:
        what, code = ("terminated", 143) if isinstance(e, _Terminated) else ("interrupted", 130)
        raise CliError(f"{what}; the runs finished so far are saved in {out}: run the same command again "
                       f"to resume", code) from None
    finally:
        signal.signal(signal.SIGTERM, old_term)
    wall = time.perf_counter() - t0
    import pandas as pd
    with pd.option_context("display.width", 200, "display.max_columns", 40, "display.max_colwidth", 40):
        shown = df.drop(columns=["cell_id", "seed"])
        print(shown.to_string(max_rows=args.rows, index=False))
    where = df.attrs.get("table") or out
    print(f"{len(df)} runs ({df.attrs.get('new_runs', 0)} new, {df.attrs.get('resumed_runs', 0)} already on disk) "
          f"in {wall:.2f} s -> {where}")
    if args.csv:
        df.to_csv(args.csv, index=False)
    if args.parquet:
        df.to_parquet(args.parquet, index=False)
    return 0


# ------------------------------------------------------------------------------------------ reproduce
def _implemented():
    """Registered experiment modules (name -> module path)."""
    try:
        from pvsched import experiments
    except ImportError:
        return {}
    return dict(getattr(experiments, "EXPERIMENTS", {}))


def _cmd_reproduce(args) -> int:
    done = _implemented()
    names = list(EXPERIMENTS) + [n for n in done if n not in EXPERIMENTS]
    if args.list or args.experiment is None:
        for name in names:
            state = "" if name in done else "  [not implemented yet]"
            print(f"{name}  {EXPERIMENTS.get(name, '')}{state}")
        if args.experiment is None and not args.list:
            raise CliError("name an experiment to reproduce (listed above)")
        return 0
    name = args.experiment
    if name not in names:
        raise CliError(f"unknown experiment {name!r}; known: {', '.join(names)}")
    if name not in done:
        raise CliError(f"experiment {name} ({EXPERIMENTS[name]}) is not implemented yet", EXIT_NOT_IMPLEMENTED)
    from pvsched import experiments
    # an experiment's own argparse errors come out as one line too, like the CLI's (_Parser)
    error, argparse.ArgumentParser.error = argparse.ArgumentParser.error, _Parser.error
    try:
        with progress.report(f"pvsched reproduce {name}"):
            return int(experiments.get(name).main(list(args.args)) or 0)
    finally:
        argparse.ArgumentParser.error = error


# ---------------------------------------------------------------------------------------------- bench
def _cmd_bench(args) -> int:
    from pvsched import Simulation
    from pvsched.bench import host_only
    if args.repeat < 1:
        raise CliError(f"--repeat {args.repeat}: must be >= 1")
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
    from pvsched import KERNEL_VERSION, __version__
    p = _Parser(prog="pvsched", description="Simulate double scheduling (Linux/KVM host and guests).")
    p.add_argument("--version", action="version",
                   version=f"pvsched {__version__} (models the Linux {KERNEL_VERSION} scheduler and KVM)")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="{run,sweep,reproduce,bench}",
                           parser_class=_Parser)
    r = sub.add_parser("run", help="run a scenario TOML file and print its summary table",
                       description="Run one scenario file and print per-task CPU share, waits, switches and "
                                   "wake-up latency (and each VM's vCPU time split).")
    r.add_argument("scenario", help="scenario TOML file (see examples/)")
    r.add_argument("--until-ns", type=int, default=None, help="simulated time (default: the scenario's duration_ns)")
    r.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    r.add_argument("--rows", type=_nonneg, default=40, help="task rows to print")
    r.add_argument("--json", metavar="FILE", help="write every table, the scenario and the seed as one JSON document")
    r.add_argument("--csv", metavar="FILE", help="write the task table to FILE and the cpus/vcpus/vms tables and "
                                                  "the scenario beside it (FILE.cpus.csv, ..., FILE.scenario.toml)")
    r.add_argument("--parquet", metavar="FILE", help="like --csv, in Parquet with the scenario in the metadata "
                                                      "(needs pandas, pyarrow)")
    r.add_argument("--plot", metavar="FILE", help="write latency CDFs and the vCPU mode breakdown (png, pdf, svg; "
                   "needs matplotlib)")
    r.set_defaults(fn=_cmd_run)

    t = sub.add_parser("trace", help="run a scenario with the event trace on and write it (Perfetto, ftrace, ...)",
                       description="Run a scenario TOML file recording its scheduler and KVM events, and write "
                                   "them for ui.perfetto.dev (.pftrace), as ftrace text (.txt, one file per "
                                   "kernel), Chrome trace JSON (.json) or numpy (.npz).")
    t.add_argument("scenario", help="scenario TOML file (see examples/)")
    t.add_argument("--out", "-o", required=True, metavar="FILE", help="output file; the extension picks the format")
    t.add_argument("--format", choices=sorted(set(TRACE_FORMATS.values())), help="output format (overrides the extension)")
    t.add_argument("--from-ns", type=int, default=None, help="record events from this simulated time")
    t.add_argument("--to-ns", type=int, default=None, help="record events before this simulated time")
    t.add_argument("--until-ns", type=int, default=None, help="simulated time (default: the scenario's duration_ns)")
    t.add_argument("--cap", type=int, default=None, help="buffer size in events (32 bytes each; default 1000000)")
    t.add_argument("--ring", action="store_true", help="keep the last --cap events instead of the first")
    t.add_argument("--events", default=None, metavar="KINDS", help="comma-separated event kinds (default: all)")
    t.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    t.set_defaults(fn=_cmd_trace)

    s = sub.add_parser("sweep", help="run a sweep file: grid x seeds -> one table (resumable)",
                       description="Run every cell of a sweep file's grid for each seed and write one tidy "
                                   "table. Each finished run is saved at once; the same command again resumes "
                                   "a killed sweep. Sweep file format: examples/sweep_busy_host.toml.")
    s.add_argument("sweep", help="sweep TOML file")
    s.add_argument("--workers", "-j", type=int, default=None,
                   help="local worker processes (default: all cores; 0 = run in this process)")
    s.add_argument("--scheduler", metavar="ADDR", default=None,
                   help="run on a Dask distributed scheduler (e.g. tcp://10.0.0.1:8786) instead of local processes")
    s.add_argument("--out", "-o", metavar="DIR", default=None,
                   help="output directory (default: the file's `output`, else ./<name>.sweep)")
    s.add_argument("--seeds", type=int, default=None, help="repetitions per cell (overrides the file)")
    s.add_argument("--overwrite", action="store_true", help="clear an output directory that holds another sweep")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--rows", type=_nonneg, default=30, help="table rows to print")
    s.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    s.add_argument("--parquet", metavar="FILE", help="also write the table as Parquet")
    s.set_defaults(fn=_cmd_sweep)

    x = sub.add_parser("reproduce", help="reproduce a seed's published experiment (--list names them)",
                       description="Reproduce one seed thread's published result in shape, side by side with "
                                   "the published numbers. Known: " + ", ".join(EXPERIMENTS) + ".")
    x.add_argument("--list", action="store_true", help="list the known experiments")
    x.add_argument("experiment", nargs="?", help="experiment name, e.g. seed000")
    x.add_argument("args", nargs=argparse.REMAINDER,
                   help="options passed to the experiment (pvsched reproduce NAME --help lists them)")
    x.set_defaults(fn=_cmd_reproduce)

    b = sub.add_parser("bench", help="measure engine throughput (events/s)",
                       description="Time the host-only benchmark scenario (64 pCPUs, 1024 tasks).")
    b.add_argument("--duration-ns", type=int, default=1_000_000_000)
    b.add_argument("--repeat", type=int, default=3)
    b.set_defaults(fn=_cmd_bench)
    return p


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"pvsched: warning: {' '.join(str(message).splitlines())}", file=sys.stderr if file is None else file)


def main(argv: Optional[List[str]] = None) -> int:
    import warnings
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    from pvsched.sweep import SweepError

    def fail(e, code=EXIT_BAD_INPUT):
        msg = " ".join(str(e).splitlines()) or type(e).__name__
        print(f"pvsched: error: {msg}", file=sys.stderr)
        return code
    try:
        return args.fn(args)
    except CliError as e:
        return fail(e, e.code)
    except OSError as e:
        if e.filename is not None:            # say which file and what went wrong, without errno numbers
            return fail(f"{e.filename}: {(e.strerror or type(e).__name__).lower()}")
        return fail(e)
    except (ScenarioError, NotModelledError, SweepError, ImportError, MemoryError) as e:
        return fail(e)
    except KeyboardInterrupt:
        print("pvsched: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
