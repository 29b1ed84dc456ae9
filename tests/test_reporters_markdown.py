"""Markdown for the job summary and PR comments."""

from __future__ import annotations

import re
from dataclasses import replace

from _integration_sample import RAW_SECRETS, check_golden, many_findings, sample_report
from checker.model import Severity
from sample_report import RAW_SECRET, clean_report
from sample_report import sample_report as shared_sample
from checker.reporters import formats, markdown


def test_format_is_discovered():
    assert formats()["markdown"] is markdown
    assert markdown.EXTENSION == ".md"


def test_golden():
    check_golden("markdown.md", markdown.render(sample_report()))


def test_golden_clean_project():
    check_golden("markdown_clean.md", markdown.render(clean_report()))


def test_shared_sample_report():
    text = markdown.render(shared_sample())
    assert RAW_SECRET not in text
    assert "Whole project" not in text


def test_fence_cannot_be_broken_by_backticks():
    assert markdown.fence("a = 1", "python") == "```python\na = 1\n```"
    assert markdown.fence('s = "```"') == '````\ns = "```"\n````'
    assert markdown.fence("x = '`````'") == "``````\nx = '`````'\n``````"
    text = markdown.render(sample_report())
    # The XSS finding's snippet holds three backticks: its fence has four.
    assert '  ````python\n      html = f"<b>{name}</b> ```"\n      return Markup(html)\n  ````' \
        in text


def test_inline_text_is_plain():
    assert markdown.inline("a|b *c* <i>x</i> @octocat\nnext") == \
        "a\\|b \\*c\\* &lt;i&gt;x&lt;/i&gt; @\u200bocto" + "cat next"
    assert markdown.code("a`b") == "``a`b``"
    assert markdown.code("`x`") == "`` `x` ``"


def test_diff_line():
    assert markdown.diff_line(sample_report()) == (
        "Whole project: score at main (`4f2c9e1`) **64.9** (D) \u2192 now **58.4** (F), "
        "**-6.5**. Findings below are only those on lines changed since main.")
    better = sample_report(extra={"diff": {"base": "origin/main", "merge_base": "",
                                           "score_before": 50, "grade_before": "F",
                                           "score_after": 71.25, "grade_after": "C"}})
    assert markdown.diff_line(better) == (
        "Whole project: score at origin/main **50.0** (F) \u2192 now **71.2** (C), **+21.2**. "
        "Findings below are only those on lines changed since origin/main.")
    same = sample_report(extra={"diff": {"base": "v1", "score_before": 80.0,
                                         "grade_before": "B", "score_after": 80.0,
                                         "grade_after": "B"}})
    assert "**\u00b10.0**." in markdown.diff_line(same)
    assert markdown.diff_line(sample_report(extra={})) == ""
    assert "Whole project" not in markdown.render(sample_report(extra={}))
    assert markdown.render(sample_report()).startswith(
        "## checker: 58.4 / 100, grade F (capped by a critical security finding; changes since "
        "main)\n")


def test_checklist_ticks():
    text = markdown.render(sample_report())
    items = re.findall(r"^- \[( |x)\] \S+ (.*) \(`([a-z-]+)`\)", text, re.M)
    assert [(tick, slug) for tick, _, slug in items] == [
        (" ", "hardcoded-secret"), (" ", "sql-string-built"), ("x", "csrf-disabled"),
        (" ", "tls-verify-disabled"), (" ", "xss-unescaped-output"),
        (" ", "missing-rate-limiting"), (" ", "pen-test"), (" ", "n-plus-one-query"),
        (" ", "missing-db-index"), (" ", "missing-request-timeout"),
        (" ", "missing-health-check"), (" ", "print-logging"), ("x", "swallowed-exception"),
        (" ", "incident-runbook"),
    ]


def test_kept_under_one_mebibyte_with_a_note():
    big = many_findings({Severity.HIGH: 1500, Severity.MEDIUM: 1500, Severity.LOW: 1500})
    big = tuple(replace(f, snippet=("x = '" + "y" * 100 + "'\n") * 3) for f in big)
    text = markdown.render(sample_report(findings=big, diagnostics=()))
    assert len(text.encode("utf-8")) < 1024 * 1024
    shown = len(re.findall(r"^- \S+ \*\*(?:high|medium|low)\*\*", text, re.M))
    note = re.search(r"cut to stay under GitHub's 1 MiB limit: (\d+) more findings not shown",
                     text)
    assert note is not None
    assert 0 < shown < 4500 and shown + int(note.group(1)) == 4500
    # Most severe first: all the high ones fit before anything else.
    assert shown > 1500 and text.count("**high**") == 1500
    assert text.endswith("<sub>checker 0.1.0</sub>\n")
    # Groups start folded in a long report.
    assert "<details open>" not in text and "<details>" in text


def test_no_secret_in_clear():
    text = markdown.render(sample_report())
    for secret in RAW_SECRETS:
        assert secret not in text
