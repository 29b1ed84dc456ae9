"""GitHub-flavoured Markdown: the scored checklist and its findings.

Written for ``$GITHUB_STEP_SUMMARY`` and pull-request comments: a scores table, the
checklist with a tick per item, then the findings grouped by checklist item inside
collapsible ``<details>`` blocks, each with its redacted code excerpt. GitHub refuses a
step summary over 1 MiB, so the output is kept under :data:`LIMIT` bytes: findings that do
not fit are left out and a closing note says how many.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict

from checker.model import Finding, Report, Section, Status
from checker.redact import redact
from checker.reporters import diff_scores

NAME = "markdown"
EXTENSION = ".md"

LIMIT = 1024 * 1024 - 4096  # GitHub's step-summary limit is 1 MiB; keep a margin.

SECTION_ORDER = (Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE)
STATUS_MARK = {
    Status.PASSED: ("\u2705", "passed"),
    Status.FAILED: ("\u274c", "failed"),
    Status.NOT_APPLICABLE: ("\u2796", "not applicable"),
    Status.MANUAL: ("\U0001f50d", "manual review"),
    Status.DISABLED: ("\u23f8\ufe0f", "disabled"),
}
SEVERITY_MARK = {"critical": "\U0001f7e5", "high": "\U0001f7e7", "medium": "\U0001f7e8",
                 "low": "\U0001f7e6", "info": "\u2b1c"}
LANGUAGE_BY_SUFFIX = {
    ".py": "python", ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".ts": "typescript", ".tsx": "typescript", ".go": "go",
    ".yml": "yaml", ".yaml": "yaml", ".json": "json", ".toml": "toml", ".ini": "ini",
    ".cfg": "ini", ".sql": "sql", ".sh": "bash",
}


def fence(text: str, language: str = "") -> str:
    """``text`` in a fenced code block that no run of backticks inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{language}\n{text}\n{marks}"


def language_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name == "Dockerfile" or name.startswith("Dockerfile."):
        return "dockerfile"
    if name.startswith(".env"):
        return "dotenv"
    dot = name.rfind(".")
    return LANGUAGE_BY_SUFFIX.get(name[dot:].lower(), "") if dot > 0 else ""


_MARKUP = re.compile(r"([\\`*_\[\]|~])")


def inline(text: str) -> str:
    """Plain text made safe inside a Markdown line or table cell: no markup, no HTML, no
    line breaks, and no ``@name`` that would notify someone on GitHub."""
    text = " ".join(str(text).split())
    text = _MARKUP.sub(r"\\\1", html.escape(text, quote=False))
    return re.sub(r"@(?=\w)", "@\u200b", text)


def code(text: str) -> str:
    """Inline code that survives backticks in ``text``."""
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{marks}{pad}{text}{pad}{marks}"


def location(finding: Finding) -> str:
    span = finding.span
    end = f"-{span.end_line}" if span.end_line > span.line else ""
    return f"{finding.path}:{span.line}{end}"


def severity_rank(finding: Finding) -> tuple:
    """Most severe first, then most confident, then by place."""
    return (-int(finding.severity), -int(finding.confidence), finding.path, finding.span.line,
            finding.span.column, finding.rule)


def _score(value: float) -> str:
    return f"{value:.1f}"


def diff_line(report: Report) -> str:
    """The whole project's score at the diff base and now, when diff mode ran (the
    report's own score then covers the changed lines only)."""
    d = diff_scores(report)
    if d is None:
        return ""
    sign = "+" if d.change > 0 else ("\u00b1" if abs(d.change) < 0.05 else "")
    base = inline(d.base)
    where = f"{base} ({code(d.merge_base)})" if d.merge_base else base
    return (f"Whole project: score at {where} **{_score(d.before)}** "
            f"({inline(d.grade_before)}) \u2192 now **{_score(d.after)}** "
            f"({inline(d.grade_after)}), **{sign}{d.change:.1f}**. "
            f"Findings below are only those on lines changed since {base}.")


def _head(report: Report) -> list[str]:
    score = report.score
    new = len(report.findings)
    notes = []
    if score.capped:
        notes.append("capped by a critical security finding")
    info = (report.extra or {}).get("diff")
    if isinstance(info, dict) and info.get("base"):
        notes.append(f"changes since {inline(info['base'])}")
    out = [
        f"## checker: {_score(score.overall)} / 100, grade {score.grade}"
        + (f" ({'; '.join(notes)})" if notes else ""),
        "",
    ]
    line = diff_line(report)
    if line:
        out += [line, ""]
    facts = [f"{new} finding{'s' if new != 1 else ''}",
             f"{report.files_scanned} file{'s' if report.files_scanned != 1 else ''} scanned",
             f"{score.lines_of_code} lines of code"]
    if report.baseline_matched:
        facts.append(f"{report.baseline_matched} known from the baseline")
    if report.suppressed:
        facts.append(f"{report.suppressed} suppressed")
    out += [", ".join(facts) + ".", ""]
    out += ["| Section | Score | Grade | Points lost |", "|---|---:|:---:|---:|"]
    for section in score.sections:
        note = " (capped)" if section.capped else ""
        value = _score(section.score)
        if section.grade == "n/a":  # nothing in the code this section applies to
            value, note = "\u2013", " (nothing to check)"
        out.append(f"| {Section(section.section).title} | {value} | "
                   f"{section.grade}{note} | {section.points:.1f} |")
    out.append(f"| **Overall** | **{_score(score.overall)}** | **{score.grade}** | |")
    out.append("")
    return out


def _checklist(report: Report) -> list[str]:
    out = ["### Checklist", ""]
    for section in SECTION_ORDER:
        entries = [e for e in report.checklist if Section(e.section) is section]
        if not entries:
            continue
        failed = sum(1 for e in entries if e.status is Status.FAILED)
        passed = sum(1 for e in entries if e.status is Status.PASSED)
        out.append(f"**{section.title}**: {passed} passed, {failed} failed")
        out.append("")
        for entry in entries:
            mark, label = STATUS_MARK[Status(entry.status)]
            box = "x" if entry.status is Status.PASSED else " "
            text = f"- [{box}] {mark} {inline(entry.checklist)} ({code(entry.slug)})"
            if entry.status is Status.FAILED:
                count = entry.findings
                text += f": {count} finding{'s' if count != 1 else ''}, -{entry.points:.1f} points"
            elif entry.note:
                text += f": {inline(entry.note)}"
            else:
                text += f": {label}"
            out.append(text)
        out.append("")
    return out


def _finding_block(finding: Finding) -> str:
    sev = finding.severity.label
    lines = [f"- {SEVERITY_MARK.get(sev, '')} **{sev}** ({finding.confidence.label} confidence) "
             f"{code(location(finding))}: {inline(finding.message)}"]
    if finding.points:
        lines[0] += f" (-{finding.points:.1f} points)"
    for rel in finding.related:
        where = f"{rel.path or finding.path}:{rel.line}"
        lines.append(f"  - {code(where)}: {inline(rel.message)}")
    if finding.snippet:
        block = fence(redact(finding.snippet), language_of(finding.path))
        lines.append("")
        lines.extend("  " + row if row else "" for row in block.split("\n"))
    return "\n".join(lines) + "\n"


def _groups(report: Report) -> list[tuple[str, str, list[Finding]]]:
    """(slug, checklist wording, findings) in checklist order; unknown rules last."""
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_rule[finding.rule].append(finding)
    order = [e.slug for e in report.checklist if e.slug in by_rule]
    order += sorted(s for s in by_rule if s not in order)
    groups = []
    for slug in order:
        meta = report.rules.get(slug)
        wording = meta.checklist if meta else slug
        groups.append((slug, wording, sorted(by_rule[slug], key=severity_rank)))
    return groups


def _tail(report: Report) -> list[str]:
    out: list[str] = []
    if report.diagnostics:
        out += ["### Suppression comments", ""]
        for finding in sorted(report.diagnostics, key=Finding.sort_key):
            out.append(f"- {code(location(finding))}: {inline(finding.message)} "
                       f"({code(finding.rule)})")
        out.append("")
    missing = [e for e in report.engines if not e.ran]
    if missing or report.skipped:
        out += ["### Not scanned", ""]
        for engine in missing:
            out.append(f"- engine {code(engine.name)} did not run: {inline(engine.detail)}")
        for skipped in report.skipped:
            out.append(f"- {code(skipped.path)}: {inline(skipped.reason)}")
        out.append("")
    out.append(f"<sub>checker {inline(report.tool_version)}</sub>")
    out.append("")
    return out


def render(report: Report, options=None) -> str:
    head = "\n".join(_head(report) + _checklist(report))
    tail = "\n".join(_tail(report))
    groups = _groups(report)
    total = sum(len(found) for _, _, found in groups)

    parts: list[str] = []
    if total:
        parts.append("### Findings\n")
    else:
        parts.append("### Findings\n\nNo findings.\n")
    size = len(head.encode()) + len(tail.encode()) + 2 + len(parts[0].encode())
    shown = 0
    reserve = 600  # room for the truncation note
    state = " open" if total <= 20 else ""  # long reports start folded
    for slug, wording, found in groups:
        opener = (f"<details{state}>\n<summary><b>{html.escape(wording, quote=False)}</b> "
                  f"(<code>{html.escape(slug)}</code>): {len(found)} "
                  f"finding{'s' if len(found) != 1 else ''}</summary>\n\n")
        closer = "</details>\n"
        blocks: list[str] = []
        used = len(opener.encode()) + len(closer.encode())
        for finding in found:
            block = _finding_block(finding) + "\n"
            cost = len(block.encode())
            if size + used + cost + reserve > LIMIT:
                break
            blocks.append(block)
            used += cost
        if not blocks:
            break
        parts.append(opener + "".join(blocks) + closer)
        size += used
        shown += len(blocks)
        if len(blocks) < len(found):
            break
    if shown < total:
        left = total - shown
        parts.append(
            f"\n> [!NOTE]\n> This summary is cut to stay under GitHub's 1 MiB limit: "
            f"{left} more finding{'s' if left != 1 else ''} not shown here. "
            f"The SARIF and JSON reports hold every finding.\n"
        )
    return head + "\n" + "\n".join(parts) + "\n" + tail
