"""SARIF 2.1.0, for GitHub code scanning and any SARIF viewer.

One run; ``tool.driver.rules`` holds every rule of the report with its documentation,
checklist item, CWE tags, precision and (for security rules) a ``security-severity``
string; results point at files by relative URI under ``%SRCROOT%`` with 1-based regions,
carry a line-free ``partialFingerprints`` entry, related locations, and only the redacted
snippet the engine captured. Skipped files and engines that did not run become tool
execution notifications.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from checker.model import Finding, Report, RuleMeta, Section, Severity
from checker.redact import redact
from checker.reporters.markdown import fence, language_of

NAME = "sarif"
EXTENSION = ".sarif"

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "checkerFingerprint/v1"
SRCROOT = "%SRCROOT%"

LEVEL = {
    Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
    Severity.LOW: "note", Severity.INFO: "note",
}
# GitHub's bands: critical > 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0", Severity.INFO: "0.0",
}


def rule_name(slug: str) -> str:
    """``tls-verify-disabled`` -> ``TlsVerifyDisabled``."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", slug) if part)


def artifact_uri(path: str) -> dict:
    """An artifact location: relative to ``%SRCROOT%``, percent-encoded."""
    posix = PurePosixPath(path.replace("\\", "/"))
    if posix.is_absolute():
        return {"uri": Path(str(posix)).as_uri()}
    return {"uri": quote(str(posix), safe="/"), "uriBaseId": SRCROOT}


def _root_uri(root: str) -> dict:
    path = Path(root)
    if root and path.is_absolute():
        uri = path.as_uri()
        return {"uri": uri if uri.endswith("/") else uri + "/"}
    return {"description": {"text": "The folder the scan ran on."}}


def _help_markdown(meta: RuleMeta) -> str:
    parts = [meta.docs.strip()] if meta.docs.strip() else [meta.summary]
    parts.append(f"**Checklist item** ({Section(meta.section).title}): {meta.checklist}")
    for title, examples in (("Example", meta.bad), ("Use instead", meta.good)):
        for example in examples:
            parts.append(f"### {title}\n\n" + fence(example.code.rstrip("\n"),
                                                    language_of(example.path)))
    if meta.cwe:
        parts.append("References: " + ", ".join(
            f"[{c}](https://cwe.mitre.org/data/definitions/{c.split('-')[-1]}.html)"
            for c in meta.cwe))
    return redact("\n\n".join(parts))


def _help_text(meta: RuleMeta) -> str:
    body = meta.docs.strip() or meta.summary
    return redact(f"{body}\n\nChecklist item: {meta.checklist}")


def rule_descriptor(meta: RuleMeta) -> dict:
    section = Section(meta.section)
    tags = [section.value]
    if section is Section.SECURITY:
        tags.append("security")
    tags += [f"external/cwe/cwe-{c.split('-')[-1]}" for c in meta.cwe]
    properties: dict = {
        "tags": sorted(set(tags), key=tags.index),
        "precision": meta.confidence.label,
        "problem.severity": LEVEL[meta.severity] if meta.severity > Severity.LOW else "recommendation",
        "checklist": meta.checklist,
        "section": section.value,
        "scope": meta.scope,
        "severity": meta.severity.label,
    }
    if section is Section.SECURITY:
        properties["security-severity"] = SECURITY_SEVERITY[meta.severity]
    if meta.cwe:
        properties["cwe"] = list(meta.cwe)
    return {
        "id": meta.slug,
        "name": rule_name(meta.slug),
        "shortDescription": {"text": meta.summary or meta.checklist},
        "fullDescription": {"text": f"{meta.summary}. Checklist item: {meta.checklist}"
                            if meta.summary else meta.checklist},
        "help": {"text": _help_text(meta), "markdown": _help_markdown(meta)},
        "defaultConfiguration": {"level": LEVEL[meta.severity]},
        "properties": properties,
    }


def _plain_descriptor(slug: str) -> dict:
    """For findings of a slug the report has no metadata for (the checker's diagnostics)."""
    return {
        "id": slug,
        "name": rule_name(slug),
        "shortDescription": {"text": f"checker diagnostic: {slug}"},
        "defaultConfiguration": {"level": "note"},
        "properties": {"tags": ["checker"], "precision": "high"},
    }


def _region(finding: Finding) -> dict:
    span = finding.span
    region = {"startLine": max(span.line, 1), "startColumn": max(span.column, 1)}
    if span.end_line > span.line:
        region["endLine"] = span.end_line
        if span.end_column > 1:
            region["endColumn"] = span.end_column
    elif span.end_column > span.column:
        region["endLine"] = span.line
        region["endColumn"] = span.end_column
    return region


def _location(finding: Finding) -> dict:
    physical: dict = {"artifactLocation": artifact_uri(finding.path), "region": _region(finding)}
    if finding.snippet:
        text = redact(finding.snippet)
        physical["contextRegion"] = {
            "startLine": max(finding.span.line, 1),
            "endLine": max(finding.span.line, 1) + text.count("\n"),
            "snippet": {"text": text},
        }
    return {"physicalLocation": physical}


def _result(finding: Finding, index: int) -> dict:
    result: dict = {
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": LEVEL[finding.severity],
        "message": {"text": redact(finding.message)},
        "locations": [_location(finding)],
    }
    if finding.fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: finding.fingerprint}
    if finding.related:
        result["relatedLocations"] = [
            {
                "id": number,
                "physicalLocation": {
                    "artifactLocation": artifact_uri(rel.path or finding.path),
                    "region": {"startLine": max(rel.line, 1)},
                },
                "message": {"text": redact(rel.message) or "related location"},
            }
            for number, rel in enumerate(finding.related, start=1)
        ]
    result["properties"] = {
        "severity": finding.severity.label,
        "confidence": finding.confidence.label,
        "engine": finding.engine,
        "points": round(finding.points, 2),
    }
    return result


def _notifications(report: Report) -> list[dict]:
    notes = []
    for engine in report.engines:
        if not engine.ran:
            notes.append({
                "level": "warning",
                "descriptor": {"id": "engine-not-run"},
                "message": {"text": f"{engine.name} did not run: {engine.detail}"},
            })
    for skipped in report.skipped:
        notes.append({
            "level": "note",
            "descriptor": {"id": "file-skipped"},
            "message": {"text": f"{skipped.path} was not scanned: {skipped.reason}"},
            "locations": [{"physicalLocation": {"artifactLocation": artifact_uri(skipped.path)}}],
        })
    return notes


def _score_properties(report: Report) -> dict:
    score = report.score
    props: dict = {
        "score": {
            "overall": score.overall,
            "grade": score.grade,
            "capped": score.capped,
            "linesOfCode": score.lines_of_code,
            "sections": {
                Section(s.section).value: {"score": s.score, "grade": s.grade,
                                           "points": s.points, "capped": s.capped}
                for s in score.sections
            },
        },
        "filesScanned": report.files_scanned,
        "suppressed": report.suppressed,
        "baselineMatched": report.baseline_matched,
    }
    diff = (report.extra or {}).get("diff")
    if isinstance(diff, dict):
        props["diff"] = {k: diff[k] for k in sorted(diff)}
    return props


def build(report: Report) -> dict:
    """The SARIF log as a JSON-ready dict."""
    rules = [rule_descriptor(report.rules[slug]) for slug in sorted(report.rules)]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    findings = sorted(report.findings, key=Finding.sort_key) + \
        sorted(report.diagnostics, key=Finding.sort_key)
    for finding in findings:
        if finding.rule not in index:
            index[finding.rule] = len(rules)
            rules.append(_plain_descriptor(finding.rule))
    results = [_result(f, index[f.rule]) for f in findings]
    run: dict = {
        "tool": {"driver": {
            "name": "checker",
            "version": report.tool_version,
            "semanticVersion": report.tool_version,
            "rules": rules,
        }},
        "originalUriBaseIds": {SRCROOT: _root_uri(report.root)},
        "invocations": [{"executionSuccessful": True,
                         "toolExecutionNotifications": _notifications(report)}],
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": _score_properties(report),
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def render(report: Report, options=None) -> str:
    return json.dumps(build(report), indent=2, ensure_ascii=False) + "\n"
