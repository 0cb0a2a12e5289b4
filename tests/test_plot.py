"""Plots render headless (Agg) and show the data they claim to show."""
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from pvsched import VM, Host, LatencyHistogram, Scenario, Simulation, Task, plot  # noqa: E402
from pvsched.workloads import Cyclictest, Hog  # noqa: E402
from trace_fixtures import make_trace  # noqa: E402


@pytest.fixture(scope="module")
def result():
    vm = VM("web", vcpus=2, tasks=[Task("ct", Cyclictest(interval_ns=500_000))])
    sc = Scenario(host=Host(cpus=2), vms=[vm], tasks=[Task("ct", Cyclictest(interval_ns=700_000)),
                                                      Task("hog", Hog(), count=2)])
    return Simulation(sc).run(until_ns=200_000_000)


def test_cdf_plot_data_is_the_histogram(result):
    fig = plot.latency_cdf(result, ["ct", "web/ct"], unit="us")
    lines = fig.axes[0].get_lines()
    assert [ln.get_label().split(" ")[0] for ln in lines] == ["ct", "web/ct"]
    for ln, name in zip(lines, ["ct", "web/ct"]):
        h = result.latency(name)
        e, c = h.buckets()
        x, y = ln.get_xdata(), ln.get_ydata()
        assert np.allclose(x, e / 1e3)
        assert np.allclose(y, np.r_[0, np.cumsum(c)] / h.count)
        assert y[-1] == 1.0 and np.all(np.diff(y) >= 0)
        assert h.count == int(c.sum()) > 100


def test_cdf_matches_the_samples_at_bucket_edges():
    rng = np.random.default_rng(0)
    vals = rng.integers(1, 5_000_000, size=3000)
    h = LatencyHistogram.from_values(vals.tolist())
    fig = plot.latency_cdf({"x": h}, unit="ns")
    ln = fig.axes[0].get_lines()[0]
    for x, y in zip(ln.get_xdata()[::37], ln.get_ydata()[::37]):
        assert y == pytest.approx(np.mean(vals < x))       # share of samples below each bucket edge
    tail = plot.latency_cdf({"x": h}, tail=True).axes[0].get_lines()[0]
    assert np.allclose(tail.get_ydata(), 1 - ln.get_ydata())


def test_histogram_density_integrates_to_one(result):
    fig = plot.latency_histogram(result, "web/ct", unit="us")
    (st,) = [p for p in fig.axes[0].patches]
    vals, edges = st.get_data()[:2]
    assert np.sum(vals * np.diff(edges)) == pytest.approx(1.0)


def test_timeline_rows_and_busy_time(tmp_path):
    tr = make_trace(seed=2)
    fig = plot.timeline(tr, 0, 20_000_000, unit="ms")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:2] == ["CPU 0", "CPU 1"]
    assert labels[2:4] == ["web/vcpu0 guest", "web/vcpu0 mode"] and len(labels) == 2 + 2 * 3
    w = tr.window(0, 20_000_000)
    bars = ax.collections
    cpu0 = [c for c in bars if np.isclose(c.get_paths()[0].vertices[:, 1].min(), -0.4)]
    widths = sum(p.vertices[:, 0].max() - p.vertices[:, 0].min() for p in cpu0[0].get_paths())
    assert widths == pytest.approx(w.busy_ns()[0] / 1e6)
    plot.save(fig, tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_vcpu_mode_bars_add_up(result):
    fig = plot.vcpu_modes(result)
    ax = fig.axes[0]
    tot = np.zeros(2)
    for p in ax.patches:
        tot[int(round(p.get_y() + p.get_height() / 2))] += p.get_width()
    assert np.allclose(tot, 1.0)
    v = result.vcpus
    guest = [p.get_width() for p in ax.containers[0]]
    assert np.allclose(guest, v["guest_ns"] / sum(v[m] for m in ("guest_ns", "exit_ns", "poll_ns", "halted_ns", "preempted_ns")))


def test_sweep_line_and_heatmap():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 1, 2, 2, 1, 2], "b": [0, 0, 0, 0, 5, 5], "m": [1.0, 3.0, 5.0, 7.0, 10.0, 20.0]})
    fig = plot.sweep_line(df, "a", "m", by="b")
    means = sorted(tuple(c.lines[0].get_ydata()) for c in fig.axes[0].containers)
    assert means == [(2.0, 6.0), (10.0, 20.0)]
    fig = plot.sweep_heatmap(df, "a", "b", "m")
    img = fig.axes[0].get_images()[0].get_array()
    assert img.tolist() == [[2.0, 6.0], [10.0, 20.0]]
    with pytest.raises(KeyError):
        plot.sweep_line(df, "nope", "m")
