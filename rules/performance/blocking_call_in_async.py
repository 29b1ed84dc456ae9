from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.db import FETCH, LAZY, STAGE, QueryNames, call_chain, classify, is_chain_receiver

HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request", "send", "stream"})
# Resolved names of blocking functions, with the category they belong to.
BLOCKING_CALLS = {
    "time.sleep": "sleep",
    "urllib.request.urlopen": "http", "urllib.request.urlretrieve": "http", "urllib2.urlopen": "http",
    "subprocess.run": "subprocess", "subprocess.call": "subprocess", "subprocess.check_call": "subprocess",
    "subprocess.check_output": "subprocess", "subprocess.getoutput": "subprocess",
    "subprocess.getstatusoutput": "subprocess", "os.system": "subprocess", "os.popen": "subprocess",
    "os.waitpid": "subprocess",
    "sqlite3.connect": "db", "psycopg2.connect": "db", "psycopg.connect": "db", "pymysql.connect": "db",
    "MySQLdb.connect": "db", "mysql.connector.connect": "db", "pymssql.connect": "db", "pyodbc.connect": "db",
    "cx_Oracle.connect": "db", "oracledb.connect": "db",
    "smtplib.SMTP": "network", "smtplib.SMTP_SSL": "network", "socket.create_connection": "network",
    "open": "file", "io.open": "file", "builtins.open": "file",
    "shutil.copyfile": "file", "shutil.copy": "file", "shutil.copy2": "file", "shutil.copytree": "file",
    "shutil.rmtree": "file", "shutil.move": "file",
}
# Module prefixes every call of which (with an HTTP verb name) is a blocking request.
BLOCKING_HTTP_MODULES = ("requests", "httpx", "urllib3")
# Constructors of synchronous clients: method calls on what they return block.
SYNC_CLIENTS = {
    "requests.Session": "http", "requests.session": "http", "httpx.Client": "http", "urllib3.PoolManager": "http",
    "redis.Redis": "cache", "redis.StrictRedis": "cache", "redis.from_url": "cache", "redis.Redis.from_url": "cache",
    "pymongo.MongoClient": "db", "smtplib.SMTP": "network", "smtplib.SMTP_SSL": "network",
    "boto3.client": "network", "boto3.resource": "network",
}
CLIENT_IO_METHODS = {
    "http": HTTP_VERBS,
    "cache": frozenset({"get", "set", "delete", "incr", "decr", "expire", "hget", "hset", "hgetall", "lpush", "rpush",
                        "lpop", "rpop", "lrange", "sadd", "smembers", "publish", "setex", "exists", "keys", "mget",
                        "mset", "pipeline", "execute", "zadd", "zrange", "ttl"}),
    "network": frozenset({"send_message", "sendmail", "login", "upload_file", "download_file", "put_object",
                          "get_object", "invoke", "publish", "send_message_batch", "receive_message"}),
    "db": frozenset({"find_one", "insert_one", "update_one", "delete_one", "find", "aggregate", "count_documents"}),
}
PATH_IO = frozenset({"read_text", "read_bytes", "write_text", "write_bytes"})
ADVICE = {
    "http": "use an async client (`httpx.AsyncClient`, `aiohttp.ClientSession`) or `await asyncio.to_thread(...)`",
    "sleep": "use `await asyncio.sleep(...)`",
    "subprocess": "use `await asyncio.create_subprocess_exec(...)`",
    "db": "use an async driver (asyncpg, aiosqlite, aiomysql, psycopg's `AsyncConnection`) or `await asyncio.to_thread(...)`",
    "sqlalchemy": "use an `AsyncSession` (`await session.execute(...)`) or run the work in a thread pool",
    "django": "use the async ORM (`await Model.objects.aget(...)`, `async for`) or wrap it in `sync_to_async`",
    "file": "use `aiofiles`/`anyio.open_file` or `await asyncio.to_thread(...)`",
    "cache": "use the asyncio client (`redis.asyncio`) or `await asyncio.to_thread(...)`",
    "network": "use an async client or `await asyncio.to_thread(...)`",
}
WHAT = {
    "http": "a synchronous HTTP request", "sleep": "`time.sleep`", "subprocess": "a blocking subprocess call",
    "db": "a synchronous database call", "sqlalchemy": "a synchronous SQLAlchemy session call",
    "django": "the synchronous Django ORM", "file": "blocking file I/O", "cache": "a synchronous Redis call",
    "network": "a blocking network call",
}


class BlockingCallInAsync(FileRule):
    """
    ## What it does
    Finds blocking calls made directly inside an `async def`: synchronous HTTP clients
    (`requests`, `urllib.request.urlopen`, `httpx.Client`/`httpx.get`, `urllib3`),
    `time.sleep`, `subprocess.run/call/check_output`, `os.system`, synchronous database
    drivers (sqlite3, psycopg2, pymysql...) and their cursors, a synchronous SQLAlchemy
    session, the synchronous Django ORM (`Model.objects.get(...)`, `obj.save()`, a plain
    `for` over a queryset), synchronous Redis/SMTP clients, and file I/O (`open(...)`,
    `Path.read_text()`).

    Awaited calls are asynchronous by definition (`await session.execute(...)`,
    `await conn.fetch(...)`), and work handed to a thread (`run_in_executor`,
    `asyncio.to_thread`, `sync_to_async`, `run_in_threadpool`, a `lambda`) or done in a
    nested plain `def` is not in the event loop's path, so none of these are reported.

    ## Why is this bad?
    An event loop runs one thing at a time. A blocking call stalls every other request the
    process is serving for as long as it waits: one slow upstream or query makes the whole
    service slow, and throughput collapses to one request at a time.

    ## Known limits
    Clients kept on `self` or passed in as parameters are not followed, nor blocking work
    inside helper functions the coroutine calls. Test code is not checked.
    """

    slug = "blocking-call-in-async"
    checklist = "Synchronous operations blocking the event loop; async/await for I/O"
    section = Section.PERFORMANCE
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    summary = "A blocking call inside an async function stalls the event loop"
    triggers = ("async def",)
    bad = (
        Example(
            "import time\n"
            "import requests as http\n"
            "from fastapi import FastAPI\n\n"
            "app = FastAPI()\n\n"
            "@app.get('/rates')\n"
            "async def rates():\n"
            "    time.sleep(0.5)  # flagged\n"
            "    reply = http.get('https://rates.example.com/latest', timeout=5)  # flagged\n"
            "    return reply.json()\n",
            path="api/rates.py",
        ),
    )
    good = (
        Example(
            "import asyncio\n"
            "import httpx\n"
            "from fastapi import FastAPI\n\n"
            "app = FastAPI()\n\n"
            "@app.get('/rates')\n"
            "async def rates():\n"
            "    await asyncio.sleep(0.5)\n"
            "    async with httpx.AsyncClient(timeout=5) as client:\n"
            "        reply = await client.get('https://rates.example.com/latest')\n"
            "    return reply.json()\n",
            path="api/rates.py",
        ),
        Example(
            "import asyncio\n"
            "import requests\n\n"
            "async def fetch(url):\n"
            "    def work():\n"
            "        return requests.get(url, timeout=5).text\n"
            "    return await asyncio.to_thread(work)\n",
            path="app/fetch.py",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.names = QueryNames(ctx)
        self.clients: list[dict[str, str]] = [{}]
        self.module_clients: dict[str, str] = {}

    # -- names of synchronous clients --------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.enter()
        self.clients.append({})

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.leave()
        self.clients.pop()

    def _client_kind(self, value: cst.BaseExpression) -> str | None:
        if isinstance(value, cst.Call):
            return SYNC_CLIENTS.get(self.ctx.resolve(value.func) or "")
        return None

    def visit_Assign(self, node: cst.Assign) -> None:
        kind = self._client_kind(node.value)
        for t in node.targets:
            self.names.assign(t.target, node.value)
            if isinstance(t.target, cst.Name):
                scope = self.clients[-1] if len(self.clients) > 1 else self.module_clients
                if kind:
                    scope[t.target.value] = kind
                else:
                    scope.pop(t.target.value, None)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None and isinstance(node.asname.name, cst.Name):
            kind = self._client_kind(node.item)
            if kind:
                self.clients[-1][node.asname.name.value] = kind

    # -- where we are ----------------------------------------------------------------------------
    def _in_event_loop(self) -> bool:
        """Inside an ``async def`` body, not inside a lambda or nested plain function."""
        if self.ctx.is_test:
            return False
        for node in self.ctx.ancestors():
            if isinstance(node, cst.Lambda):
                return False
            if isinstance(node, cst.FunctionDef):
                return node.asynchronous is not None
        return False

    def _awaited(self) -> bool:
        parent = self.ctx.parent()
        return isinstance(parent, cst.Await)

    def visit_For(self, node: cst.For) -> None:
        if node.asynchronous is not None or not self._in_event_loop():
            return
        desc = self.names.describe(node.iter)
        if desc is not None and desc.orm == "django" and desc.model is not None and not desc.single:
            self._flag(node.iter, "django", "iterating a queryset with a plain `for` runs the query synchronously")

    def visit_Call(self, node: cst.Call) -> None:
        if not self._in_event_loop():
            return
        if self._awaited():
            self.checked()
            return
        name = self.ctx.resolve(node.func) or ""
        category = BLOCKING_CALLS.get(name)
        if category is None and name.startswith(BLOCKING_HTTP_MODULES):
            last = name.rsplit(".", 1)[-1]
            root = name.split(".", 1)[0]
            if last in HTTP_VERBS and (name.count(".") == 1 or ".Session()." in name or ".Client()." in name
                                       or ".PoolManager()." in name or root == "urllib3"):
                category = "http"
        if category is None and isinstance(node.func, cst.Attribute):
            category = self._client_call(node)
        if category is None and isinstance(node.func, cst.Attribute) and node.func.attr.value in PATH_IO:
            category = "file"  # pathlib (and zipfile/importlib.resources) paths; anyio's are awaited
        if category is None:
            category = self._db_call(node)
        if category is None:
            return
        self.checked()
        self._flag(node, category)

    def _client_call(self, node: cst.Call) -> str | None:
        func = node.func
        assert isinstance(func, cst.Attribute)
        base = func.value
        kind = None
        if isinstance(base, cst.Name):
            for scope in reversed(self.clients):
                if base.value in scope:
                    kind = scope[base.value]
                    break
            else:
                kind = self.module_clients.get(base.value)
        elif isinstance(base, cst.Call):
            kind = self._client_kind(base)
        if kind is not None and func.attr.value in CLIENT_IO_METHODS.get(kind, ()):
            return kind
        return None

    def _db_call(self, node: cst.Call) -> str | None:
        found = classify(self.ctx, node)
        if found is None or found.op in (STAGE, FETCH) or is_chain_receiver(self.ctx):
            return None
        if found.op == LAZY:
            return None  # building a query does no I/O; evaluating it does
        if found.api == "django":
            if found.method.startswith("a") and found.method[1:] in ("get", "first", "last", "count", "exists", "create",
                                                                     "save", "delete", "update", "aggregate"):
                return None
            return "django"
        if found.api == "sqlalchemy":
            return "sqlalchemy"
        if found.api in ("dbapi", "pandas"):
            return "db"
        if found.api == "mongo":
            return "db"
        return None

    def _flag(self, node: cst.CSTNode, category: str, detail: str | None = None) -> None:
        what = detail or (f"`{self._short(node)}` blocks the event loop" if category == "sleep"
                          else f"{WHAT[category]} (`{self._short(node)}`) blocks the event loop")
        severity = Severity.LOW if category == "file" else None
        confidence = Confidence.MEDIUM if category in ("file", "sqlalchemy", "db") else None
        self.report(node, f"{what} inside `async def`; {ADVICE[category]}", severity=severity, confidence=confidence)

    def _short(self, node: cst.CSTNode) -> str:
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            base, methods = call_chain(node)
            code = self.ctx.code_of(base).strip() + "".join(f".{m}()" for m, _ in methods)
        else:
            code = self.ctx.code_of(node.func if isinstance(node, cst.Call) else node).strip() + "()"
        code = " ".join(code.split())
        return code if len(code) <= 60 else code[:57] + "..."
