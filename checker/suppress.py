"""Inline suppressions, the same for every engine and every language.

    x = call(verify=False)  # checker: ignore[tls-verify-disabled] -- internal CA, pinned below
    # checker: ignore[sql-string-built] -- table name comes from the allow-list above
    cur.execute(query)
    # checker: ignore-file[print-logging] -- this module is a command-line tool

A comment on a line of code covers that line; a comment alone on its line covers the next
line of code. ``ignore-file`` covers the whole file. The rule list may be omitted to cover
every rule. The reason after ``--`` is required: a suppression without one still applies
but is reported, and so is a suppression that no finding needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Sequence

from checker.model import Confidence, Finding, Severity, Span

PATTERN = re.compile(
    r"(?P<lead>#|//|/\*|--|<!--)\s*checker:\s*(?P<kind>ignore-file|ignore)\b"
    r"(?:\[(?P<rules>[^\]]*)\])?(?:\s*--\s*(?P<reason>.*?))?\s*(?:\*/|-->)?\s*$"
)
UNUSED = "unused-suppression"
INVALID = "invalid-suppression"


@dataclass
class Suppression:
    path: str
    line: int  # where the comment is
    target: int  # the line it covers (0 for the whole file)
    rules: frozenset[str] | None  # None: every rule
    reason: str
    used: set[str] = field(default_factory=set)

    def covers(self, finding: Finding) -> bool:
        return (self.target == 0 or self.target == finding.span.line) and (
            self.rules is None or finding.rule in self.rules)

    def to_json(self) -> list:
        return [self.line, self.target, sorted(self.rules) if self.rules is not None else None, self.reason]

    @classmethod
    def from_json(cls, path: str, data: list) -> "Suppression":
        line, target, rules, reason = data
        return cls(path, line, target, frozenset(rules) if rules is not None else None, reason)


def parse(path: str, text: str) -> list[Suppression]:
    """Every suppression comment in a file's text."""
    if "checker:" not in text:
        return []
    lines = text.splitlines()
    found: list[Suppression] = []
    for index, line in enumerate(lines):
        if "checker:" not in line:
            continue
        match = PATTERN.search(line)
        if match is None:
            continue
        rules = match.group("rules")
        slugs = frozenset(r.strip() for r in rules.split(",") if r.strip()) if rules is not None else None
        number = index + 1
        if match.group("kind") == "ignore-file":
            target = 0
        elif line[: match.start()].strip():
            target = number
        else:
            target = _next_code_line(lines, index + 1)
        found.append(Suppression(path, number, target, slugs, (match.group("reason") or "").strip()))
    return found


def _next_code_line(lines: Sequence[str], start: int) -> int:
    for index in range(start, len(lines)):
        stripped = lines[index].strip()
        if stripped and not PATTERN.search(stripped):
            return index + 1
    return -1


def apply(
    findings: Iterable[Finding],
    suppressions: Mapping[str, Sequence[Suppression]],
    known: set[str],
    ran: set[str],
    canonical=lambda s: s,
) -> tuple[list[Finding], int, list[Finding]]:
    """Drop suppressed findings. Returns (kept, how many were suppressed, diagnostics).

    ``known`` are the slugs that exist, ``ran`` those whose analysis ran on this scan (a
    suppression of a rule that did not run is not called unused).
    """
    kept: list[Finding] = []
    suppressed = 0
    for finding in findings:
        hit = None
        for s in suppressions.get(finding.path, ()):
            if s.covers(finding):
                hit = s
                break
        if hit is None:
            kept.append(finding)
        else:
            hit.used.add(finding.rule)
            suppressed += 1
    diagnostics: list[Finding] = []
    for path, items in suppressions.items():
        for s in items:
            diagnostics += _diagnose(s, known, ran, canonical)
    return kept, suppressed, diagnostics


def _diag(s: Suppression, rule: str, message: str) -> Finding:
    return Finding(rule=rule, path=s.path, span=Span(s.line), message=message,
                   severity=Severity.LOW, confidence=Confidence.HIGH, engine="checker")


def _diagnose(s: Suppression, known: set[str], ran: set[str], canonical) -> list[Finding]:
    out: list[Finding] = []
    if not s.reason:
        out.append(_diag(s, INVALID, "suppression without a reason: add `-- why` after the rule list"))
    if s.target == -1:
        out.append(_diag(s, INVALID, "suppression comment with no code after it"))
        return out
    if s.rules is not None:
        unknown = sorted(r for r in s.rules if canonical(r) not in known)
        if unknown:
            out.append(_diag(s, INVALID, f"suppression names unknown rule(s): {', '.join(unknown)}"))
        unused = sorted(r for r in s.rules if canonical(r) in ran and r not in s.used and canonical(r) in known)
        if unused:
            out.append(_diag(s, UNUSED, f"unused suppression: no {', '.join(unused)} finding here"))
    elif not s.used:
        out.append(_diag(s, UNUSED, "unused suppression: no finding here"))
    return out


def canonicalise(suppressions: Sequence[Suppression], canonical) -> list[Suppression]:
    """Suppressions with renamed slugs mapped to their current names."""
    return [replace(s, rules=frozenset(canonical(r) for r in s.rules)) if s.rules is not None else s
            for s in suppressions]
