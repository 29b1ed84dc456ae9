"""The HTML report, checked with an HTML parser (the real-browser check is
``tests/browser_check.py``, run by ``make browser-check`` where chromium is installed)."""

from __future__ import annotations

import base64
import hashlib
import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from _integration_sample import RAW_SECRETS, sample_report
from checker.reporters import formats, html
from sample_report import RAW_SECRET, clean_report
from sample_report import sample_report as shared_sample


@dataclass
class Node:
    tag: str
    attrs: dict
    parent: "Node | None" = None
    children: list = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs) -> list["Node"]:
        return [n for n in self.walk()
                if (tag is None or n.tag == tag) and (cls is None or cls in n.classes())
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, *args, **kwargs) -> "Node":
        found = self.find_all(*args, **kwargs)
        assert len(found) == 1, (args, kwargs, len(found))
        return found[0]


VOID = {"meta", "input", "br", "img", "link", "col", "hr", "source", "wbr", "area", "base"}


class TreeBuilder(HTMLParser):
    """A strict little tree builder: end tags must match, so broken nesting fails."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.current.tag != tag:
            self.errors.append(f"</{tag}> closes <{self.current.tag}>")
            return
        self.current = self.current.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(text: str) -> Node:
    builder = TreeBuilder()
    builder.feed(text)
    builder.close()
    assert builder.errors == []
    assert builder.current is builder.root, f"unclosed <{builder.current.tag}>"
    return builder.root


@pytest.fixture(scope="module")
def page() -> str:
    return html.render(sample_report())


@pytest.fixture(scope="module")
def doc(page) -> Node:
    return parse(page)


def test_format_is_discovered():
    assert formats()["html"] is html


def test_self_contained(page, doc):
    assert page.startswith("<!DOCTYPE html>\n")
    assert doc.find_all("link") == [] and doc.find_all("img") == []
    assert doc.find_all("iframe") == [] and doc.find_all("object") == []
    [script] = doc.find_all("script")
    assert "src" not in script.attrs and script.text() == html.SCRIPT
    [style] = doc.find_all("style")
    assert style.text() == html.STYLE
    # Nothing points outside the page: only in-page anchors.
    refs = [n.attrs[a] for n in doc.walk() for a in ("src", "href", "action") if a in n.attrs]
    assert refs and all(r.startswith("#") for r in refs)
    assert not re.search(r"url\(|@import|https?://", html.STYLE + html.SCRIPT)


def test_content_security_policy_allows_only_the_inline_code(doc):
    [meta] = doc.find_all("meta", http_equiv="Content-Security-Policy")

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert meta.attrs["content"] == (
        f"default-src 'none'; style-src 'sha256-{digest(html.STYLE)}'; "
        f"script-src 'sha256-{digest(html.SCRIPT)}'; img-src data:; base-uri 'none'; "
        f"form-action 'none'")
    # No inline style or event-handler attributes, which the policy would block.
    assert [n.tag for n in doc.walk() if "style" in n.attrs or
            any(a.startswith("on") for a in n.attrs)] == []


def test_charts_are_drawn(doc):
    report = sample_report()
    gauge = doc.find("svg", cls="gauge")
    arc = gauge.find("circle", cls="arc")
    filled, total = map(float, arc.attrs["stroke-dasharray"].split())
    assert total == pytest.approx(2 * math.pi * 52, abs=0.01)
    assert filled == pytest.approx(total * report.score.overall / 100, abs=0.01)
    assert "grade-F" in arc.classes()
    assert [t.text() for t in gauge.find_all("text")] == ["58", "grade F"]

    bars = doc.find("svg", cls="sections").find_all("rect", cls="bar")
    assert [(b.attrs["width"], sorted(b.classes())) for b in bars] == [
        ("120.0", ["bar", "grade-F"]), ("274.8", ["bar", "grade-A"]),
        ("284.1", ["bar", "grade-A"])]
    labels = [g.find_all("text")[-1].text() for g in doc.find_all("g", cls="section-bar")]
    assert labels == ["40 F *", "92 A", "95 A"]

    segments = doc.find("svg", cls="severities").find_all("rect", cls="seg")
    assert [(sorted(s.classes())[1], s.find("title").text()) for s in segments] == [
        ("sev-critical", "Security: 1 critical"), ("sev-high", "Security: 3 high"),
        ("sev-medium", "Security: 1 medium"), ("sev-high", "Performance: 1 high"),
        ("sev-medium", "Performance: 1 medium"), ("sev-medium", "Architecture and operations: 1 medium"),
        ("sev-low", "Architecture and operations: 2 low"),
    ]


def test_a_section_with_nothing_to_check_has_an_empty_bar():
    doc = parse(html.render(clean_report()))
    groups = doc.find_all("g", cls="section-bar")
    assert [(g.find("rect", cls="bar").attrs["width"], g.find_all("text")[-1].text())
            for g in groups] == [("300.0", "100 A"), ("300.0", "100 A"), ("0.0", "n/a")]
    assert [p.text() for p in doc.find_all("p", cls="empty")] == ["No findings."]
    assert doc.find_all("form") == []


def test_checklist(doc):
    rows = [(r.attrs["data-status"], r.find_all("td")[2].text())
            for r in doc.find_all("tr", cls="status-row")]
    assert rows == [
        ("failed", "hardcoded-secret"), ("failed", "sql-string-built"), ("passed", "csrf-disabled"),
        ("failed", "tls-verify-disabled"), ("failed", "xss-unescaped-output"),
        ("disabled", "missing-rate-limiting"), ("manual-review", "pen-test"),
        ("failed", "n-plus-one-query"), ("not-applicable", "missing-db-index"),
        ("failed", "missing-request-timeout"), ("failed", "missing-health-check"),
        ("failed", "print-logging"), ("passed", "swallowed-exception"),
        ("manual-review", "incident-runbook"),
    ]
    # Failed items link to their findings.
    links = {a.attrs["href"] for a in doc.find("section", id="checklist").find_all("a")}
    assert links == {f"#rule-{s}" for s, e in [(r[1], r[0]) for r in rows] if e == "failed"}
    assert all(doc.find_all("section", id=h[1:]) for h in links)


def test_findings_and_filters(doc):
    findings = [(a.attrs["data-section"], a.attrs["data-severity"], a.attrs["data-rule"],
                 a.find("header").find("span", cls="where").text())
                for a in doc.find_all("article", cls="finding")]
    assert findings == [
        ("security", "critical", "hardcoded-secret", "app/settings.py:4"),
        ("security", "high", "hardcoded-secret", "app/settings.py:5"),
        ("security", "high", "sql-string-built", "app/repositories/orders.py:8\u201311"),
        ("security", "high", "tls-verify-disabled", "app/clients/payments.py:5"),
        ("security", "medium", "xss-unescaped-output", "app/views/profile.py:5\u20136"),
        ("performance", "high", "n-plus-one-query", "app/services/report.py:8\u201310"),
        ("performance", "medium", "missing-request-timeout", "app/clients/payments.py:5"),
        ("architecture", "medium", "missing-health-check", "app/main.py:5"),
        ("architecture", "low", "print-logging", "app/legacy/vieux mod\u00e8le.py:2"),
        ("architecture", "low", "print-logging", "app/services/report.py:11"),
    ]
    form = doc.find("form", id="filters")
    assert "hidden" in form.attrs  # shown by the script; without it every finding is listed
    boxes = [(i.attrs["name"], i.attrs["value"], "checked" in i.attrs)
             for i in form.find_all("input")]
    assert boxes == [
        ("section", "security", True), ("section", "performance", True),
        ("section", "architecture", True), ("severity", "critical", True),
        ("severity", "high", True), ("severity", "medium", True), ("severity", "low", True),
    ]
    # Every value the filters use is one the findings carry, and the other way round.
    assert {b[1] for b in boxes} == {f[0] for f in findings} | {f[1] for f in findings}
    # The script reads exactly these hooks.
    for hook in ('getElementById("filters")', 'querySelectorAll(".finding")',
                 'querySelectorAll(".group")', 'getElementById("shown")',
                 'getElementById("no-match")', '"data-section"', '"data-severity"'):
        assert hook in html.SCRIPT
    assert doc.find_all("p", id="no-match")[0].attrs.get("hidden") == ""


def test_markup_in_report_text_is_escaped(page, doc):
    message = doc.find("article", data_rule="xss-unescaped-output").find("p", cls="message")
    assert message.text() == ("Markup() around an f-string with <script>-capable data: name "
                              "reaches the page unescaped")
    assert "with &lt;script&gt;-capable data" in page
    assert page.count("<script") == 1
    snippet = doc.find("article", data_rule="xss-unescaped-output").find("pre")
    assert snippet.text() == '5    html = f"<b>{name}</b> ```"\n6    return Markup(html)'
    assert "&lt;b&gt;{name}&lt;/b&gt;" in page


def test_hostile_values_everywhere_stay_text():
    from dataclasses import replace

    evil = '"><script>alert(1)</script><svg onload=alert(2)>'
    report = sample_report()
    finding = replace(report.findings[0], rule=evil, path=evil, message=evil, snippet=evil,
                      engine=evil)
    report = replace(report, findings=(finding,), root=evil, tool_version=evil,
                     extra={"diff": {"base": evil, "merge_base": evil, "score_before": 1,
                                     "grade_before": evil, "score_after": 2,
                                     "grade_after": evil}})
    text = html.render(report)
    assert text.count("<script") == 1 and "<svg onload" not in text
    doc = parse(text)
    assert [n.tag for n in doc.walk() if any(a.startswith("on") for a in n.attrs)] == []
    [article] = doc.find_all("article")
    assert article.attrs["data-rule"] == evil
    assert article.find("p", cls="message").text() == evil


def test_diff_scores_shown(doc):
    assert doc.find("p", cls="diff").text() == (
        "Whole project: score at main (4f2c9e1) 64.9 (D) \u2192 now 58.4 (F), -6.5. "
        "Findings below are only those on lines changed since main.")
    assert parse(html.render(sample_report(extra={}))).find_all("p", cls="diff") == []


def test_no_secret_in_clear(page):
    for secret in RAW_SECRETS:
        assert secret not in page
    assert RAW_SECRET not in html.render(shared_sample())


def test_findings_of_unknown_rules_get_an_other_filter():
    from dataclasses import replace

    report = sample_report()
    odd = replace(report.findings[0], rule="from-a-plugin")
    doc = parse(html.render(replace(report, findings=(odd, report.findings[3]))))
    assert [(a.attrs["data-section"], a.attrs["data-rule"])
            for a in doc.find_all("article", cls="finding")] == [
        ("security", "tls-verify-disabled"), ("other", "from-a-plugin")]
    assert [i.attrs["value"] for i in doc.find_all("input", name="section")] == [
        "security", "other"]


def test_code_spans_in_messages():
    doc = parse(html.render(sample_report()))
    message = doc.find("article", data_rule="sql-string-built").find("p", cls="message")
    assert [c.text() for c in message.find_all("code")] == ["cur.execute"]
    assert message.text() == ("SQL built with an f-string reaches cur.execute: pass the values "
                              "as parameters")
    summary = doc.find("section", id="rule-print-logging").find("p", cls="muted")
    assert [c.text() for c in summary.find_all("code")] == ["print()"]
