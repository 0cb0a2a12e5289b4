"""Experiments: one module per seed thread; each builds scenarios, runs them and returns a table
laid out like the seed's results, with the seed's published numbers beside the simulated ones.

- :mod:`pvsched.experiments.seed002`: vCPU debooster and IPI-aware directed yield
  (``python -m pvsched.experiments.seed002``).
"""
