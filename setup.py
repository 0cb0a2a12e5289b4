"""Builds the Cython core. Everything else is declared in pyproject.toml."""
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

annotate = os.environ.get("PVSCHED_ANNOTATE") == "1"

extensions = [
    Extension(
        "pvsched._core",
        ["pvsched/_core.pyx"],
        include_dirs=[np.get_include(), "pvsched"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O2"],
    )
]

setup(
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
        },
    )
)
