"""The JSON report: a documented, versioned schema (``docs/json-report.md``,
``checker/reporters/report.schema.json``).

Keys come in a fixed order and findings are sorted by (path, line, column, rule), so
the same scan gives the same bytes. Snippets are the redacted ones from the model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from checker.model import Confidence, Finding, Report, Section, Severity
from checker.reporters import RenderOptions

NAME = "json"
EXTENSION = "json"
SCHEMA_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")

SECTIONS = (Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE)


def render(report: Report, options: RenderOptions) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def to_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data, keys in their documented order."""
    findings = sorted(report.findings, key=Finding.sort_key)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "checker", "version": report.tool_version},
        "root": report.root,
        "summary": _summary(report, findings),
        "score": _score(report),
        "checklist": [
            {
                "slug": e.slug,
                "item": e.checklist,
                "section": e.section.value,
                "status": e.status.value,
                "findings": e.findings,
                "checked": e.checked,
                "points": _round(e.points, 2),
                "note": e.note,
            }
            for e in report.checklist
        ],
        "manual": [
            {
                "key": m.key,
                "item": m.checklist,
                "section": m.section.value,
                "hint": m.hint,
                "signals": list(m.signals),
            }
            for m in report.manual
        ],
        "findings": [_finding(report, f) for f in findings],
        "skipped": [{"path": s.path, "reason": s.reason} for s in sorted(report.skipped, key=lambda s: s.path)],
        "engines": [
            {"name": e.name, "ran": e.ran, "detail": e.detail, "files": e.files, "seconds": _round(e.seconds, 2)}
            for e in report.engines
        ],
        "suppressed": report.suppressed,
        "baseline_matched": report.baseline_matched,
        "diagnostics": [_diagnostic(d) for d in sorted(report.diagnostics, key=Finding.sort_key)],
        "extra": _plain(report.extra),
    }


def _round(value: float, digits: int) -> float:
    value = round(float(value), digits)
    return 0.0 if value == 0 else value  # no "-0.0"


def _summary(report: Report, findings: list[Finding]) -> dict[str, Any]:
    by_severity = {s.label: 0 for s in sorted(Severity, reverse=True)}
    by_section = {s.value: 0 for s in SECTIONS}
    for finding in findings:
        by_severity[Severity(finding.severity).label] += 1
        meta = report.rules.get(finding.rule)
        if meta is not None:
            by_section[Section(meta.section).value] += 1
    return {
        "files_scanned": report.files_scanned,
        "files_skipped": len(report.skipped),
        "lines_of_code": report.score.lines_of_code,
        "findings": len(findings),
        "by_severity": by_severity,
        "by_section": by_section,
    }


def _score(report: Report) -> dict[str, Any]:
    score = report.score
    return {
        "overall": _round(score.overall, 1),
        "grade": score.grade,
        "capped": score.capped,
        "formula": score.formula,
        "sections": [
            {
                "section": s.section.value,
                "title": s.section.title,
                "score": _round(s.score, 1),
                "grade": s.grade,
                "points": _round(s.points, 2),
                "capped": s.capped,
            }
            for s in score.sections
        ],
    }


def _finding(report: Report, finding: Finding) -> dict[str, Any]:
    meta = report.rules.get(finding.rule)
    span = finding.span
    return {
        "rule": finding.rule,
        "checklist": meta.checklist if meta else "",
        "section": meta.section.value if meta else None,
        "severity": Severity(finding.severity).label,
        "confidence": Confidence(finding.confidence).label,
        "path": finding.path,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "message": finding.message,
        "snippet": finding.snippet,
        "fingerprint": finding.fingerprint,
        "engine": finding.engine,
        "points": _round(finding.points, 2),
        "related": [{"path": r.path, "line": r.line, "message": r.message} for r in finding.related],
        "cwe": list(meta.cwe) if meta else [],
    }


def _diagnostic(finding: Finding) -> dict[str, Any]:
    span = finding.span
    return {
        "rule": finding.rule,
        "severity": Severity(finding.severity).label,
        "path": finding.path,
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
        "message": finding.message,
    }


def _plain(value: Any) -> Any:
    """``extra`` data as JSON values, mappings with sorted keys; anything else as text."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Path):
        return value.as_posix()
    return str(value)
