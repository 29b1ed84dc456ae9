"""One self-contained HTML page: score charts, the checklist, and filterable findings.

The page holds everything it shows: styles and a small script are inlined, the charts
are SVG drawn here, and a Content-Security-Policy forbids loading anything else, so it
opens the same offline, as a CI artifact or from an e-mail. Without JavaScript every
finding is listed; with it, checkboxes filter the findings by section and severity (the
choice is kept in the address's ``#section=...&severity=...`` part, so a filtered view can
be linked). All report text is HTML-escaped; snippets are the engine's redacted ones.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections import Counter, defaultdict
from html import escape

from checker.model import Finding, Report, Section, Severity, Status
from checker.redact import redact
from checker.reporters import diff_scores
from checker.reporters._html import SCRIPT, STYLE

NAME = "html"
EXTENSION = ".html"

SECTIONS = (Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE)
SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO)
STATUS_TEXT = {
    Status.PASSED: "\u2714 passed", Status.FAILED: "\u2718 failed",
    Status.NOT_APPLICABLE: "\u2013 not applicable", Status.MANUAL: "\u2691 manual review",
    Status.DISABLED: "\u25cb disabled",
}


def e(text) -> str:
    return escape(str(text), quote=True)


def rich(text) -> str:
    """Escaped text with Markdown-style `code` spans shown as code (messages use them)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", e(text))


def _grade_class(grade: str) -> str:
    return f"grade-{grade}" if grade in ("A", "B", "C", "D", "F") else "grade-na"


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# ----------------------------------------------------------------------------- charts


def gauge(score: float, grade: str, label: str = "Overall score") -> str:
    """A ring filled to ``score`` percent, the score and grade in its middle."""
    radius, width = 52.0, 14.0
    circumference = 2 * math.pi * radius
    filled = max(0.0, min(100.0, score)) / 100 * circumference
    cls = _grade_class(grade)
    return (
        f'<svg class="gauge" width="150" height="150" viewBox="0 0 150 150" role="img" '
        f'aria-label="{e(label)}: {score:.1f} of 100, grade {e(grade)}">'
        f"<title>{e(label)}: {score:.1f} / 100 ({e(grade)})</title>"
        f'<circle class="track" cx="75" cy="75" r="{radius:g}" stroke-width="{width:g}"/>'
        f'<circle class="arc {cls}" cx="75" cy="75" r="{radius:g}" stroke-width="{width:g}" '
        f'stroke-dasharray="{filled:.2f} {circumference:.2f}" stroke-linecap="butt" '
        f'transform="rotate(-90 75 75)"/>'
        f'<text x="75" y="76" text-anchor="middle" font-size="30" font-weight="700">'
        f"{score:.0f}</text>"
        f'<text x="75" y="102" text-anchor="middle" font-size="15">grade {e(grade)}</text>'
        f"</svg>"
    )


def section_bars(report: Report) -> str:
    """One horizontal bar per section, 0-100, coloured by grade."""
    rows = report.score.sections
    left, width, row = 190, 300, 34
    height = max(len(rows), 1) * row + 24
    parts = [f'<svg class="sections" width="{left + width + 80}" height="{height}" '
             f'viewBox="0 0 {left + width + 80} {height}" role="img" '
             f'aria-label="Score per section"><title>Score per section</title>']
    for i, section in enumerate(rows):
        y = 8 + i * row
        size = max(0.0, min(100.0, section.score)) / 100 * width
        name = Section(section.section).title
        if section.grade == "n/a":  # nothing in the code this section applies to
            size, label = 0.0, "n/a"
        else:
            label = f"{section.score:.0f} {e(section.grade)}" + (" *" if section.capped else "")
        parts.append(
            f'<g class="section-bar" data-section="{e(Section(section.section).value)}">'
            f'<text x="0" y="{y + 17}" font-size="14">{e(name)}</text>'
            f'<rect class="bar-bg" x="{left}" y="{y + 2}" width="{width}" height="20" rx="4"/>'
            f'<rect class="bar {_grade_class(section.grade)}" x="{left}" y="{y + 2}" '
            f'width="{size:.1f}" height="20" rx="4"><title>{e(name)}: {section.score:.1f} '
            f'({e(section.grade)})</title></rect>'
            f'<text x="{left + width + 8}" y="{y + 17}" font-size="14" font-weight="600">'
            f'{label}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def severity_bars(report: Report) -> str:
    """Findings per section, stacked by severity."""
    counts: dict[Section, Counter] = defaultdict(Counter)
    for finding in report.findings:
        meta = report.rules.get(finding.rule)
        if meta is not None:
            counts[Section(meta.section)][finding.severity] += 1
    most = max((sum(c.values()) for c in counts.values()), default=0)
    left, width, row = 190, 300, 34
    height = len(SECTIONS) * row + 40
    parts = [f'<svg class="severities" width="{left + width + 60}" height="{height}" '
             f'viewBox="0 0 {left + width + 60} {height}" role="img" '
             f'aria-label="Findings per section by severity">'
             f"<title>Findings per section by severity</title>"]
    for i, section in enumerate(SECTIONS):
        y = 8 + i * row
        parts.append(f'<text x="0" y="{y + 17}" font-size="14">{e(section.title)}</text>')
        x = float(left)
        for severity in SEVERITIES:
            n = counts[section][severity]
            if not n:
                continue
            size = n / most * width
            parts.append(
                f'<rect class="seg sev-{severity.label}" x="{x:.1f}" y="{y + 2}" '
                f'width="{size:.1f}" height="20"><title>{e(section.title)}: {n} '
                f'{severity.label}</title></rect>')
            x += size
        total = sum(counts[section].values())
        parts.append(f'<text x="{x + 8:.1f}" y="{y + 17}" font-size="14">{total}</text>')
    # legend
    y = 8 + len(SECTIONS) * row + 6
    x = 0
    for severity in SEVERITIES:
        parts.append(f'<rect class="sev-{severity.label}" x="{x}" y="{y}" width="12" '
                     f'height="12"/><text x="{x + 16}" y="{y + 11}" font-size="12">'
                     f"{severity.label}</text>")
        x += 90
    parts.append("</svg>")
    return "".join(parts)


def diff_block(report: Report) -> str:
    d = diff_scores(report)
    if d is None:
        return ""
    trend = "up" if d.change > 0.05 else ("down" if d.change < -0.05 else "same")
    where = e(d.base) + (f" (<code>{e(d.merge_base)}</code>)" if d.merge_base else "")
    return (f'<p class="diff">Whole project: score at {where} {d.before:.1f} '
            f'({e(d.grade_before)}) \u2192 now {d.after:.1f} '
            f'({e(d.grade_after)}), <span class="{trend}">{d.change:+.1f}</span>. '
            f'Findings below are only those on lines changed since {e(d.base)}.</p>')


# ----------------------------------------------------------------------------- sections


def _head(report: Report) -> str:
    score = report.score
    n = len(report.findings)
    facts = [f"{n} finding{'s' if n != 1 else ''}",
             f"{report.files_scanned} file{'s' if report.files_scanned != 1 else ''} scanned",
             f"{score.lines_of_code} lines of code"]
    if report.baseline_matched:
        facts.append(f"{report.baseline_matched} known from the baseline")
    if report.suppressed:
        facts.append(f"{report.suppressed} suppressed")
    notes = []
    if score.capped:
        notes.append("capped by a critical security finding")
    info = (report.extra or {}).get("diff")
    if isinstance(info, dict) and info.get("base"):
        notes.append(f"changes since {info['base']}")
    capped = f' <span class="muted">({e("; ".join(notes))})</span>' if notes else ""
    return (
        f"<header><h1>Code review checklist: {score.overall:.1f} / 100, grade "
        f"{e(score.grade)}{capped}</h1>"
        f'<p class="meta">{e(report.root)}</p>'
        f'<p class="facts">{e(", ".join(facts))}.</p>{diff_block(report)}</header>'
        f'<section class="charts" aria-label="Scores">'
        f'<div class="chart"><h3>Overall</h3>{gauge(score.overall, score.grade)}</div>'
        f'<div class="chart"><h3>Sections</h3>{section_bars(report)}</div>'
        f'<div class="chart"><h3>Findings by severity</h3>{severity_bars(report)}</div>'
        f"</section>"
    )


def _checklist(report: Report) -> str:
    out = ['<section id="checklist"><h2>Checklist</h2>']
    for section in SECTIONS:
        entries = [x for x in report.checklist if Section(x.section) is section]
        if not entries:
            continue
        out.append(f'<h3>{e(section.title)}</h3><table class="checklist" '
                   f'data-section="{section.value}"><colgroup><col class="c-status">'
                   f'<col class="c-item"><col class="c-rule"><col class="c-result"></colgroup>'
                   f"<thead><tr><th>Status</th><th>Checklist item</th><th>Rule</th>"
                   f"<th>Result</th></tr></thead><tbody>")
        for entry in entries:
            status = Status(entry.status)
            if status is Status.FAILED:
                result = (f"{entry.findings} finding{'s' if entry.findings != 1 else ''}, "
                          f"\u2212{entry.points:.1f} points")
            elif status is Status.PASSED:
                result = f"{entry.checked} place{'s' if entry.checked != 1 else ''} checked"
            else:
                result = entry.note
            link = (f'<a href="#rule-{e(entry.slug)}">{e(entry.slug)}</a>'
                    if status is Status.FAILED else e(entry.slug))
            out.append(f'<tr class="status-row" data-status="{status.value}">'
                       f'<td class="status status-{status.value}">{STATUS_TEXT[status]}</td>'
                       f"<td>{e(entry.checklist)}</td><td><code>{link}</code></td>"
                       f"<td>{e(result)}</td></tr>")
        out.append("</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _filters(report: Report) -> str:
    present_sections = {
        Section(report.rules[f.rule].section) for f in report.findings if f.rule in report.rules}
    present_severities = {f.severity for f in report.findings}
    sec = "".join(
        f'<label><input type="checkbox" name="section" value="{s.value}" checked> '
        f'{e(s.title)}</label>' for s in SECTIONS if s in present_sections)
    sev = "".join(
        f'<label><input type="checkbox" name="severity" value="{s.label}" checked> '
        f'<span class="badge sev-{s.label}">{s.label}</span></label>'
        for s in SEVERITIES if s in present_severities)
    if any(f.rule not in report.rules for f in report.findings):
        sec += '<label><input type="checkbox" name="section" value="other" checked> Other</label>'
    return (f'<form id="filters" hidden><fieldset><legend>Section</legend>{sec}</fieldset>'
            f"<fieldset><legend>Severity</legend>{sev}</fieldset>"
            f'<span id="shown" aria-live="polite"></span></form>')


def _snippet(finding: Finding) -> str:
    text = redact(finding.snippet)
    rows = []
    for offset, line in enumerate(text.split("\n")):
        rows.append(f'<span class="lineno">{finding.span.line + offset}</span>{e(line)}')
    return "<pre><code>" + "\n".join(rows) + "</code></pre>"


def _finding(finding: Finding, section: str) -> str:
    span = finding.span
    lines = f"{span.line}" + (f"\u2013{span.end_line}" if span.end_line > span.line else "")
    parts = [
        f'<article class="finding" data-section="{e(section)}" '
        f'data-severity="{finding.severity.label}" data-rule="{e(finding.rule)}">'
        f'<header><span class="badge sev-{finding.severity.label}">'
        f"{finding.severity.label}</span>"
        f'<span class="where">{e(finding.path)}:{lines}</span>'
        f'<span class="meta">{finding.confidence.label} confidence'
        + (f", \u2212{finding.points:.1f} points" if finding.points else "")
        + f", {e(finding.engine)}</span></header>"
        f'<p class="message">{rich(redact(finding.message))}</p>'
    ]
    if finding.related:
        parts.append('<ul class="related">' + "".join(
            f'<li><span class="where">{e(r.path or finding.path)}:{r.line}</span> '
            f"{rich(redact(r.message))}</li>" for r in finding.related) + "</ul>")
    if finding.snippet:
        parts.append(_snippet(finding))
    parts.append("</article>")
    return "".join(parts)


def _findings(report: Report) -> str:
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_rule[finding.rule].append(finding)
    order = [x.slug for x in report.checklist if x.slug in by_rule]
    order += sorted(s for s in by_rule if s not in order)
    out = ['<section id="findings"><h2>Findings</h2>']
    if not order:
        out.append('<p class="empty">No findings.</p></section>')
        return "".join(out)
    out.append(_filters(report))
    for slug in order:
        meta = report.rules.get(slug)
        section = Section(meta.section).value if meta else "other"
        wording = meta.checklist if meta else slug
        found = sorted(by_rule[slug], key=lambda f: (-int(f.severity), -int(f.confidence),
                                                    f.path, f.span.line, f.span.column))
        summary = f"<p class=\"muted\">{rich(meta.summary)}</p>" if meta and meta.summary else ""
        out.append(f'<section class="group" id="rule-{e(slug)}" data-section="{e(section)}">'
                   f'<h3>{e(wording)} <span class="slug">({e(slug)}, {len(found)})</span></h3>'
                   f"{summary}" + "".join(_finding(f, section) for f in found) + "</section>")
    out.append('<p id="no-match" class="empty" hidden>No finding matches the filters.</p>')
    out.append("</section>")
    return "".join(out)


def _tail(report: Report) -> str:
    out = []
    if report.diagnostics:
        out.append('<section id="diagnostics"><h2>Suppression comments</h2><ul>')
        for f in sorted(report.diagnostics, key=Finding.sort_key):
            out.append(f'<li><span class="where">{e(f.path)}:{f.span.line}</span> '
                       f"{e(redact(f.message))} <code>{e(f.rule)}</code></li>")
        out.append("</ul></section>")
    missing = [x for x in report.engines if not x.ran]
    if missing or report.skipped:
        out.append('<section id="not-scanned"><h2>Not scanned</h2><ul>')
        for engine in missing:
            out.append(f"<li>engine <code>{e(engine.name)}</code> did not run: "
                       f"{e(engine.detail)}</li>")
        for skipped in report.skipped:
            out.append(f'<li><span class="where">{e(skipped.path)}</span>: '
                       f"{e(skipped.reason)}</li>")
        out.append("</ul></section>")
    if report.score.formula:
        out.append(f'<footer><p>Scoring: <code>{e(report.score.formula)}</code></p>'
                   f"<p>checker {e(report.tool_version)}</p></footer>")
    else:
        out.append(f"<footer><p>checker {e(report.tool_version)}</p></footer>")
    return "".join(out)


def render(report: Report, options=None) -> str:
    csp = (f"default-src 'none'; style-src {_csp_hash(STYLE)}; "
           f"script-src {_csp_hash(SCRIPT)}; img-src data:; base-uri 'none'; form-action 'none'")
    title = f"checker: {report.score.overall:.1f} ({report.score.grade})"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="checker {e(report.tool_version)}">'
        f"<title>{e(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><main>{_head(report)}{_checklist(report)}{_findings(report)}{_tail(report)}"
        f"</main><script>{SCRIPT}</script></body></html>\n"
    )
