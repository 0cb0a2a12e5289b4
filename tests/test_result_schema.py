"""One result schema for every format: JSON without NaN literals, CSV with percentiles, the same
column names everywhere, vCPU and per-VM tables in every format, the scenario and seed included."""
import csv
import json
import os

import pytest

from pvsched import Scenario, Simulation
from pvsched.cli import main
from pvsched.export import KEY, LATENCY, TABLES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EX = os.path.join(ROOT, "examples", "vm_busy_host.toml")


def _no_nan(s):
    raise ValueError(f"invalid JSON constant {s}")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    d = tmp_path_factory.mktemp("out")
    argv = ["run", EX, "--until-ns", "50000000", "--seed", "11",
            "--json", str(d / "r.json"), "--csv", str(d / "r.csv"), "--parquet", str(d / "r.parquet")]
    assert main(argv) == 0
    return d


def test_json_is_valid_json_with_every_table_scenario_and_seed(written):
    doc = json.loads((written / "r.json").read_text(), parse_constant=_no_nan)
    assert doc["schema"] == "pvsched-result-1" and doc["seed"] == 11
    sc = Scenario.from_dict(doc["scenario"])
    assert sc.seed == 11 and sc.vms[0].name == "web"
    for t in TABLES:
        assert doc[t] and KEY[t] in doc[t][0]
    hog = next(row for row in doc["tasks"] if row["task"].startswith("hog"))
    assert hog["lat_p99_ns"] is None or isinstance(hog["lat_p99_ns"], float)


def test_csv_has_percentiles_every_table_and_the_scenario(written):
    with open(written / "r.csv") as f:
        header = next(csv.reader(f))
    assert header[0] == "task" and set(LATENCY) <= set(header)
    for t in TABLES[1:]:
        with open(written / f"r.{t}.csv") as f:
            assert next(csv.reader(f))[0] == KEY[t]
    assert Scenario.from_toml(str(written / "r.scenario.toml")).seed == 11


def test_same_columns_in_every_format(written):
    import pandas as pd
    import pyarrow.parquet as pq
    doc = json.loads((written / "r.json").read_text())
    for t in TABLES:
        csv_path = written / ("r.csv" if t == "tasks" else f"r.{t}.csv")
        pq_path = written / ("r.parquet" if t == "tasks" else f"r.{t}.parquet")
        with open(csv_path) as f:
            cols_csv = next(csv.reader(f))
        cols_pq = list(pd.read_parquet(pq_path).columns)
        assert list(doc[t][0]) == cols_csv == cols_pq, t
    meta = json.loads(pq.read_schema(written / "r.parquet").metadata[b"pvsched"])
    assert meta["seed"] == 11 and meta["scenario"]["vms"][0]["name"] == "web"


def test_to_pandas_uses_the_schema():
    pytest.importorskip("pandas")
    r = Simulation(Scenario.from_toml(EX)).run(until_ns=20_000_000)
    for t in TABLES:
        df = r.to_pandas(t)
        assert df.columns[0] == KEY[t]
    assert set(r.to_pandas("vcpus")["mode"]) <= {"guest", "exit", "poll", "halted", "preempted", "off"}


def test_vcpu_mode_is_a_name():
    r = Simulation(Scenario.from_toml(EX)).run(until_ns=20_000_000)
    assert r.vcpu("web/vcpu0")["mode"] in {"guest", "exit", "poll", "halted", "preempted"}


def test_json_without_pandas_or_vms(tmp_path):
    from pvsched import Host, Task
    from pvsched.workloads import Hog
    r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("h", Hog())])).run(until_ns=1_000_000)
    paths = r.write(str(tmp_path / "x.json"))
    doc = json.loads(open(paths[0]).read(), parse_constant=_no_nan)
    assert doc["vcpus"] == [] and doc["vms"] == [] and doc["tasks"][0]["lat_mean_ns"] is None
    written = r.write(str(tmp_path / "x.csv"), "csv")
    assert [os.path.basename(p) for p in written] == ["x.csv", "x.cpus.csv", "x.scenario.toml"]
