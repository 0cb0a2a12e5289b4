"""Experiments: each seed's published results, re-run in the simulator.

``EXPERIMENTS`` maps a name to its module; each module has ``main(argv) -> int`` printing its
tables with the seed's numbers beside the simulated ones.
"""
import importlib

EXPERIMENTS = {"seed000": "pvsched.experiments.seed000"}


def get(name: str):
    """Import and return the experiment module called ``name``."""
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; known: {sorted(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name])
