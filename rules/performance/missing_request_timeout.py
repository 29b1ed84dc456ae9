from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.web import arg

HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request"})
# Session/client constructors whose request methods need a timeout of their own (requests
# sessions have no default timeout).
REQUESTS_SESSIONS = frozenset({"requests.Session", "requests.session", "requests.sessions.Session"})
# Constructors that take the default timeout for every request they make.
TIMEOUT_CONSTRUCTORS = {
    "aiohttp.ClientSession": ("timeout", "aiohttp's default allows a request 5 minutes"),
    "urllib3.PoolManager": ("timeout", "urllib3 waits forever by default"),
    "urllib3.HTTPConnectionPool": ("timeout", "urllib3 waits forever by default"),
    "urllib3.HTTPSConnectionPool": ("timeout", "urllib3 waits forever by default"),
    "http.client.HTTPConnection": ("timeout", "the socket default is to wait forever"),
    "http.client.HTTPSConnection": ("timeout", "the socket default is to wait forever"),
}
HTTPX_CLIENTS = frozenset({"httpx.Client", "httpx.AsyncClient"})
URLOPEN = frozenset({"urllib.request.urlopen", "urllib2.urlopen", "six.moves.urllib.request.urlopen"})


def _none(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _has_star_kwargs(call: cst.Call) -> bool:
    return any(a.star == "**" for a in call.args)


class MissingRequestTimeout(FileRule):
    """
    ## What it does
    Finds outbound HTTP calls that can wait forever: `requests.get/post/...` and
    `requests.Session` methods without `timeout=`, `urllib.request.urlopen` without a
    timeout, `urllib3.PoolManager`/`http.client.HTTPConnection` created without one,
    `aiohttp.ClientSession()` without `timeout=`, and any of these (httpx included) with
    `timeout=None`.

    httpx applies a 5-second default timeout, so an httpx call without `timeout=` is fine;
    only an explicit `timeout=None` (or `httpx.Timeout(None)`) is reported.

    ## Why is this bad?
    A remote service that stops answering holds the calling worker for as long as the
    TCP connection stays open, which can be hours. A few such calls exhaust the worker
    pool and the failure of one dependency becomes an outage of this service. A timeout
    is the first building block of a circuit breaker.

    ## Known limits
    Calls passing `**kwargs` are not reported (they may carry the timeout). A session
    whose default timeout is set by a custom adapter or subclass is not recognised;
    suppress those findings with a reason. Test code is not checked.
    """

    slug = "missing-request-timeout"
    checklist = "Circuit breakers / failure handling for external service calls"
    section = Section.PERFORMANCE
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-400",)
    summary = "An HTTP call has no timeout"
    triggers = ("requests", "urlopen", "aiohttp", "httpx", "urllib3", "http.client", "HTTPConnection")
    bad = (
        Example(
            "import requests\n\n"
            "def weather(city):\n"
            "    return requests.get('https://api.example.com/weather', params={'q': city}).json()  # flagged\n"
        ),
        Example(
            "from urllib.request import urlopen\n\n"
            "def fetch(url):\n"
            "    with urlopen(url) as reply:  # flagged\n"
            "        return reply.read()\n"
        ),
    )
    good = (
        Example(
            "import requests\n\n"
            "def weather(city):\n"
            "    return requests.get('https://api.example.com/weather', params={'q': city}, timeout=(3, 10)).json()\n"
        ),
        Example(
            "import httpx\n\n"
            "def weather(city):\n"
            "    return httpx.get('https://api.example.com/weather', params={'q': city}).json()\n"
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.sessions: list[set[str]] = [set()]
        self.self_sessions: dict[str, set[str]] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.sessions.append(set())

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.sessions.pop()

    def _is_session(self, value: cst.BaseExpression) -> bool:
        return isinstance(value, cst.Call) and (self.ctx.resolve(value.func) or "") in REQUESTS_SESSIONS

    def visit_Assign(self, node: cst.Assign) -> None:
        session = self._is_session(node.value)
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Name):
                (self.sessions[-1].add if session else self.sessions[-1].discard)(target.value)
            elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
                cls = self.ctx.enclosing_class()
                if cls is not None:
                    owned = self.self_sessions.setdefault(cls.name.value, set())
                    (owned.add if session else owned.discard)(target.attr.value)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None and isinstance(node.asname.name, cst.Name) and self._is_session(node.item):
            self.sessions[-1].add(node.asname.name.value)

    def _session_call(self, func: cst.Attribute) -> bool:
        base = func.value
        if isinstance(base, cst.Name):
            return any(base.value in scope for scope in self.sessions)
        if isinstance(base, cst.Attribute) and isinstance(base.value, cst.Name) and base.value.value == "self":
            cls = self.ctx.enclosing_class()
            return cls is not None and base.attr.value in self.self_sessions.get(cls.name.value, set())
        if isinstance(base, cst.Call):
            return self._is_session(base)
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test:
            return
        name = self.ctx.resolve(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        timeout = arg(node, keyword="timeout")
        root = name.split(".", 1)[0]
        if root == "requests" and last in HTTP_VERBS and name.count(".") == 1 or \
                isinstance(node.func, cst.Attribute) and last in HTTP_VERBS and self._session_call(node.func):
            self.checked()
            if timeout is None and not _has_star_kwargs(node):
                self.report(node, f"`{self._shown(node)}` has no timeout: requests waits forever for a server that "
                                  "stops answering; pass `timeout=` (e.g. `timeout=(3, 10)`)")
            elif _none(timeout):
                self.report(node, f"`{self._shown(node)}` passes `timeout=None`, which waits forever; give it a limit")
            return
        if root == "httpx" and (last in HTTP_VERBS | {"stream"} and name.count(".") == 1 or name in HTTPX_CLIENTS
                                or name == "httpx.Timeout"):
            self.checked()
            value = arg(node, 0) if name == "httpx.Timeout" else timeout
            if name == "httpx.Timeout" and value is None:
                value = arg(node, keyword="timeout")
            if _none(value):
                self.report(node, f"`{self._shown(node)}` turns httpx's default timeout off (`None`), so calls can "
                                  "wait forever; give it a limit")
            return
        if name in URLOPEN:
            self.checked()
            positional = [a for a in node.args if a.keyword is None and not a.star]
            value = timeout if timeout is not None else (positional[2].value if len(positional) > 2 else None)
            if value is None and not _has_star_kwargs(node):
                self.report(node, f"`{self._shown(node)}` has no timeout and waits forever by default; pass `timeout=`")
            elif _none(value):
                self.report(node, f"`{self._shown(node)}` passes `timeout=None`, which waits forever; give it a limit")
            return
        if name in TIMEOUT_CONSTRUCTORS:
            self.checked()
            keyword, why = TIMEOUT_CONSTRUCTORS[name]
            value = arg(node, keyword=keyword)
            if name.startswith("http.client") and value is None:
                positional = [a for a in node.args if a.keyword is None and not a.star]
                value = positional[2].value if len(positional) > 2 else None
            if value is None and not _has_star_kwargs(node):
                self.report(node, f"`{self._shown(node)}` is created without `{keyword}=` ({why}); set a timeout")
            elif _none(value):
                self.report(node, f"`{self._shown(node)}` is created with `{keyword}=None`, which waits forever")
            return
        if name == "aiohttp.ClientTimeout" and arg(node, keyword="total") is not None and _none(arg(node, keyword="total")) \
                and arg(node, keyword="sock_read") is None:
            self.checked()
            self.report(node, "`aiohttp.ClientTimeout(total=None)` without a read timeout lets requests wait forever")

    def _shown(self, node: cst.Call) -> str:
        code = " ".join(self.ctx.code_of(node.func).split())
        return code + "(...)" if len(code) < 60 else code[:57] + "..."
