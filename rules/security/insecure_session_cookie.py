from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.deps import is_dev_config_path, is_dev_name
from rules._shared.web import arg, string_value

# Settings whose value False (or None) weakens the session or CSRF cookie.
FLAG_SETTINGS = {
    "SESSION_COOKIE_SECURE": "the session cookie is sent over plain HTTP",
    "SESSION_COOKIE_HTTPONLY": "scripts can read the session cookie",
    "CSRF_COOKIE_SECURE": "the CSRF cookie is sent over plain HTTP",
    "REMEMBER_COOKIE_SECURE": "the remember-me cookie is sent over plain HTTP",
    "REMEMBER_COOKIE_HTTPONLY": "scripts can read the remember-me cookie",
    "LANGUAGE_COOKIE_SECURE": None,  # not a session cookie: ignored
}
SAMESITE_SETTINGS = frozenset({"SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE"})
# Cookie names that hold a session, an identity or a credential.
SENSITIVE_COOKIE = re.compile(
    r"sess|(?:^|[^a-z])sid(?:$|[^a-z])|auth|token|jwt|bearer|access|refresh|remember|login|identity|credential|"
    r"api[_-]?key|user[_-]?id|uid",
    re.IGNORECASE,
)
NOT_SENSITIVE_COOKIE = re.compile(r"csrf|xsrf|consent|theme|lang|locale|timezone|tz$|tracking|_ga|analytics",
                                  re.IGNORECASE)
SET_COOKIE = frozenset({"set_cookie", "set_signed_cookie"})


def _flag_value(node: cst.BaseExpression | None) -> bool | None:
    if node is None:
        return False  # not given: the frameworks' default is off
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    return True  # anything else (a variable, a setting, an expression) counts as set


class InsecureSessionCookie(FileRule):
    """
    ## What it does
    Finds session and authentication cookies sent without their protective attributes:

    * `SESSION_COOKIE_SECURE = False`, `SESSION_COOKIE_HTTPONLY = False`,
      `CSRF_COOKIE_SECURE = False`, Flask-Login's `REMEMBER_COOKIE_SECURE/HTTPONLY = False`,
      `SESSION_COOKIE_SAMESITE = None` — in Django settings, Flask config classes,
      `app.config[...] = False` and `app.config.update(...)`;
    * `response.set_cookie(...)` (Flask, Django, Starlette/FastAPI, aiohttp) of a sensitive
      cookie without `secure=True`, `httponly=True` or `samesite=...`.

    A cookie counts as sensitive when its name (or the constant or setting naming it)
    mentions a session, an identity or a credential: `session`, `sessionid`, `sid`, `auth`,
    `token`, `jwt`, `access`, `refresh`, `remember`, `login`, `user_id`, `api_key`. CSRF
    cookies (`csrftoken`, `XSRF-TOKEN`) are meant to be read by scripts and are only
    checked for `secure`; preference cookies (theme, language, consent) are not checked.
    Calls that delete a cookie (`max_age=0`, `expires=0`) are ignored.

    ## Why is this bad?
    Without `Secure` the cookie travels in clear text on any HTTP request and can be
    sniffed; without `HttpOnly` any injected script can steal it; without `SameSite` the
    browser attaches it to cross-site requests, which is what CSRF relies on.

    ## Known limits
    Attribute values that are variables or settings are trusted. Development and test
    configuration (`settings/dev.py`, `class TestingConfig`, test files) is not checked.
    A missing `SESSION_COOKIE_SECURE = True` (rather than an explicit `False`) is left to
    deployment checks such as `manage.py check --deploy`.
    """

    slug = "insecure-session-cookie"
    checklist = "Session management security; secure session management"
    section = Section.SECURITY
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-614", "CWE-1004", "CWE-1275")
    summary = "A session cookie lacks Secure, HttpOnly or SameSite"
    triggers = ("COOKIE", "set_cookie", "set_signed_cookie")
    bad = (
        Example(
            "SESSION_COOKIE_SECURE = False  # flagged\n"
            "CSRF_COOKIE_SECURE = False  # flagged\n",
            path="shop/settings/production.py",
        ),
        Example(
            "from flask import make_response\n\n"
            "AUTH_COOKIE = 'auth_token'\n\n"
            "def login_response(token):\n"
            "    resp = make_response({'ok': True})\n"
            "    resp.set_cookie(AUTH_COOKIE, token, max_age=3600)  # flagged\n"
            "    return resp\n",
            path="app/auth.py",
        ),
    )
    good = (
        Example(
            "SESSION_COOKIE_SECURE = False\n",
            path="shop/settings/local.py",
        ),
        Example(
            "def login_response(response, token):\n"
            "    response.set_cookie('session', token, secure=True, httponly=True, samesite='Lax')\n"
            "    response.set_cookie('theme', 'dark')\n"
            "    response.set_cookie('session', '', max_age=0)\n"
            "    return response\n",
            path="app/auth.py",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._skip = ctx.is_test or is_dev_config_path(ctx.path)
        self._constants: dict[str, str] | None = None

    def _dev_scope(self) -> bool:
        for node in self.ctx.ancestors():
            if isinstance(node, (cst.ClassDef, cst.FunctionDef)) and is_dev_name(node.name.value):
                return True
            if isinstance(node, cst.If) and re.search(r"debug|test|dev|local", self.ctx.code_of(node.test), re.I):
                return True
            if isinstance(node, (cst.Dict, cst.Call)) and re.search(r"\bTESTING\b", self.ctx.code_of(node)):
                return True
        return False

    # -- settings -----------------------------------------------------------------------
    def _setting(self, node: cst.CSTNode, key: str | None, value: cst.BaseExpression | None) -> None:
        if key is None:
            return
        if key in FLAG_SETTINGS and FLAG_SETTINGS[key]:
            self.checked()
            if _flag_value(value) is False and not self._dev_scope():
                self.report(node, f"`{key} = False`: {FLAG_SETTINGS[key]}")
        elif key in SAMESITE_SETTINGS:
            self.checked()
            if (_flag_value(value) is None or string_value(value) in ("None", "none")) and not self._dev_scope():
                self.report(node, f"`{key}` turns SameSite off: the browser sends the cookie with cross-site requests",
                            severity=Severity.LOW, confidence=Confidence.MEDIUM)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._skip:
            return
        for target in node.targets:
            t = target.target
            if isinstance(t, cst.Name):
                self._setting(node, t.value, node.value)
            elif isinstance(t, cst.Subscript) and len(t.slice) == 1 and isinstance(t.slice[0].slice, cst.Index):
                if "config" in (self.ctx.code_of(t.value) or "").lower():
                    self._setting(node, string_value(t.slice[0].slice.value), node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if not self._skip and isinstance(node.target, cst.Name) and node.value is not None:
            self._setting(node, node.target.value, node.value)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if not self._skip:
            self._setting(node, string_value(node.key), node.value)

    # -- set_cookie -----------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        if self._skip:
            return
        name = self.ctx.resolve(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if last in ("update", "from_mapping") and "config" in name.lower():
            for a in node.args:
                if a.keyword is not None:
                    self._setting(a, a.keyword.value, a.value)
            return
        if last not in SET_COOKIE or not isinstance(node.func, cst.Attribute):
            return
        if any(a.star for a in node.args):
            return
        key = arg(node, 0, "key") or arg(node, keyword="name")
        cookie = self._cookie_name(key)
        if cookie is None:
            return
        self.checked()
        if NOT_SENSITIVE_COOKIE.search(cookie) and not re.search(r"csrf|xsrf", cookie, re.I):
            return
        if not SENSITIVE_COOKIE.search(cookie) and not re.search(r"csrf|xsrf", cookie, re.I):
            return
        for kw in ("max_age", "expires"):
            value = arg(node, keyword=kw)
            if value is not None and isinstance(value, cst.Integer) and value.value == "0":
                return
        value = arg(node, 1, "value")
        if value is not None and string_value(value) == "":
            return
        csrf = bool(re.search(r"csrf|xsrf", cookie, re.I))
        missing = []
        if _flag_value(arg(node, keyword="secure")) is not True:
            missing.append("secure=True")
        if not csrf and _flag_value(arg(node, keyword="httponly")) is not True:
            missing.append("httponly=True")
        samesite = arg(node, keyword="samesite")
        if not csrf and (samesite is None or _flag_value(samesite) is None or string_value(samesite) in ("None", "none")):
            missing.append("samesite='Lax'")
        if not missing:
            return
        severity = Severity.MEDIUM if any(m.startswith(("secure", "httponly")) for m in missing) else Severity.LOW
        self.report(node, f"cookie `{cookie}` is set without {', '.join(missing)}", severity=severity)

    def _cookie_name(self, node: cst.BaseExpression | None) -> str | None:
        if node is None:
            return None
        value = string_value(node)
        if value is not None:
            return value
        if isinstance(node, cst.Name):
            constant = self._module_constants().get(node.value)
            return constant if constant is not None else node.value
        if isinstance(node, cst.Attribute):
            return node.attr.value
        return None

    def _module_constants(self) -> dict[str, str]:
        if self._constants is None:
            self._constants = {}
            for stmt in self.ctx.module.body:
                if isinstance(stmt, cst.SimpleStatementLine):
                    for small in stmt.body:
                        if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                            value = string_value(small.value)
                            if value is not None:
                                self._constants[small.targets[0].target.value] = value
        return self._constants
