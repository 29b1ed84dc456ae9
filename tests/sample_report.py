"""A hand-built :class:`Report` for reporter tests, and a golden-file helper.

The sample covers what a reporter has to render: all three sections; findings of every
severity and confidence; a finding of several occurrences of one rule; a hardcoded secret
whose snippet and message carry only the redacted form; related locations; a message with
square brackets (markup characters); passed, failed, not-applicable, disabled and
manual-review items; skipped files; an engine that did not run; suppression diagnostics;
suppressed and baseline counts; and ``extra`` data.

Scores, points and statuses are computed with :mod:`checker.score` and
:mod:`checker.checklist`, the way the engine does.

Use it from any reporter test::

    from sample_report import RAW_SECRET, assert_golden, clean_report, sample_report

(pytest puts `tests/` on the import path for test modules there, as `tests/` is not a package.)
"""

from __future__ import annotations

import os
from pathlib import Path

from checker.checklist import applicable_sections, build_checklist
from checker.model import (
    Confidence,
    EngineStatus,
    Example,
    Finding,
    Location,
    ManualItem,
    Report,
    RuleMeta,
    Section,
    Severity,
    Skipped,
    Span,
)
from checker.redact import redact
from checker.score import score

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_ENV = "CHECKER_UPDATE_GOLDEN"

# A fake credential in a real key format. It must never appear in any rendered output;
# it is assembled from parts so the literal does not sit in this file either.
RAW_SECRET = "sk_live_" + "51Hq7TbLkR2xVf9W" + "pZ3mN8cD4gA6"
SECRET_LINE = f'STRIPE_KEY = "{RAW_SECRET}"'

TOOL_VERSION = "0.1.0"
ROOT = "/home/dev/shop-api"
LINES_OF_CODE = 2400


def _meta(slug: str, checklist: str, section: Section, severity: Severity,
          confidence: Confidence = Confidence.HIGH, scope: str = "file", cwe: tuple[str, ...] = (),
          summary: str = "") -> RuleMeta:
    return RuleMeta(
        slug=slug, checklist=checklist, section=section, severity=severity, confidence=confidence,
        scope=scope, languages=("python",), summary=summary or checklist, cwe=cwe,
        bad=(Example("x = 1  # flagged\n"),), good=(Example("x = 1\n"),), engines=("checker",),
    )


def sample_metas() -> dict[str, RuleMeta]:
    S, P, A = Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE
    metas = [
        _meta("hardcoded-secret", "No hardcoded secrets or credentials; never commit secrets", S,
              Severity.HIGH, cwe=("CWE-798",), summary="Secret values written in the code"),
        _meta("sql-string-built", "Database operations use parameterized queries", S,
              Severity.CRITICAL, cwe=("CWE-89",), summary="SQL text built from data"),
        _meta("csrf-disabled", "CSRF protection where applicable", S, Severity.HIGH, cwe=("CWE-352",)),
        _meta("tls-verify-disabled", "Use HTTPS only in production", S, Severity.HIGH, cwe=("CWE-295",)),
        _meta("missing-rate-limiting", "Rate limiting per endpoint", S, Severity.MEDIUM, scope="project",
              cwe=("CWE-770",)),
        _meta("n-plus-one-query", "N+1 query problems in database operations", P, Severity.HIGH),
        _meta("missing-db-index", "Database queries optimized with proper indexes", P, Severity.MEDIUM,
              scope="project"),
        _meta("missing-request-timeout", "Circuit breakers / failure handling for external service calls",
              P, Severity.MEDIUM, cwe=("CWE-400",)),
        _meta("missing-response-compression", "Response compression enabled", P, Severity.LOW,
              scope="project"),
        _meta("swallowed-exception", "Comprehensive error handling", A, Severity.MEDIUM, cwe=("CWE-390",)),
        _meta("missing-health-check", "Health check endpoints implemented", A, Severity.LOW, scope="project"),
        _meta("missing-transaction", "Database transactions for data consistency", A, Severity.MEDIUM),
        _meta("print-logging", "Structured logging with proper log levels", A, Severity.LOW),
        _meta("missing-audit-log", "Audit logging for sensitive operations", A, Severity.LOW),
        _meta("missing-api-docs", "API documentation (OpenAPI) complete and accurate", A, Severity.INFO,
              scope="project"),
    ]
    return {m.slug: m for m in metas}


def sample_manual() -> tuple[ManualItem, ...]:
    return (
        ManualItem("encryption-at-rest", "Sensitive data encrypted at rest", Section.SECURITY,
                   hint="Check the database and backup storage settings."),
        ManualItem("load-testing", "p95 latency under load verified with a load test", Section.PERFORMANCE,
                   hint="Run a load test against a staging environment.",
                   signals=("locust in the development dependencies",)),
        ManualItem("backup-recovery", "Backup and recovery procedures tested", Section.ARCHITECTURE,
                   hint="Restore a backup into a scratch environment."),
    )


def _finding(rule: str, path: str, line: int, column: int, message: str, severity: Severity,
             confidence: Confidence = Confidence.HIGH, snippet: str = "", engine: str = "checker",
             related: tuple[Location, ...] = (), end: tuple[int, int] | None = None) -> Finding:
    end_line, end_column = end or (line, column + max(len(snippet.strip()), 1))
    return Finding(
        rule=rule, path=path, span=Span(line, column, end_line, end_column), message=message,
        severity=severity, confidence=confidence, snippet=snippet, engine=engine, related=related,
        fingerprint=f"{rule}|{path}|{message[:24]}",
    )


def sample_findings() -> list[Finding]:
    """The sample's findings, deliberately not in sorted order."""
    secret_snippet = redact(SECRET_LINE, [RAW_SECRET])
    return [
        _finding("print-logging", "app/routes/orders.py", 55, 9,
                 "print() in server code; use the logging module [logger.info]", Severity.LOW,
                 snippet='print("order created", order.id)'),
        _finding("sql-string-built", "app/repositories/users.py", 42, 9,
                 "SQL text built with an f-string reaches cursor.execute(); pass parameters instead",
                 Severity.CRITICAL, snippet="cur.execute(query)",
                 related=(Location("app/repositories/users.py", 39, "query text built here"),)),
        _finding("hardcoded-secret", "config/settings.py", 14, 1,
                 "Stripe key hardcoded in STRIPE_KEY (" + redact(RAW_SECRET, [RAW_SECRET]) + ")",
                 Severity.HIGH, snippet=secret_snippet),
        _finding("n-plus-one-query", "app/services/orders.py", 27, 5,
                 "Query inside a loop over orders: customer is loaded once per order; "
                 "use select_related('customer')", Severity.HIGH, snippet="for order in orders:",
                 related=(Location("app/services/orders.py", 29, "query runs here, once per iteration"),
                          Location("app/services/orders.py", 24, "queryset defined here"))),
        _finding("missing-request-timeout", "app/clients/payments.py", 18, 16,
                 "requests.post() without a timeout can hang the worker", Severity.MEDIUM,
                 snippet="resp = requests.post(url, json=payload)"),
        _finding("missing-request-timeout", "app/clients/shipping.py", 9, 12,
                 "requests.get() without a timeout can hang the worker", Severity.MEDIUM,
                 snippet="return requests.get(url).json()", engine="bandit"),
        _finding("missing-request-timeout", "app/clients/payments.py", 31, 16,
                 "httpx.get() without a timeout can hang the worker", Severity.MEDIUM,
                 confidence=Confidence.LOW, snippet="resp = httpx.get(status_url)"),
        _finding("swallowed-exception", "app/services/payments.py", 63, 5,
                 "except Exception: pass hides failures", Severity.MEDIUM, confidence=Confidence.MEDIUM,
                 snippet="except Exception:", end=(64, 13)),
        _finding("missing-api-docs", "app/main.py", 1, 1,
                 "Flask app without an OpenAPI description", Severity.INFO, confidence=Confidence.MEDIUM),
    ]


def sample_report() -> Report:
    metas = sample_metas()
    manual = sample_manual()
    checked = {
        "hardcoded-secret": 31, "sql-string-built": 6, "tls-verify-disabled": 7,
        "missing-rate-limiting": 1, "n-plus-one-query": 4, "missing-db-index": 12,
        "missing-request-timeout": 5, "swallowed-exception": 9, "missing-health-check": 1,
        "print-logging": 40, "missing-api-docs": 1,
    }
    enabled = set(metas) - {"missing-response-compression", "missing-audit-log"}
    findings = sample_findings()
    # Statuses first (without points) to know which sections apply, then score.
    first = build_checklist(metas, findings, checked, enabled, manual)
    result, scored = score(findings, metas, LINES_OF_CODE, applicable=applicable_sections(first))
    checklist = build_checklist(metas, scored, checked, enabled, manual)
    diagnostics = (
        Finding(rule="unused-suppression", path="app/routes/orders.py", span=Span(12, 40, 12, 70),
                message="unused suppression: ignore[print-logging] matches no finding",
                severity=Severity.LOW, confidence=Confidence.HIGH,
                snippet="# checker: ignore[print-logging] -- debug aid"),
        Finding(rule="suppression-missing-reason", path="app/services/payments.py", span=Span(8, 30, 8, 58),
                message="suppression without a reason: add ' -- <why>' after ignore[...]",
                severity=Severity.LOW, confidence=Confidence.HIGH,
                snippet="# checker: ignore[hardcoded-secret]"),
    )
    return Report(
        tool_version=TOOL_VERSION,
        root=ROOT,
        findings=tuple(sorted(scored, key=Finding.sort_key)),
        checklist=checklist,
        manual=manual,
        score=result,
        rules=metas,
        files_scanned=23,
        skipped=(
            Skipped("app/legacy/report.py", "does not parse: line 12, column 5: unexpected indent"),
            Skipped("static/logo.png", "binary file"),
            Skipped("data/dump.sql", "larger than the size limit (2 MB)"),
        ),
        engines=(
            EngineStatus("checker", True, "", files=23, seconds=0.84),
            EngineStatus("bandit", True, "", files=21, seconds=1.93),
            EngineStatus("semgrep", False, "semgrep executable not found on PATH", files=0, seconds=0.0),
        ),
        suppressed=2,
        baseline_matched=1,
        diagnostics=diagnostics,
        extra={"config": "pyproject.toml", "jobs": 2},
    )


def clean_report() -> Report:
    """A small clean project: every applicable rule passed, nothing skipped, and no
    architecture rule found anything to examine (that section does not apply)."""
    metas = {slug: m for slug, m in sample_metas().items()
             if slug in ("tls-verify-disabled", "csrf-disabled", "n-plus-one-query", "missing-transaction")}
    checked = {"tls-verify-disabled": 3, "n-plus-one-query": 2}
    checklist = build_checklist(metas, [], checked, set(metas), ())
    result, _ = score([], metas, 350, applicable=applicable_sections(checklist))
    return Report(
        tool_version=TOOL_VERSION, root="/home/dev/tiny", findings=(), checklist=checklist, manual=(),
        score=result, rules=metas, files_scanned=4,
        engines=(EngineStatus("checker", True, "", files=4, seconds=0.05),),
    )


def assert_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/golden/<name>``; with CHECKER_UPDATE_GOLDEN=1, rewrite it."""
    path = GOLDEN_DIR / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}; run with {UPDATE_ENV}=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"output differs from {path}; run with {UPDATE_ENV}=1 to update it after review"
