"""Every docstring example in the public modules runs and prints what it shows."""
import doctest
import importlib

import pytest

MODULES = ["pvsched", "pvsched.kernel", "pvsched.scenario", "pvsched.workloads", "pvsched.results",
           "pvsched.simulation", "pvsched.errors", "pvsched.policies", "pvsched.experiments.seed000",
           "pvsched.experiments.seed001", "pvsched.halted_pelt",
           "pvsched._core"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
