"""The terminal report: a score panel, the checklist with its ticks, the findings grouped
by checklist item, then what was skipped and why.

Rendered with rich into a string. With ``color=False`` the result is plain text with no
escape sequences (what is printed when the output is piped or ``NO_COLOR`` is set).
"""

from __future__ import annotations

import io
from collections import defaultdict

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from checker.model import ChecklistEntry, Confidence, Finding, Report, Section, Severity, Status
from checker.reporters import RenderOptions

NAME = "terminal"
EXTENSION = "txt"

SECTIONS = (Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE)

MARKS = {
    Status.PASSED: ("✔", "green"),
    Status.FAILED: ("✘", "bold red"),
    Status.NOT_APPLICABLE: ("–", "dim"),
    Status.MANUAL: ("?", "magenta"),
    Status.DISABLED: ("○", "dim"),
}
SEVERITY_STYLES = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
GRADE_STYLES = {"A": "bold green", "B": "green", "C": "yellow", "D": "bold dark_orange", "F": "bold red"}
SNIPPET_LINES = 3
SNIPPET_WIDTH = 90


def render(report: Report, options: RenderOptions) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=options.width,
        height=25,  # with both set, rich never asks the terminal (nor TERM) for a size
        color_system="truecolor" if options.color else None,
        force_terminal=options.color,
        force_jupyter=False,
        force_interactive=False,
        no_color=not options.color,
        legacy_windows=False,
        emoji=False,
        highlight=False,
        markup=False,
        soft_wrap=False,
        tab_size=4,
    )
    for block in _blocks(report, options):
        console.print(block)
    text = buffer.getvalue()
    if not options.color:
        # Tables pad their cells with spaces; plain text has no use for trailing blanks.
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return text


def _blocks(report: Report, options: RenderOptions):
    yield _score_panel(report, options)
    yield Text()
    yield from _checklist(report)
    yield from _findings(report)
    yield from _diagnostics(report)
    yield from _skipped(report)
    yield from _engines(report)
    yield _footer(report)


# -- helpers ----------------------------------------------------------------------------


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _grade(grade: str) -> Text:
    return Text(grade, style=GRADE_STYLES.get(grade, "dim"))


def _points(points: float) -> str:
    return f"-{points:.1f} pts" if points > 0 else ""


def _heading(title: str, detail: str = "") -> Text:
    text = Text(title, style="bold underline")
    if detail:
        text.append("  " + detail, style="dim")
    return text


def _location(path: str, line: int, column: int | None = None) -> str:
    return f"{path}:{line}" + (f":{column}" if column else "")


# -- the score panel ----------------------------------------------------------------------


def _score_panel(report: Report, options: RenderOptions) -> Panel:
    score = report.score
    grid = Table.grid(padding=(0, 3))
    grid.add_column(no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column()

    overall = Text(f"{score.overall:.1f}", style="bold")
    grid.add_row(Text("Overall", style="bold"), overall, _grade(score.grade), "", "")
    for section in score.sections:
        applies = section.grade != "n/a"
        grid.add_row(
            Text("  " + section.section.title),
            Text(f"{section.score:.1f}" if applies else "-", style="" if applies else "dim"),
            _grade(section.grade),
            Text(_points(section.points), style="dim"),
            Text("capped" if section.capped else ("no applicable rules" if not applies else ""),
                 style="red" if section.capped else "dim"),
        )

    total = len(report.findings)
    facts = [
        _plural(score.lines_of_code, "line") + " of code",
        _plural(report.files_scanned, "file") + " scanned",
    ]
    if report.skipped:
        facts.append(f"{len(report.skipped):,} skipped")
    facts.append(_plural(total, "finding"))
    body: list[RenderableType] = [grid]
    if score.capped:
        body += [Text(), Text("Capped: a critical security finding limits the security and overall scores.",
                              style="red")]
    body += [Text(), Text(" · ".join(facts), style="dim")]
    if options.verbose and score.formula:
        body += [Text(), Text("Formula: " + score.formula, style="dim")]
    title = Text(f"checker {report.tool_version}", style="bold")
    return Panel(Group(*body), title=title, title_align="left", subtitle=Text(report.root, style="dim"),
                 subtitle_align="right", box=box.ROUNDED, padding=(1, 2), expand=True)


# -- the checklist --------------------------------------------------------------------------


def _checklist(report: Report):
    by_section: dict[Section, list[ChecklistEntry]] = defaultdict(list)
    for entry in report.checklist:
        by_section[entry.section].append(entry)
    manual = {item.key: item for item in report.manual}
    scores = {s.section: s for s in report.score.sections}

    for section in SECTIONS:
        entries = by_section.get(section)
        if not entries:
            continue
        sscore = scores.get(section)
        heading = _heading(section.title)
        if sscore is not None and sscore.grade != "n/a":
            heading.append(f"  {sscore.score:.1f} ", style="bold")
            heading.append_text(_grade(sscore.grade))
        tally = defaultdict(int)
        for entry in entries:
            tally[entry.status] += 1
        labels = ((Status.FAILED, "failed"), (Status.PASSED, "passed"), (Status.NOT_APPLICABLE, "not applicable"),
                  (Status.DISABLED, "disabled"), (Status.MANUAL, "manual review"))
        heading.append("  " + " · ".join(f"{tally[s]} {label}" for s, label in labels if tally[s]), style="dim")
        yield heading

        table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False, expand=True)
        table.add_column(width=1, no_wrap=True)
        table.add_column(ratio=1, overflow="fold")
        table.add_column(no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        for entry in entries:
            mark, style = MARKS[entry.status]
            item = Text(entry.checklist)
            if entry.status is not Status.MANUAL:
                item.append("  " + entry.slug, style="dim")
            else:
                details = manual.get(entry.slug)
                hint = details.hint if details else entry.note
                if hint:
                    item.append("\n" + hint, style="dim")
                if details and details.signals:
                    item.append("\nseen: " + ", ".join(details.signals), style="dim")
            table.add_row(
                Text(mark, style=style),
                item,
                _status_text(entry),
                Text(_points(entry.points), style="red"),
            )
        yield Padding(table, (0, 0, 1, 1))


def _status_text(entry: ChecklistEntry) -> Text:
    if entry.status is Status.FAILED:
        return Text(_plural(entry.findings, "finding"), style="bold red")
    if entry.status is Status.PASSED:
        return Text("passed", style="green") + Text(f" · {entry.checked:,} checked", style="dim")
    if entry.status is Status.NOT_APPLICABLE:
        return Text("not applicable", style="dim")
    if entry.status is Status.MANUAL:
        return Text("manual review", style="magenta")
    return Text("disabled", style="dim")


# -- findings ---------------------------------------------------------------------------------


def _findings(report: Report):
    if not report.findings:
        yield Text("No findings.", style="bold green")
        yield Text()
        return
    yield _heading("Findings", _plural(len(report.findings), "finding"))
    yield Text()

    grouped: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        grouped[finding.rule].append(finding)
    order = [e.slug for e in report.checklist if e.slug in grouped]
    order += sorted(slug for slug in grouped if slug not in order)

    for slug in order:
        group = sorted(grouped[slug], key=Finding.sort_key)
        meta = report.rules.get(slug)
        title = Text("✘ ", style="bold red")
        title.append(slug, style="bold")
        if meta is not None:
            title.append(f"  {meta.checklist}")
        points = sum(f.points for f in group)
        if points > 0:
            title.append(f"  {_points(points)}", style="red")
        yield title

        for finding in group:
            head = Text("  ")
            head.append(_location(finding.path, finding.span.line, finding.span.column), style="bold")
            head.append("  ")
            head.append(Severity(finding.severity).label, style=SEVERITY_STYLES[Severity(finding.severity)])
            if finding.points > 0:
                head.append(f"  {_points(finding.points)}", style="dim red")
            yield head
            yield Padding(_finding_body(finding), (0, 0, 0, 4))
        yield Text()


def _finding_body(finding: Finding) -> Text:
    body = Text(finding.message)
    confidence = Confidence(finding.confidence)
    if confidence is not Confidence.HIGH:
        body.append(f" [{confidence.label} confidence]", style="dim")
    if finding.engine and finding.engine != "checker":
        body.append(f" [{finding.engine}]", style="dim")
    for line in _snippet_lines(finding.snippet):
        body.append("\n│ " + line, style="dim")
    for related in finding.related:
        body.append("\n↳ " + _location(related.path, related.line), style="cyan")
        if related.message:
            body.append("  " + related.message, style="dim")
    return body


def _snippet_lines(snippet: str) -> list[str]:
    lines = [line.rstrip() for line in snippet.expandtabs(4).splitlines() if line.strip()]
    if not lines:
        return []
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    lines = [line[indent:] for line in lines]
    shown = lines[:SNIPPET_LINES]
    shown = [line if len(line) <= SNIPPET_WIDTH else line[: SNIPPET_WIDTH - 1] + "…" for line in shown]
    if len(lines) > SNIPPET_LINES:
        shown.append("…")
    return shown


# -- diagnostics, skipped files, engines, footer ------------------------------------------------


def _diagnostics(report: Report):
    if not report.diagnostics:
        return
    yield _heading("Suppression comments", _plural(len(report.diagnostics), "problem"))
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="bold")
    table.add_column(ratio=1, overflow="fold")
    for diag in sorted(report.diagnostics, key=Finding.sort_key):
        body = Text(diag.message)
        body.append(f" [{diag.rule}]", style="dim")
        table.add_row(_location(diag.path, diag.span.line, diag.span.column), body)
    yield Padding(table, (0, 0, 1, 2))


def _skipped(report: Report):
    if not report.skipped:
        return
    yield _heading("Skipped files", _plural(len(report.skipped), "file"))
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="bold")
    table.add_column(ratio=1, overflow="fold", style="dim")
    for item in sorted(report.skipped, key=lambda s: s.path):
        table.add_row(item.path, item.reason)
    yield Padding(table, (0, 0, 1, 2))


def _engines(report: Report):
    if not report.engines:
        return
    yield _heading("Engines")
    table = Table.grid(padding=(0, 2))
    table.add_column(width=1, no_wrap=True)
    table.add_column(no_wrap=True, style="bold")
    table.add_column(ratio=1, overflow="fold")
    for engine in report.engines:
        if engine.ran:
            detail = Text(f"{_plural(engine.files, 'file')}, {engine.seconds:.2f} s", style="dim")
            if engine.detail:
                detail.append(f"; {engine.detail}", style="dim")
            table.add_row(Text("✔", style="green"), engine.name, detail)
        else:
            table.add_row(Text("✘", style="bold yellow"), engine.name,
                          Text("did not run: " + (engine.detail or "no reason given"), style="yellow"))
    yield Padding(table, (0, 0, 1, 2))


def _footer(report: Report) -> Text:
    counts = defaultdict(int)
    for finding in report.findings:
        counts[Severity(finding.severity)] += 1
    text = Text(_plural(len(report.findings), "finding"), style="bold")
    parts = [f"{counts[s]} {s.label}" for s in sorted(Severity, reverse=True) if counts[s]]
    if parts:
        text.append(" (" + ", ".join(parts) + ")")
    extras = []
    if report.suppressed:
        extras.append(f"{report.suppressed:,} suppressed")
    if report.baseline_matched:
        extras.append(f"{report.baseline_matched:,} in the baseline")
    for extra in extras:
        text.append(" · " + extra, style="dim")
    return text
