"""README.md as data: its runnable blocks and its generated blocks.

Fenced blocks in README.md whose language is ``sh`` or ``python`` are runnable; the acceptance
test (``tests/test_readme_fresh.py``) runs every one of them verbatim after a non-editable install
in a fresh virtual environment. An HTML comment on the line just above a fence annotates it::

    <!-- readme: main -->        the one command that installs and runs the main job
    <!-- readme: test -->        the one command that installs test dependencies and runs the tests
    <!-- readme: checkout -->    runs only from the repository root (it builds from, or reads, the clone)
    <!-- readme: skip REASON --> not run (say why, e.g. it needs a Dask cluster)

Other blocks run from the repository root and again from an unrelated directory.

Generated blocks hold text that code produces (published figures), between::

    <!-- generated: NAME -->
    ...
    <!-- /generated -->

``tests/readme_outputs.py`` maps each NAME to the code that produces it, checks it
(``tests/test_readme_outputs.py``) and rewrites it (``python tests/readme_outputs.py --update``).

Command line: ``python tests/readme.py test-command`` prints README's test command (``.ci/run``
runs it), ``main-command`` the main one, ``blocks`` lists the runnable blocks.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RUNNABLE = ("sh", "python")

_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_NOTE = re.compile(r"^\s*<!--\s*readme:\s*(.*?)\s*-->\s*$")
_GEN_OPEN = re.compile(r"^\s*<!--\s*generated:\s*([\w./-]+)\s*-->\s*$")
_GEN_CLOSE = re.compile(r"^\s*<!--\s*/generated\s*-->\s*$")


@dataclass
class Block:
    lang: str
    text: str
    line: int                      # 1-based line of the opening fence
    notes: List[str] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        return self.lang in RUNNABLE and not self.skipped

    @property
    def skipped(self) -> bool:
        return any(n.split()[0] == "skip" for n in self.notes)

    def has(self, note: str) -> bool:
        return any(n.split()[0] == note for n in self.notes)

    @property
    def label(self) -> str:
        first = next((s for s in self.text.splitlines() if s.strip()), "")
        return f"README.md:{self.line} [{self.lang}] {first.strip()[:60]}"


def blocks(text: str = None) -> List[Block]:
    """Every fenced block of README.md, in order, with its annotations."""
    lines = (README.read_text() if text is None else text).splitlines()
    out, i = [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = m.group(1), m.group(2), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        notes = []
        k = start - 1
        while k >= 0 and _NOTE.match(lines[k]):
            notes.insert(0, _NOTE.match(lines[k]).group(1))
            k -= 1
        out.append(Block(lang, "\n".join(body) + "\n", start + 1, notes))
        i += 1
    return out


def command(kind: str, text: str = None) -> str:
    """README's ``main`` or ``test`` command (the one block annotated so)."""
    found = [b for b in blocks(text) if b.has(kind)]
    if len(found) != 1:
        raise LookupError(f"README.md must have exactly one block annotated `<!-- readme: {kind} -->`, "
                          f"found {len(found)}")
    return found[0].text.strip()


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def generated(text: str = None) -> Dict[str, str]:
    """NAME -> the text between ``<!-- generated: NAME -->`` and ``<!-- /generated -->``, less the
    indentation of the opening marker (a block inside a list item is indented with it)."""
    lines = (README.read_text() if text is None else text).splitlines()
    out, name, body, ind = {}, None, [], ""
    for i, s in enumerate(lines, 1):
        if name is None:
            m = _GEN_OPEN.match(s)
            if m:
                name, body, ind = m.group(1), [], _indent(s)
                if name in out:
                    raise ValueError(f"README.md:{i}: generated block {name!r} appears twice")
        elif _GEN_CLOSE.match(s):
            out[name] = "\n".join(body) + "\n"
            name = None
        else:
            body.append(s[len(ind):] if s.startswith(ind) else s.lstrip())
    if name is not None:
        raise ValueError(f"README.md: generated block {name!r} is not closed by <!-- /generated -->")
    return out


def replace_generated(text: str, name: str, body: str) -> str:
    """``text`` with the generated block ``name`` replaced by ``body`` (indented like its marker)."""
    lines = text.splitlines(keepends=True)
    out, inside, found = [], False, False
    for s in lines:
        if not inside:
            out.append(s)
            m = _GEN_OPEN.match(s)
            if m and m.group(1) == name:
                inside = found = True
                ind = _indent(s)
                out.extend((ind + b if b.strip() else "") + "\n" for b in body.rstrip("\n").split("\n"))
        elif _GEN_CLOSE.match(s):
            inside = False
            out.append(s)
    if not found:
        raise LookupError(f"README.md has no generated block {name!r}")
    return "".join(out)


def main(argv: List[str]) -> int:
    what = argv[0] if argv else "blocks"
    if what in ("test-command", "main-command"):
        print(command(what.split("-")[0]))
    elif what == "blocks":
        for b in blocks():
            if b.lang in RUNNABLE:
                print(f"{b.label}  {' '.join(b.notes)}")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
