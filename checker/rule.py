"""The base classes rules are written against, and the context they see.

A rule is one class in one file under ``rules/``. It states its metadata once, as class
attributes, and its documentation as its docstring (headings ``What it does``, ``Why is
this bad?``; the bad/good examples are appended from ``bad``/``good``).

* :class:`FileRule` looks at one Python file. It is a libcst visitor: define
  ``visit_<Node>`` / ``leave_<Node>`` methods; every enabled rule runs in one shared
  traversal of the file. Call :meth:`Visitor.report` for a finding and
  :meth:`Visitor.checked` for every place it examined (a rule that examined nothing
  shows as "not applicable" in the checklist).
* :class:`ProjectRule` looks at the whole repository. It may also define visitor methods
  (run in the same traversal) that :meth:`Visitor.record` facts; :meth:`ProjectRule.check`
  then reduces over the facts of every file, its own and the shared collectors'.
* :class:`Collector` gathers shared facts (routes, apps, models...) that several project
  rules read; it reports nothing.
* :class:`Rule` alone declares a rule implemented only by another engine (semgrep, bandit).

The engine knows these classes and nothing about any particular rule.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping, Sequence

import libcst as cst

from checker.model import Confidence, Example, Location, RuleMeta, Section, Severity

# ---------------------------------------------------------------------------------------
# Results a visitor produces for one file (resolved to lines by the analyzer).


@dataclass
class PendingReport:
    slug: str
    node: cst.CSTNode | None
    line: int | None
    message: str
    severity: Severity
    confidence: Confidence
    related: tuple[tuple[Any, str], ...]  # (node or line, message)
    secrets: tuple[str, ...]
    context: str = ""  # enclosing definitions, for the line-free fingerprint
    columns: tuple[int, int] = (1, 0)  # for line reports: 1-based start and end column


@dataclass
class PendingFact:
    key: str
    node: cst.CSTNode | None
    data: Any


@dataclass(frozen=True)
class Fact:
    """A fact recorded by a visitor, as a project rule sees it."""

    path: str
    line: int
    data: Any


DEFAULT_TEST_PATHS = ("tests", "test", "testing", "test_*.py", "*_test.py", "*_tests.py", "conftest.py")
LOOP_NODES = (cst.For, cst.While, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
FUNCTION_NODES = (cst.FunctionDef, cst.Lambda)


class FileContext:
    """What a visitor knows about the file being traversed.

    The analyzer keeps :attr:`stack` (the node being visited and all its ancestors) and
    the import table up to date as the traversal goes, so both are cheap.
    """

    def __init__(
        self,
        path: str,
        text: str,
        module: cst.Module,
        settings: Mapping[str, Any] | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        line_of: Callable[[cst.CSTNode], int] | None = None,
    ) -> None:
        self.path = path
        self.text = text
        self.module = module
        self.settings: Mapping[str, Any] = settings or {}
        self._options = options or {}
        self.stack: list[cst.CSTNode] = []
        self.imports: dict[str, str] = {}
        self._line_of = line_of
        self.lines = text.splitlines()
        #: Whether the file is test code (``test-paths`` in the configuration).
        self.is_test = self.path_matches(self.settings.get("test-paths", DEFAULT_TEST_PATHS))
        #: Per-file memo for shared knowledge (e.g. "is this function a route handler?").
        self.cache: dict[Any, Any] = {}

    # -- imports and names -----------------------------------------------------------
    def add_import(self, node: cst.Import | cst.ImportFrom) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                full = dotted(alias.name) or ""
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    self.imports[alias.asname.name.value] = full
                else:
                    top = full.split(".")[0]
                    self.imports[top] = top
            return
        module = "." * len(node.relative) + (dotted(node.module) or "") if node.module or node.relative else ""
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            name = dotted(alias.name) or ""
            bound = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else name
            sep = "" if module.endswith(".") or not module else "."
            self.imports[bound] = f"{module}{sep}{name}"

    def resolve(self, node: cst.BaseExpression | None) -> str | None:
        """The dotted name an expression stands for, resolved through imports and aliases.

        ``h.md5`` after ``import hashlib as h`` is ``hashlib.md5``; ``r.json`` after
        ``from flask import request as r`` is ``flask.request.json``; a call in the chain
        shows as ``()``: ``requests.Session().get``. Names that were not imported resolve
        to themselves (``cur.execute``, ``eval``). Anything else (subscripts, literals) is None.
        """
        if isinstance(node, cst.Name):
            return self.imports.get(node.value, node.value)
        if isinstance(node, cst.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr.value}" if base is not None else None
        if isinstance(node, cst.Call):
            base = self.resolve(node.func)
            return f"{base}()" if base is not None else None
        return None

    def imported(self, name: str) -> bool:
        """Whether a module (or anything under it) was imported in this file."""
        return any(v == name or v.startswith(name + ".") for v in self.imports.values())

    # -- where we are ----------------------------------------------------------------
    @property
    def node(self) -> cst.CSTNode | None:
        return self.stack[-1] if self.stack else None

    def ancestors(self) -> Iterator[cst.CSTNode]:
        """The ancestors of the node being visited, innermost first (not the node itself)."""
        return reversed(self.stack[:-1])

    def parent(self) -> cst.CSTNode | None:
        return self.stack[-2] if len(self.stack) > 1 else None

    def enclosing_function(self) -> cst.FunctionDef | None:
        for node in self.ancestors():
            if isinstance(node, cst.FunctionDef):
                return node
        return None

    def enclosing_class(self) -> cst.ClassDef | None:
        for node in self.ancestors():
            if isinstance(node, cst.ClassDef):
                return node
        return None

    def scope_name(self) -> str:
        """``Class.method``-style name of the definitions around the current node."""
        return ".".join(n.name.value for n in self.stack if isinstance(n, (cst.FunctionDef, cst.ClassDef)))

    def enclosing_loops(self) -> list[cst.CSTNode]:
        """Loops and comprehensions around the current node, innermost first, up to the
        nearest function boundary. For a comprehension, only its element part counts as
        inside the loop (the iterable is evaluated once)."""
        loops: list[cst.CSTNode] = []
        child: cst.CSTNode | None = self.node
        from_iter: cst.CSTNode | None = None  # the CompFor whose iterable we came from
        for node in self.ancestors():
            if isinstance(node, FUNCTION_NODES):
                break
            if isinstance(node, (cst.For, cst.While)):
                if child is not None and child is not getattr(node, "iter", None) and child is not getattr(node, "test", None):
                    loops.append(node)
            elif isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
                if child is not None and _comp_iter_of(node) is not child and not (
                    child is node.for_in and from_iter is child
                ):
                    loops.append(node)
            from_iter = node if isinstance(node, cst.CompFor) and child is node.iter else None
            child = node
        return loops

    def in_loop(self) -> bool:
        return bool(self.enclosing_loops())

    def in_async_function(self) -> bool:
        func = self.enclosing_function()
        return func is not None and func.asynchronous is not None

    def line_of(self, node: cst.CSTNode) -> int:
        """The 1-based line a node starts on (computes positions for the file on first use)."""
        if self._line_of is None:
            raise RuntimeError("positions are not available in this context")
        return self._line_of(node)

    def code_of(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def options(self, slug: str) -> Mapping[str, Any]:
        return self._options.get(slug, {})

    def path_matches(self, patterns: Iterable[str]) -> bool:
        return any(glob_match(self.path, p) for p in patterns)


def _comp_iter_of(node: cst.CSTNode) -> cst.CSTNode | None:
    comp_for = getattr(node, "for_in", None)
    return comp_for.iter if comp_for is not None else None


def dotted(node: cst.BaseExpression | None) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, without import resolution."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base is not None else None
    return None


def glob_match(path: str, pattern: str) -> bool:
    """gitignore-like matching: ``**`` spans folders; a pattern without ``/`` matches any
    path component; a folder pattern matches everything below it."""
    pattern = pattern.strip()
    if not pattern:
        return False
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/").rstrip("/")
    candidates = [path]
    parts = path.split("/")
    candidates += ["/".join(parts[:i]) for i in range(1, len(parts))]
    if not anchored:
        candidates += ["/".join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)]
    for cand in candidates:
        if fnmatch.fnmatchcase(cand, pattern):
            return True
        if "**/" in pattern and fnmatch.fnmatchcase(cand, pattern.replace("**/", "")):
            return True
    return False


# ---------------------------------------------------------------------------------------
# Visitors


class TextContext:
    """What a rule sees of a non-Python text file (config files, Dockerfiles, .env)."""

    def __init__(self, path: str, language: str, text: str, settings: Mapping[str, Any] | None = None,
                 options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.path = path
        self.language = language
        self.text = text
        self.lines = text.splitlines()
        self.settings: Mapping[str, Any] = settings or {}
        self._options = options or {}
        self.is_test = any(glob_match(path, p) for p in self.settings.get("test-paths", DEFAULT_TEST_PATHS))
        self.cache: dict[Any, Any] = {}

    def options(self, slug: str) -> Mapping[str, Any]:
        return self._options.get(slug, {})


class Visitor:
    """Shared machinery of everything that takes part in the file traversal."""

    #: Cheap prefilter: the visitor runs on a file only if one of these substrings occurs
    #: in its text. Empty means every Python file.
    triggers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self._reports: list[PendingReport] = []
        self._facts: list[PendingFact] = []
        self._checked = 0

    @classmethod
    def fact_key(cls) -> str:
        return getattr(cls, "name", None) or getattr(cls, "slug")

    @classmethod
    def has_visits(cls) -> bool:
        return any(a.startswith(("visit_", "leave_")) for a in dir(cls))

    def record(self, data: Any, node: cst.CSTNode | None = None, *, key: str | None = None) -> None:
        """Record a JSON-serialisable fact for the project phase (with the node's line)."""
        self._facts.append(PendingFact(key or self.fact_key(), node, data))

    def checked(self, count: int = 1) -> None:
        """Count a place this rule examined: the checklist item applies to this code."""
        self._checked += count


class Rule:
    """Metadata every rule states once. Subclasses set the class attributes below."""

    slug: ClassVar[str]
    checklist: ClassVar[str]
    section: ClassVar[Section]
    severity: ClassVar[Severity] = Severity.MEDIUM
    confidence: ClassVar[Confidence] = Confidence.HIGH
    languages: ClassVar[tuple[str, ...]] = ("python",)
    cwe: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    bad: ClassVar[Sequence[Example | str]] = ()
    good: ClassVar[Sequence[Example | str]] = ()
    #: Rule options, settable under ``[tool.checker.rules.<slug>]``: name -> default.
    options: ClassVar[Mapping[str, Any]] = {}
    scope: ClassVar[str] = "file"

    @classmethod
    def meta(cls) -> RuleMeta:
        def examples(items: Sequence[Example | str]) -> tuple[Example, ...]:
            return tuple(e if isinstance(e, Example) else Example(e) for e in items)

        return RuleMeta(
            slug=cls.slug,
            checklist=cls.checklist,
            section=cls.section,
            severity=cls.severity,
            confidence=cls.confidence,
            scope=cls.scope,
            languages=tuple(cls.languages),
            summary=cls.summary,
            docs=_dedent(cls.__doc__ or ""),
            cwe=tuple(cls.cwe),
            bad=examples(cls.bad),
            good=examples(cls.good),
            options=dict(cls.options),
        )


class FileRule(Rule, Visitor):
    scope = "file"
    #: Non-Python languages (e.g. "dotenv", "yaml", "json", "toml", "ini", "dockerfile") whose
    #: files this rule reads as text through :meth:`check_text`.
    text_languages: ClassVar[tuple[str, ...]] = ()

    def check_text(self, ctx: TextContext) -> None:
        """Look at a non-Python file of one of :attr:`text_languages` (``self.ctx`` is ``ctx``)."""

    def report_line(
        self,
        line: int,
        message: str | None = None,
        *,
        column: int = 1,
        end_column: int = 0,
        severity: Severity | None = None,
        confidence: Confidence | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        """Report a finding at a 1-based line and column (for :meth:`check_text`)."""
        self._checked += 1
        self._reports.append(
            PendingReport(
                self.slug, None, line, message or self.summary,
                severity if severity is not None else self.severity,
                confidence if confidence is not None else self.confidence,
                (), tuple(secrets), "", (column, end_column),
            )
        )

    def report(
        self,
        node: cst.CSTNode,
        message: str | None = None,
        *,
        severity: Severity | None = None,
        confidence: Confidence | None = None,
        related: Iterable[tuple[cst.CSTNode | int, str]] = (),
        secrets: Iterable[str] = (),
    ) -> None:
        """Report a finding at ``node``.

        ``related`` names other places (a node or a line, and what it is); ``secrets`` are
        values that must never appear in any output (they are redacted from the snippet
        and the message).
        """
        self._checked += 1
        self._reports.append(
            PendingReport(
                self.slug, node, None, message or self.summary,
                severity if severity is not None else self.severity,
                confidence if confidence is not None else self.confidence,
                tuple(related), tuple(secrets), self.ctx.scope_name(),
            )
        )

    @property
    def opts(self) -> Mapping[str, Any]:
        """This rule's options, defaults merged with the configuration."""
        return {**self.options, **self.ctx.options(self.slug)}


class Collector(Visitor):
    """Gathers shared facts under :attr:`name` (e.g. ``routes``); reports nothing."""

    name: ClassVar[str]


# ---------------------------------------------------------------------------------------
# The project phase


@dataclass(frozen=True)
class ProjectFile:
    path: str
    language: str
    size: int


class ProjectContext:
    """The whole repository as a project rule sees it: the file list, the facts every
    visitor recorded, the settings, and read access to small text files (dependency
    declarations, settings modules)."""

    def __init__(
        self,
        files: Sequence[ProjectFile],
        facts: Mapping[str, Sequence[Fact]],
        settings: Mapping[str, Any],
        options: Mapping[str, Mapping[str, Any]],
        reader: Callable[[str], str | None],
        tracked: Callable[[str], bool] | None = None,
    ) -> None:
        self.files = files
        self._facts = facts
        self.settings = settings
        self._options = options
        self._reader = reader
        self._tracked = tracked or (lambda path: True)

    def facts(self, key: str) -> Sequence[Fact]:
        return self._facts.get(key, ())

    def read_text(self, path: str) -> str | None:
        """A scanned file's text, or None when it cannot be read as text."""
        return self._reader(path)

    def is_tracked(self, path: str) -> bool:
        """Whether version control tracks the file (always true outside a git repository)."""
        return self._tracked(path)

    def options(self, slug: str) -> Mapping[str, Any]:
        return self._options.get(slug, {})

    def is_test(self, path: str) -> bool:
        """Whether a path is test code (``test-paths`` in the configuration)."""
        return any(glob_match(path, p) for p in self.settings.get("test-paths", DEFAULT_TEST_PATHS))


class ProjectRule(Rule, Visitor):
    scope = "project"

    def __init__(self, ctx: FileContext | None = None) -> None:
        Visitor.__init__(self, ctx)  # type: ignore[arg-type]
        self.project: ProjectContext | None = None
        self._project_reports: list[tuple[str, int, str, Severity, Confidence, tuple, tuple]] = []

    def check(self, project: ProjectContext) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def report_at(
        self,
        path: str,
        line: int,
        message: str | None = None,
        *,
        severity: Severity | None = None,
        confidence: Confidence | None = None,
        related: Iterable[Location] = (),
        secrets: Iterable[str] = (),
    ) -> None:
        """Report a project finding at a file and line (line 1 for a whole-file finding)."""
        self._checked += 1
        self._project_reports.append(
            (path, max(1, line), message or self.summary,
             severity if severity is not None else self.severity,
             confidence if confidence is not None else self.confidence,
             tuple(related), tuple(secrets))
        )

    @property
    def opts(self) -> Mapping[str, Any]:
        own = self.project.options(self.slug) if self.project else (self.ctx.options(self.slug) if self.ctx else {})
        return {**self.options, **own}


def _dedent(text: str) -> str:
    import textwrap

    lines = text.strip("\n").splitlines()
    if not lines:
        return ""
    first, rest = lines[0].strip(), textwrap.dedent("\n".join(lines[1:]))
    return (first + "\n" + rest).strip()
