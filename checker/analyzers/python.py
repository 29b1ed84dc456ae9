"""The libcst analyzer: one parse and one traversal per Python file for every visitor.

Visitors whose ``triggers`` do not occur in the file's text are left out before parsing,
and a file no visitor wants is never parsed. Positions are computed only when something
in the file needs a line number (a finding, a fact with a node), and only for those nodes,
in one code generation pass.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import libcst as cst
from libcst._nodes.internal import CodegenState

from checker.analyzers import FileResult, make_finding
from checker.model import Location, Span
from checker.rule import FileContext, ProjectRule, Visitor
from checker.syntax import children, wants_trivia
from checker.source import SourceFile, Unreadable


class _Walker:
    """Calls every visitor's ``visit_<Node>``/``leave_<Node>`` in one walk of the tree,
    keeping the context's ancestor stack and import table current. The walk reads node
    fields directly (:mod:`checker.syntax`, several times cheaper than libcst's visitor
    protocol) and uses no recursion, so deeply nested code cannot overflow the stack. A visitor that raises is
    dropped for the rest of the file and the error is kept for the report."""

    def __init__(self, ctx: FileContext, visitors: Sequence[Visitor], errors: list[str]) -> None:
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
        self.trivia = any(wants_trivia(v) for v in visitors)

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

    def walk(self, root: cst.CSTNode) -> None:
        ctx, trivia = self.ctx, self.trivia
        stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                self._call(self.leaves, node)
                ctx.stack.pop()
                continue
            ctx.stack.append(node)
            if isinstance(node, (cst.Import, cst.ImportFrom)):
                ctx.add_import(node)
            self._call(self.visits, node)
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children(node, trivia)))


class _Positions(CodegenState):
    """Code generation that tracks lines and columns and records the positions of the
    nodes asked for only (libcst's provider records every node, at twice a parse's cost).
    Syntactic starts are used where libcst has them (a statement starts after the
    comments above it); an end is where the node's code ends."""

    def __init__(self, module: cst.Module, wanted: set[int] | None) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.wanted = wanted
        self.line = 1
        self.column = 0
        self.starts: list[tuple[int, int]] = []
        self.found: dict[int, tuple[int, int, int, int]] = {}

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        newlines = value.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(value) - value.rindex("\n") - 1
        else:
            self.column += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.starts.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        line, column = self.starts.pop()
        key = id(node)
        if (self.wanted is None or key in self.wanted) and key not in self.found:
            self.found[key] = (line, column, self.line, self.column)

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node=None, end_node=None):
        if self.wanted is not None:
            if id(node) not in self.wanted:
                return _NOTHING
            # The block's own position comes from its first and last statements.
            self.wanted.update(id(n) for n in (start_node, end_node) if n is not None)
        return _Syntactic(self, node, start_node, end_node)


class _Syntactic:
    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state: _Positions, node: cst.CSTNode, start_node, end_node) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = (self.state.line, self.state.column)

    def __exit__(self, *exc) -> None:
        found = self.state.found
        start = found[id(self.start_node)][:2] if self.start_node is not None else self.start
        end = found[id(self.end_node)][2:] if self.end_node is not None else (self.state.line, self.state.column)
        found[id(self.node)] = (*start, *end)


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


_NOTHING = _Nothing()


def positions_of(module: cst.Module, nodes: Sequence[cst.CSTNode] | None) -> dict[int, tuple[int, int, int, int]]:
    """(start line, start column, end line, end column) by node id, for ``nodes`` or, with
    None, for every node; lines 1-based, columns 0-based as libcst counts them."""
    state = _Positions(module, {id(n) for n in nodes} if nodes is not None else None)
    module._codegen(state)
    return state.found


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

    pending: dict[int, cst.CSTNode] = {}
    found: dict[int, tuple[int, int, int, int]] = {}
    passes = [0]

    def position(node: cst.CSTNode) -> tuple[int, int, int, int]:
        if id(node) not in found:
            passes[0] += 1
            if passes[0] > 1:  # asked again mid-walk: resolve every node once and for all
                found.update(positions_of(module, None))
                return found[id(node)]
            # Everything the visitors hold so far is resolved in one code generation pass.
            for v in visitors:
                pending.update((id(r.node), r.node) for r in v._reports if r.node is not None)
                pending.update((id(f.node), f.node) for f in v._facts if f.node is not None)
                pending.update((id(t), t) for r in v._reports for t, _ in r.related if not isinstance(t, int))
            pending[id(node)] = node
            found.update(positions_of(module, [n for k, n in pending.items() if k not in found]))
        return found[id(node)]

    def line_of(node: cst.CSTNode) -> int:
        return position(node)[0]

    ctx = FileContext(source.relpath, text, module, settings, options, line_of)
    visitors = [c(ctx) for c in classes]
    try:
        _Walker(ctx, visitors, result.errors).walk(module)
        return _collect(result, source.relpath, ctx, visitors, position)
    except RecursionError:
        return FileResult(source.relpath, skipped="too deeply nested to analyse")


def _collect(result: FileResult, relpath: str, ctx: FileContext, visitors: Sequence[Visitor], position) -> FileResult:
    """The visitors' reports and facts, with their positions, into the file's result."""

    def line_of(node: cst.CSTNode) -> int:
        return position(node)[0]

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
            line, column, end_line, end_column = position(rep.node)
            span = Span(line, column + 1, end_line, end_column + 1)
            related = tuple(
                Location(relpath, target if isinstance(target, int) else line_of(target), msg)
                for target, msg in rep.related
            )
            result.findings.append(
                make_finding(
                    rule=rep.slug, path=relpath, span=span, message=rep.message,
                    severity=rep.severity, confidence=rep.confidence, lines=lines,
                    engine="checker", related=related, secrets=rep.secrets, context=rep.context,
                )
            )
    return result
