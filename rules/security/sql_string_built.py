from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.sql import StringFlow, looks_like_sql, plain_text, position, sql_sink


CODE_CHOSEN_DIRS = frozenset({"migrations", "alembic", "versions", "examples", "example", "docs", "samples"})


def _contains(root: cst.CSTNode, target: cst.CSTNode) -> bool:
    if root is target:
        return True
    return any(_contains(child, target) for child in root.children)


class SqlStringBuilt(FileRule):
    """
    ## What it does
    Finds SQL text built from non-constant parts with f-strings, `%`, `+`, `.format()`
    or `join`, that reaches a call running raw SQL: DB-API `execute`/`executemany`/
    `executescript` (sqlite3, psycopg, psycopg2, pymysql, MySQLdb, asyncpg), SQLAlchemy
    `text()`, `session.execute`, `engine.execute`, `exec_driver_sql`, Django `raw`,
    `extra` and `RawSQL`, pandas `read_sql`/`read_sql_query`, psycopg `sql.SQL`.
    The text is followed through local variables, reassignments, `+=`, lists built with
    `append` and helper functions of the same module, across lines.

    Where the part lands decides what is reported:
    - in a *value* position (compared, quoted, in `IN (...)`/`VALUES (...)`, after
      `LIMIT`): always, with high confidence: values belong in query parameters;
    - in a *name* position (a table or column name, `ORDER BY` target, a fragment):
      when the name comes from a parameter of a public function or from request data
      and is not checked against an allow-list, with medium confidence. Names computed
      inside the code (model metadata, class constants, quoted identifiers) are not
      reported: identifiers cannot be parameters, and code-chosen ones are safe.

    Not reported either: constant SQL; values passed as parameters
    (`execute("... %s", (x,))`, `text("... :id")` with params); numbers (`int(x)`,
    `len(ids)`, `%d`); placeholder lists (`", ".join(["%s"] * len(ids))`); quoted
    identifiers (`quote_name`, `sql.Identifier`, any `*quote*`/`*escape*` call); names
    checked against an allow-list (`if col not in ALLOWED: raise`, `assert col in {...}`,
    `COLUMNS[key]`); module- and class-level constants; text that does not read as SQL
    ("Please select a file from the list").

    ## Why is this bad?
    A value spliced into SQL text is parsed as SQL: a quote in it ends the literal and
    the rest runs as the attacker's query (SQL injection). Parameters are sent apart
    from the query and cannot change its structure. Table and column names cannot be
    parameters: check them against a fixed list of allowed names.

    ## Known limits
    Data flow is local to one function (plus same-module helpers it calls); a value
    that was validated in a caller is still reported. In migrations and example folders
    names passed in by callers are not reported (migration scripts and example loaders
    pass their own constants). Names holding SQL text composed
    elsewhere (`sql`, `query`, `where`, `clause`... in the name) are taken as SQL
    fragments and checked where they are built. Test code is not checked.
    """

    slug = "sql-string-built"
    checklist = "Database operations use parameterized queries; SQL queries vulnerable to injection"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript", "go")
    cwe = ("CWE-89",)
    summary = "SQL text is built from non-constant parts"
    triggers = ("execute", "text", "raw", "RawSQL", "extra", "read_sql", "fetch", "query", "SQL", "mogrify",
                "copy_expert")
    bad = (
        Example(
            "import sqlite3\n\n"
            "def find_users(conn: sqlite3.Connection, name, order):\n"
            "    sql = 'SELECT id, email FROM users'\n"
            "    sql += f\" WHERE name = '{name}'\"\n"
            "    sql += ' ORDER BY ' + order\n"
            "    cur = conn.cursor()\n"
            "    cur.execute(sql)  # flagged\n"
            "    return cur.fetchall()\n"
        ),
        Example(
            "from sqlalchemy import text as sql_text\n\n"
            "def archive(session, ids):\n"
            "    stmt = sql_text('UPDATE orders SET archived = true '  # flagged\n"
            "                    'WHERE id IN ({})'.format(','.join(ids)))\n"
            "    session.execute(stmt)\n"
        ),
    )
    good = (
        Example(
            "ALLOWED_ORDER = {'name', 'created_at'}\n\n"
            "def find_users(cur, name, order, ids):\n"
            "    if order not in ALLOWED_ORDER:\n"
            "        raise ValueError(order)\n"
            "    marks = ', '.join(['%s'] * len(ids))\n"
            "    cur.execute(f'SELECT id FROM users WHERE name = %s AND id IN ({marks}) ORDER BY {order}',\n"
            "                (name, *ids))\n"
            "    cur.execute('SELECT count(*) FROM users LIMIT %d' % int(len(ids)))\n"
        ),
        Example(
            "def notify(ui, cur, user):\n"
            "    cur.execute('SELECT id FROM users WHERE id = %s', (user,))\n"
            "    ui.query(f'Please select a file from the list, {user}')\n"
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._flow: StringFlow | None = None
        parts = ctx.path.lower().split("/")
        #: migrations and example loaders name tables chosen by the code that calls them
        self._code_chosen_names = any(p in CODE_CHOSEN_DIRS for p in parts[:-1])

    def _is_wrapper_sink(self, call: cst.Call) -> bool:
        sink = sql_sink(self.ctx, call)
        return sink is not None and sink.kind != "method"

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test:
            return
        sink = sql_sink(self.ctx, node)
        if sink is None:
            return
        if self._flow is None:
            self._flow = StringFlow(self.ctx, is_sink=self._is_wrapper_sink)
        for expr in sink.sql:
            if isinstance(expr, cst.Call) and self._is_wrapper_sink(expr):
                continue  # reported at the inner call
            built = self._flow.evaluate(expr)
            if not built.known or sink.kind == "method" and not looks_like_sql(plain_text(built.text)):
                continue
            self.checked()
            values = [p for p in built.dynamic if position(built.text, p) == "value"]
            names = [p for p in built.dynamic if p not in values and p.origin in ("param", "request")]
            if self._code_chosen_names:
                names = [p for p in names if p.origin == "request"]
            if values:
                self._report(node, sink, values, "as a value: pass it as a query parameter", Confidence.HIGH)
                return
            if names:
                self._report(node, sink, names, "as a table/column name or SQL fragment: check it against an "
                                                "allow-list of names", Confidence.MEDIUM)
                return

    def _report(self, node: cst.Call, sink, parts, advice: str, confidence: Confidence) -> None:
        first = parts[0]
        code = " ".join(self.ctx.code_of(first.node).split())
        if len(code) > 40:
            code = code[:37] + "..."
        related, lines = [], {self.ctx.line_of(node)}
        for part in parts:
            line = self.ctx.line_of(part.node)
            if line not in lines and not _contains(node, part.node):
                lines.add(line)
                related.append((part.node, f"non-constant part interpolated with {part.how}"))
        self.report(node, f"SQL text built with {first.how} from `{code}` reaches `{sink.label}()` {advice}",
                    confidence=confidence, related=related)
