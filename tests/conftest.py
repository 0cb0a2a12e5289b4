"""Shared set-up for the pvsched test suite: run against the in-place build of the repository
(``python3 setup.py build_ext --inplace``) whatever the working directory."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
