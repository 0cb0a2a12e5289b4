"""The public API is typed (py.typed) and documented with runnable examples; pvsched.kernel shows
the kernel's names with Python signatures (item 20 of the first-contact issue)."""
import inspect
from pathlib import Path

import pytest

import pvsched
import pvsched.kernel as K
from pvsched import VM, Result, Scenario, Task

ROOT = Path(__file__).resolve().parent.parent


def test_py_typed_ships():
    assert (Path(pvsched.__file__).parent / "py.typed").is_file()
    assert 'pvsched = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("obj", [Result.task, Result.to_pandas, Result.tasks, Result.cpus, Scenario.to_toml,
                                 Scenario, VM, Task, Result], ids=lambda o: getattr(o, "__qualname__", str(o)))
def test_documented_with_an_example(obj):
    doc = inspect.getdoc(obj.fget if isinstance(obj, property) else obj)
    assert doc and ">>> " in doc, f"{obj} has no docstring example"


def test_to_pandas_documents_table():
    assert "``table``" in Result.to_pandas.__doc__


@pytest.mark.parametrize("name", K.__all__)
def test_kernel_functions_have_kernel_names_and_python_signatures(name):
    obj = getattr(K, name)
    if not callable(obj) or isinstance(obj, type):
        return
    assert obj.__name__ == name, f"pvsched.kernel.{name} is {obj.__name__}"
    doc = obj.__doc__ or ""
    assert "py_" not in doc, doc
    first = doc.splitlines()[0] if doc else ""
    for c_type in ("long long", "unsigned ", "bint ", "double "):
        assert c_type not in first, f"{name}: C signature in the docstring: {first}"
    inspect.signature(obj)
