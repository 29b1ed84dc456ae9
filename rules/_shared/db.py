"""Database knowledge: which calls run queries or writes, and what a query expression loads.

The catalog is data (the tables below), read by a few generic functions, so rules share one
notion of "a database call":

* Django: managers and querysets (``Order.objects.filter(...)``, ``cls.objects``,
  ``self.model._default_manager``, ``get_user_model().objects``), model instance
  ``save()``/``delete()``/``refresh_from_db()``.
* SQLAlchemy: 1.x ``session.query/add/commit/execute/merge/delete``, Flask-SQLAlchemy
  ``db.session.*`` and ``Model.query.*``, 2.0 ``session.execute(select(...))``,
  ``session.scalars``/``scalar``/``get``, SQLModel ``session.exec``, ``engine.connect().execute``.
* DB-API drivers (sqlite3, psycopg/psycopg2, pymysql, MySQLdb): cursors and connections
  ``execute``/``executemany``/``executescript``/``callproc``/``fetch*``.
* asyncpg (``fetch``/``fetchrow``/``fetchval``), databases (``fetch_all``/``fetch_one``...),
  pymongo/motor collection methods, pandas ``read_sql``/``to_sql``.

Receivers are recognised by what the function assigned them from (``Session()``,
``engine.connect()``, ``conn.cursor()``, ``asyncpg.connect()``...), by parameter annotations
(``db: Session``), and otherwise by conventional names (``session``, ``db``, ``cursor``,
``cur``, ``conn``...). Receivers that resolve to HTTP clients, web sessions or caches are
never database calls.

Each call in a chain matches: ``User.objects.filter(...).first()`` is a lazy Django query
(``filter``) inside a read (``first``). :func:`is_chain_receiver` tells a visitor that the
call it is looking at is only the receiver of an outer call, so it can report a chain once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

import libcst as cst

from checker.rule import FileContext
from checker.syntax import walk
from rules._shared.sql import looks_like_sql
from rules._shared.web import arg, string_value

# What a database call does to the database.
READ = "read"  # runs a query now
WRITE = "write"  # runs an INSERT/UPDATE/DELETE now
LAZY = "lazy"  # builds a query that runs when the result is used (Django querysets, Query objects)
STAGE = "stage"  # changes the unit of work only (session.add); SQL is sent at flush
TRANSACTION = "transaction"  # commit/rollback/flush/begin
FETCH = "fetch"  # reads rows of a query already executed (cursor.fetchone)
QUERY_OPS = frozenset({READ, WRITE, LAZY})

# -- Django ---------------------------------------------------------------------------------
DJANGO_MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
DJANGO_QS_LAZY = frozenset({
    "all", "filter", "exclude", "order_by", "select_related", "prefetch_related", "annotate", "alias",
    "values", "values_list", "distinct", "only", "defer", "using", "none", "reverse", "extra", "union",
    "intersection", "difference", "select_for_update", "dates", "datetimes", "raw", "get_queryset",
})
DJANGO_QS_READ = frozenset({
    "get", "first", "last", "count", "exists", "aggregate", "in_bulk", "earliest", "latest", "iterator",
    "contains", "explain", "afirst", "alast", "aget", "acount", "aexists", "aaggregate", "aiterator",
    "ain_bulk", "aearliest", "alatest", "acontains",
})
DJANGO_QS_WRITE = frozenset({
    "create", "get_or_create", "update_or_create", "bulk_create", "bulk_update", "update", "delete",
    "acreate", "aget_or_create", "aupdate_or_create", "abulk_create", "abulk_update", "aupdate", "adelete",
})
# Instance methods of a Django model object that talk to the database.
DJANGO_INSTANCE = {"save": WRITE, "delete": WRITE, "refresh_from_db": READ,
                   "asave": WRITE, "adelete": WRITE, "arefresh_from_db": READ}
# Receivers whose save()/delete() is not a model instance's (or is the framework's idiom).
NOT_MODEL_INSTANCE = re.compile(r"(form|formset|serializer|session|cache|storage|file|image|img|workbook|wb|"
                                r"response|request|pipeline|redis|client|bucket|blob|zip|tar)s?$", re.I)

# -- SQLAlchemy -----------------------------------------------------------------------------
SA_SESSION = {
    "query": LAZY, "execute": READ, "scalars": READ, "scalar": READ, "get": READ, "get_one": READ,
    "exec": READ, "refresh": READ, "merge": STAGE, "add": STAGE, "add_all": STAGE, "delete": STAGE,
    "commit": TRANSACTION, "flush": TRANSACTION, "rollback": TRANSACTION, "begin": TRANSACTION,
    "begin_nested": TRANSACTION, "bulk_save_objects": WRITE, "bulk_insert_mappings": WRITE,
    "bulk_update_mappings": WRITE, "stream": READ, "stream_scalars": READ,
}
# Methods of a Query (1.x / Flask-SQLAlchemy ``Model.query``) that run it.
SA_QUERY_READ = frozenset({
    "all", "first", "one", "one_or_none", "scalar", "count", "get", "get_or_404", "first_or_404",
    "one_or_404", "paginate", "exists", "__iter__", "yield_per",
})
SA_QUERY_WRITE = frozenset({"delete", "update"})
# Methods on a Result (of session.execute / conn.execute): they read what the query returned.
SA_RESULT = frozenset({"scalars", "scalar", "scalar_one", "scalar_one_or_none", "all", "first", "one",
                       "one_or_none", "fetchall", "fetchone", "fetchmany", "mappings", "unique", "partitions"})
SA_WRITE_CONSTRUCTS = frozenset({"sqlalchemy.insert", "sqlalchemy.update", "sqlalchemy.delete",
                                 "sqlalchemy.sql.insert", "sqlalchemy.sql.update", "sqlalchemy.sql.delete",
                                 "sqlalchemy.dialects.postgresql.insert", "sqlalchemy.dialects.mysql.insert",
                                 "sqlalchemy.dialects.sqlite.insert", "sqlmodel.insert", "sqlmodel.update",
                                 "sqlmodel.delete"})
# Constructors whose result is a session.
SESSION_FACTORIES = frozenset({
    "sqlalchemy.orm.Session", "sqlalchemy.orm.session.Session", "sqlalchemy.ext.asyncio.AsyncSession",
    "sqlmodel.Session", "sqlalchemy.orm.scoped_session", "sqlalchemy.orm.sessionmaker",
    "sqlalchemy.ext.asyncio.async_sessionmaker", "sqlalchemy.ext.asyncio.async_scoped_session",
})
SESSION_ANNOTATIONS = frozenset({"Session", "AsyncSession", "scoped_session", "SessionType", "DBSession"})
ENGINE_FACTORIES = frozenset({"sqlalchemy.create_engine", "sqlalchemy.engine.create_engine",
                              "sqlalchemy.ext.asyncio.create_async_engine", "sqlmodel.create_engine"})

# -- DB-API and drivers ---------------------------------------------------------------------
DBAPI_CONNECT = frozenset({
    "sqlite3.connect", "psycopg2.connect", "psycopg.connect", "psycopg.AsyncConnection.connect",
    "psycopg.Connection.connect", "pymysql.connect", "MySQLdb.connect", "mysql.connector.connect",
    "pymssql.connect", "pyodbc.connect", "cx_Oracle.connect", "oracledb.connect", "aiosqlite.connect",
    "aiomysql.connect", "psycopg2.pool.SimpleConnectionPool", "psycopg2.pool.ThreadedConnectionPool",
    "psycopg_pool.ConnectionPool", "psycopg_pool.AsyncConnectionPool", "aiomysql.create_pool",
})
ASYNCPG_CONNECT = frozenset({"asyncpg.connect", "asyncpg.create_pool"})
DBAPI_EXEC = frozenset({"execute", "executemany", "executescript", "callproc", "copy_expert", "copy_from",
                        "copy_to", "nextset"})
DBAPI_FETCH = frozenset({"fetchone", "fetchall", "fetchmany", "scroll"})
DBAPI_TX = frozenset({"commit", "rollback"})
ASYNCPG_READ = frozenset({"fetch", "fetchrow", "fetchval", "cursor"})
ASYNCPG_WRITE = frozenset({"executemany", "copy_records_to_table", "copy_to_table"})
DATABASES_READ = frozenset({"fetch_all", "fetch_one", "fetch_val", "iterate"})
DATABASES_WRITE = frozenset({"execute_many"})
MONGO_READ = frozenset({"find_one", "count_documents", "estimated_document_count", "distinct", "aggregate",
                        "find_raw_batches", "watch"})
MONGO_WRITE = frozenset({"insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one",
                         "delete_many", "find_one_and_update", "find_one_and_delete", "find_one_and_replace",
                         "bulk_write"})
MONGO_FACTORIES = frozenset({"pymongo.MongoClient", "motor.motor_asyncio.AsyncIOMotorClient",
                             "motor.MotorClient", "mongoengine.connect"})
PANDAS_SQL = {"pandas.read_sql": READ, "pandas.read_sql_query": READ, "pandas.read_sql_table": READ}

# Conventional receiver names (the last part of the receiver, lower-cased).
SESSION_NAME = re.compile(r"^(?:.*_)?(?:session|sess|dbsession|db|database_session)$")
CURSOR_NAME = re.compile(r"^(?:.*_)?(?:cursor|cur|curs|c)$")
CONNECTION_NAME = re.compile(r"^(?:.*_)?(?:conn|connection|con|cnx|db|dbconn|database|pool)$")
ENGINE_NAME = re.compile(r"^(?:.*_)?engine$")
MONGO_NAME = re.compile(r"^(?:.*_)?(?:collection|coll|mongo|db|database)$")
DATABASES_NAME = re.compile(r"^(?:.*_)?(?:database|db)$")
# Roots that are never databases, whatever the attribute is called.
NOT_DB_ROOTS = frozenset({
    "requests", "httpx", "aiohttp", "urllib", "urllib3", "flask", "quart", "starlette", "fastapi", "redis",
    "subprocess", "socket", "paramiko", "boto3", "botocore", "celery", "django.contrib.sessions", "os",
    "shutil", "json", "re", "logging", "werkzeug",
})
# Receivers (dotted, lower-cased) that are web sessions: ``request.session``, ``self.request.session``.
WEB_SESSION = re.compile(r"(?:^|\.)request\.session$|(?:^|\.)(?:http|web|client|browser|requests|aiohttp)_?session$")
HTTP_FACTORIES = frozenset({"requests.Session", "requests.session", "requests.sessions.Session", "httpx.Client",
                            "httpx.AsyncClient", "aiohttp.ClientSession", "urllib3.PoolManager"})


@dataclass(frozen=True)
class DbCall:
    """A classified database call."""

    api: str  # django, sqlalchemy, dbapi, asyncpg, databases, mongo, pandas
    op: str  # READ, WRITE, LAZY, STAGE, TRANSACTION, FETCH
    method: str  # the outermost method name
    description: str
    model: str | None = None  # the model class name when the query names one
    instance: bool = False  # a model instance's own save()/delete()/refresh_from_db()

    @property
    def is_query(self) -> bool:
        return self.op in QUERY_OPS


# ---------------------------------------------------------------------------------------
# Call chains


def call_chain(call: cst.Call) -> tuple[cst.BaseExpression, list[tuple[str, cst.Call]]]:
    """Split ``a.b.m1(x).m2(y)`` into its base (``a.b``) and method calls, innermost first.

    A plain-call base such as ``Session()`` in ``Session().query(X)`` is returned as the
    base expression. Subscripts (``qs[:10].count()``) are stepped over.
    """
    methods: list[tuple[str, cst.Call]] = []
    node: cst.BaseExpression = call
    while True:
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            methods.append((node.func.attr.value, node))
            node = node.func.value
            while isinstance(node, cst.Subscript):
                node = node.value
            continue
        break
    methods.reverse()
    return node, methods


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1].replace("()", "")


def _segments(name: str) -> list[str]:
    return [s for s in name.split(".") if s]


def is_chain_receiver(ctx: FileContext) -> bool:
    """Whether the call being visited is the receiver of an outer method call
    (``User.objects.filter(...)`` in ``User.objects.filter(...).first()``)."""
    stack = ctx.stack
    if len(stack) < 3:
        return False
    node, parent, grand = stack[-1], stack[-2], stack[-3]
    while isinstance(parent, cst.Subscript) and parent.value is node:
        if len(stack) < 4:
            return False
        node, parent, grand = parent, grand, stack[stack.index(grand) - 1]
    return (isinstance(parent, cst.Attribute) and parent.value is node and isinstance(grand, cst.Call)
            and grand.func is parent)


# ---------------------------------------------------------------------------------------
# What local names stand for


@dataclass
class Locals:
    """What names of one function were assigned from: ``kinds`` maps a name to session,
    connection, cursor, engine, http, mongo or asyncpg; ``exprs`` keeps every assignment
    (in order) for query-expression tracking."""

    kinds: dict[str, str] = field(default_factory=dict)
    exprs: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)


def _kind_of_value(ctx: FileContext, value: cst.BaseExpression, kinds: dict[str, str]) -> str | None:
    while isinstance(value, cst.Await):
        value = value.expression
    if not isinstance(value, cst.Call):
        if isinstance(value, (cst.Name, cst.Attribute)):
            name = ctx.resolve(value) or ""
            if name in kinds:
                return kinds[name]
            if name.endswith(".session") and not WEB_SESSION.search(name.lower()):
                return "session" if not name.startswith(tuple(NOT_DB_ROOTS)) else None
        return None
    name = ctx.resolve(value.func) or ""
    if name in HTTP_FACTORIES:
        return "http"
    if name in SESSION_FACTORIES:
        return "session" if not name.endswith("maker") else "sessionmaker"
    if name in ENGINE_FACTORIES:
        return "engine"
    if name in DBAPI_CONNECT:
        return "connection"
    if name in ASYNCPG_CONNECT:
        return "asyncpg"
    if name in MONGO_FACTORIES:
        return "mongo"
    last = _last(name)
    if isinstance(value.func, cst.Attribute):
        receiver_kind = _receiver_kind(ctx, value.func.value, kinds)
        if receiver_kind in ("connection", "asyncpg") and last == "cursor":
            return "cursor"
        if receiver_kind == "engine" and last in ("connect", "begin", "raw_connection"):
            return "connection"
        if receiver_kind == "asyncpg" and last == "acquire":
            return "asyncpg"
        if receiver_kind == "sessionmaker" and last == "begin":
            return "session"
        if receiver_kind == "mongo":
            return "mongo"
        if last == "cursor" and receiver_kind is None and CONNECTION_NAME.match(_last(ctx.resolve(value.func.value) or "").lower()):
            return "cursor"
        if last == "cursor" and (ctx.resolve(value.func.value) or "") == "django.db.connection":
            return "cursor"
    elif isinstance(value.func, cst.Name):
        called = kinds.get(value.func.value)
        if called == "sessionmaker":
            return "session"
        if re.match(r"^(?:[A-Za-z]*Session(?:Local)?|get_session|get_db_session|create_session)$", value.func.value):
            return "session"
    return None


def _receiver_kind(ctx: FileContext, node: cst.BaseExpression, kinds: dict[str, str]) -> str | None:
    while isinstance(node, cst.Subscript):
        node = node.value
    if isinstance(node, cst.Call):
        return _kind_of_value(ctx, node, kinds)
    name = ctx.resolve(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
    if name is None:
        return None
    if name in kinds:
        return kinds[name]
    dotted_kinds = ctx.cache.get(("db.module-kinds",))
    if dotted_kinds and name in dotted_kinds:
        return dotted_kinds[name]
    return None


class _Assignments:
    """Reads the assignments of one function body, statement by statement (nested functions
    and classes have their own locals; expressions are not entered, which keeps this cheap)."""

    def __init__(self, ctx: FileContext, loc: Locals) -> None:
        self.ctx = ctx
        self.loc = loc

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Name, cst.Attribute)):
            name = self.ctx.resolve(target) if isinstance(target, cst.Attribute) else target.value
            if name is None:
                return
            self.loc.exprs.setdefault(name, []).append(value)
            kind = _kind_of_value(self.ctx, value, self.loc.kinds)
            if kind is not None:
                self.loc.kinds[name] = kind

    def walk(self, body: cst.BaseSuite) -> None:
        if isinstance(body, cst.SimpleStatementSuite):
            self._smalls(body.body)
            return
        for stmt in body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                self._smalls(stmt.body)
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            else:
                if isinstance(stmt, cst.With):
                    for item in stmt.items:
                        if item.asname is not None:
                            self._bind(item.asname.name, item.item)
                for child in _suites(stmt):
                    self.walk(child)

    def _smalls(self, smalls) -> None:
        for small in smalls:
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    self._bind(target.target, small.value)
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                self._bind(small.target, small.value)
            elif isinstance(small, cst.Expr) and isinstance(small.value, cst.NamedExpr):
                self._bind(small.value.target, small.value.value)


def _suites(stmt: cst.BaseCompoundStatement) -> list[cst.BaseSuite]:
    """The blocks of a compound statement (if/elif/else, loops, try/except/finally, with, match)."""
    out: list[cst.BaseSuite] = []
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.BaseSuite):
        out.append(body)
    for handler in getattr(stmt, "handlers", ()) or ():
        out.append(handler.body)
    for case in getattr(stmt, "cases", ()) or ():
        out.append(case.body)
    orelse = getattr(stmt, "orelse", None)
    while orelse is not None:
        if isinstance(orelse, cst.If):
            out.append(orelse.body)
            orelse = orelse.orelse
        else:
            out.append(orelse.body)
            break
    final = getattr(stmt, "finalbody", None)
    if final is not None:
        out.append(final.body)
    return out


def _param_kinds(ctx: FileContext, func: cst.FunctionDef, kinds: dict[str, str]) -> None:
    params = list(func.params.params) + list(func.params.kwonly_params) + list(func.params.posonly_params)
    for param in params:
        ann = param.annotation.annotation if param.annotation is not None else None
        if ann is None:
            continue
        text = ctx.code_of(ann) if not isinstance(ann, cst.Name) else ann.value
        head = re.split(r"[\[|]", text.replace("Annotated[", ""), maxsplit=1)[0].strip().strip("'\"")
        resolved = ctx.resolve(ann) if isinstance(ann, (cst.Name, cst.Attribute)) else None
        last = (resolved or head).rsplit(".", 1)[-1]
        if last in SESSION_ANNOTATIONS or (resolved or "") in SESSION_FACTORIES:
            kinds[param.name.value] = "session"
        elif last in ("Connection", "AsyncConnection") and "sqlalchemy" in (resolved or ""):
            kinds[param.name.value] = "connection"
        elif last in ("Connection", "Pool") and "asyncpg" in (resolved or ""):
            kinds[param.name.value] = "asyncpg"
        elif last in ("Cursor", "AsyncCursor"):
            kinds[param.name.value] = "cursor"
        elif last in ("Engine", "AsyncEngine"):
            kinds[param.name.value] = "engine"
        elif last in ("Database",) and "databases" in (resolved or ""):
            kinds[param.name.value] = "databases"
    if "Depends" in ctx.text:
        for param in params:
            default = param.default
            if isinstance(default, cst.Call) and _last(ctx.resolve(default.func) or "") == "Depends":
                dep = arg(default, 0)
                dep_name = (ctx.resolve(dep) or "").rsplit(".", 1)[-1] if dep is not None else ""
                if re.search(r"(?:^|_)(?:db|session)(?:$|_)", dep_name):
                    kinds.setdefault(param.name.value, "session")


def module_kinds(ctx: FileContext) -> dict[str, str]:
    """Kinds of module-level names (``engine = create_engine(...)`` at the top of a file)."""
    key = ("db.module-kinds",)
    if key not in ctx.cache:
        kinds: dict[str, str] = {}
        ctx.cache[key] = kinds
        for stmt in ctx.module.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign):
                        for t in small.targets:
                            if isinstance(t.target, cst.Name):
                                kind = _kind_of_value(ctx, small.value, kinds)
                                if kind is not None:
                                    kinds[t.target.value] = kind
    return ctx.cache[key]


def function_locals(ctx: FileContext, func: cst.FunctionDef | None) -> Locals:
    """What the names of ``func`` were assigned from (memoised per file)."""
    key = ("db.locals", id(func))
    cached = ctx.cache.get(key)
    if cached is not None:
        return cached
    loc = Locals(kinds=dict(module_kinds(ctx)))
    ctx.cache[key] = loc
    if func is not None:
        _param_kinds(ctx, func, loc.kinds)
        _Assignments(ctx, loc).walk(func.body)
    return loc


# ---------------------------------------------------------------------------------------
# Classification


def _model_name(ctx: FileContext, node: cst.BaseExpression) -> str | None:
    """The class name an expression names (through import aliases), if it looks like a class."""
    if isinstance(node, (cst.Name, cst.Attribute)):
        local = node.value if isinstance(node, cst.Name) else node.attr.value
        if not local[:1].isupper():
            return None
        resolved = ctx.resolve(node) or local
        last = _last(resolved)
        return last if last[:1].isupper() else local
    return None


def model_ref(ctx: FileContext, node: cst.BaseExpression | None) -> str | None:
    """The import-resolved dotted name of a model expression (``shop.models.Order``)."""
    if isinstance(node, (cst.Name, cst.Attribute)):
        return ctx.resolve(node)
    return None


def _django_model_at(ctx: FileContext, base: cst.BaseExpression) -> str | None:
    """``Order`` for a manager expression ``Order.objects`` (also ``cls.objects``,
    ``self.model._default_manager``, ``get_user_model().objects``)."""
    if not isinstance(base, cst.Attribute) or base.attr.value not in _managers(ctx):
        return None
    owner = base.value
    if isinstance(owner, cst.Call):
        fname = _last(ctx.resolve(owner.func) or "")
        if fname in ("get_user_model", "get_model"):
            return "User" if fname == "get_user_model" else (string_value(arg(owner, 1)) or "?")
        return None
    if isinstance(owner, cst.Name) and owner.value == "cls":
        cls = ctx.enclosing_class()
        return cls.name.value if cls is not None else "?"
    if isinstance(owner, cst.Attribute) and owner.attr.value == "model":
        return "?"
    return _model_name(ctx, owner)


def _managers(ctx: FileContext) -> frozenset[str]:
    extra = ctx.settings.get("db", {}).get("django-managers", ()) if ctx.settings else ()
    return DJANGO_MANAGERS | frozenset(extra) if extra else DJANGO_MANAGERS


def _flask_query_model(ctx: FileContext, base: cst.BaseExpression) -> str | None:
    if isinstance(base, cst.Attribute) and base.attr.value == "query":
        return _model_name(ctx, base.value)
    return None


def _sql_literal_op(ctx: FileContext, node: cst.BaseExpression | None) -> str:
    """WRITE when a statement argument is visibly an INSERT/UPDATE/DELETE, else READ."""
    if node is None:
        return READ
    if isinstance(node, cst.Call):
        base, methods = call_chain(node)
        root_call = base if isinstance(base, cst.Call) else (methods[0][1] if methods else node)
        name = ctx.resolve(root_call.func) or ""
        if name in SA_WRITE_CONSTRUCTS or (
            isinstance(root_call.func, cst.Attribute) and _last(name) in ("insert", "update", "delete")
        ):
            return WRITE
        if _last(name) == "text":
            return _sql_literal_op(ctx, arg(root_call, 0))
        return READ
    text = string_value(node)
    if text is None and isinstance(node, cst.FormattedString):
        text = "".join(p.value for p in node.parts if isinstance(p, cst.FormattedStringText))
    if text and re.match(r"\s*(?:insert|update|delete|replace|merge|upsert|create|drop|alter|truncate)\b", text, re.I):
        return WRITE
    return READ


def _model_arg(ctx: FileContext, call: cst.Call) -> str | None:
    first = arg(call, 0)
    return _model_name(ctx, first) if first is not None else None


def classify(ctx: FileContext, call: cst.Call, func: cst.FunctionDef | None | bool = False) -> DbCall | None:
    """The database call ``call`` is, or None. See the module docstring for the catalog.

    ``func`` is the function the call sits in; by default the one around the node being
    visited (pass it when classifying calls outside the traversal's position)."""
    key = ("db.classify", id(call))
    if key in ctx.cache:
        return ctx.cache[key]
    result = _classify(ctx, call, ctx.enclosing_function() if func is False else func)
    ctx.cache[key] = result
    return result


def _classify(ctx: FileContext, call: cst.Call, func: cst.FunctionDef | None) -> DbCall | None:
    name = ctx.resolve(call.func) or ""
    if name in PANDAS_SQL:
        return DbCall("pandas", PANDAS_SQL[name], _last(name), f"pandas `{_last(name)}` query")
    if not isinstance(call.func, cst.Attribute):
        return None
    base, methods = call_chain(call)
    if not methods:
        return None
    method = methods[-1][0]
    first = methods[0][0]
    if _last(name) == "to_sql" and ctx.imported("pandas"):
        return DbCall("pandas", WRITE, "to_sql", "pandas `to_sql` write")

    # Django managers and querysets built on them.
    model = _django_model_at(ctx, base)
    if model is not None:
        op = _django_op(method)
        shown = f"{model if model != '?' else 'model'}.objects.{first}" if len(methods) == 1 else \
            f"{model if model != '?' else 'model'}.objects.{first}(...).{method}"
        return DbCall("django", op, method, f"Django ORM query `{shown}`", None if model == "?" else model)

    # Flask-SQLAlchemy Model.query.
    model = _flask_query_model(ctx, base)
    if model is not None:
        op = WRITE if method in SA_QUERY_WRITE else READ if method in SA_QUERY_READ else LAZY
        return DbCall("sqlalchemy", op, method, f"SQLAlchemy query `{model}.query.{method}`", model)

    base_name = (ctx.resolve(base) if isinstance(base, (cst.Name, cst.Attribute)) else None) or ""
    if isinstance(base, cst.Call):
        base_name = ctx.resolve(base) or ""
    lower = base_name.lower()
    root = base_name.split(".", 1)[0]
    if lower and (root in NOT_DB_ROOTS or WEB_SESSION.search(lower) or base_name.startswith("django.contrib.sessions")):
        return None
    loc = function_locals(ctx, func)
    kind = _receiver_kind(ctx, base, loc.kinds)
    if kind == "http":
        return None
    recv = _last(base_name).lower() if base_name else ""

    # SQLAlchemy sessions (and SQLModel), including db.session of Flask-SQLAlchemy.
    session_like = kind in ("session",) or (
        kind is None and recv and SESSION_NAME.match(recv) and first in SA_SESSION
        and not (recv == "db" and first not in SA_SESSION)
    )
    if session_like and first in SA_SESSION:
        if first == "get" and _model_arg(ctx, methods[0][1]) is None:
            return None  # session.get(key) on something dict-like, not Session.get(Model, id)
        if first == "query":
            m = _model_arg(ctx, methods[0][1])
            op = LAZY if len(methods) == 1 else (WRITE if method in SA_QUERY_WRITE else READ if method in SA_QUERY_READ else LAZY)
            return DbCall("sqlalchemy", op, method, "SQLAlchemy session query", m)
        op = SA_SESSION[first]
        if first in ("execute", "scalars", "scalar", "exec", "stream"):
            op = _sql_literal_op(ctx, arg(methods[0][1], 0))
            model = _select_model(ctx, arg(methods[0][1], 0), loc)
            return DbCall("sqlalchemy", op, method, f"SQLAlchemy session `{first}`", model)
        if first in ("get", "get_one"):
            return DbCall("sqlalchemy", op, method, f"SQLAlchemy session `{first}`", _model_arg(ctx, methods[0][1]))
        return DbCall("sqlalchemy", op, method, f"SQLAlchemy session `{first}`")

    # Engines: engine.execute(...) (1.x), engine.connect().execute(...).
    if kind == "engine" or (kind is None and recv and ENGINE_NAME.match(recv)):
        if first == "execute" or (first in ("connect", "begin") and len(methods) > 1 and methods[1][0] == "execute"):
            call_node = methods[0][1] if first == "execute" else methods[1][1]
            return DbCall("sqlalchemy", _sql_literal_op(ctx, arg(call_node, 0)), method, "SQLAlchemy engine execute")
        return None

    # asyncpg connections and pools.
    if kind == "asyncpg":
        if first in ASYNCPG_READ or first == "execute":
            op = _sql_literal_op(ctx, arg(methods[0][1], 0)) if first == "execute" else READ
            return DbCall("asyncpg", op, first, f"asyncpg `{first}`")
        if first in ASYNCPG_WRITE:
            return DbCall("asyncpg", WRITE, first, f"asyncpg `{first}`")
        return None

    # DB-API cursors and connections (also conn.cursor().execute(...)).
    chain_names = [m for m, _ in methods]
    if "cursor" in chain_names[:-1]:
        idx = chain_names.index("cursor")
        rest = methods[idx + 1:]
        if rest and rest[0][0] in DBAPI_EXEC:
            return DbCall("dbapi", _sql_literal_op(ctx, arg(rest[0][1], 0)), rest[0][0], f"DB-API cursor `{rest[0][0]}`")
        return None
    cursorish = kind == "cursor" or (kind is None and recv and CURSOR_NAME.match(recv) and recv != "c") or \
        (recv == "c" and first in DBAPI_EXEC and arg(methods[0][1], 0) is not None and _looks_sql(arg(methods[0][1], 0)))
    connish = kind == "connection" or (kind is None and recv and CONNECTION_NAME.match(recv))
    if cursorish or connish:
        what = "cursor" if cursorish else "connection"
        if first in DBAPI_EXEC:
            op = _sql_literal_op(ctx, arg(methods[0][1], 0))
            return DbCall("dbapi", op, first, f"DB-API {what} `{first}`")
        if first in DBAPI_FETCH:
            return DbCall("dbapi", FETCH, first, f"DB-API {what} `{first}`")
        if first in DBAPI_TX and connish:
            return DbCall("dbapi", TRANSACTION, first, f"DB-API connection `{first}`")
        if connish and first in ASYNCPG_READ and first != "cursor" and (ctx.imported("asyncpg") or ctx.imported("aiosqlite")):
            return DbCall("asyncpg", READ, first, f"async driver `{first}`")

    # databases (encode/databases).
    if first in DATABASES_READ | DATABASES_WRITE and recv and DATABASES_NAME.match(recv):
        return DbCall("databases", READ if first in DATABASES_READ else WRITE, first, f"databases `{first}`")

    # pymongo / motor collections.
    if first in MONGO_READ | MONGO_WRITE or (first == "find" and _mongo_receiver(ctx, base, base_name, kind)):
        if first in ("aggregate", "distinct", "find") and not _mongo_receiver(ctx, base, base_name, kind):
            return None
        if first in MONGO_READ | MONGO_WRITE and not _mongo_receiver(ctx, base, base_name, kind) and not ctx.imported("pymongo") \
                and not ctx.imported("motor"):
            return None
        return DbCall("mongo", WRITE if first in MONGO_WRITE else READ, first, f"MongoDB `{first}`")

    # Django model instances: obj.save(), obj.delete(), obj.refresh_from_db().
    if len(methods) == 1 and first in DJANGO_INSTANCE and (_django_file(ctx) or _from_django_query(ctx, base, loc)):
        call_node = methods[0][1]
        if any(a.keyword is None for a in call_node.args):
            return None
        if not base_name or NOT_MODEL_INSTANCE.search(recv) or base_name in ("self", "super()") or kind is not None:
            return None
        if recv and SESSION_NAME.match(recv) or recv in ("cache", "storage"):
            return None
        return DbCall("django", DJANGO_INSTANCE[first], first, f"Django model `{first}()`", instance=True)
    return None


def _from_django_query(ctx: FileContext, base: cst.BaseExpression, loc: Locals) -> bool:
    """Whether a local name was assigned from a Django manager query (``o = Order.objects.get(...)``)."""
    if not isinstance(base, cst.Name) or base.value not in loc.exprs:
        return False
    value = loc.exprs[base.value][-1]
    if isinstance(value, cst.Call):
        inner, _ = call_chain(value)
        return _django_model_at(ctx, inner) is not None
    return False


def _looks_sql(node: cst.BaseExpression | None) -> bool:
    text = string_value(node) if node is not None else None
    return bool(text and looks_like_sql(text))


def _mongo_receiver(ctx: FileContext, base: cst.BaseExpression, base_name: str, kind: str | None) -> bool:
    if kind == "mongo":
        return True
    if isinstance(base, cst.Subscript):
        inner = ctx.resolve(base.value) or ""
        return bool(MONGO_NAME.match(_last(inner).lower()))
    parts = [p.lower() for p in _segments(base_name)]
    return bool(parts) and (bool(MONGO_NAME.match(parts[-1])) or len(parts) >= 2 and bool(MONGO_NAME.match(parts[-2])))


def _django_file(ctx: FileContext) -> bool:
    key = ("db.django-file",)
    if key not in ctx.cache:
        ctx.cache[key] = ctx.imported("django") or any(
            ".models" in v or v.startswith("models.") or v.startswith(".") for v in ctx.imports.values()
        ) and "sqlalchemy" not in ctx.text
    return ctx.cache[key]


def _django_op(method: str) -> str:
    if method in DJANGO_QS_WRITE:
        return WRITE
    if method in DJANGO_QS_READ:
        return READ
    return LAZY


def _select_model(ctx: FileContext, node: cst.BaseExpression | None, loc: Locals) -> str | None:
    """``User`` for ``select(User).where(...)`` (also through a local ``stmt`` name)."""
    if isinstance(node, cst.Name) and node.value in loc.exprs:
        node = loc.exprs[node.value][-1]
    if not isinstance(node, cst.Call):
        return None
    inner, methods = call_chain(node)
    first_call = methods[0][1] if methods else node
    if isinstance(inner, cst.Call) and not methods:
        first_call = inner
    elif isinstance(inner, cst.Call):
        first_call = inner
    name = ctx.resolve(first_call.func) or ""
    if _last(name) == "select" and len([a for a in first_call.args if a.keyword is None]) == 1:
        return _model_arg(ctx, first_call)
    return None


def db_call(ctx: FileContext, call: cst.Call) -> str | None:
    """If ``call`` runs a database query or write (or stages one, controls a transaction, or
    reads a result), a short description such as "Django ORM query `User.objects.filter`",
    "SQLAlchemy session query", "DB-API cursor `execute`"; else None."""
    found = classify(ctx, call)
    return found.description if found is not None else None


def is_query(ctx: FileContext, call: cst.Call) -> bool:
    """Whether ``call`` runs or builds a query that reads or writes rows (staging with
    ``session.add``, commits and cursor fetches are database calls but not queries)."""
    found = classify(ctx, call)
    return found is not None and found.is_query


def db_calls_in(ctx: FileContext, node: cst.CSTNode) -> Iterable[tuple[cst.Call, DbCall]]:
    """Every database call under ``node`` (nested functions excluded), outermost per chain."""
    collected: list[tuple[cst.Call, DbCall]] = []

    class _Walk(cst.CSTVisitor):
        def visit_FunctionDef(self, n: cst.FunctionDef) -> bool:
            return n is node

        def visit_Call(self, n: cst.Call) -> bool:
            found = classify(ctx, n, node if isinstance(node, cst.FunctionDef) else None)
            if found is not None:
                collected.append((n, found))
                return False
            return True

    walk(node, _Walk())
    return collected


# ---------------------------------------------------------------------------------------
# Query expressions: what a queryset / Query / select() loads


SA_EAGER = frozenset({"joinedload", "selectinload", "subqueryload", "immediateload", "contains_eager"})
SA_PATH_ONLY = frozenset({"defaultload", "Load"})
SA_NOT_EAGER = frozenset({"lazyload", "noload", "raiseload", "defer", "undefer", "load_only", "selectin_polymorphic"})
DJANGO_SINGLE = frozenset({"get", "first", "last", "earliest", "latest", "aget", "afirst", "alast", "create",
                           "acreate", "get_or_create", "aget_or_create", "update_or_create", "aupdate_or_create"})
DJANGO_SCALAR = frozenset({"count", "exists", "aggregate", "acount", "aexists", "aaggregate", "contains", "update",
                           "delete", "explain", "in_bulk", "bulk_create", "bulk_update", "abulk_create", "abulk_update"})
DJANGO_VALUES = frozenset({"values", "values_list", "dates", "datetimes"})
SA_SINGLE = frozenset({"first", "one", "one_or_none", "scalar", "scalar_one", "scalar_one_or_none", "get",
                       "get_or_404", "first_or_404", "one_or_404"})
SA_SCALAR = frozenset({"count", "exists", "delete", "update"})
SA_LIMIT = frozenset({"limit", "paginate", "slice", "fetch", "yield_per", "offset"})
SA_VALUES = frozenset({"with_entities", "values", "add_columns", "mappings", "tuples"})
SELECT_FUNCS = frozenset({"sqlalchemy.select", "sqlalchemy.sql.select", "sqlalchemy.future.select",
                          "sqlalchemy.sql.expression.select", "sqlmodel.select"})
WRAPPERS = frozenset({"list", "tuple", "sorted", "reversed", "set", "iter", "tqdm", "tqdm.tqdm", "frozenset"})


@dataclass
class QueryExpr:
    """What iterating (or evaluating) a query expression gives."""

    orm: str  # django | sqlalchemy
    model: str | None = None
    ref: str | None = None  # import-resolved dotted name of the model
    eager: set[str] = field(default_factory=set)  # relation paths loaded with the rows ("a", "a__b", "*")
    to_attr: set[str] = field(default_factory=set)  # Prefetch(to_attr=...) attributes (plain lists)
    values: bool = False  # rows are dicts, tuples or columns, not model objects
    limited: bool = False  # sliced, limit()ed, paginated
    single: bool = False  # one object (get/first/one) or one value (count/exists)
    scalar: bool = False  # a number or flag (count/exists/aggregate)
    methods: list[str] = field(default_factory=list)
    rel_var: str | None = None  # ``o.items.all()``: the element variable the relation starts at
    rel_chain: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)  # keyword lookups of filter()/get()/filter_by() calls

    def copy(self) -> "QueryExpr":
        return QueryExpr(self.orm, self.model, self.ref, set(self.eager), set(self.to_attr), self.values, self.limited,
                         self.single, self.scalar, list(self.methods), self.rel_var, list(self.rel_chain),
                         list(self.lookups))

    @property
    def is_collection(self) -> bool:
        return not (self.single or self.scalar)


def _prefixes(path: str) -> set[str]:
    parts = [p for p in re.split(r"__|\.", path) if p]
    return {"__".join(parts[: i + 1]) for i in range(len(parts))}


def _django_lookup(ctx: FileContext, node: cst.BaseExpression, q: QueryExpr) -> None:
    text = string_value(node)
    if text is not None:
        q.eager |= _prefixes(text)
        return
    if isinstance(node, cst.Call) and _last(ctx.resolve(node.func) or "") == "Prefetch":
        lookup = string_value(arg(node, 0) or arg(node, keyword="lookup"))
        to_attr = string_value(arg(node, keyword="to_attr"))
        if lookup is None:
            return
        if to_attr:
            q.to_attr.add(to_attr)
            q.eager |= _prefixes(lookup)
        else:
            q.eager |= _prefixes(lookup)
        inner = arg(node, keyword="queryset") or arg(node, 1)
        if isinstance(inner, cst.Call):
            sub = describe_query(ctx, inner, {})
            if sub is not None:
                base = to_attr or lookup
                q.eager |= {f"{base}__{p}" for p in sub.eager if p != "*"}


def _sa_option_paths(ctx: FileContext, node: cst.BaseExpression, prefix: str = "") -> set[str]:
    """Relation paths an option such as ``selectinload(User.orders).joinedload(Order.items)`` loads."""
    if not isinstance(node, cst.Call):
        return set()
    base, methods = call_chain(node)
    steps: list[tuple[str, cst.Call]] = []
    if isinstance(base, cst.Call):
        steps.append((_last(ctx.resolve(base.func) or ""), base))
    elif isinstance(node.func, cst.Name):
        steps.append((_last(ctx.resolve(node.func) or node.func.value), node))
    steps += methods
    out: set[str] = set()
    path = prefix
    for name, call in steps:
        if name == "options":
            for a in call.args:
                out |= _sa_option_paths(ctx, a.value, path)
            continue
        if name in SA_NOT_EAGER:
            continue
        if name not in SA_EAGER and name not in SA_PATH_ONLY:
            continue
        for a in call.args:
            if a.keyword is not None:
                continue
            attr: str | None = None
            if isinstance(a.value, cst.Attribute):
                attr = a.value.attr.value
                if attr == "of_type" or attr[:1].isupper():
                    attr = None
            elif isinstance(a.value, cst.Call) and isinstance(a.value.func, cst.Attribute) and a.value.func.attr.value == "of_type":
                inner = a.value.func.value
                attr = inner.attr.value if isinstance(inner, cst.Attribute) else None
            else:
                text = string_value(a.value)
                if text == "*":
                    if name in SA_EAGER:
                        out.add("*")
                    continue
                if text:
                    for part in text.split("."):
                        path = f"{path}__{part}" if path else part
                        if name in SA_EAGER:
                            out.add(path)
                    continue
            if attr is None:
                continue
            path = f"{path}__{attr}" if path else attr
            if name in SA_EAGER:
                out.add(path)
    return out


def _select_entity(ctx: FileContext, call: cst.Call, q: QueryExpr) -> None:
    positional = [a.value for a in call.args if a.keyword is None]
    if len(positional) == 1 and _model_name(ctx, positional[0]) is not None:
        q.model = _model_name(ctx, positional[0])
        q.ref = model_ref(ctx, positional[0])
    else:
        q.values = True


def describe_query(ctx: FileContext, expr: cst.BaseExpression | None, names: dict[str, QueryExpr],
                   row_vars: Iterable[str] = ()) -> QueryExpr | None:
    """What ``expr`` loads when it is a Django queryset, a SQLAlchemy Query / select() /
    session result, or a relation manager of a row variable (``o.items.all()`` when ``o``
    is in ``row_vars``); else None. ``names`` gives the descriptions of local names."""
    row_vars = set(row_vars)
    while isinstance(expr, cst.Await):
        expr = expr.expression
    if expr is None:
        return None
    if isinstance(expr, cst.Subscript):
        inner = describe_query(ctx, expr.value, names, row_vars)
        if inner is None:
            return None
        q = inner.copy()
        sl = expr.slice[0].slice if expr.slice else None
        if isinstance(sl, cst.Slice):
            if sl.upper is not None:
                q.limited = True
        else:
            q.single = True
        return q
    if isinstance(expr, cst.Name):
        found = names.get(expr.value)
        return found.copy() if found is not None else None
    if isinstance(expr, cst.Attribute):
        root, chain = _attr_chain(expr)
        if root is not None and root in row_vars and chain:
            return QueryExpr("?", rel_var=root, rel_chain=chain)
        return None
    if not isinstance(expr, cst.Call):
        return None
    fname = ctx.resolve(expr.func) or ""
    if fname in WRAPPERS and expr.args:
        return describe_query(ctx, expr.args[0].value, names, row_vars)
    last_f = _last(fname)
    if last_f in ("get_list_or_404", "get_object_or_404") and expr.args:
        q = QueryExpr("django", _model_name(ctx, expr.args[0].value), model_ref(ctx, expr.args[0].value))
        if q.model is None:
            sub = describe_query(ctx, expr.args[0].value, names, row_vars)
            if sub is None:
                return None
            q = sub
        q.single = last_f == "get_object_or_404"
        return q
    base, methods = call_chain(expr)
    if methods and (ctx.resolve(methods[0][1].func) or "") in SELECT_FUNCS:
        base, methods = methods[0][1], methods[1:]  # ``sa.select(X)``: a function of the module, not a method
    q: QueryExpr | None = None
    start = 0
    django_model = _django_model_at(ctx, base)
    if django_model is not None:
        ref = model_ref(ctx, base.value) if isinstance(base, cst.Attribute) else None
        q = QueryExpr("django", None if django_model == "?" else django_model, ref)
    elif _flask_query_model(ctx, base) is not None:
        q = QueryExpr("sqlalchemy", _flask_query_model(ctx, base), model_ref(ctx, base.value))  # type: ignore[union-attr]
    elif isinstance(base, cst.Call) and (ctx.resolve(base.func) or "") in SELECT_FUNCS:
        q = QueryExpr("sqlalchemy")
        _select_entity(ctx, base, q)
    elif isinstance(base, cst.Name) and base.value in names:
        q = names[base.value].copy()
    elif isinstance(base, cst.Attribute):
        root, chain = _attr_chain(base)
        if root is not None and root in row_vars and chain:
            q = QueryExpr("?", rel_var=root, rel_chain=chain)
    if q is None and methods:
        found = classify(ctx, methods[0][1])
        if found is not None and found.api == "sqlalchemy":
            first_name, first_call = methods[0]
            start = 1
            if first_name == "query":
                q = QueryExpr("sqlalchemy")
                _select_entity(ctx, first_call, q)
            elif first_name in ("execute", "scalars", "exec", "stream", "stream_scalars"):
                stmt = describe_query(ctx, arg(first_call, 0), names, row_vars)
                if stmt is None:
                    return None
                q = stmt.copy()
                if first_name == "execute" and "scalars" not in [m for m, _ in methods[1:]] and "scalar" not in \
                        [m for m, _ in methods[1:]] and "scalar_one" not in [m for m, _ in methods[1:]]:
                    q.values = True  # Row tuples
            else:
                return None
    if q is None:
        return None
    for name, call in methods[start:]:
        q.methods.append(name)
        if name in ("filter", "get", "filter_by", "get_or_create", "update_or_create", "first_or_404"):
            q.lookups += filter_lookups(ctx, call)
        elif name == "with_parent":
            q.lookups.append("?")  # filtered by the parent's key
        if q.orm in ("django", "?"):
            if name == "select_related":
                if not call.args:
                    q.eager.add("*")
                for a in call.args:
                    q.eager |= _prefixes(string_value(a.value) or "")
            elif name == "prefetch_related":
                for a in call.args:
                    _django_lookup(ctx, a.value, q)
            elif name in DJANGO_VALUES:
                q.values = True
            elif name in DJANGO_SINGLE:
                q.single = True
            elif name in DJANGO_SCALAR:
                q.scalar = q.single = True
            elif name in ("iterator",) and arg(call, keyword="chunk_size") is None:
                pass
        if q.orm in ("sqlalchemy", "?"):
            if name == "options":
                for a in call.args:
                    q.eager |= _sa_option_paths(ctx, a.value)
            elif name in SA_SINGLE:
                q.single = True
            elif name in SA_SCALAR:
                q.scalar = q.single = True
            elif name in SA_LIMIT:
                q.limited = True
            elif name in SA_VALUES:
                q.values = True
            elif name == "where" or name == "filter":
                pass
    return q


def filter_lookups(ctx: FileContext, call: cst.Call) -> list[str]:
    """The lookups a Django ``filter()``/``get()`` call ANDs together: keyword lookups,
    keywords of ``Q()`` objects combined with ``&``, an ``OR`` of ``Q()`` objects as one
    entry ``"a|b"``, and ``"?"`` for a condition that cannot be read (a variable)."""
    out: list[str] = []
    for a in call.args:
        if a.keyword is not None:
            if a.keyword.value not in ("defaults", "create_defaults"):
                out.append(a.keyword.value)
        elif a.star:
            out.append("?")
        else:
            out += _q_lookups(ctx, a.value)
    return out


def _q_lookups(ctx: FileContext, node: cst.BaseExpression) -> list[str]:
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitAnd):
        return _q_lookups(ctx, node.left) + _q_lookups(ctx, node.right)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        left, right = _q_lookups(ctx, node.left), _q_lookups(ctx, node.right)
        if left and right:
            return ["|".join(sorted(set(left[:1] + right[:1])))] if len(left) == 1 and len(right) == 1 else ["|"]
        return []
    if isinstance(node, cst.Call) and _last(ctx.resolve(node.func) or "") == "Q":
        out: list[str] = []
        for a in node.args:
            if a.keyword is not None:
                out.append(a.keyword.value)
            else:
                out += _q_lookups(ctx, a.value)
        return out
    if isinstance(node, cst.Call) and _last(ctx.resolve(node.func) or "") in ("Exists", "Subquery", "Exact"):
        return []
    return ["?"]


def _attr_chain(node: cst.BaseExpression) -> tuple[str | None, list[str]]:
    chain: list[str] = []
    while isinstance(node, cst.Attribute):
        chain.append(node.attr.value)
        node = node.value
    chain.reverse()
    return (node.value if isinstance(node, cst.Name) else None), chain


class QueryNames:
    """Tracks, per function, which local names hold query expressions (for rules that need
    ``qs = Order.objects.filter(...); qs = qs.select_related(...); for o in qs: ...``).

    Call :meth:`enter`/:meth:`leave` from ``visit_FunctionDef``/``leave_FunctionDef`` and
    :meth:`assign` from ``visit_Assign``/``visit_AnnAssign``; :meth:`describe` then reads an
    expression with the names bound so far."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.frames: list[dict[str, QueryExpr]] = [{}]

    def enter(self) -> None:
        self.frames.append({})

    def leave(self) -> None:
        if len(self.frames) > 1:
            self.frames.pop()

    @property
    def names(self) -> dict[str, QueryExpr]:
        return self.frames[-1]

    def assign(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if value is None or not isinstance(target, cst.Name):
            return
        desc = describe_query(self.ctx, value, self.names)
        if desc is not None:
            self.names[target.value] = desc
        else:
            self.names.pop(target.value, None)

    def describe(self, expr: cst.BaseExpression | None, row_vars: Iterable[str] = ()) -> QueryExpr | None:
        return describe_query(self.ctx, expr, self.names, row_vars)
