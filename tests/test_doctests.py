"""Every docstring example in the public modules runs and prints what it shows."""
import doctest
import importlib

import pytest

MODULES = ["pvsched", "pvsched.kernel", "pvsched.scenario", "pvsched.workloads", "pvsched.results", "pvsched.policies.deferred_work",
           "pvsched.simulation", "pvsched.errors", "pvsched.policies", "pvsched.experiments.seed000",
           "pvsched._core", "pvsched.policies.boost", "pvsched.policies.debooster", "pvsched.policies.ipi_aware_yield",
           "pvsched.policies.policy", "pvsched.scenario.elements", "pvsched.validate", "pvsched.directed_yield",
           "pvsched.bench", "pvsched.progress", "pvsched.export", "pvsched.scenario.description",
           "pvsched.scenario.toml_io", "pvsched.latency",
           "pvsched.policies.halted_pelt", "pvsched.experiments.seed001", "pvsched.limits", "pvsched.fuzz",
           "pvsched.rcu", "pvsched.rcu.config", "pvsched.policies.rcu_guest", "pvsched.experiments.seed003"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
