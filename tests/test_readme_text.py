"""README.md stands on its own and its install hints are true (checked against pyproject.toml)."""
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import readme  # noqa: E402

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

PYPROJECT = tomllib.loads((readme.ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def _names(reqs):
    return sorted(re.split(r"[<>=!~;\s]", r, maxsplit=1)[0].lower() for r in reqs)


def test_readme_has_the_two_commands():
    main, test = readme.command("main"), readme.command("test")
    assert main.startswith("pip install . ") and "pvsched run" in main
    assert test.startswith("pip install -e \".[test]\"") and "pytest" in test


def test_ci_runs_readmes_test_command():
    ci = (readme.ROOT / ".ci" / "run").read_text()
    assert "tests/readme.py test-command" in ci


def test_readme_never_sends_users_outside_the_project():
    text = readme.README.read_text()
    assert "../shared" not in text and "/work/" not in text
    for link in re.findall(r"\]\(([^)#]+)", text):
        if not re.match(r"[a-z]+://", link):
            assert (readme.ROOT / link).exists(), f"README links {link}, which the clone does not have"


def test_readme_installs_nothing_from_an_index_that_does_not_have_pvsched():
    text = readme.README.read_text()
    for m in re.finditer(r"pip install ([^`\n]*)", text):
        assert not re.search(r"[\"']pvsched\[", m.group(1)), f"README says `pip install {m.group(1)}`: pvsched is not on PyPI"


def test_readme_package_installs_are_pvsched_extras():
    """Every `pip install <packages>` line of README installs exactly one of pyproject's extras."""
    extras = {tuple(_names(v)): k for k, v in EXTRAS.items()}
    found = set()
    for b in readme.blocks():
        if b.lang != "sh":
            continue
        for line in b.text.splitlines():
            m = re.fullmatch(r"pip install ([A-Za-z][\w\-\[\] ]*?)\s*(#.*)?", line.strip())
            if m:
                names = tuple(_names(m.group(1).split()))
                assert names in extras, f"README `{line.strip()}` is no extra of pyproject.toml"
                found.add(extras[names])
    assert {"sweep", "trace", "plot", "rtapp"} <= found


def test_no_install_hint_names_pvsched_on_an_index():
    """pvsched is not on PyPI: hints in the code name the packages themselves (or the clone)."""
    bad = []
    for p in (readme.ROOT / "pvsched").rglob("*.py"):
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if re.search(r"pip install [\"']?pvsched\[", line):
                bad.append(f"{p.relative_to(readme.ROOT)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)


def test_dask_extra_hint_matches_pyproject():
    assert "dask[distributed]" in " ".join(EXTRAS["dask"])


def test_readme_says_what_the_build_needs_and_how_long_it_takes():
    text = readme.README.read_text()
    two = text[text.index("## Two commands"):text.index("## Quick start")]
    for need in ("C compiler", "Python headers", "minutes"):
        assert need in two, f"README's two-commands section does not mention {need!r}"
