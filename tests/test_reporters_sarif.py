"""SARIF output: schema-valid, stable, line-free fingerprints, no secret in clear."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from _integration_sample import (RAW_SECRETS, check_golden, many_findings, sample_report,
                                 shifted)
from checker.model import Score, Severity
from checker.reporters import formats, render, sarif
from sample_report import RAW_SECRET, clean_report
from sample_report import sample_report as shared_sample

SCHEMA_PATH = Path(__file__).resolve().parents[1].parent / "shared/data/sarif-schema-2.1.0.json"

# RFC 3986 characters; the schema's "uri"/"uri-reference" formats are checked with these
# (jsonschema checks them only when an optional package is installed, so do it here).
_URI_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")
formats_checker = FormatChecker()


@formats_checker.checks("uri")
def _is_uri(value) -> bool:
    return not isinstance(value, str) or (
        bool(_URI_CHARS.match(value)) and re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", value) is not None)


@formats_checker.checks("uri-reference")
def _is_uri_reference(value) -> bool:
    return not isinstance(value, str) or bool(_URI_CHARS.match(value))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    # The schema is the draft 2020-12 form GitHub validates uploads with. All its $refs are
    # local ("#/definitions/..."), so validation needs no network.
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=formats_checker)


def errors(validator, document) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(document)]


def test_format_is_discovered():
    assert formats()["sarif"] is sarif
    assert sarif.EXTENSION == ".sarif"


def test_golden():
    check_golden("sarif.sarif", render("sarif", sample_report()))


def test_sample_validates(validator):
    document = json.loads(sarif.render(sample_report()))
    assert errors(validator, document) == []


def test_empty_report_validates(validator):
    report = sample_report(findings=(), diagnostics=(), skipped=(), engines=(), extra={},
                           rules={}, checklist=(), root="relative/root")
    document = json.loads(sarif.render(report))
    assert errors(validator, document) == []
    run = document["runs"][0]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"description": {
        "text": "The folder the scan ran on."}}}


def test_validator_catches_a_broken_log(validator):
    document = json.loads(sarif.render(sample_report()))
    region = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    region["startLine"] = 0
    document["runs"][0]["results"][1]["locations"][0]["physicalLocation"][
        "artifactLocation"]["uri"] = "has space.py"
    assert errors(validator, document) == [
        "runs/0/results/0/locations/0/physicalLocation/region/startLine: "
        "0 is less than the minimum of 1",
        "runs/0/results/1/locations/0/physicalLocation/artifactLocation/uri: "
        "'has space.py' is not a 'uri-reference'",
    ]


def test_results():
    document = json.loads(sarif.render(sample_report()))
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    got = [(r["ruleId"], r["level"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"])
           for r in run["results"]]
    assert got == [
        ("missing-request-timeout", "warning", "app/clients/payments.py",
         {"startLine": 5, "startColumn": 12, "endLine": 5, "endColumn": 54}),
        ("tls-verify-disabled", "error", "app/clients/payments.py",
         {"startLine": 5, "startColumn": 41, "endLine": 5, "endColumn": 53}),
        ("print-logging", "note", "app/legacy/vieux%20mod%C3%A8le.py",
         {"startLine": 2, "startColumn": 5, "endLine": 2, "endColumn": 15}),
        ("missing-health-check", "warning", "app/main.py",
         {"startLine": 5, "startColumn": 1, "endLine": 5, "endColumn": 16}),
        ("sql-string-built", "error", "app/repositories/orders.py",
         {"startLine": 8, "startColumn": 5, "endLine": 11, "endColumn": 6}),
        ("n-plus-one-query", "error", "app/services/report.py",
         {"startLine": 8, "startColumn": 5, "endLine": 10, "endColumn": 61}),
        ("print-logging", "note", "app/services/report.py",
         {"startLine": 11, "startColumn": 5, "endLine": 11, "endColumn": 33}),
        ("hardcoded-secret", "error", "app/settings.py",
         {"startLine": 4, "startColumn": 18, "endLine": 4, "endColumn": 53}),
        ("hardcoded-secret", "error", "app/settings.py",
         {"startLine": 5, "startColumn": 13, "endLine": 5, "endColumn": 70}),
        ("xss-unescaped-output", "warning", "app/views/profile.py",
         {"startLine": 5, "startColumn": 12, "endLine": 6, "endColumn": 24}),
        ("unused-suppression", "note", "app/main.py",
         {"startLine": 10, "startColumn": 18, "endLine": 10, "endColumn": 75}),
    ]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"][
            "uriBaseId"] == "%SRCROOT%"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///src/shop/"}}
    by_id = {r["ruleId"]: r for r in run["results"]}
    assert by_id["sql-string-built"]["relatedLocations"] == [{
        "id": 1,
        "physicalLocation": {"artifactLocation": {"uri": "app/repositories/orders.py",
                                                  "uriBaseId": "%SRCROOT%"},
                             "region": {"startLine": 6}},
        "message": {"text": "`where` built from customer_id"},
    }]
    assert by_id["sql-string-built"]["locations"][0]["physicalLocation"]["contextRegion"] == {
        "startLine": 8, "endLine": 10,
        "snippet": {"text": "    cur.execute(\n        f\"SELECT id, total FROM orders WHERE "
                            "{where} \"\n        f\"AND status = '{status}'\""}}


def test_rules_metadata():
    report = sample_report()
    document = json.loads(sarif.render(report))
    rules = {r["id"]: r for r in document["runs"][0]["tool"]["driver"]["rules"]}
    assert list(rules) == sorted(report.rules) + ["unused-suppression"]
    secret = rules["hardcoded-secret"]
    assert secret["name"] == "HardcodedSecret"
    assert secret["defaultConfiguration"] == {"level": "error"}
    assert secret["properties"]["security-severity"] == "9.5"
    assert secret["properties"]["precision"] == "high"
    assert secret["properties"]["tags"] == ["security", "external/cwe/cwe-798"]
    assert secret["properties"]["checklist"] == (
        "No hardcoded secrets or credentials; never commit secrets")
    assert "### Use instead\n\n```python\nAPI_KEY = os.environ[\"API_KEY\"]\n```" in \
        secret["help"]["markdown"]
    assert rules["xss-unescaped-output"]["properties"]["security-severity"] == "5.5"
    assert rules["xss-unescaped-output"]["properties"]["precision"] == "medium"
    # Only security rules carry a security-severity.
    n1 = rules["n-plus-one-query"]
    assert "security-severity" not in n1["properties"]
    assert n1["properties"]["tags"] == ["performance"]
    assert n1["defaultConfiguration"] == {"level": "error"}
    assert rules["print-logging"]["defaultConfiguration"] == {"level": "note"}
    assert rules["print-logging"]["properties"]["problem.severity"] == "recommendation"
    assert rules["unused-suppression"] == {
        "id": "unused-suppression", "name": "UnusedSuppression",
        "shortDescription": {"text": "checker diagnostic: unused-suppression"},
        "defaultConfiguration": {"level": "note"},
        "properties": {"tags": ["checker"], "precision": "high"},
    }


def test_fingerprints_are_stable_when_lines_move():
    report = sample_report()
    before = json.loads(sarif.render(report))["runs"][0]["results"]
    after = json.loads(sarif.render(shifted(report, 7)))["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in before] == \
        [r["partialFingerprints"] for r in after]
    assert [r["partialFingerprints"]["checkerFingerprint/v1"] for r in before] == \
        [f.fingerprint for f in sorted(report.findings, key=lambda f: f.sort_key())] + \
        [report.diagnostics[0].fingerprint]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in after] == \
        [r["locations"][0]["physicalLocation"]["region"]["startLine"] + 7 for r in before]


def test_notifications_for_skipped_files_and_missing_engines():
    document = json.loads(sarif.render(sample_report()))
    invocation = document["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert [(n["level"], n["descriptor"]["id"], n["message"]["text"])
            for n in invocation["toolExecutionNotifications"]] == [
        ("warning", "engine-not-run", "bandit did not run: bandit is not installed"),
        ("note", "file-skipped",
         "app/broken.py was not scanned: does not parse: unexpected indent (line 3)"),
        ("note", "file-skipped", "static/vendor.min.js was not scanned: larger than the "
                                 "512 KB limit"),
    ]


def test_score_and_diff_in_run_properties():
    props = json.loads(sarif.render(sample_report()))["runs"][0]["properties"]
    assert props["score"]["overall"] == 58.4 and props["score"]["grade"] == "F"
    assert props["score"]["sections"]["security"] == {
        "score": 40.0, "grade": "F", "points": 46.8, "capped": True}
    assert props["diff"]["score_before"] == 64.9 and props["diff"]["base"] == "main"
    assert props["baselineMatched"] == 3


def test_no_secret_in_clear():
    text = sarif.render(sample_report())
    for secret in RAW_SECRETS:
        assert secret not in text
    assert "sk_l********" in text  # the redacted form is what is shown


def test_many_findings_validate(validator):
    report = sample_report(findings=many_findings(
        {Severity.CRITICAL: 5, Severity.HIGH: 30, Severity.MEDIUM: 30, Severity.LOW: 30}),
        score=Score(10.0, "F", (), 100))
    document = json.loads(sarif.render(report))
    assert errors(validator, document) == []
    assert len(document["runs"][0]["results"]) == 96


def test_shared_sample_reports_validate(validator):
    for report in (shared_sample(), clean_report()):
        text = sarif.render(report)
        assert RAW_SECRET not in text
        assert errors(validator, json.loads(text)) == []
