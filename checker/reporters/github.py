"""GitHub Actions workflow commands: one annotation per finding, within GitHub's budget.

GitHub shows at most 10 error and 10 warning annotations per step (and 50 per job), and
drops the rest silently. So findings are ordered most severe first (then most confident,
then by path and line), errors and warnings are each cut at :data:`BUDGET`, low-severity
findings become notices (also capped), and one closing ``::notice`` says how many
findings are not annotated and where they are: the SARIF upload and the job summary.

Values are escaped the way the runner expects: in the message ``%``, CR and LF; in
properties also ``:`` and ``,``. A message can therefore never start a new command.
"""

from __future__ import annotations

from checker.model import Finding, Report, Severity

NAME = "github"
EXTENSION = ".txt"

BUDGET = {"error": 10, "warning": 10, "notice": 9}  # one notice is kept for the summary

COMMAND = {
    Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
    Severity.LOW: "notice", Severity.INFO: "notice",
}


def escape_data(text: str) -> str:
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties) -> str:
    """``::name key=value,...::message`` with both parts escaped; ``None`` values left out."""
    props = ",".join(f"{key}={escape_property(str(value))}"
                     for key, value in properties.items() if value is not None)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def rank(finding: Finding) -> tuple:
    return (-int(finding.severity), -int(finding.confidence), finding.path,
            finding.span.line, finding.span.column, finding.rule)


def annotation(finding: Finding, report: Report) -> str:
    span = finding.span
    meta = report.rules.get(finding.rule)
    title = f"{finding.rule}: {meta.checklist}" if meta else finding.rule
    props: dict = {"file": finding.path, "line": max(span.line, 1)}
    if span.end_line > span.line:
        props["endLine"] = span.end_line  # several lines: GitHub takes no columns then
    else:
        props["endLine"] = max(span.line, 1)
        props["col"] = max(span.column, 1)
        if span.end_column > span.column + 1:
            props["endColumn"] = span.end_column - 1  # last column of the span, inclusive
    props["title"] = title
    message = (f"{finding.message}\n"
               f"({finding.severity.label} severity, {finding.confidence.label} confidence)")
    return command(COMMAND[finding.severity], message, **props)


def render(report: Report, options=None) -> str:
    score = report.score
    everything = sorted((*report.findings, *report.diagnostics), key=rank)
    lines = [f"checker {report.tool_version}: score {score.overall:.1f}/100 ({score.grade}), "
             f"{len(report.findings)} finding{'s' if len(report.findings) != 1 else ''}"]
    used = {name: 0 for name in BUDGET}
    left_out = 0
    for finding in everything:
        kind = COMMAND[finding.severity]
        if used[kind] >= BUDGET[kind]:
            left_out += 1
            continue
        used[kind] += 1
        lines.append(annotation(finding, report))
    if left_out:
        noun = "finding is" if left_out == 1 else "findings are"
        lines.append(command(
            "notice",
            f"{left_out} more {noun} not annotated here (GitHub shows at most "
            f"{BUDGET['error']} error and {BUDGET['warning']} warning annotations per step). "
            f"All {len(everything)} are in the SARIF report (Security tab, after "
            f"upload-sarif) and in this job's summary.",
            title=f"checker: {left_out} more finding{'s' if left_out != 1 else ''}",
        ))
    return "\n".join(lines) + "\n"
