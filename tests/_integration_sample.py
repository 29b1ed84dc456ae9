"""A hand-built report for the review-integration reporters (SARIF, GitHub, Markdown, HTML).

Findings are made through the engine's own constructor (``make_finding``), so snippets are
redacted and fingerprinted exactly as in a scan. The report holds the awkward cases on
purpose: a secret in a snippet, markup and backticks in messages and snippets, workflow
command characters (``%``, ``:``, ``,``, newlines), a multi-line span, related locations, a
path with a space and non-ASCII letters, a project-scope finding, a diagnostic, skipped
files, an engine that did not run, and the diff-mode scores.
"""

from __future__ import annotations

from checker.analyzers import make_finding
from checker.model import (
    ChecklistEntry, Confidence, EngineStatus, Example, Finding, Location, ManualItem, Report,
    RuleMeta, Score, Section, SectionScore, Severity, Skipped, Span, Status,
)

# Values that must never appear in any rendered output.
RAW_SECRETS = ("sk_live_51HfQ2eLkd93JdPqZ0aXbV7wT", "s3cr3t-Passw0rd!")

ROOT = "/src/shop"

FILES = {
    "app/settings.py": [
        "import os",
        "",
        "DATABASE_URL = os.environ['DATABASE_URL']",
        f'STRIPE_API_KEY = "{RAW_SECRETS[0]}"',
        f'ADMIN_DSN = "postgresql://admin:{RAW_SECRETS[1]}@db.internal/shop"',
    ],
    "app/repositories/orders.py": [
        "from app.db import get_connection",
        "",
        "",
        "def orders_for(customer_id, status):",
        "    conn = get_connection()",
        '    where = f"customer_id = {customer_id}"',
        "    cur = conn.cursor()",
        "    cur.execute(",
        '        f"SELECT id, total FROM orders WHERE {where} "',
        '        f"AND status = \'{status}\'"',
        "    )",
        "    return cur.fetchall()",
    ],
    "app/clients/payments.py": [
        "import requests as http",
        "",
        "",
        "def capture(url, payload):",
        "    return http.post(url, json=payload, verify=False)",
    ],
    "app/views/profile.py": [
        "from markupsafe import Markup",
        "",
        "",
        "def badge(name):",
        '    html = f"<b>{name}</b> ```"',
        "    return Markup(html)",
    ],
    "app/services/report.py": [
        "from sqlalchemy import select",
        "",
        "from app.models import Customer, Order",
        "",
        "",
        "def totals(session):",
        "    result = {}",
        "    for customer in session.scalars(select(Customer)):",
        "        orders = customer.orders",
        "        result[customer.id] = sum(o.total for o in orders)",
        "    print('done', len(result))",
        "    return result",
    ],
    "app/main.py": [
        "from fastapi import FastAPI",
        "",
        "from app.api import router",
        "",
        "app = FastAPI()",
        "app.include_router(router)",
        "",
        "",
        "def debug_dump(data):",
        "    print(data)  # checker: ignore[print-logging] -- kept for the debug CLI",
    ],
    "app/legacy/vieux modèle.py": [
        "def log(msg):",
        "    print(msg)",
    ],
}


def _f(rule, path, span, message, severity, confidence, *, secrets=(), related=(),
       context="", points=0.0, engine="checker") -> Finding:
    from dataclasses import replace
    finding = make_finding(
        rule=rule, path=path, span=span, message=message, severity=severity,
        confidence=confidence, lines=FILES[path], engine=engine, related=related,
        secrets=secrets, context=context,
    )
    return replace(finding, points=points)


def _meta(slug, checklist, section, severity, confidence, summary, *, scope="file", cwe=(),
          docs="", bad=(), good=(), languages=("python",), engines=()) -> RuleMeta:
    return RuleMeta(slug=slug, checklist=checklist, section=section, severity=severity,
                    confidence=confidence, scope=scope, languages=languages, summary=summary,
                    docs=docs, cwe=cwe, bad=bad, good=good, engines=engines)


def _docs(what: str, why: str) -> str:
    return f"## What it does\n{what}\n\n## Why is this bad?\n{why}"


RULES = {
    m.slug: m for m in (
        _meta("hardcoded-secret", "No hardcoded secrets or credentials; never commit secrets",
              Section.SECURITY, Severity.CRITICAL, Confidence.HIGH,
              "A secret or credential is written in the code", cwe=("CWE-798",),
              docs=_docs("Finds credentials written as literals: API keys, passwords, "
                         "connection URLs with a password.",
                         "Anyone who can read the repository can use the credential."),
              bad=(Example('API_KEY = "sk_live_' + "0" * 24 + '"'),),
              good=(Example('API_KEY = os.environ["API_KEY"]'),)),
        _meta("sql-string-built", "Database operations use parameterized queries",
              Section.SECURITY, Severity.HIGH, Confidence.HIGH,
              "SQL text is built from values instead of parameters", cwe=("CWE-89",),
              docs=_docs("Finds SQL built with f-strings, `%`, `+` or `.format()` that "
                         "reaches `execute`.", "Values spliced into SQL allow injection."),
              bad=(Example('cur.execute(f"SELECT * FROM t WHERE id = {i}")'),),
              good=(Example('cur.execute("SELECT * FROM t WHERE id = %s", (i,))'),)),
        _meta("tls-verify-disabled", "Use HTTPS only in production", Section.SECURITY,
              Severity.HIGH, Confidence.HIGH, "TLS certificate verification is disabled",
              cwe=("CWE-295",), languages=("python", "javascript", "go"),
              engines=("semgrep", "bandit"),
              docs=_docs("Finds `verify=False` and unverified SSL contexts.",
                         "Without verification HTTPS protects nothing.")),
        _meta("xss-unescaped-output", "XSS prevention in responses", Section.SECURITY,
              Severity.MEDIUM, Confidence.MEDIUM, "Markup built from data is marked safe",
              cwe=("CWE-79",), docs=_docs("Finds `Markup`/`mark_safe` around interpolated data.",
                                          "The data's `<script>` runs in the reader's browser.")),
        _meta("csrf-disabled", "CSRF protection where applicable", Section.SECURITY,
              Severity.HIGH, Confidence.HIGH, "CSRF protection is turned off", cwe=("CWE-352",)),
        _meta("missing-rate-limiting", "Rate limiting per endpoint", Section.SECURITY,
              Severity.MEDIUM, Confidence.MEDIUM, "No rate limiter", scope="project",
              cwe=("CWE-770",)),
        _meta("n-plus-one-query", "N+1 query problems in database operations",
              Section.PERFORMANCE, Severity.HIGH, Confidence.MEDIUM,
              "A query runs once per loop iteration",
              docs=_docs("Finds queries and lazy relationship loads inside loops.",
                         "One query per row turns a page into hundreds of round trips.")),
        _meta("missing-request-timeout", "Circuit breakers / failure handling for external "
              "service calls", Section.PERFORMANCE, Severity.MEDIUM, Confidence.HIGH,
              "An HTTP call has no timeout", cwe=("CWE-400",)),
        _meta("missing-db-index", "Database queries optimized with proper indexes",
              Section.PERFORMANCE, Severity.MEDIUM, Confidence.MEDIUM,
              "A queried column has no index", scope="project"),
        _meta("missing-health-check", "Health check endpoints implemented",
              Section.ARCHITECTURE, Severity.MEDIUM, Confidence.HIGH,
              "The app has no health-check route", scope="project",
              docs=_docs("Finds apps with no `/health`-style route.",
                         "Orchestrators cannot tell a stuck process from a working one.")),
        _meta("print-logging", "Structured logging with proper log levels",
              Section.ARCHITECTURE, Severity.LOW, Confidence.HIGH,
              "`print()` in server code"),
        _meta("swallowed-exception", "Comprehensive error handling", Section.ARCHITECTURE,
              Severity.MEDIUM, Confidence.HIGH, "An exception is caught and dropped",
              cwe=("CWE-390",)),
    )
}

FINDINGS = (
    _f("hardcoded-secret", "app/settings.py", Span(4, 18, 4, 53),
       "Stripe key written in the code (STRIPE_API_KEY); read it from the environment",
       Severity.CRITICAL, Confidence.HIGH, secrets=(RAW_SECRETS[0],), points=21.0),
    _f("hardcoded-secret", "app/settings.py", Span(5, 13, 5, 70),
       f"Connection URL with a password ({RAW_SECRETS[1]}) in ADMIN_DSN",
       Severity.HIGH, Confidence.HIGH, secrets=(RAW_SECRETS[1],), points=8.0),
    _f("sql-string-built", "app/repositories/orders.py", Span(8, 5, 11, 6),
       "SQL built with an f-string reaches `cur.execute`: pass the values as parameters",
       Severity.HIGH, Confidence.HIGH, context="orders_for",
       related=(Location("app/repositories/orders.py", 6, "`where` built from customer_id"),),
       points=8.0),
    _f("tls-verify-disabled", "app/clients/payments.py", Span(5, 41, 5, 53),
       "verify=False: certificate checks off, 100% of calls to the payment API are exposed",
       Severity.HIGH, Confidence.HIGH, context="capture", points=8.0),
    _f("missing-request-timeout", "app/clients/payments.py", Span(5, 12, 5, 54),
       "http.post() without timeout=, a slow peer blocks the worker",
       Severity.MEDIUM, Confidence.HIGH, context="capture", points=2.4),
    _f("xss-unescaped-output", "app/views/profile.py", Span(5, 12, 6, 24),
       "Markup() around an f-string with <script>-capable data: name reaches the page unescaped",
       Severity.MEDIUM, Confidence.MEDIUM, context="badge",
       related=(Location("app/views/profile.py", 6, "marked safe here"),), points=1.8),
    _f("n-plus-one-query", "app/services/report.py", Span(8, 5, 10, 61),
       "Lazy load of customer.orders once per customer\nuse selectinload(Customer.orders)",
       Severity.HIGH, Confidence.MEDIUM, context="totals",
       related=(Location("app/services/report.py", 9, "query: customer.orders"),),
       points=6.0),
    _f("print-logging", "app/services/report.py", Span(11, 5, 11, 33),
       "print() in server code; use a logger", Severity.LOW, Confidence.HIGH,
       context="totals", points=1.2),
    _f("print-logging", "app/legacy/vieux modèle.py", Span(2, 5, 2, 15),
       "print() in server code; use a logger", Severity.LOW, Confidence.HIGH,
       context="log", points=0.9),
    _f("missing-health-check", "app/main.py", Span(5, 1, 5, 16),
       "The FastAPI app has no health-check route (/health, /healthz, /ready)",
       Severity.MEDIUM, Confidence.HIGH,
       related=(Location("app/api.py", 1, "routes are declared here"),), points=3.2),
)

DIAGNOSTICS = (
    _f("unused-suppression", "app/main.py", Span(10, 18, 10, 75),
       "Suppression of print-logging matches no finding", Severity.INFO, Confidence.HIGH),
)


def _entry(slug, status, findings=0, checked=0, points=0.0, note=""):
    meta = RULES[slug]
    return ChecklistEntry(slug=slug, checklist=meta.checklist, section=meta.section,
                          status=status, findings=findings, checked=checked, points=points,
                          note=note)


MANUAL = (
    ManualItem("incident-runbook", "Runbooks exist for incidents", Section.ARCHITECTURE,
               hint="Check the operations docs"),
    ManualItem("pen-test", "Penetration test before release", Section.SECURITY,
               hint="Ask the security team", signals=("public routes: 14",)),
)

CHECKLIST = (
    _entry("hardcoded-secret", Status.FAILED, 2, 12, 29.0),
    _entry("sql-string-built", Status.FAILED, 1, 6, 8.0),
    _entry("csrf-disabled", Status.PASSED, 0, 4),
    _entry("tls-verify-disabled", Status.FAILED, 1, 3, 8.0),
    _entry("xss-unescaped-output", Status.FAILED, 1, 2, 1.8),
    _entry("missing-rate-limiting", Status.DISABLED, note="disabled by configuration"),
    ChecklistEntry("pen-test", "Penetration test before release", Section.SECURITY,
                   Status.MANUAL, note="Ask the security team"),
    _entry("n-plus-one-query", Status.FAILED, 1, 5, 6.0),
    _entry("missing-db-index", Status.NOT_APPLICABLE,
           note="nothing in the scanned code this applies to"),
    _entry("missing-request-timeout", Status.FAILED, 1, 3, 2.4),
    _entry("missing-health-check", Status.FAILED, 1, 1, 3.2),
    _entry("print-logging", Status.FAILED, 2, 9, 2.1),
    _entry("swallowed-exception", Status.PASSED, 0, 7),
    ChecklistEntry("incident-runbook", "Runbooks exist for incidents", Section.ARCHITECTURE,
                   Status.MANUAL, note="Check the operations docs"),
)

SCORE = Score(
    overall=58.4, grade="F",
    sections=(
        SectionScore(Section.SECURITY, 40.0, "F", 46.8, capped=True),
        SectionScore(Section.PERFORMANCE, 91.6, "A", 8.4),
        SectionScore(Section.ARCHITECTURE, 94.7, "A", 5.3),
    ),
    lines_of_code=1840,
    formula="section = 100 - sum(severity x confidence, decayed per rule) / sqrt(KLOC)",
    capped=True,
)


def sample_report(**changes) -> Report:
    """The sample report; keyword arguments replace fields (``extra={}`` drops the diff)."""
    report = Report(
        tool_version="0.1.0",
        root=ROOT,
        findings=FINDINGS,
        checklist=CHECKLIST,
        manual=MANUAL,
        score=SCORE,
        rules=RULES,
        files_scanned=42,
        skipped=(Skipped("app/broken.py", "does not parse: unexpected indent (line 3)"),
                 Skipped("static/vendor.min.js", "larger than the 512 KB limit")),
        engines=(EngineStatus("checker", True, files=40, seconds=1.21),
                 EngineStatus("semgrep", True, files=2, seconds=2.6),
                 EngineStatus("bandit", False, "bandit is not installed")),
        suppressed=1,
        baseline_matched=3,
        diagnostics=DIAGNOSTICS,
        extra={"diff": {"base": "main", "merge_base": "4f2c9e1a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e",
                        "score_before": 64.9, "grade_before": "D",
                        "score_after": 58.4, "grade_after": "F"}},
    )
    if changes:
        from dataclasses import replace
        report = replace(report, **changes)
    return report


# ----------------------------------------------------------------------------- golden files

import os  # noqa: E402
from pathlib import Path  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden"


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/golden/<name>``; ``CHECKER_UPDATE_GOLDEN=1`` (the
    project-wide switch, see ``tests/sample_report.py``) or ``UPDATE_GOLDEN=1`` rewrites it."""
    path = GOLDEN / name
    if "1" in (os.environ.get("CHECKER_UPDATE_GOLDEN"), os.environ.get("UPDATE_GOLDEN")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    expected = path.read_bytes().decode("utf-8")
    assert text == expected, (
        f"{name} differs from tests/golden/{name}; if the change is intended, rerun with "
        f"CHECKER_UPDATE_GOLDEN=1 and review the diff")


def shifted(report: Report, lines: int) -> Report:
    """The same report after ``lines`` lines were inserted at the top of every file."""
    from dataclasses import replace

    def move(f: Finding) -> Finding:
        span = f.span
        return replace(f, span=Span(span.line + lines, span.column, span.end_line + lines,
                                    span.end_column),
                       related=tuple(replace(r, line=r.line + lines) for r in f.related))

    return replace(report, findings=tuple(move(f) for f in report.findings),
                   diagnostics=tuple(move(f) for f in report.diagnostics))


def many_findings(counts: dict, path_prefix: str = "svc/mod") -> tuple[Finding, ...]:
    """Findings of the sample rules, ``counts`` = {Severity: how many}, on distinct lines."""
    from dataclasses import replace

    rule_for = {Severity.CRITICAL: "hardcoded-secret", Severity.HIGH: "sql-string-built",
                Severity.MEDIUM: "missing-request-timeout", Severity.LOW: "print-logging",
                Severity.INFO: "print-logging"}
    template = FINDINGS[4]
    out = []
    for severity, count in counts.items():
        for i in range(count):
            out.append(replace(
                template, rule=rule_for[severity], severity=severity,
                path=f"{path_prefix}{i % 3}.py", span=Span(10 + i, 5, 10 + i, 20),
                message=f"{severity.label} finding {i}", related=(),
                fingerprint=f"{severity.label}{i:04d}"))
    return tuple(out)
