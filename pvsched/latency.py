"""Latency histograms: the engine's streaming log-linear buckets (``engine/hist.pxd``) as a Python
value with percentiles, CDF and merging (:class:`LatencyHistogram`; re-exported by
:mod:`pvsched.results`).

>>> LatencyHistogram.from_values([1000, 3000]).max_ns
3000
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np

SUB_BITS = 5
SUB = 1 << SUB_BITS


def bucket_bounds(nbuckets: int):
    """Lower bound and width (ns) of each log-linear bucket (see ``hist.pxd``)."""
    idx = np.arange(nbuckets, dtype=np.int64)
    lo = idx.copy()
    width = np.ones(nbuckets, dtype=np.int64)
    big = idx >= SUB
    shift = (idx[big] >> SUB_BITS) - 1
    lo[big] = (SUB + (idx[big] & (SUB - 1))) << shift
    width[big] = np.int64(1) << shift
    return lo, width


@dataclass
class LatencyHistogram:
    """A streaming log-linear histogram (relative error <= 1/32) with exact count, mean and max.

    >>> h = LatencyHistogram.from_values([1000, 2000, 3000])
    >>> h.count, h.max_ns, abs(h.percentile(50) - 2000) <= 2000 / 32
    (3, 3000, True)
    """

    counts: np.ndarray
    count: int
    sum_ns: int
    max_ns: int

    @classmethod
    def from_values(cls, values) -> "LatencyHistogram":
        from pvsched._core import HIST_BUCKETS
        counts = np.zeros(HIST_BUCKETS, dtype=np.uint64)
        lo, width = bucket_bounds(HIST_BUCKETS)
        for v in values:
            i = int(np.searchsorted(lo, v, side="right") - 1)
            counts[max(i, 0)] += 1
        vals = list(values)
        return cls(counts, len(vals), int(sum(vals)), int(max(vals)) if vals else 0)

    @property
    def mean_ns(self) -> float:
        return self.sum_ns / self.count if self.count else float("nan")

    def percentile(self, q: float) -> float:
        """Value at percentile ``q`` (0..100): the midpoint of the bucket holding that rank,
        capped at the exact maximum. NaN when empty."""
        if not 0 <= q <= 100:
            raise ValueError(f"q={q} outside 0..100")
        if self.count == 0:
            return float("nan")
        rank = max(1, int(np.ceil(q / 100.0 * self.count)))
        cum = np.cumsum(self.counts.astype(np.int64))
        i = int(np.searchsorted(cum, rank))
        lo, width = bucket_bounds(len(self.counts))
        return float(min(lo[i] + width[i] // 2 if width[i] > 1 else lo[i], self.max_ns))

    @property
    def p50(self):
        return self.percentile(50)

    @property
    def p99(self):
        return self.percentile(99)

    @property
    def p999(self):
        return self.percentile(99.9)

    @property
    def bucket_edges_ns(self) -> np.ndarray:
        """Bucket boundaries in ns (one more than :attr:`counts`): bucket i holds values in
        ``[edges[i], edges[i + 1])``; the last bucket also holds every value beyond it."""
        lo, width = bucket_bounds(len(self.counts))
        return np.r_[lo, lo[-1] + width[-1]]

    @property
    def bucket_counts(self) -> np.ndarray:
        """Samples per bucket (int64), aligned with :attr:`bucket_edges_ns`."""
        return np.asarray(self.counts, dtype=np.int64)

    def buckets(self):
        """``(edges_ns, counts)`` trimmed to the first..last non-empty bucket.

        >>> e, c = LatencyHistogram.from_values([1000, 1000, 4000]).buckets()
        >>> int(e[0]), int(e[1]), int(c[0]), int(c.sum()), int(e[-2]) <= 4000 < int(e[-1])
        (992, 1008, 2, 3, True)
        """
        c = self.bucket_counts
        nz = np.flatnonzero(c)
        if not len(nz):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        lo, hi = int(nz[0]), int(nz[-1])
        return self.bucket_edges_ns[lo:hi + 2], c[lo:hi + 1]

    def cdf(self):
        """The empirical CDF at the bucket edges: ``(x_ns, fraction)`` with ``fraction[i]`` the
        share of samples below ``x_ns[i]`` (starts at 0, ends at 1; empty arrays when empty).

        >>> x, y = LatencyHistogram.from_values([1000, 1000, 4000]).cdf()
        >>> [(int(a), round(float(b), 3)) for a, b in zip(x, y)][:2], float(y[-1])
        ([(992, 0.0), (1008, 0.667)], 1.0)
        """
        e, c = self.buckets()
        if not len(c):
            return e, np.zeros(0)
        return e, np.r_[0.0, np.cumsum(c) / c.sum()]

    def merge(self, other: "LatencyHistogram") -> "LatencyHistogram":
        return LatencyHistogram(self.counts + other.counts, self.count + other.count,
                                self.sum_ns + other.sum_ns, max(self.max_ns, other.max_ns))

    def summary(self) -> Dict[str, float]:
        return {"count": self.count, "mean_ns": self.mean_ns, "p50_ns": self.p50, "p99_ns": self.p99,
                "p999_ns": self.p999, "max_ns": self.max_ns}
