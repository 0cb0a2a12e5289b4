"""The benchmark scenarios live in the package (``pvsched.bench``) so that ``pvsched bench`` works
from any directory; the pytest-benchmark files import them from here."""
from pvsched.bench import host_only, two_level  # noqa: F401
