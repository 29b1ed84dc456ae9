"""The JSON reporter: golden output, schema validation, order, documentation, no secrets."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from checker.model import Finding
from checker.reporters import RenderOptions, formats, render
from checker.reporters import json as json_reporter
from sample_report import RAW_SECRET, assert_golden, clean_report, sample_report

SCHEMA = json.loads(json_reporter.SCHEMA_PATH.read_text(encoding="utf-8"))
DOCS = (Path(__file__).parent.parent / "docs" / "json-report.md").read_text(encoding="utf-8")
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def as_json(report) -> dict:
    return json.loads(render("json", report, RenderOptions()))


def test_registered_under_its_name():
    assert formats()["json"] is json_reporter
    assert (json_reporter.NAME, json_reporter.EXTENSION) == ("json", "json")


def test_golden_sample():
    assert_golden("report.json", render("json", sample_report(), RenderOptions()))


def test_golden_clean():
    assert_golden("report_clean.json", render("json", clean_report(), RenderOptions()))


def test_schema_is_valid_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("make", [sample_report, clean_report])
def test_output_validates(make):
    VALIDATOR.validate(as_json(make()))


@pytest.mark.parametrize("path, value", [
    (("schema_version",), "2.0"),
    (("findings", 0, "severity"), "urgent"),
    (("findings", 0, "line"), 0),
    (("checklist", 0, "status"), "ok"),
    (("score", "overall"), 101),
    (("engines", 2, "ran"), "no"),
    (("summary", "by_severity", "fatal"), 1),
])
def test_schema_rejects_broken_reports(path, value):
    data = as_json(sample_report())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert not VALIDATOR.is_valid(data)


def test_schema_rejects_a_missing_field():
    data = as_json(sample_report())
    del data["findings"][0]["fingerprint"]
    assert not VALIDATOR.is_valid(data)


def test_top_level_keys_in_documented_order():
    assert list(as_json(sample_report())) == [
        "schema_version", "tool", "root", "summary", "score", "checklist", "manual", "findings",
        "skipped", "engines", "suppressed", "baseline_matched", "diagnostics", "extra",
    ]
    assert list(SCHEMA["properties"]) == list(as_json(sample_report()))


def test_findings_sorted_by_path_line_column_rule():
    findings = as_json(sample_report())["findings"]
    assert [(f["path"], f["line"], f["column"], f["rule"]) for f in findings] == [
        ("app/clients/payments.py", 18, 16, "missing-request-timeout"),
        ("app/clients/payments.py", 31, 16, "missing-request-timeout"),
        ("app/clients/shipping.py", 9, 12, "missing-request-timeout"),
        ("app/main.py", 1, 1, "missing-api-docs"),
        ("app/repositories/users.py", 42, 9, "sql-string-built"),
        ("app/routes/orders.py", 55, 9, "print-logging"),
        ("app/services/orders.py", 27, 5, "n-plus-one-query"),
        ("app/services/payments.py", 63, 5, "swallowed-exception"),
        ("config/settings.py", 14, 1, "hardcoded-secret"),
    ]


def test_output_does_not_depend_on_input_order():
    report = sample_report()
    shuffled = replace(report, findings=tuple(reversed(report.findings)),
                       diagnostics=tuple(reversed(report.diagnostics)),
                       skipped=tuple(reversed(report.skipped)),
                       extra={"jobs": 2, "config": "pyproject.toml"})
    assert render("json", shuffled, RenderOptions()) == render("json", report, RenderOptions())


def test_one_finding_in_full():
    finding = next(f for f in as_json(sample_report())["findings"] if f["rule"] == "sql-string-built")
    assert finding == {
        "rule": "sql-string-built",
        "checklist": "Database operations use parameterized queries",
        "section": "security",
        "severity": "critical",
        "confidence": "high",
        "path": "app/repositories/users.py",
        "line": 42,
        "column": 9,
        "end_line": 42,
        "end_column": 27,
        "message": "SQL text built with an f-string reaches cursor.execute(); pass parameters instead",
        "snippet": "cur.execute(query)",
        "fingerprint": "sql-string-built|app/repositories/users.py|SQL text built with an f",
        "engine": "checker",
        "points": 32.27,
        "related": [{"path": "app/repositories/users.py", "line": 39, "message": "query text built here"}],
        "cwe": ["CWE-89"],
    }


def test_score_and_summary():
    data = as_json(sample_report())
    assert data["summary"] == {
        "files_scanned": 23, "files_skipped": 3, "lines_of_code": 2400, "findings": 9,
        "by_severity": {"critical": 1, "high": 2, "medium": 4, "low": 1, "info": 1},
        "by_section": {"security": 2, "performance": 4, "architecture": 3},
    }
    score = data["score"]
    assert (score["overall"], score["grade"], score["capped"]) == (69.0, "D", True)
    assert [(s["section"], s["score"], s["grade"], s["points"], s["capped"]) for s in score["sections"]] == [
        ("security", 54.8, "F", 45.18, True),
        ("performance", 77.9, "C", 22.1, False),
        ("architecture", 94.2, "A", 5.81, False),
    ]


def test_checklist_and_manual():
    data = as_json(sample_report())
    assert [(e["slug"], e["status"], e["findings"], e["points"]) for e in data["checklist"]] == [
        ("hardcoded-secret", "failed", 1, 12.91),
        ("sql-string-built", "failed", 1, 32.27),
        ("csrf-disabled", "not-applicable", 0, 0.0),
        ("tls-verify-disabled", "passed", 0, 0.0),
        ("missing-rate-limiting", "passed", 0, 0.0),
        ("encryption-at-rest", "manual-review", 0, 0.0),
        ("n-plus-one-query", "failed", 1, 12.91),
        ("missing-db-index", "passed", 0, 0.0),
        ("missing-request-timeout", "failed", 3, 9.19),
        ("missing-response-compression", "disabled", 0, 0.0),
        ("load-testing", "manual-review", 0, 0.0),
        ("swallowed-exception", "failed", 1, 3.87),
        ("missing-health-check", "passed", 0, 0.0),
        ("missing-transaction", "not-applicable", 0, 0.0),
        ("print-logging", "failed", 1, 1.94),
        ("missing-audit-log", "disabled", 0, 0.0),
        ("missing-api-docs", "failed", 1, 0.0),
        ("backup-recovery", "manual-review", 0, 0.0),
    ]
    assert data["manual"][1] == {
        "key": "load-testing", "item": "p95 latency under load verified with a load test",
        "section": "performance", "hint": "Run a load test against a staging environment.",
        "signals": ["locust in the development dependencies"],
    }


def test_skips_engines_diagnostics_counts_and_extra():
    data = as_json(sample_report())
    assert data["skipped"] == [
        {"path": "app/legacy/report.py", "reason": "does not parse: line 12, column 5: unexpected indent"},
        {"path": "data/dump.sql", "reason": "larger than the size limit (2 MB)"},
        {"path": "static/logo.png", "reason": "binary file"},
    ]
    assert data["engines"][2] == {"name": "semgrep", "ran": False, "detail": "semgrep executable not found on PATH",
                                  "files": 0, "seconds": 0.0}
    assert [(d["rule"], d["path"], d["line"]) for d in data["diagnostics"]] == [
        ("unused-suppression", "app/routes/orders.py", 12),
        ("suppression-missing-reason", "app/services/payments.py", 8),
    ]
    assert (data["suppressed"], data["baseline_matched"]) == (2, 1)
    assert data["extra"] == {"config": "pyproject.toml", "jobs": 2}


def test_extra_passes_through_as_plain_json():
    report = replace(sample_report(), extra={"z": {"b": 1, "a": [Path("x/y"), (1, 2)]}, "a": {3, 1, 2},
                                             "n": None, "obj": object.__new__(type("Thing", (), {"__str__": lambda s: "thing"}))})
    extra = as_json(report)["extra"]
    assert list(extra) == ["a", "n", "obj", "z"]
    assert extra == {"a": [1, 2, 3], "n": None, "obj": "thing", "z": {"a": ["x/y", [1, 2]], "b": 1}}


def test_secret_never_appears():
    text = render("json", sample_report(), RenderOptions())
    assert RAW_SECRET not in text
    assert RAW_SECRET[8:20] not in text
    secret = next(f for f in json.loads(text)["findings"] if f["rule"] == "hardcoded-secret")
    assert secret["snippet"] == 'STRIPE_KEY = "sk_l********"'
    assert secret["message"] == "Stripe key hardcoded in STRIPE_KEY (sk_l********)"


def test_render_is_deterministic_and_ends_with_newline():
    first = render("json", sample_report(), RenderOptions())
    assert first == render("json", copy.deepcopy(sample_report()), RenderOptions(color=True, width=40))
    assert first.endswith("}\n")


def _field_names(schema: dict, out: set[str]) -> None:
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            out.add(name)
            _field_names(sub, out)
        for key in ("items", "$defs"):
            value = schema.get(key)
            if isinstance(value, dict):
                for sub in (value.values() if key == "$defs" else [value]):
                    _field_names(sub, out)


def test_every_field_is_documented():
    names: set[str] = set()
    _field_names(SCHEMA, names)
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS, flags=re.MULTILINE))
    # by_severity / by_section keys are documented in their parent's row.
    implicit = {"critical", "high", "medium", "low", "info", "security", "performance", "architecture"}
    assert names - implicit <= documented, sorted(names - implicit - documented)
    assert documented <= names, sorted(documented - names)


def test_finding_sort_key_matches_documented_order():
    report = sample_report()
    assert [f["path"] for f in as_json(report)["findings"]] == [
        f.path for f in sorted(report.findings, key=Finding.sort_key)]
