"""Builds the Cython core. Everything else is declared in pyproject.toml.

Two additions to a plain build, both so that README's steps work as written from the repository
root as well as elsewhere:

- ``pip install .`` (a non-editable build) also copies the compiled core into the checkout's
  ``pvsched/`` folder. From the repository root Python imports that folder before the installed
  package (the working directory comes first on ``sys.path`` for ``python -m`` and ``pytest``), and
  without the copy it has no core. An editable install builds there anyway.
- The wheel carries the example inputs (``examples/**/*.toml``, ``*.json``) as ``pvsched/examples/``
  (the root folder stays the one source), so ``pvsched run examples/vm_busy_host.toml`` works
  outside the checkout.

``PVSCHED_PGO=1`` builds the core with profile-guided optimisation (GCC): an instrumented build
in a temporary copy of the sources runs the training workload (``PGO_TRAINING``: the benchmark
scenarios and a sweep of small cells), then the core is compiled again there with the profile
and copied where the normal build would put it. Results are identical; README (Performance)
gives the measured effect. It takes about twice as long as a normal build.
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
annotate = os.environ.get("PVSCHED_ANNOTATE") == "1"
PGO = os.environ.get("PVSCHED_PGO") == "1"
# the two inner builds of a PGO build: instrumented ("generate") and optimised ("use")
PGO_PHASE, PGO_DIR = os.environ.get("PVSCHED_PGO_PHASE"), os.environ.get("PVSCHED_PGO_DIR")
PGO_FLAGS = {
    "generate": (["-fprofile-generate=%s", "-fprofile-update=single"], ["-fprofile-generate=%s"]),
    "use": (["-fprofile-use=%s", "-fprofile-partial-training", "-Wno-missing-profile"], []),
}

#: What the instrumented core runs to collect the profile (in the copy of the sources): the
#: benchmark scenarios (host-only cgroup load, two-level), and a sweep of small two-level cells.
PGO_TRAINING = """
import importlib
from pvsched import Scenario, Simulation
from pvsched.bench import host_only, two_level
run_segment = importlib.import_module("pvsched.sweep.batch").run_segment     # (no pandas needed)
Simulation(host_only(duration_ns=1_500_000_000)).run()
Simulation(two_level(duration_ns=3_000_000_000)).run()
d = Scenario.from_toml("examples/vm_busy_host.toml", is_path=True).to_dict()
d["duration_ns"] = 100_000_000
for hogs in (1, 2, 3, 4):
    d["tasks"][0]["count"] = hogs
    run_segment(Scenario.from_dict(d), range(25), None)
"""

# GCC's -O2 inlines an "inline" function only up to 70 insns (200 at -O3): the fair class's hot
# per-level helpers (update_curr, place_entity, the PELT sum update) stayed out-of-line calls.
# Raised to 400 (only functions declared inline are concerned): -6.5% instructions per event on
# the host load against 70 (200, -O3's value: -4%), same results.
# -fwrapv: signed overflow wraps, as in the kernel (built with -fno-strict-overflow), and the same
# on every compiler and Python: most Pythons pass -fwrapv in their CFLAGS, but not all do, and
# without it an overflow is undefined and the results could depend on the build.
compile_args, link_args = ["-O2", "-fwrapv"], []
if "clang" not in (os.environ.get("CC") or sysconfig.get_config_var("CC") or ""):
    compile_args += ["--param", "max-inline-insns-single=400"]     # a GCC parameter
if PGO_PHASE in PGO_FLAGS:
    compile_args += [f % PGO_DIR if "%s" in f else f for f in PGO_FLAGS[PGO_PHASE][0]]
    link_args += [f % PGO_DIR for f in PGO_FLAGS[PGO_PHASE][1]]

extensions = [
    Extension(
        "pvsched._core",
        ["pvsched/_core.pyx"],
        include_dirs=[np.get_include(), "pvsched"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
]


def build_core_with_pgo(dest: str) -> None:
    """PVSCHED_PGO=1: instrumented build, training run, optimised build, all in one temporary copy
    of the sources (so both compilations see the same paths and the profile matches); the
    optimised core is copied to ``dest``."""
    work = tempfile.mkdtemp(prefix="pvsched-pgo-")
    try:
        src, prof = os.path.join(work, "src"), os.path.join(work, "profile")
        ignore = shutil.ignore_patterns("*.so", "*.o", "build", "__pycache__", "*.gcda")
        os.makedirs(src)
        for name in ("pvsched", "examples"):
            shutil.copytree(os.path.join(HERE, name), os.path.join(src, name), ignore=ignore)
        for name in ("setup.py", "pyproject.toml", "README.md"):
            shutil.copy(os.path.join(HERE, name), src)
        env = dict(os.environ, PVSCHED_PGO="0", PVSCHED_PGO_DIR=prof)
        build = [sys.executable, "setup.py", "build_ext", "--inplace", "--force"]
        print("PVSCHED_PGO: instrumented build", flush=True)
        subprocess.run(build, cwd=src, env=dict(env, PVSCHED_PGO_PHASE="generate"), check=True)
        print("PVSCHED_PGO: training run", flush=True)
        subprocess.run([sys.executable, "-c", PGO_TRAINING], cwd=src, env=env, check=True)
        print("PVSCHED_PGO: optimised build", flush=True)
        subprocess.run(build, cwd=src, env=dict(env, PVSCHED_PGO_PHASE="use"), check=True)
        built = glob.glob(os.path.join(src, "pvsched", "_core*.so")) + glob.glob(os.path.join(src, "pvsched", "_core*.pyd"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(built[0], dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class BuildExtAlsoInCheckout(build_ext):
    """build_ext that, for a non-editable build, also puts the built core in the source tree (and
    with PVSCHED_PGO=1 builds it with profile-guided optimisation)."""

    def build_extension(self, ext):
        if PGO and ext.name == "pvsched._core":
            build_core_with_pgo(self.get_ext_fullpath(ext.name))
            return
        super().build_extension(ext)

    def run(self):
        super().run()
        if self.inplace:
            return
        for ext in self.extensions:
            built = self.get_ext_fullpath(ext.name)
            dest = os.path.join(HERE, self.get_ext_filename(ext.name))
            if not os.path.isdir(os.path.dirname(dest)):
                continue
            try:
                self.copy_file(built, dest)
            except OSError as e:   # a read-only checkout still installs; running from its root then says what to do
                print(f"note: could not copy the compiled core into the checkout ({e})")


class BuildPyWithExamples(build_py):
    """build_py that ships the repository's example inputs (examples/**/*.toml and *.json) inside
    the package."""

    def run(self):
        super().run()
        src = os.path.join(HERE, "examples")
        files = sorted(glob.glob(os.path.join(src, "**", "*.toml"), recursive=True)
                       + glob.glob(os.path.join(src, "**", "*.json"), recursive=True))
        for f in files:
            dest = os.path.join(self.build_lib, "pvsched", "examples", os.path.relpath(f, src))
            self.mkpath(os.path.dirname(dest))
            self.copy_file(f, dest)


setup(
    cmdclass={"build_ext": BuildExtAlsoInCheckout, "build_py": BuildPyWithExamples},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        annotate=annotate,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
            "embedsignature.format": "python",   # Python types in help(): pvsched.kernel is a Python API
        },
    ),
)
