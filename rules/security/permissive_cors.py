from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule, dotted
from checker.syntax import walk
from rules._shared.deps import is_dev_config_path
from rules._shared.web import arg, string_value

FLASK_CORS = frozenset({"flask_cors.CORS", "flask_cors.cross_origin", "quart_cors.cors", "quart_cors.route_cors"})
CORS_MIDDLEWARE = frozenset({"starlette.middleware.cors.CORSMiddleware", "fastapi.middleware.cors.CORSMiddleware"})
DJANGO_ALLOW_ALL = frozenset({"CORS_ALLOW_ALL_ORIGINS", "CORS_ORIGIN_ALLOW_ALL"})
DJANGO_REGEXES = frozenset({"CORS_ALLOWED_ORIGIN_REGEXES", "CORS_ORIGIN_REGEX_WHITELIST"})
ACAO = "access-control-allow-origin"
ACAC = "access-control-allow-credentials"
# Regular expressions that match any origin.
ANY_ORIGIN_REGEX = re.compile(r"^(?:\(?https?\??:(?://|\\/\\/)\)?\??)?\.[*+]$")
ORIGIN_HEADER_KEYS = frozenset({"origin", "http_origin"})


def _true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def _is_star(node: cst.BaseExpression | None) -> bool:
    """``"*"``, ``["*"]``, ``("*",)``."""
    if node is None:
        return False
    if string_value(node) == "*":
        return True
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return any(string_value(e.value) == "*" for e in node.elements)
    return False


def _any_regex(node: cst.BaseExpression | None) -> bool:
    if node is None:
        return False
    values = [string_value(node)]
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        values = [string_value(e.value) for e in node.elements]
    return any(v is not None and ANY_ORIGIN_REGEX.match(v.strip().lstrip("^").rstrip("$")) for v in values)


class PermissiveCors(FileRule):
    """
    ## What it does
    Finds CORS configured to accept any origin:

    * flask-cors `CORS(app)` / `@cross_origin()` with no `origins` (its default is `*`),
      `origins="*"`, or `resources={...: {"origins": "*"}}`;
    * Starlette/FastAPI `CORSMiddleware` with `allow_origins=["*"]` or an
      `allow_origin_regex` that matches everything (`".*"`), through `add_middleware`,
      `Middleware(...)` or a direct call;
    * django-cors-headers `CORS_ALLOW_ALL_ORIGINS = True` (or the old
      `CORS_ORIGIN_ALLOW_ALL`), or an origin regex list that matches everything;
    * a response whose `Access-Control-Allow-Origin` header copies the request's `Origin`
      header without checking it against an allow-list, or is `*` while the response also
      allows credentials.

    A hand-written `Access-Control-Allow-Origin: *` without credentials is not reported:
    it is how public resources (widgets, discovery documents, fonts) are shared on
    purpose, and browsers do not send cookies with such requests.

    With credentials allowed (`supports_credentials=True`, `allow_credentials=True`,
    `CORS_ALLOW_CREDENTIALS = True`, `Access-Control-Allow-Credentials: true`) the finding
    is raised to high severity: any site can then make authenticated requests as the
    visitor and read the answers.

    ## Why is this bad?
    CORS is the browser's permission for other sites' scripts to read your responses. A
    wildcard (or a reflected origin) lets every web page the user visits call the API from
    the user's browser and read what comes back.

    ## Known limits
    Origins read from configuration or the environment are trusted. `CORS(app)` is not
    reported when the same file sets `CORS_ORIGINS`/`CORS_RESOURCES` (flask-cors reads those
    from the app config); configuration set in another module is not seen. Settings
    modules for development and tests (`settings/dev.py`, `local_settings.py`, `tests/...`)
    are not checked.
    """

    slug = "permissive-cors"
    checklist = "Proper CORS configuration; overly permissive CORS policies"
    section = Section.SECURITY
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript", "go")
    cwe = ("CWE-942", "CWE-346")
    summary = "CORS allows any origin"
    triggers = ("CORS", "cors", "Access-Control-Allow-Origin", "access-control-allow-origin")
    bad = (
        Example(
            "from flask import Flask\n"
            "from flask_cors import CORS as EnableCors\n\n"
            "app = Flask(__name__)\n"
            "EnableCors(app, supports_credentials=True)  # flagged\n",
            path="app/__init__.py",
        ),
        Example(
            "from fastapi import FastAPI\n"
            "from fastapi.middleware.cors import CORSMiddleware\n\n"
            "api = FastAPI()\n"
            "api.add_middleware(\n"
            "    CORSMiddleware,\n"
            "    allow_origins=['*'],  # flagged\n"
            "    allow_methods=['*'],\n"
            ")\n",
            path="main.py",
        ),
        Example(
            "CORS_ALLOW_ALL_ORIGINS = True  # flagged\n"
            "CORS_ALLOW_CREDENTIALS = True\n",
            path="shop/settings/production.py",
        ),
    )
    good = (
        Example(
            "import os\n"
            "from flask import Flask\n"
            "from flask_cors import CORS\n\n"
            "app = Flask(__name__)\n"
            "CORS(app, origins=os.environ['ALLOWED_ORIGINS'].split(','), supports_credentials=True)\n",
            path="app/__init__.py",
        ),
        Example(
            "from fastapi import FastAPI\n"
            "from fastapi.middleware.cors import CORSMiddleware\n\n"
            "api = FastAPI()\n"
            "api.add_middleware(CORSMiddleware, allow_origins=['https://shop.example.com'], allow_credentials=True)\n",
            path="main.py",
        ),
        Example(
            "CORS_ALLOW_ALL_ORIGINS = True\n",
            path="shop/settings/dev.py",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._skip = ctx.is_test or is_dev_config_path(ctx.path)
        self._credentials_setting: bool | None = None

    # -- libraries -----------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        if self._skip:
            return
        name = self.ctx.resolve(node.func) or ""
        if name in FLASK_CORS:
            self._flask_cors(node, name)
            return
        if name in CORS_MIDDLEWARE:
            self._middleware(node, node)
            return
        last = name.rsplit(".", 1)[-1]
        if last in ("add_middleware", "Middleware") and node.args:
            first = node.args[0].value
            if self.ctx.resolve(first) in CORS_MIDDLEWARE:
                self._middleware(node, node)
            return
        if last in ("add", "set", "setdefault", "__setitem__", "add_header") and len(node.args) >= 2:
            key = string_value(node.args[0].value)
            if key is not None and key.lower() == ACAO:
                self._acao_value(node, node.args[1].value)

    def _flask_cors(self, node: cst.Call, name: str) -> None:
        if any(a.star for a in node.args):
            return
        self.checked()
        credentials = _true(arg(node, keyword="supports_credentials")) or _true(arg(node, keyword="allow_credentials"))
        origins = arg(node, keyword="origins") or arg(node, keyword="allow_origin")
        resources = arg(node, keyword="resources")
        if origins is not None:
            if _is_star(origins):
                self._report(origins, "`origins='*'` lets any site read the responses", credentials)
            return
        if isinstance(resources, cst.Dict):
            for el in resources.elements:
                if isinstance(el, cst.DictElement) and isinstance(el.value, cst.Dict):
                    inner = {string_value(e.key): e.value for e in el.value.elements if isinstance(e, cst.DictElement)}
                    creds = credentials or _true(inner.get("supports_credentials"))
                    if "origins" not in inner:
                        self._report(el, "this resource has no `origins`, and flask-cors then allows any origin", creds)
                    elif _is_star(inner["origins"]):
                        self._report(inner["origins"], "`origins: '*'` lets any site read the responses", creds)
            return
        if resources is not None and not isinstance(resources, (cst.SimpleString, cst.ConcatenatedString, cst.List)):
            return  # resources from a variable: not followed
        if any(k in self.ctx.text for k in ("CORS_ORIGINS", "CORS_RESOURCES")):
            return
        what = "`CORS(...)`" if name.endswith("CORS") or name.endswith("cors") else "`@cross_origin()`"
        self._report(node, f"{what} without `origins` allows any origin (flask-cors defaults to `*`)", credentials)

    def _middleware(self, node: cst.Call, call: cst.Call) -> None:
        if any(a.star == "**" for a in call.args):
            return
        self.checked()
        credentials = _true(arg(call, keyword="allow_credentials"))
        origins = arg(call, keyword="allow_origins")
        regex = arg(call, keyword="allow_origin_regex")
        if _is_star(origins):
            self._report(origins, "`allow_origins=['*']` lets any site read the responses", credentials)  # type: ignore[arg-type]
        elif _any_regex(regex):
            self._report(regex, "`allow_origin_regex` matches every origin", credentials)  # type: ignore[arg-type]

    def _report(self, node: cst.CSTNode, message: str, credentials: bool) -> None:
        if credentials:
            self.report(node, message + ", with credentials allowed: any site can act as the signed-in user",
                        severity=Severity.HIGH)
        else:
            self.report(node, message)

    # -- Django settings -----------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        if self._skip:
            return
        for stmt in node.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and _target_name(small) == "CORS_ALLOW_CREDENTIALS":
                        self._credentials_setting = _true(small.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._skip:
            return
        name = _target_name(node)
        if name in DJANGO_ALLOW_ALL and self.ctx.enclosing_function() is None:
            self.checked()
            if _true(node.value):
                self._report(node, f"`{name} = True` lets any site read the responses", bool(self._credentials_setting))
            return
        if name in DJANGO_REGEXES and self.ctx.enclosing_function() is None:
            self.checked()
            if _any_regex(node.value):
                self._report(node, f"`{name}` has a pattern matching every origin", bool(self._credentials_setting))
            return
        for target in node.targets:
            t = target.target
            if isinstance(t, cst.Subscript) and len(t.slice) == 1 and isinstance(t.slice[0].slice, cst.Index):
                key = string_value(t.slice[0].slice.value)
                if key is not None and key.lower() == ACAO:
                    self._acao_value(node, node.value)

    def visit_Dict(self, node: cst.Dict) -> None:
        if self._skip:
            return
        for el in node.elements:
            if isinstance(el, cst.DictElement):
                key = string_value(el.key)
                if key is not None and key.lower() == ACAO:
                    self._acao_value(el, el.value)

    # -- hand-written headers ------------------------------------------------------------------
    def _acao_value(self, node: cst.CSTNode, value: cst.BaseExpression) -> None:
        self.checked()
        credentials = self._credentials_nearby()
        if string_value(value) == "*":
            # A public resource shared with every site on purpose; browsers refuse `*` for
            # credentialed requests, so only the combination with credentials is a finding.
            if credentials:
                self._report(node, "`Access-Control-Allow-Origin: *` together with credentials", credentials)
            return
        origin = self._reflected(value)
        if origin:
            self._report(node, "the request's `Origin` is copied into `Access-Control-Allow-Origin` without "
                               "an allow-list check: every site is allowed", credentials)

    def _credentials_nearby(self) -> bool:
        func = self.ctx.enclosing_function()
        scope = self.ctx.code_of(func) if func is not None else ""
        return bool(re.search(r"access-control-allow-credentials['\"]\s*[\]:,]\s*=?\s*['\"]true", scope, re.I))

    def _reflected(self, value: cst.BaseExpression) -> bool:
        """Whether ``value`` is the request's Origin header, directly or through a local
        variable that no allow-list test looks at."""
        if _origin_read(value):
            return True
        if isinstance(value, cst.Name):
            func = self.ctx.enclosing_function()
            if func is None:
                return False
            assigned = _assignments(func, value.value)
            if not any(_origin_read(v) for v in assigned):
                return False
            return not _tested(func, value.value)
        return False


def _target_name(node: cst.Assign) -> str | None:
    if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
        return node.targets[0].target.value
    return None


def _origin_read(node: cst.BaseExpression) -> bool:
    """``request.headers["Origin"]``, ``request.headers.get("Origin")``, ``request.META["HTTP_ORIGIN"]``."""
    if isinstance(node, cst.BooleanOperation):
        return _origin_read(node.left)
    key = None
    base = None
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        key, base = string_value(node.slice[0].slice.value), node.value
    elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "get" and node.args:
        key, base = string_value(node.args[0].value), node.func.value
    if key is None or key.lower() not in ORIGIN_HEADER_KEYS:
        return False
    name = (dotted(base) or "").lower()
    return name.endswith(("headers", "meta"))


def _assignments(func: cst.FunctionDef, name: str) -> list[cst.BaseExpression]:
    found: list[cst.BaseExpression] = []

    class _V(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for t in node.targets:
                if isinstance(t.target, cst.Name) and t.target.value == name:
                    found.append(node.value)

    walk(func, _V())
    return found


def _tested(func: cst.FunctionDef, name: str) -> bool:
    """Whether an ``if``/``while``/conditional expression tests ``name`` against something
    (``origin in ALLOWED``, ``origin == settings.FRONTEND``, ``is_allowed(origin)``)."""
    found = False

    class _V(cst.CSTVisitor):
        def _look(self, test: cst.BaseExpression) -> None:
            class _Inner(cst.CSTVisitor):
                def visit_Comparison(self, node: cst.Comparison) -> None:
                    nonlocal found
                    parts = [node.left] + [c.comparator for c in node.comparisons]
                    ops = [c.operator for c in node.comparisons]
                    if any(isinstance(p, cst.Name) and p.value == name for p in parts) and not all(
                            isinstance(o, (cst.Is, cst.IsNot)) for o in ops):
                        found = True

                def visit_Call(self, node: cst.Call) -> None:
                    nonlocal found
                    if any(isinstance(a.value, cst.Name) and a.value.value == name for a in node.args):
                        found = True
                    if isinstance(node.func, cst.Attribute) and node.func.attr.value in ("match", "fullmatch", "search"):
                        if any(isinstance(a.value, cst.Name) and a.value.value == name for a in node.args):
                            found = True

            walk(test, _Inner())

        def visit_If(self, node: cst.If) -> None:
            self._look(node.test)

        def visit_IfExp(self, node: cst.IfExp) -> None:
            self._look(node.test)

        def visit_While(self, node: cst.While) -> None:
            self._look(node.test)

    walk(func, _V())
    return found
