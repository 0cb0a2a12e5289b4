"""Fuzz campaign: random scenarios through the Python API and mutated scenario files.

Every case must end in one of two ways: a :class:`~pvsched.ScenarioError` (or
:class:`~pvsched.NotModelledError`) naming the bad field, or an accepted run whose results pass the
conservation checks of :func:`check_result` (CPU time within capacity, vCPU mode times adding up
to the VM's lifetime, no negative time, consistent runqueue counters, no invariant violation).
Anything else -- another exception type, a crash, a hang, a livelock -- is a failure.

Case kinds (each case is a pure function of ``(seed, index)``, so any failure can be replayed):

- ``valid``: a random scenario of ordinary values (host, cgroups, tasks, VMs, every workload and
  mechanism knob), checked with ``check_invariants``;
- ``extreme``: the same with values drawn from the edges of their ranges (0, 1, the 2^62 ns
  horizon, huge jitters, numpy integers);
- ``invalid``: a valid specification with one field replaced by a bad value or a wrong type;
- ``toml``: an example scenario file mutated as data (keys, values, types) or as text/bytes
  (malformed TOML, truncation, non-UTF-8 bytes);
- ``long``: a small valid scenario (at most 2 CPUs, 2 VMs of 2 vCPUs) run for 1 simulated second,
  for state that goes wrong only after a while;
- ``sweep``: a small grid over leaf paths of a valid scenario (``seed`` among them) with good and
  bad values and seeds, run to an output directory and resumed: a ScenarioError / SweepError, or
  one row per run, unique columns, every run readable back, and a resume that runs nothing again.

A run stops early, and is checked there, after :data:`EVENT_BUDGET` events (a legitimately busy
scenario is not a hang); it is run in 1,000 steps so that the budget is checked on the way.

Command line (each case runs in a worker process with a timeout; a crash or a hang is recorded
and the campaign goes on)::

    python -m pvsched.fuzz --cases 20000 --seed 1 --workers 2
    python -m pvsched.fuzz --replay 1:4711      # one case, in-process, with its traceback

>>> s = campaign(seed=7, cases=6, workers=1, timeout_s=60)
>>> s["cases"], s["failures"]
(6, [])
"""
from pvsched.fuzz.campaign import campaign, in_child, main
from pvsched.fuzz.cases import EVENT_BUDGET, KINDS, LONG_UNTIL_NS, UNTIL_NS, Case, make_case, run_case
from pvsched.fuzz.checks import check_result
from pvsched.fuzz.generate import build, corrupt, random_spec
from pvsched.fuzz.mutate import example_files, mutate_bytes, mutate_data, mutate_text

__all__ = ["campaign", "in_child", "main", "Case", "make_case", "run_case", "check_result", "build", "corrupt",
           "random_spec", "example_files", "mutate_bytes", "mutate_data", "mutate_text", "KINDS", "UNTIL_NS",
           "LONG_UNTIL_NS", "EVENT_BUDGET"]
