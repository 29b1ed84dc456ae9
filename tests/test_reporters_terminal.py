"""The terminal reporter: golden outputs, plain text when colour is off, no secrets."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from checker.model import Status
from checker.reporters import RenderOptions, formats, render
from checker.reporters import terminal
from sample_report import RAW_SECRET, assert_golden, clean_report, sample_report

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(report, width=100, verbose=False) -> str:
    return render("terminal", report, RenderOptions(color=False, width=width, verbose=verbose))


def test_registered_under_its_name():
    assert formats()["terminal"] is terminal
    assert (terminal.NAME, terminal.EXTENSION) == ("terminal", "txt")


def test_golden_plain_width_100():
    assert_golden("terminal.txt", plain(sample_report(), 100))


def test_golden_plain_width_80():
    assert_golden("terminal_80.txt", plain(sample_report(), 80))


def test_golden_clean_report_verbose():
    assert_golden("terminal_clean.txt", plain(clean_report(), 80, verbose=True))


def test_plain_output_has_no_escape_sequences_and_no_trailing_blanks():
    for report in (sample_report(), clean_report()):
        for width in (60, 100, 140):
            text = plain(report, width)
            assert "\x1b" not in text
            assert all(line == line.rstrip() for line in text.splitlines())
            assert max(len(line) for line in text.splitlines()) <= width


def test_color_output_is_the_plain_output_with_styles():
    report = sample_report()
    colored = render("terminal", report, RenderOptions(color=True, width=100))
    assert "\x1b[" in colored
    stripped = "\n".join(line.rstrip() for line in ANSI.sub("", colored).split("\n"))
    assert stripped == plain(report, 100)


@pytest.mark.parametrize("env", [
    {"NO_COLOR": "1"}, {"FORCE_COLOR": "1"}, {"COLUMNS": "40"}, {"TERM": "dumb"}, {"TTY_COMPATIBLE": "1"},
])
def test_environment_does_not_change_the_output(monkeypatch, env):
    expected_plain = plain(sample_report())
    expected_color = render("terminal", sample_report(), RenderOptions(color=True, width=100))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert plain(sample_report()) == expected_plain
    assert render("terminal", sample_report(), RenderOptions(color=True, width=100)) == expected_color


def test_secret_never_appears():
    report = sample_report()
    for options in (RenderOptions(color=False, width=100), RenderOptions(color=True, width=60, verbose=True)):
        text = render("terminal", report, options)
        assert RAW_SECRET not in ANSI.sub("", text)
        assert RAW_SECRET[8:20] not in ANSI.sub("", text)
    text = plain(report)
    assert 'STRIPE_KEY = "sk_l********"' in text


def test_findings_are_grouped_by_checklist_item_in_checklist_order():
    text = plain(sample_report(), 140)
    headers = [line.split("  ")[0] for line in text.splitlines() if line.startswith("✘ ")]
    assert headers == [
        "✘ hardcoded-secret", "✘ sql-string-built", "✘ n-plus-one-query", "✘ missing-request-timeout",
        "✘ swallowed-exception", "✘ print-logging", "✘ missing-api-docs",
    ]
    lines = text.splitlines()
    timeout = lines.index(next(line for line in lines if line.startswith("✘ missing-request-timeout")))
    words = [line.split()[:1] for line in lines[timeout + 1:timeout + 8]]
    assert [w[0] for w in words if w and ".py:" in w[0]] == [
        "app/clients/payments.py:18:16", "app/clients/payments.py:31:16", "app/clients/shipping.py:9:12",
    ]


def test_finding_line_shows_location_severity_message_points_and_related():
    text = plain(sample_report(), 160)
    assert ("  app/repositories/users.py:42:9  critical  -32.3 pts\n"
            "    SQL text built with an f-string reaches cursor.execute(); pass parameters instead\n") in text
    assert "↳ app/repositories/users.py:39  query text built here" in text
    assert "│ cur.execute(query)" in text
    # Markup-like text in messages is printed as is.
    assert "use the logging module [logger.info]" in text


def test_checklist_marks():
    text = plain(sample_report(), 140)
    marks = {}
    for line in text.splitlines():
        match = re.match(r"^ (\S)  (.+?)  ([a-z0-9-]+)\s{2,}", line)
        if match:
            marks[match.group(3)] = match.group(1)
    assert marks == {
        "hardcoded-secret": "✘", "sql-string-built": "✘", "csrf-disabled": "–", "tls-verify-disabled": "✔",
        "missing-rate-limiting": "✔", "n-plus-one-query": "✘", "missing-db-index": "✔",
        "missing-request-timeout": "✘", "missing-response-compression": "○", "swallowed-exception": "✘",
        "missing-health-check": "✔", "missing-transaction": "–", "print-logging": "✘",
        "missing-audit-log": "○", "missing-api-docs": "✘",
    }
    assert " ?  p95 latency under load verified with a load test" in text
    assert "seen: locust in the development dependencies" in text


def test_score_panel_and_skips():
    text = plain(sample_report(), 100)
    assert re.search(r"│  Overall\s+69\.0\s+D\s", text)
    assert re.search(r"│    Security\s+54\.8\s+F\s+-45\.2 pts\s+capped\s", text)
    assert "Capped: a critical security finding limits the security and overall scores." in text
    assert "2,400 lines of code · 23 files scanned · 3 skipped · 9 findings" in text
    assert "semgrep  did not run: semgrep executable not found on PATH" in text
    assert "static/logo.png       binary file" in text
    assert "app/routes/orders.py:12:40     unused suppression" in text
    assert text.rstrip().endswith(
        "9 findings (1 critical, 2 high, 4 medium, 1 low, 1 info) · 2 suppressed · 1 in the baseline")


def test_formula_only_when_verbose():
    assert "Formula:" not in plain(clean_report(), 200)
    assert "Formula: " + clean_report().score.formula in plain(clean_report(), 500, verbose=True)


def test_report_without_findings_says_so():
    text = plain(clean_report(), 80)
    assert "No findings." in text
    assert re.search(r"Architecture and operations\s+-\s+n/a\s+no applicable rules", text)


def test_unknown_rule_findings_are_still_shown():
    report = sample_report()
    odd = replace(report.findings[0], rule="custom-rule", message="something custom")
    report = replace(report, findings=report.findings + (odd,),
                     checklist=tuple(e for e in report.checklist if e.status is not Status.MANUAL))
    text = plain(report, 120)
    assert "✘ custom-rule" in text
    assert "something custom" in text
