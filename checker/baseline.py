"""Baselines: adopt the checker on existing code by recording today's findings.

``checker baseline`` writes the current findings to a file; ``scan --baseline FILE`` then
reports only findings that are not in it. The file is keyed by each finding's
fingerprint, which is made of the rule, the file and the normalised code of the finding
(never its line number), so code that moves keeps matching. Each entry holds a count: a
baseline that knew of two identical findings hides at most two, and a third copy of the
same violation is reported as new.

The document is plain JSON with sorted keys and no timestamps, so regenerating it on
unchanged code gives the same bytes, and line shifts elsewhere in a file never touch it::

    {
      "findings": {
        "3f0c...": {"count": 1, "path": "app/api.py", "rule": "tls-verify-disabled"}
      },
      "version": 1
    }
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

from checker.analyzers import fingerprint as _fingerprint
from checker.fsutil import atomic_write
from checker.model import Finding

VERSION = 1


class BaselineError(Exception):
    """A baseline file that cannot be used; the message says why and where."""


_NUMBER = re.compile(r"\d+")


def key(finding: Finding) -> str:
    """The baseline key of a finding: its fingerprint.

    Findings that carry no fingerprint (an engine that could not capture a snippet) get
    one from their rule, path, snippet and message, with numbers in the message blurred so
    a "line 12" in it does not tie the entry to a line.
    """
    if finding.fingerprint:
        return finding.fingerprint
    return _fingerprint(finding.rule, finding.path, finding.snippet,
                        _NUMBER.sub("#", finding.message))


def build(findings: Sequence[Finding]) -> dict:
    """The baseline document for ``findings``: one entry per fingerprint, with a count."""
    counts: Counter[str] = Counter()
    first: dict[str, Finding] = {}
    for finding in sorted(findings, key=Finding.sort_key):
        k = key(finding)
        counts[k] += 1
        first.setdefault(k, finding)
    entries = {
        k: {"rule": first[k].rule, "path": first[k].path, "count": counts[k]}
        for k in sorted(counts)
    }
    return {"version": VERSION, "findings": entries}


def dumps(document: Mapping) -> str:
    """The baseline document as text: indented, keys sorted, one trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: Path, findings: Sequence[Finding]) -> None:
    """Write the baseline of ``findings`` to ``path`` atomically."""
    atomic_write(Path(path), dumps(build(findings)))


def load(path: Path) -> dict:
    """Read and validate a baseline file. Raises :class:`BaselineError` when it is missing,
    unreadable, not JSON, or not shaped like a baseline."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(
            f"baseline file {path} does not exist (create it with `checker baseline`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read baseline file {path}: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"baseline file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); regenerate it with `checker baseline`"
        ) from None
    problems = _validate(document)
    if problems:
        raise BaselineError(
            f"baseline file {path} is not a checker baseline: " + "; ".join(problems)
        )
    return document


def _validate(document) -> list[str]:
    if not isinstance(document, dict):
        return ["the top level must be an object"]
    problems: list[str] = []
    version = document.get("version")
    if version != VERSION:
        problems.append(f"unsupported version {version!r} (expected {VERSION})")
    entries = document.get("findings")
    if not isinstance(entries, dict):
        problems.append("'findings' must be an object keyed by fingerprint")
        return problems
    for k, entry in entries.items():
        if not isinstance(entry, dict):
            problems.append(f"entry {k!r} must be an object")
            continue
        count = entry.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            problems.append(f"entry {k!r} needs a positive integer 'count'")
        for field in ("rule", "path"):
            if not isinstance(entry.get(field), str):
                problems.append(f"entry {k!r} needs a string {field!r}")
    return problems


def apply(findings: Sequence[Finding], baseline: Mapping) -> tuple[list[Finding], int]:
    """Split ``findings`` against ``baseline``: (the new findings, how many matched).

    An entry with count N hides at most N findings with its fingerprint; further findings
    with the same fingerprint are new. When there are more findings than the count, the
    first ones in file order are taken as the known ones. The new findings keep their
    original order.
    """
    remaining = {k: int(entry.get("count", 0))
                 for k, entry in (baseline.get("findings") or {}).items()}
    hidden: set[int] = set()
    order = sorted(range(len(findings)), key=lambda i: findings[i].sort_key())
    for i in order:
        k = key(findings[i])
        if remaining.get(k, 0) > 0:
            remaining[k] -= 1
            hidden.add(i)
    new = [f for i, f in enumerate(findings) if i not in hidden]
    return new, len(hidden)
