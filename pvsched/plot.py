"""Plots of a run (needs matplotlib: ``pip install matplotlib``, the ``plot`` extra): latency CDF and histogram, a Gantt timeline of
host CPUs and vCPUs from a trace, the vCPU mode breakdown, and line / heatmap views of sweep tables.
Every function returns the matplotlib ``Figure`` (draw on your own ``ax=`` to combine them); none
calls ``show()``, so they work headless (Agg).

>>> import matplotlib; matplotlib.use("Agg")
>>> from pvsched import Host, Scenario, Simulation, Task
>>> from pvsched.workloads import Cyclictest, Hog
>>> r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("ct", Cyclictest(interval_ns=1_000_000)),
...                Task("hog", Hog())])).run(until_ns=100_000_000)
>>> fig = latency_cdf(r, ["ct"])
>>> fig.axes[0].get_lines()[0].get_label()
'ct (n=100)'
"""
from __future__ import annotations

from typing import Dict, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# outside the tab20 task palette, so that a mode never looks like a task
MODE_COLORS = {"guest": "#006400", "exit": "#000000", "poll": "#ffd700", "halted": "#e8e8e8",
               "preempted": "#ff00ff", "vmm": "#1e90ff"}


def _plt():
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    except ImportError as e:    # pragma: no cover - depends on the environment
        raise ImportError('plots need matplotlib: pip install matplotlib') from e
    return matplotlib, plt


def _fig_ax(ax, figsize):
    _, plt = _plt()
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize)
    return fig, ax


def _scale(unit: str) -> float:
    if unit not in UNITS:
        raise ValueError(f"unit={unit!r}: one of {list(UNITS)}")
    return UNITS[unit]


def _histograms(src, names) -> Dict[str, "object"]:
    """{label: LatencyHistogram} from a Result + task names, or a mapping of histograms."""
    if hasattr(src, "cdf") and hasattr(src, "bucket_counts"):      # one LatencyHistogram
        return {"latency": src}
    if isinstance(src, Mapping):
        return dict(src)
    if names is None:
        names = [n for n, c in zip(src.task_names, src.raw["task"]["lat_count"]) if c > 0]
    if isinstance(names, str):
        names = [names]
    return {n: src.latency(n) for n in names}


def _latency_axes(src, names, unit, log_x, ax, figsize, draw, data):
    """One line per histogram: ``draw(ax, label, data(h), scale)`` for each non-empty one."""
    fig, ax = _fig_ax(ax, figsize)
    s = _scale(unit)
    for label, h in _histograms(src, names).items():
        if h.count:
            draw(ax, f"{label} (n={h.count})", data(h), s)
    if log_x:
        ax.set_xscale("log")
    return fig, ax, s


def latency_cdf(src, names: Union[str, Sequence[str], None] = None, *, unit: str = "us", log_x: bool = True,
                tail: bool = False, ax=None, figsize=(7, 4.5)):
    """Wake-up latency CDF of one or several tasks, from their histograms' bucket edges.

    ``src``: a :class:`~pvsched.results.Result` (with ``names``: tasks, base names of ``count > 1``
    tasks or ``vm/task``; default every task with samples), a ``{label: LatencyHistogram}`` mapping
    or one histogram. Each line is :meth:`LatencyHistogram.cdf` (x in ``unit``). ``tail=True``
    plots ``1 - CDF`` on a log scale (the tail: p99, p99.9 ...)."""
    fig, ax, s = _latency_axes(src, names, unit, log_x, ax, figsize,
                               lambda a, h, x, s: a.plot(x[0] / s, 1.0 - x[1] if tail else x[1], label=h),
                               lambda h: h.cdf())
    if tail:
        ax.set_yscale("log")
        ax.set_ylabel("fraction of wake-ups with latency > x")
    else:
        ax.set_ylim(0, 1.01)
        ax.set_ylabel("fraction of wake-ups with latency < x")
    ax.set_xlabel(f"wake-up latency ({unit})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right" if not tail else "upper right", fontsize="small")
    return fig


def latency_histogram(src, names: Union[str, Sequence[str], None] = None, *, unit: str = "us",
                      log_x: bool = True, density: bool = True, ax=None, figsize=(7, 4.5)):
    """Wake-up latency histogram(s) drawn as steps over the log-linear buckets (samples per unit of
    latency when ``density``, so that buckets of different widths compare)."""
    def draw(a, label, b, s):
        e, c, n = b
        a.stairs(c / (np.diff(e) / s) / max(n, 1) if density else c, e / s, label=label)
    fig, ax, s = _latency_axes(src, names, unit, log_x, ax, figsize, draw, lambda h: h.buckets() + (h.count,))
    ax.set_xlabel(f"wake-up latency ({unit})")
    ax.set_ylabel(f"density (1/{unit})" if density else "wake-ups")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def _task_colors(names: Iterable[str]):
    matplotlib, _ = _plt()
    cmap = matplotlib.colormaps["tab20"]
    return {n: cmap(i % 20) for i, n in enumerate(sorted(set(names)))}


def timeline(trace, from_ns: Optional[int] = None, to_ns: Optional[int] = None, *, kernels=None,
             modes: bool = True, unit: str = "ms", legend: int = 20, ax=None, figsize=None):
    """Gantt chart of a trace window: one row per host CPU (the task it ran), then per VM one row
    per vCPU for the guest's own scheduling and (``modes``) one for the vCPU's mode. Colours are
    per task (legend: the ``legend`` busiest) and per mode."""
    t = trace.window(trace.start_ns if from_ns is None else from_ns, trace.end_ns if to_ns is None else to_ns)
    kernels = t.kernel_names() if kernels is None else list(kernels)
    rows = []     # (label, [(start, width, colour_key)])
    busy: Dict[str, int] = {}
    for kern in kernels:
        sl = t.cpu_slices(kern)
        for rq in t.kernel_rqs(kern).tolist():
            m = sl["rq"] == rq
            bars = [(s, e - s, t.task_names[k]) for s, e, k in zip(sl["start_ns"][m].tolist(), sl["end_ns"][m].tolist(),
                                                                   sl["task"][m].tolist())]
            for _, w, n in bars:
                busy[n] = busy.get(n, 0) + w
            rows.append((t.rq_name(rq) + ("" if kern == "host" else " guest"), bars, "task"))
            if modes and kern != "host":
                from pvsched._core import VCPU_MODES
                iv = t.vcpu_modes()
                v = rq - t.ncpu
                mm = iv["vcpu"] == v
                mbars = [(s, e - s, VCPU_MODES[md - 1]) for s, e, md in zip(iv["start_ns"][mm].tolist(),
                                                                          iv["end_ns"][mm].tolist(), iv["mode"][mm].tolist())]
                rows.append((t.rq_name(rq) + " mode", mbars, "mode"))
    if figsize is None:
        figsize = (10, 1.0 + 0.35 * len(rows))
    fig, ax = _fig_ax(ax, figsize)
    s = _scale(unit)
    colors = _task_colors(busy)
    for y, (label, bars, what) in enumerate(rows):
        if not bars:
            continue
        cols = [colors[k] if what == "task" else MODE_COLORS.get(k, "k") for _, _, k in bars]
        h = 0.8 if what == "task" else 0.5
        ax.broken_barh([(b[0] / s, b[1] / s) for b in bars], (y - h / 2, h), facecolors=cols, linewidth=0)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in rows], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlim(t.start_ns / s, t.end_ns / s)
    ax.set_xlabel(f"time ({unit})")
    matplotlib, _ = _plt()
    from matplotlib.patches import Patch
    top = sorted(busy, key=lambda n: -busy[n])[:legend]
    handles = [Patch(color=colors[n], label=n) for n in top]
    if modes and any(r[2] == "mode" for r in rows):
        handles += [Patch(color=c, label=f"[{m}]") for m, c in MODE_COLORS.items()]
    if handles:
        ax.legend(handles=handles, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if t.truncated:
        ax.axvline(t.truncated_at_ns / s, color="r", linestyle="--")
        ax.text(t.truncated_at_ns / s, -0.5, " trace truncated", color="r", fontsize="small", va="bottom")
    fig.tight_layout()
    return fig


def vcpu_modes(result, *, ax=None, figsize=None):
    """Stacked bars: each vCPU's time split into guest / exit / poll / halted / preempted (steal) /
    vmm (the vCPU thread in the VMM, in userspace),
    as fractions of the time since its VM started (from ``Result.vcpus``)."""
    from pvsched._core import VCPU_MODES
    v = result.vcpus
    names = list(v["name"])
    if figsize is None:
        figsize = (8, 1.0 + 0.3 * max(len(names), 1))
    fig, ax = _fig_ax(ax, figsize)
    tot = sum(v[m + "_ns"].astype(float) for m in VCPU_MODES)
    tot = np.where(tot > 0, tot, 1.0)
    left = np.zeros(len(names))
    for m in VCPU_MODES:
        frac = v[m + "_ns"] / tot
        ax.barh(range(len(names)), frac, left=left, color=MODE_COLORS.get(m), label=m)
        left += frac
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of time")
    ax.legend(fontsize="small", ncols=len(VCPU_MODES), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def _agg(df, keys, metric):
    if metric not in df.columns:
        raise KeyError(f"no column {metric!r} in the sweep table")
    for k in keys:
        if k not in df.columns:
            raise KeyError(f"no grid column {k!r} in the sweep table")
    return df.groupby(list(keys))[metric].agg(["mean", "std", "count"]).reset_index()


def sweep_line(df, x: str, metric: str, *, by: Optional[str] = None, log_x: bool = False, log_y: bool = False,
               ax=None, figsize=(7, 4.5)):
    """A sweep table's ``metric`` (mean over repetitions, error bars = standard deviation) against
    grid column ``x``, one line per value of grid column ``by``."""
    fig, ax = _fig_ax(ax, figsize)
    g = _agg(df, [x] + ([by] if by else []), metric)
    groups = [(None, g)] if by is None else list(g.groupby(by))
    for key, sub in groups:
        sub = sub.sort_values(x)
        ax.errorbar(sub[x], sub["mean"], yerr=sub["std"].fillna(0), marker="o", capsize=3,
                    label=None if by is None else f"{by} = {key}")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    if by is not None:
        ax.legend(fontsize="small")
    ax.grid(True, alpha=0.3)
    return fig


def sweep_heatmap(df, x: str, y: str, metric: str, *, annotate: bool = True, fmt: str = "{:.3g}", cmap="viridis",
                  ax=None, figsize=(7, 5)):
    """Mean of ``metric`` over repetitions for each cell of two grid columns, as a heatmap (rows:
    values of ``y``, columns: values of ``x``; empty cells blank)."""
    fig, ax = _fig_ax(ax, figsize)
    g = _agg(df, [x, y], metric)
    xs = sorted(g[x].unique())
    ys = sorted(g[y].unique())
    grid = np.full((len(ys), len(xs)), np.nan)
    for _, row in g.iterrows():
        grid[ys.index(row[y]), xs.index(row[x])] = row["mean"]
    im = ax.imshow(grid, cmap=cmap, aspect="auto", origin="lower")
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([str(v) for v in xs])
    ax.set_yticks(range(len(ys)))
    ax.set_yticklabels([str(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, ax=ax, label=metric)
    if annotate:
        for i in range(len(ys)):
            for j in range(len(xs)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, fmt.format(grid[i, j]), ha="center", va="center", fontsize="small", color="w")
    return fig


def save(fig, path, dpi: int = 120) -> None:
    """Write a figure (format from the file extension) and close it."""
    _, plt = _plt()
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
