"""The text analyzer: rules that read non-Python files (config files, Dockerfiles, .env)
through ``FileRule.check_text``. One read per file, every interested rule in turn."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from checker.analyzers import FileResult, make_finding
from checker.model import Span
from checker.rule import FileRule, TextContext
from checker.source import SourceFile, Unreadable


def text_rules(rule_classes: Sequence[type], language: str) -> list[type[FileRule]]:
    return [c for c in rule_classes
            if isinstance(c, type) and issubclass(c, FileRule) and language in c.text_languages]


def analyze(
    source: SourceFile,
    rule_classes: Sequence[type],
    settings: Mapping[str, Any] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> FileResult:
    result = FileResult(source.relpath)
    classes = text_rules(rule_classes, source.language)
    if not classes:
        return result
    try:
        text = source.text
    except Unreadable as exc:
        result.skipped = str(exc)
        return result
    ctx = TextContext(source.relpath, source.language, text, settings, options)
    for cls in classes:
        rule = cls(ctx)  # type: ignore[arg-type]
        try:
            rule.check_text(ctx)
        except Exception as exc:  # a rule bug must not cost the rest of the scan
            result.errors.append(f"rule {cls.slug} failed: {type(exc).__name__}: {exc}")
            continue
        if rule._checked:
            result.checked[cls.slug] = result.checked.get(cls.slug, 0) + rule._checked
        for rep in rule._reports:
            line = rep.line or 1
            start, end = rep.columns
            result.findings.append(
                make_finding(
                    rule=rep.slug, path=source.relpath, span=Span(line, start, line, end or start),
                    message=rep.message, severity=rep.severity, confidence=rep.confidence,
                    lines=ctx.lines, engine="checker", secrets=rep.secrets,
                )
            )
    return result
