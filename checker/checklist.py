"""The report as the guideline's checklist: every catalog item with its status.

* **failed**: the rule reported at least one finding;
* **passed**: the rule examined at least one place and found nothing;
* **not applicable**: the rule examined nothing (no code it applies to);
* **disabled**: the rule is turned off by configuration;
* **manual review**: an item no static rule can check (from the manual-review list).

Entries come section by section (security, performance, architecture); within a section,
rules in the catalog's order, then the section's manual-review items.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping, Sequence

from checker.model import ChecklistEntry, Finding, ManualItem, RuleMeta, Section, Status

SECTION_ORDER: tuple[Section, ...] = (Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE)

# The order of rows in the rule catalog, so the report reads in the guideline's order.
# Slugs not listed here follow, alphabetically, within their section.
CATALOG_ORDER: tuple[str, ...] = (
    # security
    "hardcoded-secret", "committed-secret-file", "sql-string-built", "missing-input-validation",
    "weak-password-hash", "permissive-cors", "csrf-disabled", "missing-security-headers",
    "insecure-session-cookie", "jwt-unverified", "tls-verify-disabled", "debug-enabled",
    "error-details-leaked", "sensitive-data-logged", "xss-unescaped-output", "unsafe-file-upload",
    "missing-authorization", "missing-rate-limiting", "insecure-code-execution",
    # performance
    "n-plus-one-query", "missing-db-index", "blocking-call-in-async", "missing-connection-pooling",
    "unpaginated-list-endpoint", "inefficient-query", "missing-request-timeout",
    "missing-response-compression", "unbounded-memory-growth",
    # architecture and operations
    "controller-db-access", "layer-violation", "fat-controller", "missing-error-handler",
    "swallowed-exception", "inconsistent-response-format", "wrong-status-code",
    "missing-health-check", "hardcoded-config", "migration-without-rollback",
    "missing-transaction", "print-logging", "missing-audit-log", "missing-tests",
    "missing-api-docs", "dockerfile-hygiene",
)
_RANK = {slug: index for index, slug in enumerate(CATALOG_ORDER)}

NOTES = {
    Status.NOT_APPLICABLE: "nothing in the scanned code this applies to",
    Status.DISABLED: "disabled by configuration",
}


def _order_key(slug: str) -> tuple[int, str]:
    return (_RANK.get(slug, len(_RANK)), slug)


def status_of(findings: int, checked: int, enabled: bool) -> Status:
    """The status of one rule: failed beats disabled (findings are never hidden)."""
    if findings:
        return Status.FAILED
    if not enabled:
        return Status.DISABLED
    if checked > 0:
        return Status.PASSED
    return Status.NOT_APPLICABLE


def build_checklist(
    metas: Mapping[str, RuleMeta],
    findings: Sequence[Finding],
    checked: Mapping[str, int],
    enabled: set[str],
    manual: Sequence[ManualItem],
) -> tuple[ChecklistEntry, ...]:
    """One entry per rule in ``metas`` and one per manual-review item.

    ``findings`` should already carry their points (see :func:`checker.score.score`);
    an entry's ``points`` is the sum of its findings' points. Findings of rules missing
    from ``metas`` have no entry.
    """
    count: dict[str, int] = defaultdict(int)
    points: dict[str, float] = defaultdict(float)
    for finding in findings:
        count[finding.rule] += 1
        points[finding.rule] += finding.points

    entries: list[ChecklistEntry] = []
    for section in SECTION_ORDER:
        slugs = sorted((s for s, m in metas.items() if Section(m.section) is section), key=_order_key)
        for slug in slugs:
            meta = metas[slug]
            status = status_of(count[slug], int(checked.get(slug, 0)), slug in enabled)
            entries.append(ChecklistEntry(
                slug=slug,
                checklist=meta.checklist,
                section=section,
                status=status,
                findings=count[slug],
                checked=int(checked.get(slug, 0)),
                points=round(points[slug], 2),
                note=NOTES.get(status, ""),
            ))
        for item in manual:
            if Section(item.section) is section:
                entries.append(ChecklistEntry(
                    slug=item.key,
                    checklist=item.checklist,
                    section=section,
                    status=Status.MANUAL,
                    note=item.hint,
                ))
    return tuple(entries)


def applicable_sections(entries: Iterable[ChecklistEntry]) -> set[Section]:
    """Sections where at least one rule examined something (passed or failed).

    Pass this to :func:`checker.score.score` so that a section the code gives no
    purchase to (say, no database at all) does not weigh on the overall score.
    """
    return {e.section for e in entries if e.status in (Status.PASSED, Status.FAILED)}
