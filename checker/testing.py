"""Helpers for testing rules: scan a few files written to a temporary folder."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from checker.config import parse
from checker.model import Finding, Report
from checker.registry import load

EXPECT = re.compile(r"(?:#|//|--|<!--)\s*expect:\s*([a-z0-9\-]+(?:\s*,\s*[a-z0-9\-]+)*)")


def scan_project(root: Path, select: Sequence[str] | None = None, config: Mapping | None = None,
                 engines: Iterable[str] = ("checker",)) -> Report:
    """Scan a folder as a project of its own (no cache, one process)."""
    from checker.api import scan

    cfg = parse(dict(config or {}), load(), "(test)")
    return scan([root], cfg, root=root, select=list(select) if select else None, jobs=1,
                use_cache=False, engines=set(engines))


def scan_files(files: Mapping[str, str], select: Sequence[str] | None = None, config: Mapping | None = None,
               engines: Iterable[str] = ("checker",)) -> list[Finding]:
    """Write ``files`` (relative path -> text) into a temporary folder and scan it."""
    with tempfile.TemporaryDirectory(prefix="checker-test-") as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return list(scan_project(root, select, config, engines).findings)


def fired(findings: Iterable[Finding]) -> set[tuple[str, int, str]]:
    """The (path, line, slug) set of some findings."""
    return {(f.path, f.span.line, f.rule) for f in findings}


def expected_markers(root: Path) -> set[tuple[str, int, str]]:
    """The (path, line, slug) set the ``expect:`` comments under ``root`` demand."""
    out: set[tuple[str, int, str]] = set()
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if "expect:" not in text:
            continue
        rel = path.relative_to(root).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            match = EXPECT.search(line)
            if match:
                for slug in match.group(1).split(","):
                    out.add((rel, number, slug.strip()))
    return out
