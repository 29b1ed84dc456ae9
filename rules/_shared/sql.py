"""SQL knowledge: which calls run SQL text, whether a string looks like SQL, and how a
string was built (the data flow of string values through local variables).

* :func:`sql_sink` tells whether a call executes or wraps raw SQL text, and which of
  its arguments carry the text: DB-API cursors and connections (sqlite3, psycopg,
  psycopg2, pymysql, MySQLdb, asyncpg), SQLAlchemy (``text()``, ``session.execute``,
  ``engine.execute``, ``exec_driver_sql``), Django (``raw``, ``extra``, ``RawSQL``,
  ``cursor.execute``), pandas (``read_sql``, ``read_sql_query``), psycopg's ``sql.SQL``.
* :func:`looks_like_sql` tells SQL statements from prose that merely says "select".
* :class:`StringFlow` evaluates an expression the way a reviewer reads it: which parts of
  the string are constant, and which non-constant parts were interpolated by f-strings,
  ``%``, ``+``, ``.format()`` or ``join``, following local variables, reassignments,
  ``+=``, lists built with ``append``, and same-module helper functions. Parts proven
  harmless are not counted: constants (literals, module-level or class-level constants,
  UPPER_CASE names), numbers (``int()``, ``len()``, ``%d``), quoted identifiers
  (``quote_name``, ``sql.Identifier``, any ``*quote*``/``*escape*`` call), names checked
  against an allow-list (``if col not in ALLOWED: raise``, ``assert col in {...}``,
  ``COLUMNS[key]``). Each remaining part says where its value comes from (a parameter,
  request data, or the code itself), and :func:`position` tells whether it landed where
  SQL expects a value or a name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

import libcst as cst

from checker.rule import FileContext
from checker.syntax import walk
from rules._shared.web import arg, string_value

# ---------------------------------------------------------------------------------------
# The sink catalog

#: Methods that run SQL text given as their first argument, whatever object they are on
#: (cursors, connections, sessions, engines, schema editors, asyncpg connections).
SQL_METHODS = frozenset({
    "execute", "executemany", "executescript", "exec_driver_sql", "mogrify", "copy_expert", "query",
    "fetch", "fetchrow", "fetchval", "raw", "read_sql", "read_sql_query",
})
#: Keyword names under which those methods take their SQL text.
SQL_KEYWORDS = ("sql", "query", "operation", "statement", "raw_query", "stmt")
#: Functions and constructors (resolved names) that take SQL text as their first argument.
SQL_FUNCTIONS = {
    "sqlalchemy.text": "sqlalchemy", "sqlalchemy.sql.text": "sqlalchemy",
    "sqlalchemy.sql.expression.text": "sqlalchemy", "sqlalchemy.sql.expression.TextClause": "sqlalchemy",
    "sqlalchemy.TextClause": "sqlalchemy",
    "django.db.models.expressions.RawSQL": "django", "django.db.models.RawSQL": "django",
    "pandas.read_sql": "pandas", "pandas.read_sql_query": "pandas", "pandas.io.sql.read_sql": "pandas",
    "pandas.io.sql.read_sql_query": "pandas", "pandas.io.sql.execute": "pandas",
    "psycopg2.sql.SQL": "psycopg", "psycopg.sql.SQL": "psycopg",
}
#: ``QuerySet.extra`` keywords holding SQL fragments.
EXTRA_KEYWORDS = ("where", "select", "tables", "order_by")
#: Roots whose ``.text`` is SQLAlchemy's (``db.text`` in Flask-SQLAlchemy, ``sa.text``).
TEXT_OWNERS = ("db", "sa", "sqlalchemy")


@dataclass(frozen=True)
class SqlSink:
    """A call that runs raw SQL text: its resolved name, the library family, the
    expressions that carry SQL text, and the parameters argument if any."""

    name: str
    kind: str
    sql: tuple[cst.BaseExpression, ...]
    params: cst.BaseExpression | None

    @property
    def label(self) -> str:
        """A short name for messages: ``text``, ``cur.execute``, ``objects.extra``."""
        if self.name in SQL_FUNCTIONS:
            return self.name.rsplit(".", 1)[-1]
        return ".".join(self.name.split(".")[-2:])


def sql_sink(ctx: FileContext, call: cst.Call) -> SqlSink | None:
    """The SQL sink ``call`` is, or None. Method sinks are recognised by name alone, so a
    caller should also check that the text looks like SQL (:func:`looks_like_sql`)."""
    name = ctx.resolve(call.func) or ""
    kind = SQL_FUNCTIONS.get(name)
    if kind is None and isinstance(call.func, cst.Attribute) and call.func.attr.value == "text":
        root = name.split(".", 1)[0]
        if root in TEXT_OWNERS:
            kind = "sqlalchemy"
    if kind is not None:
        text = arg(call, 0) or arg(call, keyword="text") or arg(call, keyword="sql")
        if text is None:
            return None
        params = arg(call, 1) or arg(call, keyword="params")
        return SqlSink(name, kind, (text,), params)
    if not isinstance(call.func, cst.Attribute):
        return None
    method = call.func.attr.value
    if method == "extra":
        parts: list[cst.BaseExpression] = []
        for keyword in EXTRA_KEYWORDS:
            value = arg(call, keyword=keyword)
            if isinstance(value, (cst.List, cst.Tuple)):
                parts.extend(e.value for e in value.elements)
            elif isinstance(value, cst.Dict):
                parts.extend(e.value for e in value.elements if isinstance(e, cst.DictElement))
        return SqlSink(name or method, "django", tuple(parts), arg(call, keyword="params")) if parts else None
    if method not in SQL_METHODS:
        return None
    text = arg(call, 0)
    if text is None:
        for keyword in SQL_KEYWORDS:
            text = arg(call, keyword=keyword)
            if text is not None:
                break
    if text is None:
        return None
    params = arg(call, 1) or arg(call, keyword="params") or arg(call, keyword="parameters") or arg(call, keyword="args")
    return SqlSink(name or method, "method", (text,), params)


def is_query_call(ctx: FileContext, call: cst.Call) -> bool:
    """Whether ``call`` runs raw SQL: a sink whose text is SQL-looking when it is a literal
    (an ``execute(q)`` of a variable counts; ``git.fetch("origin")`` does not)."""
    sink = sql_sink(ctx, call)
    if sink is None:
        return False
    if sink.kind != "method":
        return True
    literal = string_value(sink.sql[0])
    return literal is None or looks_like_sql(literal)


# ---------------------------------------------------------------------------------------
# SQL-looking text

_IDENT = r"[\w.\"`\[\]?$]+"
_ITEM = r"(?:\*|\?|" + _IDENT + r"(?:\s*\((?:[^()]|\([^()]*\))*\))?|\((?:[^()]|\([^()]*\))*\))(?:\s*::\s*\w+)?(?:\s+as\s+[\w\"?]+)?"
_NOT_PROSE = r"(?!(?:the|a|an|this|that|these|those|your|our|my|his|her|their|its|each|every|any|all|some|one)\b)"
_COLUMNS = _ITEM + r"(?:\s*,\s*" + _ITEM + r")*"
_OP = r"\s*(?:=|<>|!=|<=|>=|<|>|\bin\s*\(|\bis\s+(?:not\s+)?null\b|\bnot\s+in\b|\blike\b|\bilike\b|\bbetween\b|@>|\?\|)"
# Statements and clauses, at the start of the text.
_SQL_START = re.compile(
    r"^[\s(]*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(?:explain\s+(?:analyze\s+)?)?(?:" + "|".join((
        r"select\s+(?:distinct\s+(?:on\s*\([^)]*\)\s*)?|all\s+|top\s+\d+\s+)?" + _COLUMNS + r"(?:\s+(?:from|into)\s+" + _NOT_PROSE + _IDENT + r"|\s*;?\s*$)",
        r"with\s+(?:recursive\s+)?\w+(?:\s*\([^)]*\))?\s+as\s*(?:not\s+)?(?:materialized\s+)?\(",
        r"insert\s+(?:or\s+\w+\s+|ignore\s+)?into\s+" + _IDENT,
        r"replace\s+into\s+" + _IDENT,
        r"update\s+(?:only\s+)?" + _IDENT + r"(?:\s+(?:as\s+)?\w+)?\s+set\s+" + _IDENT + r"\s*=",
        r"delete\s+from\s+" + _NOT_PROSE + _IDENT + r"\s*(?:where|using|returning|;|$)",
        r"merge\s+into\s+" + _IDENT,
        r"(?:create|drop|alter)\s+(?:or\s+replace\s+|unique\s+|temp(?:orary)?\s+|materialized\s+|global\s+|local\s+)*"
        r"(?:table|index|view|database|schema|sequence|trigger|function|procedure|extension|role|user|type|constraint)\b",
        r"truncate\s+(?:table\s+)?" + _IDENT,
        r"(?:where|and|or|having)\s+(?:not\s+)?" + _IDENT + _OP,
        r"(?:order|group)\s+by\s+" + _IDENT + r"(?:\s+(?:asc|desc))?(?:\s*,|\s*$|\s+(?:limit|offset|asc|desc|nulls)\b)",
        r"(?:limit|offset)\s+(?:\d+|\?|%s|:\w+)\s*$",
        r"set\s+" + _IDENT + r"\s*=\s*(?:\?|%s|%\(|:\w|\$\d|'|\d)",
        r"values\s*\(",
        r"(?:(?:left|right|inner|outer|full|cross)\s+)*join\s+" + _IDENT + r"(?:\s+(?:as\s+)?\w+)?\s+on\s+",
        r"(?:pragma|vacuum|reindex|listen|unlisten)\b",
        r"analyze\s+" + _IDENT + r"\s*;?\s*$",
        r"(?:grant|revoke)\s+\w+(?:\s*,\s*\w+)*\s+on\s+",
        r"copy\s+" + _IDENT + r"(?:\s*\([^)]*\))?\s+(?:from|to)\b",
        r"show\s+(?:tables|databases|columns|create|variables|grants|index|full|search_path|server_version)\b",
        r"set\s+(?:search_path|session|local|names|time\s+zone|statement_timeout|lock_timeout|role)\b",
        r"call\s+" + _IDENT + r"\s*\(",
        r"(?:lock\s+table|refresh\s+materialized\s+view|comment\s+on)\b",
    )) + ")",
    re.IGNORECASE | re.DOTALL,
)
# Structures only SQL has, anywhere in the text.
_SQL_ANYWHERE = re.compile(
    "|".join((
        r"\bselect\s+(?:distinct\s+)?" + _COLUMNS + r"\s+from\s+" + _IDENT + r"(?:\s+(?:as\s+)?\w+)?\s+(?:where|join|inner|left|order|group|limit)\b",
        r"\bwhere\s+(?:not\s+)?" + _IDENT + _OP + r"\s*(?:\?|%s|%\(|:\w|\$\d|'|\d|" + _IDENT + r")",
        r"\binsert\s+into\s+" + _IDENT + r"\s*\(",
        r"\bvalues\s*\(\s*(?:\?|%s|%\(|:\w|\$\d|')",
        r"\bupdate\s+" + _IDENT + r"\s+set\s+" + _IDENT + r"\s*=",
        r"\bdelete\s+from\s+" + _IDENT + r"\s+where\b",
        r"\bfrom\s+" + _IDENT + r"(?:\s+(?:as\s+)?\w+)?\s+where\s+" + _IDENT + _OP,
        r"\bjoin\s+" + _IDENT + r"(?:\s+(?:as\s+)?\w+)?\s+on\s+" + _IDENT + r"\s*=",
    )),
    re.IGNORECASE | re.DOTALL,
)


def looks_like_sql(text: str) -> bool:
    """Whether ``text`` has the keyword structure of a SQL statement or clause
    (``SELECT a, b FROM t``, ``INSERT INTO t``, ``UPDATE t SET c =``, ``WHERE id =``...).
    "Please select a file from the list" is not SQL."""
    flat = text.replace("\\n", "\n")
    return bool(_SQL_START.search(flat) or _SQL_ANYWHERE.search(flat))


# ---------------------------------------------------------------------------------------
# How a string was built

#: Calls whose result is safe to interpolate into SQL: numbers, quoted identifiers,
#: escaped literals, psycopg composition objects, timestamps. Besides these, any call
#: whose name contains "quote" or "escape" counts (``quote_name_unless_alias``).
SQL_SANITIZERS = frozenset({
    "int", "float", "len", "bool", "abs", "round", "min", "max", "sum", "hash", "ord", "range",
    "qn", "qn2", "literal", "Identifier", "Literal", "Placeholder", "sql_identifier", "format_identifier",
    "quoted_name", "isoformat", "strftime", "uuid4", "uuid1", "hex", "count", "now", "utcnow", "today",
    "timestamp",
})
SANITIZER_WORDS = ("quote", "escape")
#: Names holding SQL text composed elsewhere (a fragment is checked where it is built).
SQL_FRAGMENT_WORDS = frozenset({"sql", "query", "clause", "clauses", "stmt", "statement", "subquery",
                                "fragment", "where", "cte", "subselect", "subqueries", "joins", "ddl"})
#: Attributes that hold model metadata (table and column names), not input.
SAFE_ATTRS = frozenset({"db_table", "__tablename__", "_meta", "model_name", "app_label", "pk", "id",
                        "__name__", "column", "attname", "db_column", "db_tablespace", "tablename"})
#: Upper-case attributes that are request data, not constants (Django).
REQUEST_ATTRS = frozenset({"GET", "POST", "FILES", "META", "COOKIES", "body", "query_params"})
_NUMERIC_SPEC = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")
_FORMAT_FIELD = re.compile(r"\{([^{}]*)\}")
_CONSTANT_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_VALIDATING_METHODS = frozenset({"isidentifier", "isalnum", "isdigit", "isnumeric", "isdecimal", "isalpha",
                                 "match", "fullmatch"})
_MARK = re.compile("\x00(\\d+)\x00")
NUMERIC_CONVERSIONS = "diouxXeEfFgG"


@dataclass(frozen=True)
class Part:
    """A non-constant part of a string: the expression, how it was interpolated, and
    where its value comes from ("param": a parameter of a public function, "private":
    of a private one, "request": request data, "other": computed in the function)."""

    node: cst.CSTNode
    how: str
    origin: str = "other"


@dataclass
class Built:
    """What is known about a string expression.

    ``known``: it is a string with (partly) known text; ``text``: that text, with a
    marker where each harmful part goes; ``safe``: harmless to interpolate;
    ``dynamic``: the harmful parts; ``origin``: for an unknown value, where it comes from.
    """

    known: bool = False
    text: str = "?"
    safe: bool = False
    dynamic: list[Part] = field(default_factory=list)
    origin: str = "other"

    @classmethod
    def constant(cls, text: str) -> "Built":
        return cls(True, text, True, [])


SAFE = Built(False, "?", True, [])
UNSAFE = Built(False, "?", False, [])
FRAGMENT = Built(True, "?", True, [])


def marker(node: cst.CSTNode) -> str:
    return f"\x00{id(node)}\x00"


def plain_text(text: str) -> str:
    """Built text with its part markers shown as ``?``."""
    return _MARK.sub("?", text)


_VALUE_BEFORE = re.compile(
    r"(?:=|<|>|!|\+|-|\*|/|\|\||'|%|\blike|\bilike|\bbetween|\bthen|\bwhen|\belse|\blimit|\boffset|"
    r"\bregexp|\bis|\bnot|\bcase|\bagainst\s*\()\s*$",
    re.IGNORECASE,
)


def position(text: str, part: Part) -> str:
    """Where a part sits in the SQL text: "value" (compared, inserted, in single
    quotes), "identifier" (a table, column, keyword or SQL fragment, double-quoted or
    backquoted names included), or "unknown"."""
    mark = marker(part.node)
    at = text.find(mark)
    if at < 0:
        return "unknown"
    before = plain_text(text[:at])
    if _VALUE_BEFORE.search(before):
        return "value"
    # Inside IN (...) or VALUES (...): a value list.
    depth, i = 0, len(before) - 1
    while i >= 0:
        ch = before[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                word = re.search(r"(\w+)\s*$", before[:i])
                return "value" if word and word.group(1).lower() in ("in", "values", "any", "all") else "identifier"
            depth -= 1
        i -= 1
    return "identifier"


@dataclass
class Def:
    order: int
    value: cst.BaseExpression | None
    how: str  # "assign", "augadd", "append", "extend", "loop", "loopitem", "unknown"


class _Index(cst.CSTVisitor):
    """Definitions, guards and node order of one scope (not descending into nested
    functions or classes)."""

    def __init__(self, root: cst.CSTNode) -> None:
        super().__init__()
        self.root = root
        self.order: dict[int, int] = {}
        self.defs: dict[str, list[Def]] = {}
        self.validated: set[str] = set()
        self.params: set[str] = set()
        self.functions: dict[str, cst.FunctionDef] = {}
        self.classes: dict[str, cst.ClassDef] = {}
        self.n = 0
        if isinstance(root, cst.FunctionDef):
            for p in (*root.params.params, *root.params.posonly_params, *root.params.kwonly_params):
                self.params.add(p.name.value)
            for p in (root.params.star_arg, root.params.star_kwarg):
                if isinstance(p, cst.Param):
                    self.params.add(p.name.value)

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.n += 1
        self.order[id(node)] = self.n
        if node is not self.root and isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            if isinstance(node, cst.FunctionDef):
                self.functions[node.name.value] = node
            elif isinstance(node, cst.ClassDef):
                self.classes[node.name.value] = node
            return False
        return super().on_visit(node)

    def _add(self, target: cst.BaseExpression, value: cst.BaseExpression | None, how: str) -> None:
        if isinstance(target, cst.Name):
            self.defs.setdefault(target.value, []).append(Def(self.n, value, how))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._add(element.value, value if how == "loop" else None, "loopitem" if how == "loop" else "unknown")
        elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and how == "assign":
            self._add(target.value, value, "append")

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._add(t.target, node.value, "assign")

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._add(node.target, node.value, "assign")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        how = "augadd" if isinstance(node.operator, cst.AddAssign) else "unknown"
        self._add(node.target, node.value, how)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._add(node.target, node.value, "assign")

    def visit_For(self, node: cst.For) -> None:
        self._add(node.target, node.iter, "loop")

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and node.args:
            if func.attr.value in ("append", "add", "insert"):
                self._add(func.value, node.args[-1].value, "append")
            elif func.attr.value == "extend":
                self._add(func.value, node.args[0].value, "extend")

    def visit_If(self, node: cst.If) -> None:
        self._guard(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self._guard(node.test)

    def _guard(self, test: cst.BaseExpression) -> None:
        for sub in _walk(test):
            if isinstance(sub, cst.Comparison):
                if any(isinstance(c.operator, (cst.In, cst.NotIn)) for c in sub.comparisons):
                    self._validate(sub.left)
            elif isinstance(sub, cst.Call) and isinstance(sub.func, cst.Attribute):
                if sub.func.attr.value in _VALIDATING_METHODS:
                    self._validate(sub.func.value)
                    for a in sub.args:
                        self._validate(a.value)
            elif isinstance(sub, cst.Call) and isinstance(sub.func, cst.Name) and sub.func.value == "isinstance" and sub.args:
                self._validate(sub.args[0].value)

    def _validate(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name):
            self.validated.add(node.value)
        elif isinstance(node, cst.Attribute):
            self.validated.add(_code(node))


def _walk(node: cst.CSTNode) -> Iterable[cst.CSTNode]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _is_sanitizer(name: str, extra: frozenset[str]) -> bool:
    last = name.rsplit(".", 1)[-1]
    low = last.lower()
    return last in extra or any(w in low for w in SANITIZER_WORDS)


class StringFlow:
    """Evaluates string expressions of one file (see the module docstring).

    ``sanitizers``: final names of calls whose result is harmless to interpolate;
    ``fragment_words``: words of names that hold text composed elsewhere;
    ``is_sink``: a predicate telling calls that are reported on their own (their result
    is not followed again, so one string is reported once).
    """

    def __init__(self, ctx: FileContext, sanitizers: frozenset[str] = SQL_SANITIZERS,
                 fragment_words: frozenset[str] = SQL_FRAGMENT_WORDS, is_sink=None) -> None:
        self.ctx = ctx
        self.sanitizers = sanitizers
        self.fragment_words = fragment_words
        self.is_sink = is_sink or (lambda call: False)
        self._module_index: _Index | None = None

    # -- scopes ----------------------------------------------------------------------------
    def index(self, scope: cst.CSTNode) -> _Index:
        key = ("stringflow-index", id(scope))
        found = self.ctx.cache.get(key)
        if found is None:
            found = _Index(scope)
            walk(scope, found)
            self.ctx.cache[key] = found
        return found

    def module_index(self) -> _Index:
        if self._module_index is None:
            self._module_index = self.index(self.ctx.module)
        return self._module_index

    def current_scope(self) -> cst.CSTNode:
        return self.ctx.enclosing_function() or self.ctx.module

    def _fragment(self, name: str) -> bool:
        return bool(self.fragment_words & set(_words(name)))

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, node: cst.BaseExpression, scope: cst.CSTNode | None = None,
                 at: cst.CSTNode | None = None) -> Built:
        """What is known about ``node`` evaluated in ``scope`` at the place ``at``."""
        scope = scope or self.current_scope()
        return self._eval(node, scope, at or node, 0, frozenset(), {})

    def _piece(self, node: cst.BaseExpression, built: Built, how: str) -> tuple[str, list[Part]]:
        """The text and harmful parts an interpolated sub-expression contributes."""
        if built.dynamic:
            return built.text, built.dynamic
        if built.safe:
            return (built.text if built.known else "0"), []
        return marker(node), [Part(node, how, built.origin)]

    def _eval(self, node: cst.BaseExpression, scope: cst.CSTNode, at: cst.CSTNode, depth: int,
              seen: frozenset, local: dict[str, Built]) -> Built:
        if depth > 12:
            return UNSAFE
        value = string_value(node)
        if value is not None:
            return Built.constant(value)
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
            return Built(False, "0", True, [])
        if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
            return SAFE
        recurse = lambda n: self._eval(n, scope, at, depth + 1, seen, local)  # noqa: E731
        if isinstance(node, cst.FormattedString):
            return self._fstring(node, recurse)
        if isinstance(node, cst.ConcatenatedString):  # with f-string parts
            left, right = recurse(node.left), recurse(node.right)
            dynamic = left.dynamic + right.dynamic
            return Built(True, left.text + right.text, not dynamic, dynamic)
        if isinstance(node, cst.BinaryOperation):
            return self._binary(node, recurse)
        if isinstance(node, cst.IfExp):
            return _union([recurse(node.body), recurse(node.orelse)])
        if isinstance(node, cst.Call):
            return self._call(node, scope, at, depth, seen, local, recurse)
        if isinstance(node, cst.Name):
            return self._name(node, scope, at, depth, seen, local)
        if isinstance(node, cst.Attribute):
            return self._attribute(node, scope, recurse)
        if isinstance(node, cst.Subscript):
            return self._subscript(node, scope, recurse)
        if isinstance(node, cst.Dict):
            parts = [recurse(e.value) for e in node.elements if isinstance(e, cst.DictElement)]
            return Built(False, "?", all(p.safe for p in parts), [d for p in parts for d in p.dynamic])
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            parts = [recurse(e.value) for e in node.elements if not isinstance(e, cst.StarredElement)]
            return _union(parts) if parts else SAFE
        if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return self._comprehension(node, scope, at, depth, seen, local)
        if isinstance(node, cst.Await):
            return recurse(node.expression)
        return UNSAFE

    def _fstring(self, node: cst.FormattedString, recurse) -> Built:
        text, dynamic = [], []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                text.append(part.value)
                continue
            spec = part.format_spec
            spec_text = "".join(p.value for p in spec if isinstance(p, cst.FormattedStringText)) if spec else ""
            inner = recurse(part.expression)
            if spec_text and spec_text[-1:] in "dfeEgGxXobn%":
                inner = Built(inner.known, "0", True, [])
            piece, parts = self._piece(part.expression, inner, "an f-string")
            text.append(piece)
            dynamic.extend(parts)
        return Built(True, "".join(text), not dynamic, dynamic)

    def _binary(self, node: cst.BinaryOperation, recurse) -> Built:
        op = node.operator
        if isinstance(op, cst.Add):
            left, right = recurse(node.left), recurse(node.right)
            if not (left.known or right.known):
                return Built(False, "?", left.safe and right.safe, left.dynamic + right.dynamic,
                             left.origin if not left.safe else right.origin)
            ltext, lparts = self._piece(node.left, left, "`+`")
            rtext, rparts = self._piece(node.right, right, "`+`")
            dynamic = lparts + rparts
            return Built(True, ltext + rtext, not dynamic, dynamic)
        if isinstance(op, cst.Modulo):
            left = recurse(node.left)
            if not left.known:
                return Built(False, "?", False, [])
            return self._percent(node, left, recurse)
        if isinstance(op, cst.Multiply):
            left, right = recurse(node.left), recurse(node.right)
            if left.known and left.safe or right.known and right.safe:
                text = left.text if left.known else right.text
                return Built(True, text, True, [])
            return Built(False, "?", left.safe and right.safe, [])
        left, right = recurse(node.left), recurse(node.right)
        return Built(False, "0", left.safe and right.safe, [])

    def _percent(self, node: cst.BinaryOperation, left: Built, recurse) -> Built:
        operand = node.right
        dynamic = list(left.dynamic)
        named: dict[str, tuple[str, list[Part]]] = {}
        positional: list[tuple[cst.BaseExpression, Built]] = []
        whole: tuple[str, list[Part]] | None = None
        if isinstance(operand, cst.Dict):
            for element in operand.elements:
                if isinstance(element, cst.DictElement) and string_value(element.key) is not None:
                    named[string_value(element.key)] = (element.value, recurse(element.value))  # type: ignore[index]
                else:
                    dynamic.append(Part(element.value, "`%`"))
        elif isinstance(operand, cst.Tuple):
            positional = [(e.value, recurse(e.value)) for e in operand.elements]
        else:
            built = recurse(operand)
            if "%(" in left.text:
                # a mapping built elsewhere: one part for the whole operand
                whole = ("?", [] if built.safe else [Part(operand, "`%`", built.origin)])
            else:
                positional = [(operand, built)]
        index = 0

        def substitute(m: re.Match) -> str:
            nonlocal index
            name, conv = m.group(1), m.group(2)
            if conv == "%":
                return "%"
            if name is not None:
                if whole is not None:
                    if conv not in NUMERIC_CONVERSIONS and whole[1]:
                        if whole[1][0] not in dynamic:
                            dynamic.append(whole[1][0])
                        return marker(whole[1][0].node)
                    return "0"
                if name not in named:
                    return "?"
                expr, built = named[name]
            else:
                if index >= len(positional):
                    return "?"
                expr, built = positional[index]
                index += 1
            if conv in NUMERIC_CONVERSIONS:
                return "0"
            text, parts = self._piece(expr, built, "`%`")
            dynamic.extend(parts)
            return text

        text = _NUMERIC_SPEC.sub(substitute, left.text)
        return Built(True, text, not dynamic, dynamic)

    def _call(self, node: cst.Call, scope, at, depth, seen, local, recurse) -> Built:
        if self.is_sink(node):
            return SAFE
        func = node.func
        name = self.ctx.resolve(func) or ""
        if _is_sanitizer(name, self.sanitizers):
            return Built(False, "0", True, [])
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            receiver = recurse(func.value) if method in ("format", "join", "strip", "lower", "upper", "lstrip",
                                                          "rstrip", "replace", "encode", "decode", "title") else None
            if method == "format" and receiver is not None and receiver.known:
                return self._format(node, receiver, recurse)
            if method == "join" and receiver is not None and receiver.known and node.args:
                iterable = node.args[0].value
                inner = recurse(iterable)
                sample, parts = self._piece(iterable, inner, "`join`")
                return Built(True, sample + receiver.text + sample, not parts, parts)
            if receiver is not None and method not in ("join", "format"):
                return receiver
            if name.split(".", 1)[0] in ("self", "cls") and depth < 4:
                return self._helper(node, func.attr.value, depth, seen, method_of=True)
            if method == "get" and isinstance(func.value, (cst.Name, cst.Attribute)):
                owner = recurse(func.value)
                if owner.safe:
                    return SAFE
                return Built(False, "?", False, [], owner.origin)
            return Built(False, "?", False, [], _origin_of_code(_code(node)))
        if isinstance(func, cst.Name):
            if func.value == "str" and node.args:
                return recurse(node.args[0].value)
            if depth < 4:
                return self._helper(node, func.value, depth, seen, method_of=False)
        return UNSAFE

    def _format(self, node: cst.Call, receiver: Built, recurse) -> Built:
        positional = [a.value for a in node.args if a.keyword is None and not a.star]
        keywords = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        dynamic = list(receiver.dynamic)
        index = 0

        def substitute(m: re.Match) -> str:
            nonlocal index
            spec = m.group(1)
            field_name, _, fmt = spec.partition(":")
            field_name = field_name.split("!")[0].split(".")[0].split("[")[0]
            if field_name == "":
                expr = positional[index] if index < len(positional) else None
                index += 1
            elif field_name.isdigit():
                i = int(field_name)
                expr = positional[i] if i < len(positional) else None
            else:
                expr = keywords.get(field_name)
            if expr is None:
                return "?"
            if fmt[-1:] in "dfeEgGxXobn%" and fmt:
                return "0"
            text, parts = self._piece(expr, recurse(expr), "`.format()`")
            dynamic.extend(parts)
            return text

        text = _FORMAT_FIELD.sub(substitute, receiver.text.replace("{{", "\x01").replace("}}", "\x02"))
        text = text.replace("\x01", "{").replace("\x02", "}")
        return Built(True, text, not dynamic, dynamic)

    def _helper(self, call: cst.Call, name: str, depth, seen, method_of: bool) -> Built:
        """A call to a function of the same module (or a method of the same class):
        what its return statements build."""
        func = self._find_function(name, method_of)
        if func is None or ("fn", id(func)) in seen:
            return UNSAFE
        returns = [n.value for n in _walk(func.body) if isinstance(n, cst.Return) and n.value is not None]
        if not returns:
            return UNSAFE
        results = [self._eval(r, func, r, depth + 2, seen | {("fn", id(func))}, {}) for r in returns]
        built = _union(results)
        if built.dynamic:
            parts = [Part(p.node, p.how + f" in `{name}()`", p.origin) for p in built.dynamic]
            text = built.text
            return Built(built.known, text, False, parts)
        return built

    def _find_function(self, name: str, method_of: bool) -> cst.FunctionDef | None:
        if method_of:
            cls = self.ctx.enclosing_class()
            if cls is None:
                return None
            for stmt in cls.body.body:
                if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                    return stmt
            return None
        return self.module_index().functions.get(name)

    def _param_origin(self, scope: cst.CSTNode) -> str:
        name = scope.name.value if isinstance(scope, cst.FunctionDef) else ""
        return "private" if name.startswith("_") and not name.startswith("__") else "param"

    def _name(self, node: cst.Name, scope, at, depth, seen, local) -> Built:
        name = node.value
        if name in local:
            return local[name]
        index = self.index(scope)
        if name in index.validated:
            return SAFE
        limit = index.order.get(id(at))
        defs = [d for d in index.defs.get(name, ()) if limit is None or d.order < limit]
        if defs and ("var", id(scope), name) in seen:
            return Built(False, "", True, [])  # the variable's own earlier value: counted once
        if defs:
            seen = seen | {("var", id(scope), name)}
            parts: list[Built] = []
            for d in defs:
                if d.how in ("assign", "augadd", "append", "extend") and d.value is not None:
                    parts.append(self._eval(d.value, scope, at, depth + 1, seen, local))
                elif d.how in ("loop", "loopitem") and d.value is not None:
                    parts.append(self._iterated(d.value, scope, at, depth, seen, local))
                elif self._fragment(name):
                    parts.append(FRAGMENT)
                else:
                    parts.append(UNSAFE)
            return _union(parts)
        if name in index.params:
            if self._fragment(name):
                return FRAGMENT
            origin = "other" if name in ("self", "cls") else self._param_origin(scope)
            return Built(False, "?", False, [], origin)
        if scope is not self.ctx.module:
            module = self.module_index()
            if name in module.defs:
                mdefs = module.defs[name]
                if _CONSTANT_NAME.match(name) or all(d.how == "assign" and _is_literalish(d.value) for d in mdefs):
                    vals = [string_value(d.value) for d in mdefs]
                    text = vals[0] if len(vals) == 1 and vals[0] is not None else "?"
                    return Built(text != "?", text, True, [])
        if _CONSTANT_NAME.match(name):
            return SAFE
        if self._fragment(name):
            return FRAGMENT
        return Built(False, "?", False, [], "request" if name in ("request", "req") else "other")

    def _iterated(self, iterable: cst.BaseExpression, scope, at, depth, seen, local) -> Built:
        """What the loop variable of ``for x in iterable`` holds."""
        if isinstance(iterable, cst.Call):
            fname = self.ctx.resolve(iterable.func) or ""
            if fname == "range":
                return SAFE
            if fname in ("sorted", "reversed", "list", "tuple", "set", "enumerate", "zip") and iterable.args:
                return self._iterated(iterable.args[0].value, scope, at, depth, seen, local)
            if isinstance(iterable.func, cst.Attribute) and iterable.func.attr.value in ("keys", "values", "items"):
                owner = self._eval(iterable.func.value, scope, at, depth + 1, seen, local)
                return SAFE if owner.safe else Built(False, "?", False, [], owner.origin)
        if isinstance(iterable, (cst.List, cst.Tuple, cst.Set)):
            return _union([self._eval(e.value, scope, at, depth + 1, seen, local) for e in iterable.elements])
        built = self._eval(iterable, scope, at, depth + 1, seen, local)
        return SAFE if built.safe else Built(False, "?", False, [], built.origin)

    def _attribute(self, node: cst.Attribute, scope, recurse) -> Built:
        attr = node.attr.value
        if attr in REQUEST_ATTRS:
            return Built(False, "?", False, [], "request")
        if _CONSTANT_NAME.match(attr) or attr in SAFE_ATTRS:
            return SAFE
        code = _code(node)
        if code in self.index(scope).validated:
            return SAFE
        if any(isinstance(n, cst.Attribute) and n.attr.value == "_meta" for n in _walk(node)):
            return SAFE
        base = node.value
        if isinstance(base, cst.Name) and base.value in ("self", "cls"):
            literal = self._class_attribute(attr)
            if literal is not None:
                return literal
        if self._fragment(attr):
            return FRAGMENT
        # attributes of objects passed in are model data (``dataset.table_name``), not
        # caller-chosen names; request attributes are recognised by their names
        return Built(False, "?", False, [], _origin_of_code(code))

    def _class_attribute(self, attr: str) -> Built | None:
        cls = self.ctx.enclosing_class()
        if cls is None:
            return None
        for stmt in cls.body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, (cst.Assign, cst.AnnAssign)) and _assigns(small, attr):
                        literal = string_value(small.value)
                        if literal is not None:
                            return Built.constant(literal)
                        if _is_literalish(small.value):
                            return SAFE
        return None

    def _subscript(self, node: cst.Subscript, scope, recurse) -> Built:
        container = node.value
        if isinstance(container, cst.Name) and _CONSTANT_NAME.match(container.value):
            return SAFE
        if isinstance(container, (cst.Dict, cst.List, cst.Tuple)):
            return SAFE
        if isinstance(container, cst.Attribute) and isinstance(container.value, cst.Name) and \
                container.value.value in ("self", "cls"):
            if _CONSTANT_NAME.match(container.attr.value) or self._class_attribute(container.attr.value) is not None:
                return SAFE
        if isinstance(container, cst.Name):
            defs = self.index(scope).defs.get(container.value, ())
            if defs and all(d.how == "assign" and isinstance(d.value, (cst.Dict, cst.List, cst.Tuple)) and
                            _is_literalish(d.value) for d in defs):
                return SAFE
            mdefs = self.module_index().defs.get(container.value, ())
            if not defs and mdefs and all(d.how == "assign" and _is_literalish(d.value) for d in mdefs):
                return SAFE
            if self._fragment(container.value):
                return FRAGMENT
        owner = recurse(container) if isinstance(container, (cst.Name, cst.Attribute, cst.Call)) else UNSAFE
        if owner.safe:
            return SAFE
        return Built(False, "?", False, [], _origin_of_code(_code(node), owner.origin))

    def _comprehension(self, node, scope, at, depth, seen, local) -> Built:
        bound = dict(local)
        comp = node.for_in
        while comp is not None:
            value = self._iterated(comp.iter, scope, at, depth, seen, bound)
            for target in _names_in(comp.target):
                bound[target] = value if isinstance(comp.target, cst.Name) else (
                    SAFE if value.safe else Built(False, "?", False, [], value.origin))
            comp = comp.inner_for_in
        return self._eval(node.elt, scope, at, depth + 1, seen, bound)


_REQUEST_CODE = re.compile(r"\b(?:request|req)\.(?:args|form|values|json|data|GET|POST|query_params|params|"
                           r"query|match_info|path_params|headers|cookies|COOKIES|get_json|body)\b")


def _origin_of_code(code: str, fallback: str = "other") -> str:
    return "request" if _REQUEST_CODE.search(code) else fallback


def _assigns(stmt: cst.Assign | cst.AnnAssign, name: str) -> bool:
    targets = [t.target for t in stmt.targets] if isinstance(stmt, cst.Assign) else [stmt.target]
    return any(isinstance(t, cst.Name) and t.value == name for t in targets)


def _names_in(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _names_in(e.value)]
    return []


def _words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]


def _is_literalish(node: cst.BaseExpression | None) -> bool:
    """A literal, or a container/concatenation made only of literals and constants."""
    if node is None:
        return False
    if string_value(node) is not None or isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("None", "True", "False") or bool(_CONSTANT_NAME.match(node.value))
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return all(_is_literalish(e.value) for e in node.elements)
    if isinstance(node, cst.Dict):
        return all(isinstance(e, cst.DictElement) and (_is_literalish(e.key) or isinstance(e.key, (cst.Name, cst.Attribute)))
                   and _is_literalish(e.value) for e in node.elements)
    if isinstance(node, cst.BinaryOperation):
        return _is_literalish(node.left) and _is_literalish(node.right)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in ("frozenset", "set", "tuple", "dict"):
        return all(_is_literalish(a.value) for a in node.args)
    return False


def _union(parts: list[Built]) -> Built:
    """Several possible values of one expression (successive definitions, branches)."""
    if not parts:
        return UNSAFE
    known = any(p.known for p in parts)
    text = " ".join(p.text for p in parts if p.known) or "?"
    dynamic = [d for p in parts for d in p.dynamic]
    safe = all(p.safe for p in parts)
    origins = [p.origin for p in parts if not p.safe and p.origin != "other"]
    return Built(known, text, safe, dynamic, origins[0] if origins else "other")
