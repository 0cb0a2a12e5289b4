"""Every docstring example in the public modules runs and prints what it shows."""
import doctest
import importlib

import pytest

MODULES = ["pvsched", "pvsched.kernel", "pvsched.scenario", "pvsched.workloads", "pvsched.results", "pvsched.policies.deferred_work",
           "pvsched.simulation", "pvsched.errors", "pvsched.policies", "pvsched.experiments.seed000",
           "pvsched._core", "pvsched.policies.boost", "pvsched.policies.debooster", "pvsched.policies.ipi_aware_yield",
           "pvsched.policies.policy", "pvsched.scenario.elements", "pvsched.validate", "pvsched.directed_yield",
           "pvsched.bench", "pvsched.progress", "pvsched.export", "pvsched.scenario.description",
           "pvsched.scenario.toml_io",
           "pvsched.policies.halted_pelt", "pvsched.experiments.seed001", "pvsched.limits", "pvsched.fuzz"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
