"""``concise``: one line per finding, ``path:line:col: slug [severity] message``, then a
one-line summary. For pre-commit hooks, editors and logs."""

from __future__ import annotations

from checker.model import Report
from checker.reporters import RenderOptions

NAME = "concise"
EXTENSION = "txt"


def render(report: Report, options: RenderOptions) -> str:
    lines = [
        f"{f.path}:{f.span.line}:{f.span.column}: {f.rule} [{f.severity.label}] {f.message}"
        for f in sorted((*report.findings, *report.diagnostics), key=lambda f: f.sort_key())
    ]
    lines += [f"{s.path}: skipped: {s.reason}" for s in report.skipped]
    lines += [f"checker: {e.name} did not run: {e.detail}" for e in report.engines if not e.ran]
    count = len(report.findings)
    lines.append(f"{count} finding{'s' if count != 1 else ''}; score {report.score.overall:g} ({report.score.grade})")
    return "\n".join(lines) + "\n"
