"""Checklist statuses and order."""

from __future__ import annotations

from dataclasses import replace

from checker.checklist import CATALOG_ORDER, applicable_sections, build_checklist, status_of
from checker.model import (
    ChecklistEntry,
    Confidence,
    Finding,
    ManualItem,
    RuleMeta,
    Section,
    Severity,
    Span,
    Status,
)

S, P, A = Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE


def meta(slug: str, section: Section) -> RuleMeta:
    return RuleMeta(slug=slug, checklist=f"item for {slug}", section=section, severity=Severity.HIGH,
                    confidence=Confidence.HIGH, scope="file", languages=("python",), summary=slug)


def finding(rule: str, line: int, points: float = 0.0) -> Finding:
    return Finding(rule=rule, path="app/x.py", span=Span(line, 1), message="m", severity=Severity.HIGH,
                   confidence=Confidence.HIGH, points=points)


def entries_by_slug(entries) -> dict[str, tuple]:
    return {e.slug: (e.status, e.findings, e.checked, e.points, e.note) for e in entries}


def test_each_status():
    metas = {m.slug: m for m in (
        meta("sql-string-built", S), meta("csrf-disabled", S), meta("tls-verify-disabled", S),
        meta("n-plus-one-query", P), meta("print-logging", A),
    )}
    findings = [finding("sql-string-built", 3, 12.5), finding("sql-string-built", 9, 7.25)]
    checked = {"sql-string-built": 4, "tls-verify-disabled": 2, "print-logging": 5}
    enabled = {"sql-string-built", "csrf-disabled", "tls-verify-disabled", "n-plus-one-query"}
    entries = build_checklist(metas, findings, checked, enabled, ())
    assert entries_by_slug(entries) == {
        "sql-string-built": (Status.FAILED, 2, 4, 19.75, ""),
        "csrf-disabled": (Status.NOT_APPLICABLE, 0, 0, 0.0, "nothing in the scanned code this applies to"),
        "tls-verify-disabled": (Status.PASSED, 0, 2, 0.0, ""),
        "n-plus-one-query": (Status.NOT_APPLICABLE, 0, 0, 0.0, "nothing in the scanned code this applies to"),
        "print-logging": (Status.DISABLED, 0, 5, 0.0, "disabled by configuration"),
    }


def test_findings_fail_even_without_checked_places():
    metas = {"missing-health-check": meta("missing-health-check", A)}
    entries = build_checklist(metas, [finding("missing-health-check", 1)], {}, {"missing-health-check"}, ())
    assert entries_by_slug(entries)["missing-health-check"][:3] == (Status.FAILED, 1, 0)


def test_findings_are_never_hidden_by_disabled():
    metas = {"print-logging": meta("print-logging", A)}
    entries = build_checklist(metas, [finding("print-logging", 1)], {}, set(), ())
    assert entries[0].status is Status.FAILED


def test_status_of_table():
    assert status_of(findings=1, checked=0, enabled=True) is Status.FAILED
    assert status_of(findings=1, checked=3, enabled=False) is Status.FAILED
    assert status_of(findings=0, checked=3, enabled=False) is Status.DISABLED
    assert status_of(findings=0, checked=3, enabled=True) is Status.PASSED
    assert status_of(findings=0, checked=0, enabled=True) is Status.NOT_APPLICABLE


def test_order_is_section_then_catalog_then_unknown_slugs_then_manual():
    slugs = {
        "print-logging": A, "missing-tests": A, "zz-custom": A, "aa-custom": A,
        "missing-request-timeout": P, "n-plus-one-query": P,
        "tls-verify-disabled": S, "hardcoded-secret": S, "sql-string-built": S,
    }
    metas = {slug: meta(slug, section) for slug, section in slugs.items()}
    manual = (
        ManualItem("backups", "Backups tested", A, hint="restore one"),
        ManualItem("load-test", "Load tested", P),
        ManualItem("encryption-at-rest", "Encrypted at rest", S),
    )
    entries = build_checklist(metas, [], {}, set(metas), manual)
    assert [(e.section, e.slug, e.status) for e in entries] == [
        (S, "hardcoded-secret", Status.NOT_APPLICABLE),
        (S, "sql-string-built", Status.NOT_APPLICABLE),
        (S, "tls-verify-disabled", Status.NOT_APPLICABLE),
        (S, "encryption-at-rest", Status.MANUAL),
        (P, "n-plus-one-query", Status.NOT_APPLICABLE),
        (P, "missing-request-timeout", Status.NOT_APPLICABLE),
        (P, "load-test", Status.MANUAL),
        (A, "print-logging", Status.NOT_APPLICABLE),
        (A, "missing-tests", Status.NOT_APPLICABLE),
        (A, "aa-custom", Status.NOT_APPLICABLE),
        (A, "zz-custom", Status.NOT_APPLICABLE),
        (A, "backups", Status.MANUAL),
    ]
    backups = entries[-1]
    assert backups == ChecklistEntry(slug="backups", checklist="Backups tested", section=A,
                                     status=Status.MANUAL, note="restore one")


def test_findings_of_unknown_rules_have_no_entry():
    metas = {"print-logging": meta("print-logging", A)}
    entries = build_checklist(metas, [finding("unused-suppression", 1)], {"print-logging": 1}, {"print-logging"}, ())
    assert [(e.slug, e.status) for e in entries] == [("print-logging", Status.PASSED)]


def test_catalog_order_lists_every_catalog_slug_once():
    assert len(CATALOG_ORDER) == len(set(CATALOG_ORDER)) == 19 + 9 + 16


def test_applicable_sections():
    metas = {m.slug: m for m in (meta("sql-string-built", S), meta("n-plus-one-query", P), meta("print-logging", A))}
    manual = (ManualItem("backups", "Backups tested", A),)
    entries = build_checklist(metas, [finding("print-logging", 1)], {"sql-string-built": 1},
                              {"sql-string-built", "n-plus-one-query", "print-logging"}, manual)
    # security passed, architecture failed; performance examined nothing; manual items don't count.
    assert applicable_sections(entries) == {S, A}
    disabled = [replace(e, status=Status.DISABLED) if e.slug == "sql-string-built" else e for e in entries]
    assert applicable_sections(disabled) == {A}
