from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Location, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from rules._shared.deps import depends_on, is_dev_config_path
from rules._shared.web import string_value

HEADERS = frozenset({"strict-transport-security", "content-security-policy", "content-security-policy-report-only",
                     "x-frame-options"})
# Libraries that set the headers (import roots and distribution names).
HEADER_MODULES = ("flask_talisman", "talisman", "secure", "flask_secure_headers", "flask_security_headers",
                  "fastapi_security_headers", "django_security_headers", "csp", "starlette_csp",
                  "secure_headers", "django_csp")
HEADER_DISTRIBUTIONS = ("flask-talisman", "talisman", "secure", "flask-secure-headers", "flask-security-headers",
                        "fastapi-security-headers", "django-security-headers", "django-csp", "starlette-csp")
SECURITY_MW = "django.middleware.security.SecurityMiddleware"
XFRAME_MW = "django.middleware.clickjacking.XFrameOptionsMiddleware"
CSP_MW = ("csp.middleware.CSPMiddleware", "django.middleware.csp.ContentSecurityPolicyMiddleware")
# Settings that switch a header off when false, zero or None.
OFF_SETTINGS = {
    "SECURE_HSTS_SECONDS": "HSTS is off",
    "SECURE_CONTENT_TYPE_NOSNIFF": "`X-Content-Type-Options: nosniff` is not sent",
    "SECURE_REFERRER_POLICY": "no `Referrer-Policy` is sent",
}
SERVER_CONFIG = re.compile(r"(?:^|/)(?:nginx[^/]*|[^/]*\.conf|Caddyfile|[^/]*\.ya?ml|httpd[^/]*|\.htaccess|"
                           r"[^/]*\.toml|vercel\.json|netlify\.toml|_headers)$", re.IGNORECASE)
HEADER_TEXT = re.compile(r"Strict-Transport-Security|Content-Security-Policy|X-Frame-Options", re.IGNORECASE)
WEB_APPS = frozenset({"flask", "fastapi", "starlette", "aiohttp", "sanic"})


def _off(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.Name) and value.value in ("False", "None"):
        return True
    return isinstance(value, cst.Integer) and value.value == "0"


class MissingSecurityHeaders(ProjectRule):
    """
    ## What it does
    Looks at the whole repository for the HTTP security headers (HSTS,
    Content-Security-Policy, X-Frame-Options) and reports:

    * a Django project whose settings never set `SECURE_HSTS_SECONDS`, set a `SECURE_*`
      header setting off (`SECURE_HSTS_SECONDS = 0`, `SECURE_CONTENT_TYPE_NOSNIFF = False`),
      or whose `MIDDLEWARE` lacks `SecurityMiddleware` or `XFrameOptionsMiddleware`;
    * a Flask, FastAPI, Starlette or aiohttp application for which nothing in the
      repository sets any of the headers: no flask-talisman, secure, or other header
      library (imported or declared as a dependency), no `after_request` hook or middleware
      writing `Strict-Transport-Security`, `Content-Security-Policy` or `X-Frame-Options`,
      no web server configuration beside the code that adds them (nginx `add_header`,
      Caddy, ingress annotations).

    Middleware is matched by class name, so a project's own `SecurityMiddleware` subclass
    counts. Development and test settings (`settings/dev.py`, `local_settings.py`,
    `tests/`) are not taken as the project's configuration.

    ## Why is this bad?
    HSTS keeps browsers on HTTPS (no downgrade on the first plain-HTTP request), CSP limits
    what injected markup can run, and X-Frame-Options (or CSP `frame-ancestors`) stops
    other sites from framing your pages for clickjacking. They cost one line each.

    ## Known limits
    Headers added by a proxy or CDN configured outside the repository are not seen;
    suppress the finding with a reason saying where they are set.
    """

    slug = "missing-security-headers"
    checklist = "Security headers (HSTS, CSP, X-Frame-Options)"
    section = Section.SECURITY
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-693", "CWE-1021", "CWE-319")
    summary = "Security headers (HSTS, CSP, X-Frame-Options) are not set"
    triggers = ("MIDDLEWARE", "SECURE_", "Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options",
                "strict-transport-security", "content-security-policy", "x-frame-options", "talisman", "Talisman",
                "secure", "csp", "INSTALLED_APPS")
    bad = (
        Example(
            "from flask import Flask\n\n"
            "app = Flask(__name__)  # flagged\n\n"
            "@app.get('/')\n"
            "def index():\n"
            "    return 'shop'\n",
            path="shop/app.py",
        ),
        Example(
            "INSTALLED_APPS = ['django.contrib.auth', 'shop']\n"
            "MIDDLEWARE = [  # flagged\n"
            "    'django.contrib.sessions.middleware.SessionMiddleware',\n"
            "    'django.middleware.common.CommonMiddleware',\n"
            "    'django.middleware.csrf.CsrfViewMiddleware',\n"
            "]\n",
            path="shop/settings.py",
        ),
    )
    good = (
        Example(
            "from flask import Flask\n\n"
            "app = Flask(__name__)\n\n"
            "@app.after_request\n"
            "def security_headers(response):\n"
            "    response.headers['Strict-Transport-Security'] = 'max-age=63072000; includeSubDomains'\n"
            "    response.headers['Content-Security-Policy'] = \"default-src 'self'\"\n"
            "    return response\n",
            path="shop/app.py",
        ),
        Example(
            "import os\n\n"
            "INSTALLED_APPS = ['django.contrib.auth', 'shop']\n"
            "MIDDLEWARE = [\n"
            "    'django.middleware.security.SecurityMiddleware',\n"
            "    'django.contrib.sessions.middleware.SessionMiddleware',\n"
            "    'django.middleware.csrf.CsrfViewMiddleware',\n"
            "    'django.middleware.clickjacking.XFrameOptionsMiddleware',\n"
            "]\n"
            "SECURE_HSTS_SECONDS = int(os.environ.get('HSTS_SECONDS', 31536000))\n",
            path="shop/settings.py",
        ),
    )

    # -- per file --------------------------------------------------------------------------------
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if self.ctx.is_test:
            return
        value = string_value(node)
        if value is not None and value.strip().lower() in HEADERS:
            self.record({"kind": "header", "name": value.strip()}, node)

    def leave_Module(self, node: cst.Module) -> None:
        if self.ctx.is_test:
            return
        for module in HEADER_MODULES:
            if self.ctx.imported(module):
                self.record({"kind": "library", "name": module}, None)
                break
        dev = is_dev_config_path(self.ctx.path)
        for stmt in node.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                self._setting(small, dev)

    def _setting(self, small: cst.BaseSmallStatement, dev: bool) -> None:
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
            name, value = small.targets[0].target.value, small.value
            if name == "MIDDLEWARE" and isinstance(value, (cst.List, cst.Tuple)):
                entries = [string_value(e.value) for e in value.elements]
                self.record({"kind": "middleware", "entries": [e for e in entries if e], "full": True, "dev": dev}, small)
            elif name == "INSTALLED_APPS":
                self.record({"kind": "settings", "dev": dev}, small)
            elif name in OFF_SETTINGS or name == "X_FRAME_OPTIONS":
                off = _off(value) or (name == "X_FRAME_OPTIONS" and (string_value(value) or "").upper() == "ALLOWALL")
                self.record({"kind": "setting", "name": name, "off": off, "dev": dev}, small)
        elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name) and small.target.value == "MIDDLEWARE":
            if isinstance(small.value, (cst.List, cst.Tuple)):
                entries = [string_value(e.value) for e in small.value.elements]
                self.record({"kind": "middleware", "entries": [e for e in entries if e], "full": False, "dev": dev}, small)
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            if isinstance(call.func, cst.Attribute) and isinstance(call.func.value, cst.Name) \
                    and call.func.value.value == "MIDDLEWARE" and call.args:
                entries = [string_value(a.value) for a in call.args]
                self.record({"kind": "middleware", "entries": [e for e in entries if e], "full": False, "dev": dev}, small)

    # -- the project --------------------------------------------------------------------------------
    def check(self, project: ProjectContext) -> None:
        facts = [f for f in project.facts(self.slug) if not project.is_test(f.path)]
        headers = {f.data["name"].lower() for f in facts if f.data["kind"] == "header"}
        library = any(f.data["kind"] == "library" for f in facts) or depends_on(project, *HEADER_DISTRIBUTIONS)
        server_headers = self._server_config_headers(project)
        self._django(project, facts, headers | server_headers)
        apps = [f for f in project.facts("apps") if f.data.get("framework") in WEB_APPS
                and not project.is_test(f.path) and not is_dev_config_path(f.path)]
        if not apps:
            return
        self.checked()
        if headers or library or server_headers:
            return
        anchor = min(apps, key=lambda f: (f.path, f.line))
        others = [Location(f.path, f.line, "another application") for f in apps if f is not anchor][:5]
        self.report_at(anchor.path, anchor.line,
                       "nothing in this repository sets HSTS, Content-Security-Policy or X-Frame-Options for "
                       f"this {anchor.data.get('framework')} application (add flask-talisman/secure or an "
                       "after-request hook or middleware that sets them)", related=others)

    def _django(self, project: ProjectContext, facts, headers: set[str]) -> None:
        middleware = [f for f in facts if f.data["kind"] == "middleware"]
        settings = [f for f in facts if f.data["kind"] == "settings"]
        if not middleware:
            return
        self.checked()
        entries = {e for f in middleware for e in f.data["entries"]}
        names = {e.rsplit(".", 1)[-1] for e in entries}
        full = [f for f in middleware if f.data["full"]]
        prod = [f for f in full if not f.data["dev"]] or ([] if settings and all(s.data["dev"] for s in settings) else [])
        if not prod:
            return  # only development settings declare the middleware
        anchor = min(prod, key=lambda f: (f.path, f.line))
        problems = []
        if "SecurityMiddleware" not in names:
            problems.append("`SecurityMiddleware` is not in MIDDLEWARE (no HSTS, nosniff or Referrer-Policy)")
        if "XFrameOptionsMiddleware" not in names and not any(c.rsplit(".", 1)[-1] in names for c in CSP_MW) \
                and "x-frame-options" not in headers:
            problems.append("`XFrameOptionsMiddleware` is not in MIDDLEWARE (pages can be framed: clickjacking)")
        hsts = [f for f in facts if f.data["kind"] == "setting" and f.data["name"] == "SECURE_HSTS_SECONDS"]
        if not hsts and "strict-transport-security" not in headers:
            problems.append("`SECURE_HSTS_SECONDS` is never set (no HSTS)")
        if problems:
            self.report_at(anchor.path, anchor.line, "; ".join(problems))
        for f in facts:
            if f.data["kind"] == "setting" and f.data["off"] and not f.data["dev"]:
                what = OFF_SETTINGS.get(f.data["name"], "pages may be framed by any site")
                self.report_at(f.path, f.line, f"`{f.data['name']}` is switched off: {what}")

    def _server_config_headers(self, project: ProjectContext) -> set[str]:
        found: set[str] = set()
        for file in project.files:
            if file.language == "python" or file.size > 300_000 or not SERVER_CONFIG.search(file.path):
                continue
            if project.is_test(file.path):
                continue
            text = project.read_text(file.path) or ""
            for match in HEADER_TEXT.finditer(text):
                found.add(match.group(0).lower())
        return found
