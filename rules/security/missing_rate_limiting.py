from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Location, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from rules._shared.deps import depends_on
from rules._shared.web import current_handler, string_value

# Server-side rate limiting libraries: import roots, and distribution names.
LIMITER_MODULES = ("flask_limiter", "slowapi", "django_ratelimit", "ratelimit.decorators", "ratelimit.core",
                   "ratelimit.mixins", "fastapi_limiter", "aiohttp_ratelimiter", "axes", "defender",
                   "rest_framework.throttling", "quart_rate_limiter", "sanic_limiter", "starlette_limiter",
                   "ratelimit.auths", "ratelimit.backends", "fastapi_throttle")
LIMITER_DISTRIBUTIONS = ("flask-limiter", "slowapi", "django-ratelimit", "fastapi-limiter", "aiohttp-ratelimiter",
                         "asgi-ratelimit", "django-axes", "django-defender", "quart-rate-limiter", "sanic-limiter",
                         "fastapi-throttle", "starlette-limiter")
LIMIT_WORDS = re.compile(r"rate_?limit|limiter|throttl|\blimits?\(|\.limit\b|shared_limit|ratelimit", re.IGNORECASE)
# Words of a route's path or handler name that make it an authentication endpoint...
AUTH_WORDS = frozenset({"login", "signin", "logon", "register", "registration", "signup", "forgot", "recover",
                        "obtain", "token", "otp", "2fa", "mfa", "totp", "authenticate", "pwreset", "magiclink"})
# ... unless it manages something for a user who is already signed in.
MANAGEMENT_WORDS = frozenset({"device", "devices", "delete", "disable", "enable", "leave", "regenerate", "drift",
                              "settings", "team", "teams", "resend", "list", "revoke", "logout", "signout", "admin",
                              "history", "emergency"})
PROXY_LIMIT = re.compile(r"limit_req|limit-rps|limit-rpm|limit-connections|rateLimit|rate_limit|ratelimit",
                         re.IGNORECASE)
PROXY_CONFIG = re.compile(r"(?:^|/)(?:nginx[^/]*|[^/]*\.conf|Caddyfile|[^/]*\.ya?ml|[^/]*\.toml|haproxy[^/]*)$",
                          re.IGNORECASE)
# Limiters for calls the application makes to other services.
CLIENT_LIMITERS = frozenset({"ratelimiter", "aiolimiter", "asyncio_throttle", "throttler", "requests_ratelimiter",
                             "pyrate_limiter", "limiter", "backoff", "tenacity"})
IN_HOUSE = re.compile(r"rate_?limit|ratelimit|throttl|RateLimit|Throttl", re.IGNORECASE)
DEFAULT_KEYS = frozenset({"default_limits", "application_limits", "RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION",
                          "DEFAULT_THROTTLE_CLASSES"})


class MissingRateLimiting(ProjectRule):
    """
    ## What it does
    Looks at the whole repository and reports:

    * a web application with routes and no rate limiting at all: no project code of its own
      for it (a module, class or function named for rate limiting or throttling), no
      flask-limiter, slowapi,
      django-ratelimit, fastapi-limiter, aiohttp-ratelimiter, asgi-ratelimit, django-axes,
      DRF throttles (`DEFAULT_THROTTLE_CLASSES`, `throttle_classes`) — neither used in the
      code nor declared as a dependency — and no rate limit in a proxy configuration kept
      beside the code (nginx `limit_req`, ingress annotations, Traefik `rateLimit`);
    * when a limiter exists, login, registration, password-reset, token and one-time-code
      endpoints that accept writes with no limit of their own and no default limit covering
      them (flask-limiter/slowapi `default_limits`, DRF default throttles, django-axes for
      Django logins).

    ## Why is this bad?
    Without limits, one client can try passwords and one-time codes by the million,
    enumerate accounts, or exhaust the service. Authentication endpoints are the first
    target; every public endpoint needs some ceiling.

    ## Known limits
    When the only limiter is the project's own code, the endpoints it covers cannot be told
    (it may run inside forms or services), so no endpoint is reported individually.
    Limits enforced by an API gateway or CDN configured outside the repository are not
    seen; suppress the finding with a reason naming where the limit lives. Client-side
    limiters (for calls the application makes to other services) do not count.
    """

    slug = "missing-rate-limiting"
    checklist = "Rate limiting per endpoint; missing rate limiting on public endpoints"
    section = Section.SECURITY
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-770", "CWE-307")
    summary = "Endpoints have no rate limiting"
    bad = (
        Example(
            "from fastapi import FastAPI\n\n"
            "app = FastAPI()  # flagged\n\n"
            "@app.post('/login')\n"
            "async def login(form: dict):\n"
            "    return {'token': '...'}\n",
            path="main.py",
        ),
        Example(
            "from flask import Flask\n"
            "from flask_limiter import Limiter\n"
            "from flask_limiter.util import get_remote_address\n\n"
            "app = Flask(__name__)\n"
            "limiter = Limiter(get_remote_address, app=app)\n\n"
            "@app.post('/search')\n"
            "@limiter.limit('30/minute')\n"
            "def search():\n"
            "    return []\n\n"
            "@app.post('/login')\n"
            "def login():  # flagged\n"
            "    return {}\n",
            path="app.py",
        ),
    )
    good = (
        Example(
            "from flask import Flask\n"
            "from flask_limiter import Limiter\n"
            "from flask_limiter.util import get_remote_address\n\n"
            "app = Flask(__name__)\n"
            "limiter = Limiter(get_remote_address, app=app, default_limits=['200 per hour'])\n\n"
            "@app.post('/login')\n"
            "@limiter.limit('5/minute')\n"
            "def login():\n"
            "    return {}\n",
            path="app.py",
        ),
    )

    # -- per file -----------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        handler = current_handler(self.ctx, node)
        if handler is None:
            return
        cls = self.ctx.enclosing_class()
        name = f"{cls.name.value}.{node.name.value}" if cls is not None and handler.owner == cls.name.value else node.name.value
        declared = any(LIMIT_WORDS.search(d) for d in handler.decorators) or self._limited_in_code(node, cls)
        inline = bool(re.search(r"\b\w*(?:rate_?limit|throttl)\w*\(", self.ctx.code_of(node.body), re.I))
        limited = declared or inline
        self.record({"kind": "route", "path": handler.path, "name": name, "methods": sorted(handler.methods),
                     "framework": handler.framework, "limited": limited, "declared": declared}, node)

    def _limited_in_code(self, func: cst.FunctionDef, cls: cst.ClassDef | None) -> bool:
        decorators = "".join(self.ctx.code_of(d) for d in func.decorators)
        params = self.ctx.code_of(func.params)
        if LIMIT_WORDS.search(decorators) or re.search(r"RateLimiter|rate_limit|limiter|throttl", params, re.I):
            return True
        if cls is not None:
            header = "".join(self.ctx.code_of(d) for d in cls.decorators)
            if LIMIT_WORDS.search(header):
                return True
            for stmt in cls.body.body:
                if isinstance(stmt, cst.SimpleStatementLine):
                    for small in stmt.body:
                        if isinstance(small, cst.Assign) and any(
                                isinstance(t.target, cst.Name) and t.target.value in ("throttle_classes", "throttle_scope")
                                for t in small.targets):
                            return True
                        if isinstance(small, cst.Assign) and any(
                                isinstance(t.target, cst.Name) and t.target.value in ("decorators", "method_decorators")
                                for t in small.targets) and LIMIT_WORDS.search(self.ctx.code_of(small.value)):
                            return True
            bases = "".join(self.ctx.code_of(b) for b in cls.bases)
            if re.search(r"RateLimit|Throttl", bases):
                return True
        return False

    def leave_Module(self, node: cst.Module) -> None:
        if self.ctx.is_test:
            return
        for module in LIMITER_MODULES:
            if self.ctx.imported(module):
                self.record({"kind": "limiter", "what": module}, None)
                return
        # The project's own limiter: ``from .helpers.ratelimit import rate_limit``.
        for bound, full in self.ctx.imports.items():
            if full.split(".", 1)[0] in CLIENT_LIMITERS or full in ("ratelimit.limits", "ratelimit.sleep_and_retry"):
                continue
            if IN_HOUSE.search(bound) or IN_HOUSE.search(full.rsplit(".", 1)[0].rsplit(".", 1)[-1]):
                self.record({"kind": "limiter", "what": full, "own": True}, None)
                return

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not self.ctx.is_test and IN_HOUSE.search(node.name.value) and not node.name.value.startswith("Test"):
            self.record({"kind": "limiter", "what": node.name.value, "own": True}, node.name)

    def visit_Arg(self, node: cst.Arg) -> None:
        if not self.ctx.is_test and node.keyword is not None and node.keyword.value in DEFAULT_KEYS:
            if not (isinstance(node.value, (cst.List, cst.Tuple)) and not node.value.elements):
                self.record({"kind": "default", "what": node.keyword.value}, node)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        key = string_value(node.key)
        if not self.ctx.is_test and key in DEFAULT_KEYS:
            if not (isinstance(node.value, (cst.List, cst.Tuple)) and not node.value.elements):
                self.record({"kind": "default", "what": key}, node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self.ctx.is_test:
            return
        for t in node.targets:
            target = t.target
            key = target.value if isinstance(target, cst.Name) else None
            if isinstance(target, cst.Subscript) and len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
                key = string_value(target.slice[0].slice.value)
            if key in DEFAULT_KEYS:
                self.record({"kind": "default", "what": key}, node)

    # -- the project ----------------------------------------------------------------------------------
    def check(self, project: ProjectContext) -> None:
        routes = [f for f in project.facts("routes") if not project.is_test(f.path)]
        apps = [f for f in project.facts("apps") if not project.is_test(f.path)]
        if not routes:
            return
        self.checked()
        facts = [f for f in project.facts(self.slug) if not project.is_test(f.path)]
        mine = [f for f in facts if f.data["kind"] == "route"]
        defaults = [f for f in facts if f.data["kind"] == "default"]
        proxy = self._proxy_limit(project)
        exists = (proxy or defaults or any(f.data["kind"] == "limiter" for f in facts)
                  or any(f.data["limited"] for f in mine) or depends_on(project, *LIMITER_DISTRIBUTIONS))
        if not exists:
            anchor = min(apps or routes, key=lambda f: (f.path, f.line))
            related = [Location(f.path, f.line, "an unlimited route") for f in routes if f is not anchor][:5]
            self.report_at(anchor.path, anchor.line,
                           f"{len(routes)} route(s) and no rate limiting anywhere in the repository (add flask-limiter, "
                           "slowapi, django-ratelimit or DRF throttles, at least on authentication endpoints)",
                           related=related)
            return
        if proxy:
            return
        known = any(f.data["kind"] == "limiter" and not f.data.get("own") for f in facts) or defaults \
            or any(f.data.get("declared") for f in mine) or depends_on(project, *LIMITER_DISTRIBUTIONS)
        if not known:
            return  # only the project's own limiter: where it applies cannot be seen
        drf_default = any(f.data["what"] == "DEFAULT_THROTTLE_CLASSES" for f in defaults)
        app_default = any(f.data["what"] != "DEFAULT_THROTTLE_CLASSES" for f in defaults)
        axes = any(f.data["kind"] == "limiter" and f.data["what"] in ("axes", "defender") for f in facts) \
            or bool(depends_on(project, "django-axes", "django-defender"))
        for fact in mine:
            data = fact.data
            text = f"{data.get('path') or ''} {data['name']}"
            words = _words(text)
            auth = words & AUTH_WORDS or {"password", "reset"} <= words or {"sign", "in"} <= words \
                or {"sign", "up"} <= words or {"log", "in"} <= words
            if data["limited"] or not auth or words & MANAGEMENT_WORDS:
                continue
            methods = set(data["methods"])
            if methods and not methods & {"post", "put", "patch"}:
                continue
            framework = data["framework"]
            if framework == "drf" and drf_default:
                continue
            if framework in ("django", "drf") and axes and words & {"login", "signin", "token", "obtain", "log", "sign"}:
                continue
            if framework not in ("django", "drf") and app_default:
                continue
            self.report_at(fact.path, fact.line,
                           f"authentication endpoint `{data['name']}` has no rate limit: passwords and codes can be "
                           "guessed without a ceiling", severity=Severity.MEDIUM, confidence=Confidence.MEDIUM)

    def _proxy_limit(self, project: ProjectContext) -> bool:
        for file in project.files:
            if file.language == "python" or file.size > 300_000 or not PROXY_CONFIG.search(file.path):
                continue
            if file.path.rsplit("/", 1)[-1] in ("pyproject.toml", "poetry.lock", "Pipfile.lock"):
                continue
            if project.is_test(file.path):
                continue
            text = project.read_text(file.path) or ""
            if PROXY_LIMIT.search(text):
                return True
        return False


def _words(text: str) -> set[str]:
    """``Login2FAView.post /api/sign-in`` -> {"login", "2fa", "view", "post", "api", "sign", "in"}."""
    text = re.sub(r"([a-z])([A-Z0-9])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    return {w.lower() for w in re.split(r"[^A-Za-z0-9]+", text) if w}
