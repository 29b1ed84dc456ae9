"""The libcst analyzer: one parse and one traversal per Python file for every visitor.

Visitors whose ``triggers`` do not occur in the file's text are left out before parsing,
and a file no visitor wants is never parsed. Positions are computed only when something
in the file needs a line number (a finding, a fact with a node), since computing them for
every node costs about a fifth of a parse.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from checker.analyzers import FileResult, make_finding
from checker.model import Location, Span
from checker.rule import FileContext, ProjectRule, Visitor
from checker.source import SourceFile, Unreadable


class _Dispatcher(cst.CSTVisitor):
    """Calls every visitor's ``visit_<Node>``/``leave_<Node>`` in one walk, keeping the
    context's ancestor stack and import table current. A visitor that raises is dropped
    for the rest of the file and the error is kept for the report."""

    def __init__(self, ctx: FileContext, visitors: Sequence[Visitor], errors: list[str]) -> None:
        super().__init__()
        self.ctx = ctx
        self.errors = errors
        self.visits: dict[str, list[tuple[Visitor, Callable]]] = {}
        self.leaves: dict[str, list[tuple[Visitor, Callable]]] = {}
        self.dead: set[int] = set()
        for v in visitors:
            for attr in dir(type(v)):
                if attr.startswith("visit_"):
                    self.visits.setdefault(attr[6:], []).append((v, getattr(v, attr)))
                elif attr.startswith("leave_"):
                    self.leaves.setdefault(attr[6:], []).append((v, getattr(v, attr)))

    def _call(self, table: dict[str, list[tuple[Visitor, Callable]]], node: cst.CSTNode) -> None:
        for visitor, method in table.get(type(node).__name__, ()):
            if id(visitor) in self.dead:
                continue
            try:
                method(node)
            except Exception as exc:  # a rule bug must not cost the rest of the scan
                self.dead.add(id(visitor))
                name = getattr(visitor, "slug", None) or getattr(visitor, "name", type(visitor).__name__)
                self.errors.append(f"rule {name} failed: {type(exc).__name__}: {exc}")

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.ctx.stack.append(node)
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            self.ctx.add_import(node)
        self._call(self.visits, node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self._call(self.leaves, original_node)
        self.ctx.stack.pop()


def wanted(visitor_classes: Sequence[type[Visitor]], text: str) -> list[type[Visitor]]:
    return [c for c in visitor_classes if not c.triggers or any(t in text for t in c.triggers)]


def analyze(
    source: SourceFile,
    visitor_classes: Sequence[type[Visitor]],
    settings: Mapping[str, Any] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> FileResult:
    """Run every applicable visitor over one Python file."""
    result = FileResult(source.relpath)
    try:
        text = source.text
        classes = wanted(visitor_classes, text)
        if not classes:
            return result
        module = source.module
    except Unreadable as exc:
        result.skipped = str(exc)
        return result

    positions: dict[cst.CSTNode, Any] = {}

    def position(node: cst.CSTNode):
        if not positions:
            positions.update(MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider))
        return positions[node]

    def line_of(node: cst.CSTNode) -> int:
        return position(node).start.line

    ctx = FileContext(source.relpath, text, module, settings, options, line_of)
    visitors = [c(ctx) for c in classes]
    try:
        module.visit(_Dispatcher(ctx, visitors, result.errors))
    except RecursionError:
        result.skipped = "too deeply nested to analyse"
        return result

    lines = ctx.lines
    for v in visitors:
        key = getattr(v, "slug", None)
        if key and v._checked:
            result.checked[key] = result.checked.get(key, 0) + v._checked
        for fact in v._facts:
            line = line_of(fact.node) if fact.node is not None else 0
            result.facts.setdefault(fact.key, []).append((line, fact.data))
        if isinstance(v, ProjectRule):
            continue
        for rep in v._reports:
            rng = position(rep.node)
            span = Span(rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1)
            related = tuple(
                Location(source.relpath, target if isinstance(target, int) else line_of(target), msg)
                for target, msg in rep.related
            )
            result.findings.append(
                make_finding(
                    rule=rep.slug, path=source.relpath, span=span, message=rep.message,
                    severity=rep.severity, confidence=rep.confidence, lines=lines,
                    engine="checker", related=related, secrets=rep.secrets, context=rep.context,
                )
            )
    return result
