"""README.md's published figures are what the current code produces (``tests/readme_outputs.py``).

Blocks that take long to compute are checked in part on every run (their ``quick`` parts) and in
full in CI (``CI`` set) or with ``PVSCHED_README_TEST=1``.
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import readme  # noqa: E402
from readme_outputs import OUTPUTS, check  # noqa: E402

_flag = os.environ.get("PVSCHED_README_TEST")
FULL = _flag == "1" or (_flag is None and bool(os.environ.get("CI")))


def test_every_generated_block_has_a_producer_and_every_producer_a_block():
    assert sorted(readme.generated()) == sorted(OUTPUTS)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_readme_block_is_what_the_code_prints(name):
    out = OUTPUTS[name]
    parts = None if FULL or out.quick is None else list(out.quick)
    if parts == []:
        pytest.skip(f"{name}: checked in CI or with PVSCHED_README_TEST=1")
    msg = check(name, parts)
    assert msg is None, msg


def test_check_notices_a_changed_figure():
    text = readme.README.read_text()
    have = readme.generated(text)["seed000"]
    changed = readme.replace_generated(text, "seed000", have.replace("(887)", "(888)", 1))
    assert "(888)" in readme.generated(changed)["seed000"]
    assert check("seed000", text=changed) is not None
