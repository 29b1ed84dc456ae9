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
  (``quote_name``, ``sql.Identifier``...), names checked against an allow-list
  (``if col not in ALLOWED: raise``, ``assert col in {...}``, ``COLUMNS[key]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

import libcst as cst

from checker.rule import FileContext
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
#: escaped literals, psycopg composition objects.
SQL_SANITIZERS = frozenset({
    "int", "float", "len", "bool", "abs", "round", "min", "max", "sum", "hash", "ord", "range",
    "quote_name", "quote_ident", "quote_identifier", "quote", "quote_schema", "quote_table", "qn", "qn2",
    "escape", "escape_string", "escape_identifier", "literal", "Identifier", "Literal", "Placeholder",
    "sql_identifier", "format_identifier", "quoted_name", "quote_value", "quote_literal", "escape_like",
    "isoformat", "strftime", "uuid4", "uuid1", "hex", "count", "now", "utcnow", "today", "timestamp",
})
#: Names of parameters that carry SQL text composed elsewhere (where that text is
#: built, it is checked there).
SQL_FRAGMENT_WORDS = frozenset({"sql", "query", "clause", "clauses", "stmt", "statement", "subquery",
                                "fragment", "where", "cte", "subselect", "subqueries", "joins"})
_NUMERIC_SPEC = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")
_CONSTANT_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_SAFE_ATTRS = frozenset({"db_table", "__tablename__", "_meta", "model_name", "app_label", "pk", "id",
                         "__name__", "tablename", "table_name_quoted"})
_TERMINATORS = (cst.Raise, cst.Return, cst.Continue, cst.Break)
_VALIDATING_METHODS = frozenset({"isidentifier", "isalnum", "isdigit", "isnumeric", "isdecimal", "isalpha",
                                 "match", "fullmatch"})


@dataclass
class Built:
    """What is known about a string expression.

    ``known``: it is a string with (partly) known text; ``text``: that text, with ``?``
    where non-constant parts go; ``safe``: the value is harmless to interpolate;
    ``dynamic``: the harmful parts, as (node, how it was interpolated, related line node).
    """

    known: bool = False
    text: str = "?"
    safe: bool = False
    dynamic: list[tuple[cst.CSTNode, str]] = field(default_factory=list)

    @classmethod
    def constant(cls, text: str) -> "Built":
        return cls(True, text, True, [])


SAFE = Built(False, "?", True, [])
UNSAFE = Built(False, "?", False, [])


@dataclass
class Def:
    order: int
    value: cst.BaseExpression | None
    how: str  # "assign", "augadd", "append", "extend", "loop", "unknown", "safe"


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
                self._add(element.value, None, "unknown")

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
        if isinstance(node.target, cst.Name):
            self._add(node.target, node.iter, "loop")
        else:
            self._add(node.target, None, "unknown")

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


class StringFlow:
    """Evaluates string expressions of one file (see the module docstring).

    ``sanitizers``: final names of calls whose result is harmless to interpolate;
    ``sinks``: a predicate telling calls that are reported on their own (their result is
    not followed again, so one string is reported once).
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
            scope.visit(found)
            self.ctx.cache[key] = found
        return found

    def module_index(self) -> _Index:
        if self._module_index is None:
            self._module_index = self.index(self.ctx.module)
        return self._module_index

    def current_scope(self) -> cst.CSTNode:
        return self.ctx.enclosing_function() or self.ctx.module

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, node: cst.BaseExpression, scope: cst.CSTNode | None = None,
                 at: cst.CSTNode | None = None) -> Built:
        """What is known about ``node`` evaluated in ``scope`` at the place ``at``."""
        scope = scope or self.current_scope()
        return self._eval(node, scope, at or node, 0, frozenset(), {})

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
            return self._attribute(node, scope)
        if isinstance(node, cst.Subscript):
            return self._subscript(node, scope, recurse)
        if isinstance(node, cst.Dict):
            return SAFE if _is_literalish(node) else UNSAFE
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
            text.append(inner.text if inner.known or inner.safe else "?")
            dynamic.extend(self._harm(part.expression, inner, "an f-string"))
        return Built(True, "".join(text), not dynamic, dynamic)

    def _binary(self, node: cst.BinaryOperation, recurse) -> Built:
        op = node.operator
        if isinstance(op, cst.Add):
            left, right = recurse(node.left), recurse(node.right)
            if not (left.known or right.known):
                return Built(False, "?", left.safe and right.safe, left.dynamic + right.dynamic)
            dynamic = self._harm(node.left, left, "`+`") + self._harm(node.right, right, "`+`")
            return Built(True, left.text + right.text, not dynamic, dynamic)
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
        specs = [(m.group(1), m.group(2)) for m in _NUMERIC_SPEC.finditer(left.text) if m.group(2) != "%"]
        operand = node.right
        dynamic = list(left.dynamic)
        if isinstance(operand, cst.Dict):
            kinds = {name: conv for name, conv in specs if name}
            for element in operand.elements:
                if not isinstance(element, cst.DictElement):
                    dynamic.append((element.value, "`%`"))
                    continue
                key = string_value(element.key)
                if kinds.get(key or "", "s") in "diouxXeEfFgG":
                    continue
                dynamic.extend(self._harm(element.value, recurse(element.value), "`%`"))
        else:
            items = [e.value for e in operand.elements] if isinstance(operand, cst.Tuple) else [operand]
            for i, item in enumerate(items):
                conv = specs[i][1] if i < len(specs) else "s"
                if conv in "diouxXeEfFgG":
                    continue
                dynamic.extend(self._harm(item, recurse(item), "`%`"))
        text = _NUMERIC_SPEC.sub("?", left.text)
        return Built(True, text, not dynamic, dynamic)

    def _call(self, node: cst.Call, scope, at, depth, seen, local, recurse) -> Built:
        if self.is_sink(node):
            return SAFE
        func = node.func
        name = self.ctx.resolve(func) or ""
        last = name.rsplit(".", 1)[-1]
        if last in self.sanitizers:
            return Built(False, "0", True, [])
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            receiver = recurse(func.value) if method in ("format", "join", "strip", "lower", "upper", "lstrip",
                                                          "rstrip", "replace", "encode", "decode", "title") else None
            if method == "format" and receiver is not None and receiver.known:
                dynamic = list(receiver.dynamic)
                for a in node.args:
                    dynamic.extend(self._harm(a.value, recurse(a.value), "`.format()`"))
                text = re.sub(r"\{[^{}]*\}", "?", receiver.text)
                return Built(True, text, not dynamic, dynamic)
            if method == "join" and receiver is not None and receiver.known and node.args:
                iterable = node.args[0].value
                inner = recurse(iterable)
                dynamic = self._harm(iterable, inner, "`join`") if not inner.safe else []
                sample = inner.text if inner.known else "?"
                return Built(True, sample + receiver.text + sample, not dynamic, dynamic)
            if receiver is not None and method != "join" and method != "format":
                return receiver
            if name.split(".", 1)[0] in ("self", "cls") and depth < 4:
                return self._helper(node, func.attr.value, scope, depth, seen, local, method_of=True)
            if method in ("get",) and isinstance(func.value, (cst.Name, cst.Attribute)):
                owner = recurse(func.value)
                if owner.safe:
                    return SAFE
            return UNSAFE
        if isinstance(func, cst.Name):
            if func.value == "str" and node.args:
                return recurse(node.args[0].value)
            if depth < 4:
                return self._helper(node, func.value, scope, depth, seen, local, method_of=False)
        return UNSAFE

    def _helper(self, call: cst.Call, name: str, scope, depth, seen, local, method_of: bool) -> Built:
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
            # Report at the call, naming where the helper builds it.
            return Built(built.known, built.text, False, [(d[0], d[1] + f" in `{name}()`") for d in built.dynamic])
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
                elif d.how == "loop" and d.value is not None:
                    parts.append(self._iterated(d.value, scope, at, depth, seen, local))
                else:
                    parts.append(UNSAFE)
            return _concat(parts)
        if name in index.params:
            if self.fragment_words & set(_words(name)):
                return Built(True, "?", True, [])
            return UNSAFE
        if scope is not self.ctx.module:
            module = self.module_index()
            if name in module.defs:
                mdefs = module.defs[name]
                if _CONSTANT_NAME.match(name) or all(d.how == "assign" and _is_literalish(d.value) for d in mdefs):
                    vals = [string_value(d.value) for d in mdefs]
                    text = vals[0] if len(vals) == 1 and vals[0] is not None else "?"
                    return Built(text != "?", text, True, [])
        if _CONSTANT_NAME.match(name):
            return Built(False, "?", True, [])
        if self.ctx.imports.get(name) is not None:
            return SAFE if _CONSTANT_NAME.match(name.rsplit(".", 1)[-1]) else UNSAFE
        return UNSAFE

    def _iterated(self, iterable: cst.BaseExpression, scope, at, depth, seen, local) -> Built:
        """What the loop variable of ``for x in iterable`` holds."""
        if isinstance(iterable, cst.Call):
            fname = self.ctx.resolve(iterable.func) or ""
            if fname in ("range", "enumerate"):
                return SAFE if fname == "range" else UNSAFE
            if fname in ("sorted", "reversed", "list", "tuple", "set") and iterable.args:
                return self._iterated(iterable.args[0].value, scope, at, depth, seen, local)
            if isinstance(iterable.func, cst.Attribute) and iterable.func.attr.value in ("keys", "values", "items"):
                owner = self._eval(iterable.func.value, scope, at, depth + 1, seen, local)
                return SAFE if owner.safe else UNSAFE
        if isinstance(iterable, (cst.List, cst.Tuple, cst.Set)):
            return _union([self._eval(e.value, scope, at, depth + 1, seen, local) for e in iterable.elements])
        built = self._eval(iterable, scope, at, depth + 1, seen, local)
        return SAFE if built.safe else UNSAFE

    def _attribute(self, node: cst.Attribute, scope) -> Built:
        attr = node.attr.value
        if _CONSTANT_NAME.match(attr) or attr in _SAFE_ATTRS:
            return SAFE
        code = _code(node)
        if code in self.index(scope).validated:
            return SAFE
        if any(isinstance(n, cst.Attribute) and n.attr.value == "_meta" for n in _walk(node)):
            return SAFE
        base = node.value
        if isinstance(base, cst.Name) and base.value in ("self", "cls"):
            cls = self.ctx.enclosing_class()
            if cls is not None:
                for stmt in cls.body.body:
                    if isinstance(stmt, cst.SimpleStatementLine):
                        for small in stmt.body:
                            if isinstance(small, (cst.Assign, cst.AnnAssign)) and _assigns(small, attr):
                                value = small.value
                                literal = string_value(value)
                                if literal is not None:
                                    return Built.constant(literal)
                                if _is_literalish(value):
                                    return SAFE
            if self.fragment_words & set(_words(attr)):
                return Built(True, "?", True, [])
        return UNSAFE

    def _subscript(self, node: cst.Subscript, scope, recurse) -> Built:
        container = node.value
        if isinstance(container, cst.Name) and _CONSTANT_NAME.match(container.value):
            return SAFE
        if isinstance(container, (cst.Dict, cst.List, cst.Tuple)):
            return SAFE
        if isinstance(container, cst.Name):
            defs = self.index(scope).defs.get(container.value, ())
            if defs and all(d.how == "assign" and isinstance(d.value, (cst.Dict, cst.List, cst.Tuple)) and
                            _is_literalish(d.value) for d in defs):
                return SAFE
            mdefs = self.module_index().defs.get(container.value, ())
            if not defs and mdefs and all(d.how == "assign" and _is_literalish(d.value) for d in mdefs):
                return SAFE
        return UNSAFE

    def _comprehension(self, node, scope, at, depth, seen, local) -> Built:
        bound = dict(local)
        comp = node.for_in
        while comp is not None:
            value = self._iterated(comp.iter, scope, at, depth, seen, bound)
            for target in _names_in(comp.target):
                bound[target] = value if isinstance(comp.target, cst.Name) else (SAFE if value.safe else UNSAFE)
            comp = comp.inner_for_in
        element = node.elt
        return self._eval(element, scope, at, depth + 1, seen, bound)

    def _harm(self, node: cst.BaseExpression, built: Built, how: str) -> list[tuple[cst.CSTNode, str]]:
        """The harmful parts a sub-expression contributes when interpolated."""
        if built.dynamic:
            return built.dynamic
        if built.safe:
            return []
        return [(node, how)]


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
        return all(isinstance(e, cst.DictElement) and _is_literalish(e.key) and _is_literalish(e.value)
                   for e in node.elements)
    if isinstance(node, cst.BinaryOperation):
        return _is_literalish(node.left) and _is_literalish(node.right)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in ("frozenset", "set", "tuple", "dict"):
        return all(_is_literalish(a.value) for a in node.args)
    return False


def _union(parts: list[Built]) -> Built:
    if not parts:
        return UNSAFE
    known = any(p.known for p in parts)
    text = " ".join(p.text for p in parts if p.known) or "?"
    dynamic = [d for p in parts for d in p.dynamic]
    safe = all(p.safe for p in parts)
    return Built(known, text, safe, dynamic)


def _concat(parts: list[Built]) -> Built:
    """Successive definitions of one variable (``q = ...; q += ...``)."""
    return _union(parts)
