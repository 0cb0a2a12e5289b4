"""The layout rules of ARCHITECTURE.md: no import cycles, every module importable on its own,
no source file over 600 lines, no seed names outside the experiments, one translation unit."""
import ast
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, "pvsched")


def _modules():
    out = {}
    for d, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), ROOT)[:-3].replace(os.sep, ".")
                out[rel[:-9] if rel.endswith(".__init__") else rel] = os.path.join(d, f)
    return out


def _edges(mods):
    """Module -> pvsched modules it imports (anywhere in the file, function-level imports too)."""
    graph = {}
    for m, path in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from pkg import sub" names the submodule when there is one
                names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                         for a in node.names]
            else:
                continue
            deps.update(n for n in names if n in mods and n != m)
        graph[m] = deps
    return graph


def test_python_imports_form_a_dag():
    graph = _edges(_modules())
    state = {}

    def visit(m, stack):
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_every_module_imports_first_in_a_fresh_interpreter():
    mods = sorted(m for m in _modules() if not m.endswith("__main__"))
    code = ("import importlib, sys\n"
            f"for m in {mods!r}:\n"
            "    for k in [k for k in sys.modules if k.startswith('pvsched') and k != 'pvsched._core']:\n"
            "        del sys.modules[k]\n"
            "    importlib.import_module(m)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _sources():
    for d, _, files in os.walk(PKG):
        for f in files:
            if f.endswith((".py", ".pyx", ".pxd", ".pxi")):
                yield os.path.join(d, f)


def test_no_source_file_over_600_lines():
    big = {os.path.relpath(p, ROOT): n for p in _sources() if (n := sum(1 for _ in open(p))) > 600}
    assert not big, f"split these or give the reason in ARCHITECTURE.md: {big}"


def test_seed_names_only_in_experiments_and_the_cli_catalogue():
    pat = re.compile(r"seed[ _-]?0\d\d", re.I)
    bad = []
    for p in _sources():
        rel = os.path.relpath(p, PKG)
        if rel.startswith("experiments") or rel == "cli.py":
            continue
        bad += [f"{rel}:{i}" for i, line in enumerate(open(p), 1) if pat.search(line)]
    assert not bad, bad


def test_core_is_one_translation_unit_that_includes_every_unit():
    core = open(os.path.join(PKG, "_core.pyx")).read()
    included = set(re.findall(r'^include "(.+)"$', core, re.M))
    units = {os.path.relpath(p, PKG) for p in _sources() if p.endswith(".pxi")}
    assert included == units
    cimported = set(re.findall(r"^from pvsched\.([\w.]+) cimport", core, re.M))
    pxds = {os.path.relpath(p, PKG)[:-4].replace(os.sep, ".") for p in _sources()
            if p.endswith(".pxd") and not p.endswith("__init__.pxd")}
    assert cimported == pxds
