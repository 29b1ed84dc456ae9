"""Analyzers turn files into per-file results; each engine's output is normalised here.

A :class:`FileResult` is plain data (JSON round-trippable), so it can cross process
boundaries and live in the cache. The cache never stores pickles: a cache directory sits
inside the scanned repository, and loading a pickle from there would run its code.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from checker.model import Confidence, Finding, Location, Severity, Span
from checker.redact import redact

SNIPPET_LINES = 3


@dataclass
class FileResult:
    path: str
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None
    lines: int = 0  # non-blank lines, for the score's size normalisation
    suppressions: list[list] = field(default_factory=list)  # Suppression.to_json() items

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "findings": [finding_to_json(f) for f in self.findings],
            "facts": {k: [[line, data] for line, data in v] for k, v in self.facts.items()},
            "checked": self.checked,
            "errors": self.errors,
            "skipped": self.skipped,
            "lines": self.lines,
            "suppressions": self.suppressions,
        }

    @classmethod
    def from_json(cls, data: dict) -> "FileResult":
        return cls(
            path=data["path"],
            findings=[finding_from_json(f) for f in data["findings"]],
            facts={k: [(int(line), d) for line, d in v] for k, v in data["facts"].items()},
            checked={k: int(v) for k, v in data["checked"].items()},
            errors=list(data["errors"]),
            skipped=data["skipped"],
            lines=int(data.get("lines", 0)),
            suppressions=list(data.get("suppressions", [])),
        )


def finding_to_json(f: Finding) -> dict:
    return {
        "rule": f.rule, "path": f.path,
        "span": [f.span.line, f.span.column, f.span.end_line, f.span.end_column],
        "message": f.message, "severity": f.severity.label, "confidence": f.confidence.label,
        "snippet": f.snippet, "engine": f.engine,
        "related": [[r.path, r.line, r.message] for r in f.related],
        "fingerprint": f.fingerprint,
    }


def finding_from_json(d: dict) -> Finding:
    return Finding(
        rule=d["rule"], path=d["path"], span=Span(*d["span"]), message=d["message"],
        severity=Severity.parse(d["severity"]), confidence=Confidence.parse(d["confidence"]),
        snippet=d["snippet"], engine=d["engine"],
        related=tuple(Location(*r) for r in d["related"]), fingerprint=d["fingerprint"],
    )


_WS = re.compile(r"\s+")


def excerpt(lines: list[str], span: Span, secrets: tuple[str, ...] = ()) -> str:
    """The redacted source lines of a span (at most :data:`SNIPPET_LINES`)."""
    first = max(span.line, 1)
    last = min(max(span.end_line, first), first + SNIPPET_LINES - 1, len(lines))
    return redact("\n".join(lines[first - 1:last]), secrets)


def fingerprint(rule: str, path: str, snippet: str, context: str = "") -> str:
    """A line-number-free identity for a finding: its rule, file, the normalised code of
    its first line, and an optional context (the enclosing function, say)."""
    first = snippet.splitlines()[0] if snippet else ""
    text = "\0".join((rule, path, _WS.sub(" ", first).strip(), context))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def make_finding(
    *, rule: str, path: str, span: Span, message: str, severity: Severity,
    confidence: Confidence, lines: list[str], engine: str,
    related: tuple[Location, ...] = (), secrets: tuple[str, ...] = (), context: str = "",
) -> Finding:
    """Every engine builds its findings here: one place redacts and fingerprints."""
    snippet = excerpt(lines, span, secrets)
    return Finding(
        rule=rule, path=path, span=span, message=redact(message, secrets),
        severity=severity, confidence=confidence, snippet=snippet, engine=engine,
        related=related, fingerprint=fingerprint(rule, path, snippet, context),
    )
