from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.deps import is_dev_config_path, is_dev_name
from rules._shared.web import current_handler, string_value

CSRF_EXEMPT = frozenset({"django.views.decorators.csrf.csrf_exempt"})
CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"
SESSION_MIDDLEWARE = ("django.contrib.sessions.middleware.SessionMiddleware",
                      "django.contrib.auth.middleware.AuthenticationMiddleware")
SESSION_AUTH = frozenset({"rest_framework.authentication.SessionAuthentication"})
SAFE_ONLY = frozenset({"django.views.decorators.http.require_GET", "django.views.decorators.http.require_safe"})
WEBHOOK = re.compile(r"webhook|hook|callback|notify|notification|ipn|stripe|github|slack|twilio|paypal", re.I)
# Endpoints authenticated by client credentials or bearer tokens rather than cookies.
TOKEN_ENDPOINT = re.compile(r"token|userinfo|user_info|introspect|revoke|jwks|oauth2?_?api", re.I)
# Evidence that a view changes state (writes, sessions, logins, tasks).
STATE_CHANGE = re.compile(
    r"\.(?:save|delete|create|update|add|remove|set|send|apply|submit|cancel|pay|process|commit|execute|"
    r"bulk_\w+|get_or_create|update_or_create|delay|apply_async|send_mail|login|logout|flush|cycle_key)\(|"
    r"\bsession\[|\blogin\(|\blogout\(|\bdef (?:post|put|patch|delete)\(|"
    r"\b(?:save|create|update|delete|remove|add|set|send|apply|cancel|pay|process|register|record|store|write|"
    r"mark|confirm|approve|reject|submit|charge|refund|transfer|import|upload|reset|change|enable|disable)_?\w*\(",
)
SIGNATURE = re.compile(r"signature|hmac|compare_digest|construct_event|verify|x-hub|x-signature", re.I)
WTF_KEYS = frozenset({"WTF_CSRF_ENABLED", "CSRF_ENABLED"})


def _false(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


class CsrfDisabled(FileRule):
    """
    ## What it does
    Finds CSRF protection switched off:

    * Django's `@csrf_exempt` on a view (also through `method_decorator(csrf_exempt, ...)`
      and `csrf_exempt(view)` in URL patterns), and Flask-WTF's `@csrf.exempt`;
    * `WTF_CSRF_ENABLED = False` (Flask-WTF) in a configuration module or class, or set
      through `app.config[...]`/`config.update(...)`, outside tests and development
      configuration;
    * a Django `MIDDLEWARE` list that has sessions or authentication but no
      `CsrfViewMiddleware`;
    * a Django REST framework `SessionAuthentication` subclass whose `enforce_csrf` does
      nothing (the "CSRF-exempt session authentication" recipe).

    A view that only answers safe methods (`@require_GET`), or whose code shows no state
    change at all (no write, session change, login, task or outgoing message: a CSP report
    sink, a ping), is not reported. A `MIDDLEWARE` list with a project's own CSRF
    middleware (any entry naming CSRF) passes.

    A webhook receiving signed payloads is still reported, at low severity: third parties
    cannot send CSRF tokens, and the signature check is what protects it. Suppress it with a
    reason, e.g. `# checker: ignore[csrf-disabled] -- signed webhook (HMAC checked)`. The
    same holds for endpoints authenticated by client credentials or bearer tokens (OAuth
    token and userinfo endpoints): low severity, with the same advice.

    ## Why is this bad?
    With cookie-based sessions, any page the user visits can submit forms or requests to
    your site and the browser attaches the session cookie. CSRF tokens are what tell your
    own forms from a forged request.

    ## Known limits
    APIs authenticated only by tokens in headers do not need CSRF protection; DRF's
    `APIView` already exempts itself and enforces CSRF only for session authentication,
    which is not reported.
    """

    slug = "csrf-disabled"
    checklist = "CSRF protection where applicable"
    section = Section.SECURITY
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    cwe = ("CWE-352",)
    summary = "CSRF protection is disabled"
    triggers = ("csrf", "CSRF", "MIDDLEWARE")
    bad = (
        Example(
            "from django.http import JsonResponse\n"
            "from django.views.decorators.csrf import csrf_exempt\n\n"
            "@csrf_exempt  # flagged\n"
            "def update_profile(request):\n"
            "    request.user.profile.bio = request.POST['bio']\n"
            "    request.user.profile.save()\n"
            "    return JsonResponse({'ok': True})\n",
            path="accounts/views.py",
        ),
        Example(
            "class ProductionConfig:\n"
            "    WTF_CSRF_ENABLED = False  # flagged\n",
            path="app/config.py",
        ),
        Example(
            "MIDDLEWARE = [  # flagged\n"
            "    'django.middleware.security.SecurityMiddleware',\n"
            "    'django.contrib.sessions.middleware.SessionMiddleware',\n"
            "    'django.middleware.common.CommonMiddleware',\n"
            "    'django.contrib.auth.middleware.AuthenticationMiddleware',\n"
            "]\n",
            path="shop/settings.py",
        ),
    )
    good = (
        Example(
            "from django.views.decorators.csrf import csrf_exempt\n"
            "from django.views.decorators.http import require_GET\n\n"
            "@csrf_exempt\n"
            "@require_GET\n"
            "def ping(request):\n"
            "    return HttpResponse('pong')\n",
            path="status/views.py",
        ),
        Example(
            "class TestingConfig:\n"
            "    TESTING = True\n"
            "    WTF_CSRF_ENABLED = False\n",
            path="app/config.py",
        ),
        Example(
            "MIDDLEWARE = [\n"
            "    'django.middleware.security.SecurityMiddleware',\n"
            "    'django.contrib.sessions.middleware.SessionMiddleware',\n"
            "    'django.middleware.csrf.CsrfViewMiddleware',\n"
            "    'django.contrib.auth.middleware.AuthenticationMiddleware',\n"
            "]\n",
            path="shop/settings.py",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._skip = ctx.is_test

    # -- decorators ---------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self._skip:
            return
        names = [self._deco_name(d) for d in node.decorators]
        for deco, name in zip(node.decorators, names):
            if not self._is_exempt(name):
                continue
            self.checked()
            if any(n in SAFE_ONLY for n in names):
                return
            handler = current_handler(self.ctx, node)
            if handler is not None and handler.methods and not handler.writes:
                return
            self._report_exempt(deco, node, node.name.value)
            return
        if node.name.value == "enforce_csrf":
            cls = self.ctx.enclosing_class()
            if cls is not None and any(self.ctx.resolve(b.value) in SESSION_AUTH or
                                       (self.ctx.resolve(b.value) or "").endswith("SessionAuthentication")
                                       for b in cls.bases):
                self.checked()
                if _does_nothing(node):
                    self.report(node, f"`{cls.name.value}.enforce_csrf` does nothing: session-authenticated API "
                                      "requests are accepted without a CSRF token", severity=Severity.HIGH)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if self._skip:
            return
        for deco in node.decorators:
            expr = deco.decorator
            if isinstance(expr, cst.Call) and (self.ctx.resolve(expr.func) or "").endswith("method_decorator"):
                first = expr.args[0].value if expr.args else None
                if first is not None and self._is_exempt(self.ctx.resolve(first) or ""):
                    self.checked()
                    self._report_exempt(deco, node, node.name.value)

    def _deco_name(self, deco: cst.Decorator) -> str:
        expr = deco.decorator
        if isinstance(expr, cst.Call):
            if (self.ctx.resolve(expr.func) or "").endswith("method_decorator") and expr.args:
                return self.ctx.resolve(expr.args[0].value) or ""
            return self.ctx.resolve(expr.func) or ""
        return self.ctx.resolve(expr) or ""

    def _is_exempt(self, name: str) -> bool:
        if name in CSRF_EXEMPT or name.endswith(".csrf_exempt") or name == "csrf_exempt":
            return True
        # Flask-WTF: csrf = CSRFProtect(app); @csrf.exempt
        return name.endswith(".exempt") and "csrf" in name.rsplit(".", 1)[0].lower()

    def _report_exempt(self, where: cst.CSTNode, scope: cst.CSTNode, name: str) -> None:
        code = self.ctx.code_of(scope)
        if isinstance(scope, cst.FunctionDef) and scope.name.value == "dispatch":
            cls = self.ctx.enclosing_class()
            if cls is not None:
                code, name = self.ctx.code_of(cls), cls.name.value
        if isinstance(scope, (cst.FunctionDef, cst.ClassDef)) and not STATE_CHANGE.search(code):
            return  # a view that changes nothing (a report sink, a ping)
        if TOKEN_ENDPOINT.search(name):
            self.report(where, f"CSRF protection is off for `{name}`; an endpoint authenticated by client "
                               "credentials or bearer tokens needs none: suppress with "
                               "`# checker: ignore[csrf-disabled] -- token endpoint`",
                        severity=Severity.LOW, confidence=Confidence.MEDIUM)
            return
        if WEBHOOK.search(name) or (WEBHOOK.search(code) and SIGNATURE.search(code)):
            self.report(where, f"CSRF protection is off for `{name}`; if this webhook verifies a signature, "
                               "suppress with `# checker: ignore[csrf-disabled] -- signed webhook`",
                        severity=Severity.LOW, confidence=Confidence.MEDIUM)
            return
        self.report(where, f"CSRF protection is off for `{name}`: forged cross-site requests are accepted")

    def visit_Call(self, node: cst.Call) -> None:
        if self._skip:
            return
        name = self.ctx.resolve(node.func) or ""
        if self._is_exempt(name) and node.args and not self._is_decorator(node):
            view = node.args[0].value
            self.checked()
            self._report_exempt(node, view, self.ctx.code_of(view).strip())
            return
        last = name.rsplit(".", 1)[-1]
        if last in ("update", "from_mapping") and name.split(".")[-2:-1] == ["config"] or last == "from_mapping":
            for a in node.args:
                if a.keyword is not None and a.keyword.value in WTF_KEYS and _false(a.value):
                    self._report_config(a, a.keyword.value)
        if last == "remove" and node.args and string_value(node.args[0].value) == CSRF_MIDDLEWARE:
            self.checked()
            self.report(node, "`CsrfViewMiddleware` is removed from MIDDLEWARE: Django checks no CSRF tokens")

    def _is_decorator(self, node: cst.Call) -> bool:
        return isinstance(self.ctx.parent(), cst.Decorator)

    # -- configuration --------------------------------------------------------------------
    def _dev_context(self) -> bool:
        if is_dev_config_path(self.ctx.path):
            return True
        cls = self.ctx.enclosing_class()
        if cls is not None and is_dev_name(cls.name.value):
            return True
        func = self.ctx.enclosing_function()
        if func is not None and is_dev_name(func.name.value):
            return True
        for node in self.ctx.ancestors():
            if isinstance(node, cst.If) and re.search(r"test|debug|dev", self.ctx.code_of(node.test), re.I):
                return True
            if isinstance(node, (cst.Dict, cst.Call)) and re.search(r"\bTESTING\b", self.ctx.code_of(node)):
                return True
        return False

    def _report_config(self, node: cst.CSTNode, key: str) -> None:
        self.checked()
        if self._dev_context():
            return
        self.report(node, f"`{key} = False` turns off Flask-WTF's CSRF protection for every form")

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._skip:
            return
        for target in node.targets:
            t = target.target
            key = None
            if isinstance(t, cst.Name):
                key = t.value
            elif isinstance(t, cst.Subscript) and len(t.slice) == 1 and isinstance(t.slice[0].slice, cst.Index):
                key = string_value(t.slice[0].slice.value)
            if key in WTF_KEYS and _false(node.value):
                self._report_config(node, key)
            if isinstance(t, cst.Name) and t.value == "MIDDLEWARE" and isinstance(node.value, (cst.List, cst.Tuple)):
                self._middleware(node, node.value)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if self._skip:
            return
        key = string_value(node.key)
        if key in WTF_KEYS and _false(node.value):
            self._report_config(node, key)

    def _middleware(self, node: cst.Assign, value: cst.List | cst.Tuple) -> None:
        entries = [string_value(e.value) or "" for e in value.elements]
        self.checked()
        if any("csrf" in e.lower() for e in entries) or is_dev_config_path(self.ctx.path):
            return
        if any(m in entries for m in SESSION_MIDDLEWARE):
            self.report(node, "MIDDLEWARE has sessions but no `CsrfViewMiddleware`: Django checks no CSRF tokens",
                        severity=Severity.HIGH)


def _does_nothing(func: cst.FunctionDef) -> bool:
    body = func.body
    if not isinstance(body, cst.IndentedBlock):
        stmts = list(body.body) if isinstance(body, cst.SimpleStatementSuite) else []
    else:
        stmts = []
        for s in body.body:
            if isinstance(s, cst.SimpleStatementLine):
                stmts.extend(s.body)
            else:
                return False
    for s in stmts:
        if isinstance(s, cst.Pass):
            continue
        if isinstance(s, cst.Return) and (s.value is None or isinstance(s.value, cst.Name) and s.value.value in ("None", "True")):
            continue
        if isinstance(s, cst.Expr) and isinstance(s.value, (cst.SimpleString, cst.ConcatenatedString, cst.Ellipsis)):
            continue
        return False
    return True
