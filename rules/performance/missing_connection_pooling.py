from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from checker.syntax import walk
from rules._shared.web import arg, enclosing_handler

# Constructors that open connections or own a connection pool, with what they are.
POOLED = {
    "sqlalchemy.create_engine": "a SQLAlchemy engine (and its connection pool)",
    "sqlalchemy.engine.create_engine": "a SQLAlchemy engine (and its connection pool)",
    "sqlalchemy.ext.asyncio.create_async_engine": "a SQLAlchemy engine (and its connection pool)",
    "sqlmodel.create_engine": "a SQLAlchemy engine (and its connection pool)",
    "psycopg2.connect": "a new PostgreSQL connection", "psycopg.connect": "a new PostgreSQL connection",
    "psycopg.AsyncConnection.connect": "a new PostgreSQL connection", "asyncpg.connect": "a new PostgreSQL connection",
    "asyncpg.create_pool": "a PostgreSQL connection pool", "psycopg2.pool.SimpleConnectionPool": "a connection pool",
    "psycopg2.pool.ThreadedConnectionPool": "a connection pool", "psycopg_pool.ConnectionPool": "a connection pool",
    "psycopg_pool.AsyncConnectionPool": "a connection pool",
    "pymysql.connect": "a new MySQL connection", "MySQLdb.connect": "a new MySQL connection",
    "mysql.connector.connect": "a new MySQL connection", "aiomysql.connect": "a new MySQL connection",
    "aiomysql.create_pool": "a MySQL connection pool", "pymssql.connect": "a new SQL Server connection",
    "pyodbc.connect": "a new ODBC connection", "cx_Oracle.connect": "a new Oracle connection",
    "oracledb.connect": "a new Oracle connection",
    "pymongo.MongoClient": "a MongoDB client (and its connection pool)",
    "motor.motor_asyncio.AsyncIOMotorClient": "a MongoDB client (and its connection pool)",
    "redis.Redis": "a Redis client (and its connection pool)", "redis.StrictRedis": "a Redis client (and its connection pool)",
    "redis.from_url": "a Redis client (and its connection pool)", "redis.Redis.from_url": "a Redis client (and its connection pool)",
    "redis.asyncio.Redis": "a Redis client (and its connection pool)", "redis.asyncio.from_url": "a Redis client (and its connection pool)",
    "redis.ConnectionPool": "a Redis connection pool",
    "requests.Session": "an HTTP session (and its connection pool)", "requests.session": "an HTTP session (and its connection pool)",
    "httpx.Client": "an HTTP client (and its connection pool)", "httpx.AsyncClient": "an HTTP client (and its connection pool)",
    "aiohttp.ClientSession": "an HTTP session (and its connection pool)",
    "urllib3.PoolManager": "an HTTP connection pool",
    "elasticsearch.Elasticsearch": "an Elasticsearch client (and its connection pool)",
    "boto3.client": "a boto3 client (and its connection pool)", "boto3.resource": "a boto3 resource (and its connection pool)",
}
NULL_POOLS = frozenset({"sqlalchemy.pool.NullPool", "sqlalchemy.NullPool", "sqlalchemy.pool.impl.NullPool"})
# Places where a throw-away connection is the right thing (migrations, one-off scripts).
ONE_OFF_PATHS = re.compile(r"(?:^|/)(?:alembic|migrations|versions|scripts?|bin|tools|management/commands)/|"
                           r"(?:^|/)(?:env|manage|conftest|setup)\.py$")
BOUNDED_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _names(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class _Walk(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

    walk(node, _Walk())
    return found


def _loop_targets(loop: cst.CSTNode) -> set[str]:
    if isinstance(loop, cst.For):
        return _names(loop.target)
    comp_for = getattr(loop, "for_in", None)
    return _names(comp_for.target) if comp_for is not None else set()


def _bounded_iter(loop: cst.CSTNode) -> bool:
    it = loop.iter if isinstance(loop, cst.For) else getattr(getattr(loop, "for_in", None), "iter", None)
    if isinstance(it, (cst.List, cst.Tuple, cst.Set)):
        return True
    if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range":
        return all(isinstance(a.value, cst.Integer) for a in it.args)
    return isinstance(it, cst.Name) and bool(BOUNDED_NAME.match(it.value))


class MissingConnectionPooling(FileRule):
    """
    ## What it does
    Finds database connections, engines and clients that are created again and again
    instead of once per process: `create_engine`, `psycopg2.connect`, `pymysql.connect`,
    `asyncpg.connect`, `MongoClient`, `redis.Redis()`, `requests.Session()`,
    `httpx.Client()`/`AsyncClient()`, `aiohttp.ClientSession()` created inside a request
    handler (once per request) or inside a `for` loop with the same arguments on every
    iteration; and `NullPool` configured in application code.

    Clients created at module level, in an app factory or lifespan hook, in a dependency
    provider (`Depends(get_db)`), or in a cached factory are reused and not reported.

    ## Why is this bad?
    Opening a connection costs a TCP handshake, often TLS and authentication: several
    round trips before any work is done, on every request. A pool created per request
    pools nothing, and servers run out of connection slots under load.

    ## Known limits
    sqlite3 connections (a file open, no server) are not reported. A loop whose
    connection arguments use the loop variable (one connection per shard or tenant),
    retry loops over a literal `range(n)`, and `while` loops (reconnect loops) are not
    reported. `NullPool` is accepted in migrations, scripts and management commands;
    serverless code that needs it should suppress the finding with a reason.
    """

    slug = "missing-connection-pooling"
    checklist = "Connection pooling configured"
    section = Section.PERFORMANCE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "A connection or client is created per request or per iteration instead of being pooled"
    triggers = ("connect", "create_engine", "Client", "Session", "Redis", "redis", "NullPool", "create_pool",
                "from_url", "PoolManager", "Elasticsearch", "boto3")
    bad = (
        Example(
            "import os\n"
            "import psycopg2\n"
            "from flask import Flask, jsonify\n\n"
            "app = Flask(__name__)\n\n"
            "@app.get('/orders')\n"
            "def orders():\n"
            "    conn = psycopg2.connect(os.environ['DATABASE_URL'])  # flagged\n"
            "    with conn, conn.cursor() as cur:\n"
            "        cur.execute('SELECT id, total FROM orders ORDER BY id DESC LIMIT 50')\n"
            "        return jsonify(cur.fetchall())\n",
            path="app.py",
        ),
    )
    good = (
        Example(
            "import os\n"
            "from flask import Flask, jsonify\n"
            "from sqlalchemy import create_engine, text\n\n"
            "app = Flask(__name__)\n"
            "engine = create_engine(os.environ['DATABASE_URL'], pool_size=10, pool_pre_ping=True)\n\n"
            "@app.get('/orders')\n"
            "def orders():\n"
            "    with engine.connect() as conn:\n"
            "        rows = conn.execute(text('SELECT id, total FROM orders ORDER BY id DESC LIMIT 50'))\n"
            "        return jsonify([dict(r._mapping) for r in rows])\n",
            path="app.py",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test:
            return
        name = self.ctx.resolve(node.func) or ""
        pool_class = arg(node, keyword="poolclass")
        if pool_class is not None and (self.ctx.resolve(pool_class) or "") in NULL_POOLS or \
                pool_class is not None and isinstance(pool_class, (cst.Name, cst.Attribute)) and \
                (self.ctx.resolve(pool_class) or "").endswith("NullPool"):
            self.checked()
            if not ONE_OFF_PATHS.search(self.ctx.path):
                self.report(pool_class, "`poolclass=NullPool` opens a new database connection for every checkout; "
                                        "keep the default pool (or an external pooler such as PgBouncer) in application code",
                            severity=Severity.LOW)
            return
        what = POOLED.get(name)
        if what is None:
            return
        self.checked()
        handler = enclosing_handler(self.ctx)
        if handler is not None:
            self.report(node, f"`{self._shown(node)}` creates {what} on every request to `{handler.name}`; "
                              "create it once (module level, app factory or lifespan) and reuse it")
            return
        for loop in self.ctx.enclosing_loops():
            if isinstance(loop, cst.While):
                return
            if _bounded_iter(loop):
                continue
            if _names(node) & _loop_targets(loop):
                return  # a connection per shard/tenant/host: different targets
            self.report(node, f"`{self._shown(node)}` creates {what} on every iteration of a loop; create it once "
                              "before the loop and reuse it", related=[(loop, "the loop")])
            return

    def _shown(self, node: cst.Call) -> str:
        return " ".join(self.ctx.code_of(node.func).split()) + "()"
