"""Experiments: each seed's published results, re-run in the simulator.

``EXPERIMENTS`` maps a name to its module; each module has ``main(argv) -> int`` printing its
tables with the seed's numbers beside the simulated ones.

- :mod:`pvsched.experiments.seed000`: vCPU priority boosting (cyclictest and audio tables).
- :mod:`pvsched.experiments.seed001`: guest halted time discounted from PELT (rtla hwnoise table).
- :mod:`pvsched.experiments.seed002`: vCPU debooster and IPI-aware directed yield.
- :mod:`pvsched.experiments.seed003`: the RCU tick on nohz_full CPUs running guests, every policy.
- :mod:`pvsched.experiments.seed004`: HLT/MWAIT exits and VMM deferred work (every policy, the
  thread's claims checked against the measurements).
"""
import importlib

EXPERIMENTS = {"seed000": "pvsched.experiments.seed000", "seed001": "pvsched.experiments.seed001",
               "seed002": "pvsched.experiments.seed002", "seed003": "pvsched.experiments.seed003",
               "seed004": "pvsched.experiments.seed004"}


def get(name: str):
    """Import and return the experiment module called ``name``."""
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; known: {sorted(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name])
