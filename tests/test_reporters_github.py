"""GitHub workflow commands: escaping, spans, and the annotation budget."""

from __future__ import annotations

from dataclasses import replace

from _integration_sample import RAW_SECRETS, check_golden, many_findings, sample_report
from checker.model import Severity, Span
from checker.reporters import formats, github


def test_format_is_discovered():
    assert formats()["github"] is github


def test_golden():
    check_golden("github.txt", github.render(sample_report()))


def test_escaping():
    assert github.escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert github.escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"
    assert github.command("error", "x: y, z", file="a,b.py", line=3, col=None) == \
        "::error file=a%2Cb.py,line=3::x: y, z"
    assert github.command("notice", "plain") == "::notice::plain"


def test_a_message_cannot_start_a_command():
    [finding] = many_findings({Severity.HIGH: 1})
    finding = replace(finding, message="line one\n::error file=evil.py::injected\r\n::stop-commands::x")
    out = github.render(sample_report(findings=(finding,), diagnostics=()))
    assert out.splitlines()[1:] == [
        "::error file=svc/mod0.py,line=10,endLine=10,col=5,endColumn=19,"
        "title=sql-string-built%3A Database operations use parameterized queries::"
        "line one%0A::error file=evil.py::injected%0D%0A::stop-commands::x%0A"
        "(high severity, high confidence)",
    ]


def test_columns_only_on_single_line_spans():
    [one] = many_findings({Severity.MEDIUM: 1})
    multi = replace(one, span=Span(4, 9, 7, 2))
    point = replace(one, span=Span(4, 9, 4, 9))
    wide = replace(one, span=Span(4, 9, 4, 10))
    lines = [github.annotation(f, sample_report()) for f in (multi, point, wide)]
    assert [line.split("::")[1] for line in lines] == [
        "warning file=svc/mod0.py,line=4,endLine=7,title=missing-request-timeout%3A "
        "Circuit breakers / failure handling for external service calls",
        "warning file=svc/mod0.py,line=4,endLine=4,col=9,title=missing-request-timeout%3A "
        "Circuit breakers / failure handling for external service calls",
        "warning file=svc/mod0.py,line=4,endLine=4,col=9,title=missing-request-timeout%3A "
        "Circuit breakers / failure handling for external service calls",
    ]


def test_budget_most_severe_first_then_one_notice():
    findings = many_findings({Severity.LOW: 12, Severity.HIGH: 11, Severity.MEDIUM: 13,
                              Severity.CRITICAL: 2, Severity.INFO: 1})
    out = github.render(sample_report(findings=findings, diagnostics=())).splitlines()
    assert out[0] == "checker 0.1.0: score 58.4/100 (F), 39 findings"
    kinds = [line.split(" ", 1)[0] for line in out[1:]]
    assert kinds == ["::error"] * 10 + ["::warning"] * 10 + ["::notice"] * 10
    messages = [line.rsplit("::", 1)[1].split("%0A")[0] for line in out[1:-1]]
    # Errors: both critical ones, then high ones by confidence (all high), path, then line.
    assert messages[:10] == [
        "critical finding 0", "critical finding 1",
        "high finding 0", "high finding 3", "high finding 6", "high finding 9",
        "high finding 1", "high finding 4", "high finding 7", "high finding 10",
    ]
    assert messages[10:20] == [
        "medium finding 0", "medium finding 3", "medium finding 6", "medium finding 9",
        "medium finding 12", "medium finding 1", "medium finding 4", "medium finding 7",
        "medium finding 10", "medium finding 2",
    ]
    assert messages[20:] == [
        "low finding 0", "low finding 3", "low finding 6", "low finding 9",
        "low finding 1", "low finding 4", "low finding 7", "low finding 10", "low finding 2",
    ]
    # 39 findings; 10 + 10 + 9 annotated; 3 high + 3 medium + 3 low + 1 info are left.
    assert out[-1] == (
        "::notice title=checker%3A 10 more findings::10 more findings are not annotated here "
        "(GitHub shows at most 10 error and 10 warning annotations per step). All 39 are in "
        "the SARIF report (Security tab, after upload-sarif) and in this job's summary.")


def test_no_closing_notice_within_budget():
    findings = many_findings({Severity.HIGH: 10, Severity.MEDIUM: 10})
    out = github.render(sample_report(findings=findings, diagnostics=())).splitlines()
    assert len(out) == 21 and "more finding" not in out[-1]


def test_one_more_finding_reads_singular():
    findings = many_findings({Severity.HIGH: 11})
    out = github.render(sample_report(findings=findings, diagnostics=())).splitlines()
    assert out[-1].startswith("::notice title=checker%3A 1 more finding::1 more finding is "
                              "not annotated here")


def test_no_secret_in_clear():
    text = github.render(sample_report())
    for secret in RAW_SECRETS:
        assert secret not in text
