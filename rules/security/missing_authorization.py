from __future__ import annotations

import re
from collections import defaultdict

import libcst as cst

from checker.model import Confidence, Example, Location, Section, Severity
from checker.rule import ProjectContext, ProjectRule, dotted
from rules._shared.deps import is_dev_config_path
from rules._shared.web import HTTP_METHODS, VIEWSET_ACTIONS, arg, class_handler_framework, current_handler, string_value

# Names (decorators, dependencies, annotations, base classes) that require a signed-in or
# authorised user.
AUTH_NAME = re.compile(
    r"login_required|auth|permission|perm_required|roles?_(?:required|accepted)|requires?_(?:login|role|admin|user|"
    r"permission|scope|staff|superuser|member|owner|account)|admin_required|staff|superuser|token_required|"
    r"jwt_required|verify_token|verify_jwt|current_?(?:active_?)?(?:user|account|admin)|get_?user|authenticated|"
    r"authorized|has_access|protect|access_required|signed_in|logged_in|require_user|api_?key|oauth2|principal|"
    r"credential|user_passes_test|LoginRequired|PermissionRequired|UserPassesTest|AccessMixin|secured|guard|"
    r"check_access|scopes?_required|valid_user|member_required|owner_required",
    re.IGNORECASE,
)
NOT_AUTH_NAME = re.compile(r"csrf|require_(?:http_methods|GET|POST|safe)|cache|optional|not_required|exempt|"
                           r"allow_?any|anonymous|no_?auth|skip_?auth|public|authlib_|oauth_?callback", re.IGNORECASE)
PUBLIC_MARKER = re.compile(r"^(?:public|public_route|public_endpoint|allow_anonymous|login_not_required|auth_exempt|"
                           r"no_auth|skip_auth|anonymous|unauthenticated|permit_all|allow_any|jwt_optional)$",
                           re.IGNORECASE)
# Endpoints that are public by nature.
PUBLIC_ENDPOINT = re.compile(
    r"log_?in|log_?out|sign_?in|sign_?up|sign_?out|sign-in|sign-up|register|registration|password|passwd|forgot|"
    r"reset|activat|confirm|verif|oauth|callback|sso|saml|openid|token|refresh|health|healthz|ready|readiness|"
    r"live|liveness|ping|status|metrics|version|docs|openapi|swagger|redoc|schema|static|favicon|robots|sitemap|"
    r"webhook|hook|ipn|index|home|about|contact|terms|privacy|public|landing|csrf|unsubscribe|invite|captcha|"
    r"well-known|manifest|feed|rss|atom|error|not_found|handler404|handler500",
    re.IGNORECASE,
)
INLINE_CHECK = re.compile(
    r"is_authenticated|is_anonymous|has_perm|has_permission|verify_jwt_in_request|get_jwt_identity|get_jwt\(|"
    r"current_user|request\.user|g\.user|check_permission|check_object_permissions|authorize|require_login|"
    r"abort\(\s*40[13]|status_code\s*=\s*40[13]|HTTP_40[13]|HTTPUnauthorized|HTTPForbidden|PermissionDenied|"
    r"Unauthorized|Forbidden|login_user|authenticate\(|request\.auth\b|request\[.user.\]|check_auth|ensure_auth",
)
ALLOW_ANY = frozenset({"rest_framework.permissions.AllowAny"})
DRF_WRITE_METHODS = frozenset({"post", "put", "patch", "delete", "create", "update", "partial_update", "destroy"})
DRF_WRITE_BASES = re.compile(r"ModelViewSet$|CreateAPIView$|UpdateAPIView$|DestroyAPIView$|ListCreateAPIView$|"
                             r"RetrieveUpdateAPIView$|RetrieveDestroyAPIView$|RetrieveUpdateDestroyAPIView$|"
                             r"CreateModelMixin$|UpdateModelMixin$|DestroyModelMixin$")
# A project's own middleware that requires a login or checks permissions for every view.
LOGIN_MIDDLEWARE_NAME = re.compile(r"^(?:\w*Permission\w*|\w*Login\w*Required\w*|\w*RequireLogin\w*|"
                                   r"\w*Auth\w*Required\w*|\w*Access\w*Control\w*)Middleware$")
GENERIC_WRITE_VIEWS = re.compile(r"(?:Create|Update|Delete|Form)View$")
GENERIC_READ_VIEWS = re.compile(r"(?:List|Detail|Template|Retrieve|ListAPI|RetrieveAPI|ReadOnlyModel|Archive|"
                                r"Redirect)View(?:Set)?$|ListAPIView$|RetrieveAPIView$")
LOGIN_MIDDLEWARE = ("django.contrib.auth.middleware.LoginRequiredMiddleware", "login_required.middleware",
                    "LoginRequiredMiddleware")


def _names_in(code: str) -> bool:
    return bool(AUTH_NAME.search(code)) and not NOT_AUTH_NAME.search(code)


class MissingAuthorization(ProjectRule):
    """
    ## What it does
    Finds routes left without the authentication or permission check that the other routes
    beside them carry. Routes are grouped by their app, blueprint or router (or, for
    class-based and Django views, by module), reads and writes compared separately; when
    most routes of a group (at least two, and 60 % by default) carry an auth marker, the
    ones without it are reported. Auth markers: Flask-Login `login_required`,
    Flask-JWT-Extended `jwt_required`, Flask-HTTPAuth `auth.login_required`,
    Flask-AppBuilder `has_access`/`protect`, custom decorators named for it
    (`admin_required`, `token_required`...), FastAPI `Depends(get_current_user)`/
    `Security(...)` in parameters or in the route's, router's or app's `dependencies=[...]`
    (also `include_router(..., dependencies=...)`), DRF `permission_classes`, Django
    `login_required`/`permission_required`/`LoginRequiredMixin`, a blueprint's
    `before_request` hook that checks the user, and checks inside the handler
    (`request.user.is_authenticated`, `verify_jwt_in_request()`, `abort(403)`). Class-based
    views inherit markers from base classes defined in the same module; a `MIDDLEWARE` entry
    that requires a login or checks permissions for every view (Django's
    `LoginRequiredMiddleware`, a project's `PermissionMiddleware`) protects all Django views.

    It also reports Django REST framework views that accept writes with
    `permission_classes = [AllowAny]`, and `DEFAULT_PERMISSION_CLASSES` set to `AllowAny`
    while write views rely on it.

    Routes that are public by nature are never reported: login, logout, registration,
    password reset, token and OAuth endpoints, health and metrics, documentation and
    schema, static files, webhooks, the index page. So are routes marked public on purpose
    (`@public`, `login_not_required`, `permission_classes([AllowAny])` on reads).

    ## Why is this bad?
    A forgotten decorator is the most common broken-access-control bug: the endpoint works
    in every test, and anyone who finds the URL can use it.

    ## Known limits
    The convention is inferred per group; a group where most routes are public is not
    checked. Authorization enforced elsewhere (an API gateway, a WSGI middleware, a custom
    base class with an unusual name) is not seen; configure such decorators under
    `[tool.checker.handlers]` or suppress with a reason.
    """

    slug = "missing-authorization"
    checklist = "Authentication and authorization configured; RBAC"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    scope = "file"
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-862", "CWE-284")
    summary = "A route lacks the authorization check its neighbours have"
    options = {"majority": 0.6, "min-protected": 2}
    bad = (
        Example(
            "from flask import Blueprint\n"
            "from flask_login import login_required\n\n"
            "admin = Blueprint('admin', __name__, url_prefix='/admin')\n\n"
            "@admin.get('/users')\n"
            "@login_required\n"
            "def users():\n"
            "    return []\n\n"
            "@admin.get('/orders')\n"
            "@login_required\n"
            "def orders():\n"
            "    return []\n\n"
            "@admin.get('/export')\n"
            "def export():  # flagged\n"
            "    return []\n",
            path="shop/admin.py",
        ),
        Example(
            "from rest_framework import viewsets\n"
            "from rest_framework.permissions import AllowAny\n\n"
            "class OrderViewSet(viewsets.ModelViewSet):\n"
            "    permission_classes = [AllowAny]  # flagged\n",
            path="orders/views.py",
        ),
    )
    good = (
        Example(
            "from flask import Blueprint\n"
            "from flask_login import login_required\n\n"
            "admin = Blueprint('admin', __name__, url_prefix='/admin')\n\n"
            "@admin.get('/users')\n"
            "@login_required\n"
            "def users():\n"
            "    return []\n\n"
            "@admin.get('/orders')\n"
            "@login_required\n"
            "def orders():\n"
            "    return []\n\n"
            "@admin.get('/health')\n"
            "def health():\n"
            "    return {'ok': True}\n",
            path="shop/admin.py",
        ),
        Example(
            "from fastapi import APIRouter, Depends\n"
            "from .auth import get_current_user\n\n"
            "router = APIRouter(dependencies=[Depends(get_current_user)])\n\n"
            "@router.get('/orders')\n"
            "async def orders():\n"
            "    return []\n\n"
            "@router.post('/orders')\n"
            "async def create_order():\n"
            "    return {}\n",
            path="api/orders.py",
        ),
    )

    # -- per file -----------------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        handler = current_handler(self.ctx, node)
        if handler is None:
            self._hook(node)
            return
        cls = self.ctx.enclosing_class()
        in_class = cls is not None and handler.owner == cls.name.value
        deco_names = [self.ctx.code_of(d.decorator) for d in node.decorators]
        explicit_public = any(PUBLIC_MARKER.match(_last_name(d)) for d in deco_names) or any(
            "permission_classes" in d and "AllowAny" in d for d in deco_names)
        auth = any(_names_in(_decorator_head(d)) for d in deco_names if not _is_route_decorator(d)) \
            or self._params_auth(node) or self._route_dependencies(node) or bool(INLINE_CHECK.search(self.ctx.code_of(node.body)))
        own_perms = any("permission_classes" in d for d in deco_names)
        class_public = False
        if in_class:
            class_auth, class_public, class_perms = self._class_auth(cls)  # type: ignore[arg-type]
            auth = auth or class_auth
            own_perms = own_perms or class_perms
        name = f"{cls.name.value}.{node.name.value}" if in_class else node.name.value
        methods = set(handler.methods)
        rkind = "write" if methods & {"post", "put", "patch", "delete"} else "read" if methods else "any"
        if in_class and handler.framework in ("drf", "django") and node.name.value in ("get", "list", "retrieve"):
            rkind = "read"
        group = handler.owner if handler.owner and not in_class else "<module>"
        public_text = f"{handler.path or ''} {name}"
        public = explicit_public or class_public or bool(PUBLIC_ENDPOINT.search(public_text)) or handler.path == "/"
        self.record({"kind": "unit", "group": group, "cls": cls.name.value if in_class else None, "name": name,
                     "rkind": rkind, "auth": auth, "public": public, "framework": handler.framework,
                     "own_perms": own_perms, "explicit_public": explicit_public or class_public}, node.name)
        if explicit_public and not in_class and rkind in ("write", "any") and handler.framework == "drf" \
                and not PUBLIC_ENDPOINT.search(public_text):
            for deco in node.decorators:
                if "AllowAny" in self.ctx.code_of(deco.decorator):
                    self.record({"kind": "allowany", "name": name}, deco)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        """Generic class-based views that define no handler method of their own
        (``class OrderViewSet(ModelViewSet)``, ``class OrderList(ListView)``) are one unit."""
        if self.ctx.is_test:
            return
        framework = class_handler_framework(self.ctx, node)
        if framework not in ("drf", "django"):
            return
        methods = {s.name.value for s in node.body.body if isinstance(s, cst.FunctionDef)}
        if methods & (set(HTTP_METHODS) | set(VIEWSET_ACTIONS)):
            return
        bases = [self.ctx.resolve(b.value) or "" for b in node.bases]
        if any(DRF_WRITE_BASES.search(b) or GENERIC_WRITE_VIEWS.search(b) for b in bases):
            rkind = "write"
        elif any(GENERIC_READ_VIEWS.search(b) for b in bases):
            rkind = "read"
        else:
            return  # a base or mixin class, not a view
        auth, public, perms = self._class_auth(node)
        name = node.name.value
        self.record({"kind": "unit", "group": "<module>", "cls": name, "name": name, "rkind": rkind, "auth": auth,
                     "public": public or bool(PUBLIC_ENDPOINT.search(name)), "framework": framework,
                     "own_perms": perms, "explicit_public": public}, node.name)

    def _params_auth(self, node: cst.FunctionDef) -> bool:
        for p in list(node.params.params) + list(node.params.kwonly_params):
            text = ""
            if p.annotation is not None:
                text += self.ctx.code_of(p.annotation.annotation)
            if p.default is not None and isinstance(p.default, cst.Call):
                callee = self.ctx.resolve(p.default.func) or ""
                if callee.endswith("Security"):
                    return True
                if callee.endswith("Depends"):
                    text += " " + self.ctx.code_of(p.default)
            if text and _names_in(text):
                return True
        return False

    def _route_dependencies(self, node: cst.FunctionDef) -> bool:
        for deco in node.decorators:
            expr = deco.decorator
            if isinstance(expr, cst.Call):
                deps = arg(expr, keyword="dependencies")
                if deps is not None and (_names_in(self.ctx.code_of(deps)) or "Security(" in self.ctx.code_of(deps)):
                    return True
        return False

    def _class_auth(self, cls: cst.ClassDef) -> tuple[bool, bool, bool]:
        """(protected, explicitly public, sets its own permission_classes) for a class-based view."""
        key = ("missing-authorization.class", id(cls))
        if key in self.ctx.cache:
            return self.ctx.cache[key]
        auth = public = perms = False
        self.ctx.cache[key] = (False, False, False)  # guards against cyclic local bases
        local = {s.name.value: s for s in self.ctx.module.body if isinstance(s, cst.ClassDef)}
        for base in cls.bases:
            name = self.ctx.resolve(base.value) or ""
            if _names_in(name.rsplit(".", 1)[-1]):
                auth = True
            elif name in local and local[name] is not cls:
                inherited = self._class_auth(local[name])
                auth, public, perms = auth or inherited[0], public or inherited[1], perms or inherited[2]
        for deco in cls.decorators:
            code = self.ctx.code_of(deco.decorator)
            if _names_in(code):
                auth = True
        for stmt in cls.body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if not isinstance(small, cst.Assign):
                    continue
                targets = [t.target.value for t in small.targets if isinstance(t.target, cst.Name)]
                code = self.ctx.code_of(small.value)
                if "permission_classes" in targets:
                    perms = True
                    allow_any = self._allow_any(small.value)
                    if allow_any:
                        public = True
                        if self._drf_writes(cls) and not PUBLIC_ENDPOINT.search(cls.name.value):
                            self.record({"kind": "allowany", "name": cls.name.value}, small)
                    elif isinstance(small.value, (cst.List, cst.Tuple)) and not small.value.elements:
                        public = True
                    else:
                        auth = True
                elif any(t in ("decorators", "method_decorators", "permission_required", "required_permissions",
                               "login_url", "required_roles", "roles", "required_scopes", "permission",
                               "permissions", "required_permission") for t in targets):
                    if _names_in(code) or targets[0] in ("permission_required", "required_permissions", "login_url",
                                                         "required_roles", "required_scopes", "permission",
                                                         "permissions", "required_permission"):
                        auth = True
        self.ctx.cache[key] = (auth, public, perms)
        return auth, public, perms

    def _allow_any(self, value: cst.BaseExpression) -> bool:
        items = [e.value for e in value.elements] if isinstance(value, (cst.List, cst.Tuple)) else [value]
        return bool(items) and all(self.ctx.resolve(i) in ALLOW_ANY or (dotted(i) or string_value(i) or "").endswith("AllowAny")
                                   for i in items)

    def _drf_writes(self, cls: cst.ClassDef) -> bool:
        for base in cls.bases:
            if DRF_WRITE_BASES.search(self.ctx.resolve(base.value) or ""):
                return True
        for stmt in cls.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value in DRF_WRITE_METHODS:
                return True
        return False

    def _hook(self, node: cst.FunctionDef) -> None:
        """A ``before_request`` hook that checks the user protects its blueprint or app."""
        for deco in node.decorators:
            expr = deco.decorator
            target = expr.func if isinstance(expr, cst.Call) else expr
            if isinstance(target, cst.Attribute) and target.attr.value in ("before_request", "before_app_request"):
                if INLINE_CHECK.search(self.ctx.code_of(node.body)) or _names_in(self.ctx.code_of(node.body)):
                    self.record({"kind": "group-auth", "owner": self.ctx.resolve(target.value)}, node.name)

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test:
            return
        name = self.ctx.resolve(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if last in ("APIRouter", "FastAPI", "Blueprint") or name in ("fastapi.APIRouter", "fastapi.FastAPI"):
            deps = arg(node, keyword="dependencies")
            if deps is not None and (_names_in(self.ctx.code_of(deps)) or "Security(" in self.ctx.code_of(deps)):
                parent = self.ctx.parent()
                if isinstance(parent, cst.Assign) and isinstance(parent.targets[0].target, cst.Name):
                    self.record({"kind": "group-auth", "owner": parent.targets[0].target.value}, node)
        elif last == "include_router" and node.args:
            deps = arg(node, keyword="dependencies")
            if deps is not None and (_names_in(self.ctx.code_of(deps)) or "Security(" in self.ctx.code_of(deps)):
                router = dotted(node.args[0].value) or ""
                module, _, var = router.rpartition(".")
                resolved = self.ctx.imports.get(module.split(".")[0], module) if module else ""
                if not module and var in self.ctx.imports:
                    resolved, var = self.ctx.imports[var].rpartition(".")[0], self.ctx.imports[var].rpartition(".")[2]
                self.record({"kind": "include-auth", "module": resolved.rsplit(".", 1)[-1] if resolved else "",
                             "var": var}, node)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if self.ctx.is_test or string_value(node.key) != "DEFAULT_PERMISSION_CLASSES":
            return
        self.record({"kind": "drf-default", "allowany": self._allow_any(node.value),
                     "dev": is_dev_config_path(self.ctx.path)}, node)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if self.ctx.is_test or "MIDDLEWARE" not in self.ctx.text:
            return
        value = string_value(node) or ""
        if any(value.endswith(m) for m in LOGIN_MIDDLEWARE) or LOGIN_MIDDLEWARE_NAME.search(value.rsplit(".", 1)[-1]):
            self.record({"kind": "login-middleware"}, node)

    # -- the project ------------------------------------------------------------------------------------
    def check(self, project: ProjectContext) -> None:
        facts = [f for f in project.facts(self.slug) if not project.is_test(f.path)]
        units = [f for f in facts if f.data["kind"] == "unit"]
        if not units:
            return
        self.checked()
        opts = {**self.options, **project.options(self.slug)}
        majority, min_protected = float(opts["majority"]), int(opts["min-protected"])
        protected_groups = {(f.path, f.data["owner"]) for f in facts if f.data["kind"] == "group-auth"}
        included = {(f.data["module"], f.data["var"]) for f in facts if f.data["kind"] == "include-auth"}
        login_mw = any(f.data["kind"] == "login-middleware" for f in facts)
        defaults = [f for f in facts if f.data["kind"] == "drf-default"]
        drf_default_auth = any(not f.data["allowany"] for f in defaults)

        def protected(f) -> bool:
            d = f.data
            if d["auth"]:
                return True
            if (f.path, d["group"]) in protected_groups:
                return True
            stem = f.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            if (stem, d["group"]) in included or (f.path.rsplit("/", 2)[-2] if "/" in f.path else "", d["group"]) in included:
                return True
            if login_mw and d["framework"] in ("django", "drf") and not d["explicit_public"]:
                return True
            if d["framework"] == "drf" and not d["own_perms"] and drf_default_auth:
                return True
            return False

        groups: dict[tuple[str, str], list] = defaultdict(list)
        for f in units:
            groups[(f.path, f.data["group"])].append(f)
        reported: set[tuple[str, str | None]] = set()
        for (path, _), members in sorted(groups.items()):
            for f in members:
                d = f.data
                if d["public"] or protected(f):
                    continue
                peers = [m for m in members if not m.data["public"]
                         and (d["rkind"] == "any" or m.data["rkind"] in (d["rkind"], "any"))]
                guarded = [m for m in peers if protected(m)]
                if len(guarded) < min_protected or len(guarded) / len(peers) < majority:
                    continue
                unit = (path, d["cls"] or d["name"])
                if unit in reported:
                    continue
                reported.add(unit)
                example = guarded[0]
                self.report_at(f.path, f.line,
                               f"`{d['name']}` has no authentication or permission check, while {len(guarded)} of "
                               f"{len(peers)} comparable routes beside it do",
                               related=[Location(example.path, example.line, "a protected route of the same group")])
        for f in facts:
            if f.data["kind"] == "allowany":
                self.report_at(f.path, f.line, f"`{f.data['name']}` accepts writes with `AllowAny`: anyone can "
                                               "create, change or delete through it")
        open_writes = [f for f in units if f.data["framework"] == "drf" and not f.data["own_perms"]
                       and f.data["rkind"] in ("write", "any") and not f.data["public"] and not f.data["auth"]]
        for f in defaults:
            if f.data["allowany"] and not f.data["dev"] and open_writes:
                example = open_writes[0]
                self.report_at(f.path, f.line, "`DEFAULT_PERMISSION_CLASSES` is `AllowAny` and write views rely on it",
                               related=[Location(example.path, example.line, "a write view without permission_classes")])


def _last_name(code: str) -> str:
    head = code.split("(", 1)[0]
    return head.rsplit(".", 1)[-1].strip()


def _decorator_head(code: str) -> str:
    """A decorator without a route path argument (``@bp.get("/login")`` is no auth marker)."""
    return re.sub(r"(['\"]).*?\1", "", code)


def _is_route_decorator(code: str) -> bool:
    return _last_name(code) in ("get", "post", "put", "patch", "delete", "route", "api_route", "head", "options",
                                "websocket", "api_view", "action")
