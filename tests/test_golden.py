"""Golden results: refactors and optimisations must keep every result bit-identical.

Each reference scenario of ``golden_cases.py`` is run and every entry of the engine's full
``results()`` (every column of every table, every histogram, every counter) is hashed; the hashes
must equal those in ``golden_results.json``. An entry that disappears fails; a new entry (a column
added by a new mechanism) is allowed, so adding a metric does not disturb the hashes of the old
ones.

Change the stored hashes only for a deliberate model change, in its own commit that names it:

    python tests/test_golden.py --update            # every case
    python tests/test_golden.py --update random/3   # some cases
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_cases import CASES  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden_results.json"


def _flatten(obj, prefix: str, out: Dict[str, object]) -> None:
    if isinstance(obj, dict):
        for k in sorted(obj, key=str):
            _flatten(obj[k], f"{prefix}/{k}" if prefix else str(k), out)
    else:
        out[prefix] = obj


def _digest(value) -> str:
    h = hashlib.sha256()
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        h.update(f"ndarray:{a.dtype.str}:{a.shape}:".encode())
        h.update(a.tobytes())
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}:".encode())
        for v in value:
            h.update(_digest(v).encode())
    else:
        if isinstance(value, np.generic):
            value = value.item()
        h.update(f"{type(value).__name__}:{value!r}".encode())
    return h.hexdigest()[:24]


def result_hashes(name: str) -> Dict[str, str]:
    """Hash of every entry of the full raw results of case ``name``."""
    from pvsched import Simulation
    sc, until = CASES[name]()
    flat: Dict[str, object] = {}
    _flatten(Simulation(sc).run(until_ns=until).raw, "", flat)
    return {k: _digest(v) for k, v in flat.items()}


def _stored() -> Dict[str, Dict[str, str]]:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_results_match_golden(name):
    stored = _stored()
    assert name in stored, f"no golden hashes for {name}: run python tests/test_golden.py --update {name}"
    now = result_hashes(name)
    want = stored[name]
    missing = sorted(k for k in want if k not in now)
    changed = sorted(k for k in want if k in now and now[k] != want[k])
    assert not missing and not changed, (
        f"{name}: results differ from the golden run; missing entries {missing[:10]}, "
        f"changed entries {changed[:20]} (of {len(want)})")


def test_every_case_has_golden_hashes():
    assert sorted(_stored()) == sorted(CASES)


def main(argv) -> int:
    if not argv or argv[0] != "--update":
        print(__doc__)
        return 2
    names = argv[1:] or sorted(CASES)
    stored = {k: v for k, v in _stored().items() if k in CASES}
    for n in names:
        stored[n] = result_hashes(n)
        print(f"{n}: {len(stored[n])} entries")
    GOLDEN.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
