"""Web framework knowledge: which functions are request handlers, which routes and apps a
file declares, and what a handler's responses look like.

Recognised handlers:

* Flask and Quart: ``@app.route``/``@app.get``... on apps and blueprints, ``add_url_rule``,
  class views (``MethodView``, ``View``); Flask-RESTful and Flask-RESTX ``Resource`` classes
  (``api.add_resource``).
* FastAPI and Starlette: ``@app.get``/``@router.post``... (``APIRouter``), ``add_api_route``,
  ``Route(...)`` tables, ``HTTPEndpoint`` classes, ``async def view(request)`` functions in
  Starlette modules.
* Django: function views (first parameter ``request`` in a views module: ``views.py``,
  ``viewsets.py``, ``api.py`` or anything under a ``views/`` folder; private functions and
  functions the module itself calls are helpers, not views), class-based views
  (``View`` and the generic views), ``path()``/``re_path()``/``url()`` URL patterns.
* Django REST framework: ``@api_view``, ``APIView`` and the generic views, viewsets and their
  actions (``list``/``create``/``retrieve``/``update``/``partial_update``/``destroy`` and
  ``@action`` methods).
* aiohttp: ``@routes.get``..., ``router.add_get``..., ``web.get(...)`` tables, ``web.View``
  classes, ``async def handler(request)`` in aiohttp modules.

Class-based handlers are followed through base classes defined in the same file, and through
imported project base classes whose names say what they are (``BaseAPIView``,
``TenantViewSet``, ``AuthResource``) when the file uses that framework. Only the methods that
answer requests are handlers: HTTP verbs, viewset actions and ``@action`` methods, not the
framework's hooks (``get_queryset``, ``perform_create``, ``form_valid``...).

In-house frameworks are configured under ``[tool.checker.handlers]``: ``decorators`` (dotted
names or final attribute names of route decorators, e.g. ``"myweb.route"`` or ``"endpoint"``)
and ``base-classes`` (dotted or final names of handler base classes).
"""

from __future__ import annotations

import http
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import libcst as cst

from checker.rule import Collector, FileContext
from checker.syntax import walk

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
ROUTE_DECORATOR_ATTRS = frozenset(HTTP_METHODS + ("route", "api_route", "websocket", "view"))
# Viewset actions (DRF) and the HTTP verbs they stand for.
VIEWSET_ACTIONS = {
    "list": "get", "retrieve": "get", "create": "post", "update": "put",
    "partial_update": "patch", "destroy": "delete",
}
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

# Base classes whose methods named after HTTP verbs (or viewset actions) are handlers.
HANDLER_BASES = {
    "flask.views.MethodView": "flask", "flask.views.View": "flask", "flask.MethodView": "flask",
    "quart.views.MethodView": "flask",
    "flask_restful.Resource": "flask-restful", "flask_restx.Resource": "flask-restful",
    "flask_restplus.Resource": "flask-restful", "flask_smorest.MethodView": "flask",
    "django.views.View": "django", "django.views.generic.View": "django",
    "django.views.generic.base.View": "django", "django.views.generic.TemplateView": "django",
    "rest_framework.views.APIView": "drf", "rest_framework.generics.GenericAPIView": "drf",
    "rest_framework.viewsets.ViewSet": "drf", "rest_framework.viewsets.ModelViewSet": "drf",
    "rest_framework.viewsets.GenericViewSet": "drf", "rest_framework.viewsets.ReadOnlyModelViewSet": "drf",
    "aiohttp.web.View": "aiohttp", "aiohttp.web_urldispatcher.View": "aiohttp",
    "starlette.endpoints.HTTPEndpoint": "starlette",
}
DRF_GENERIC_PREFIX = "rest_framework.generics."
DRF_VIEWSET_PREFIX = "rest_framework.viewsets."
# Name endings of imported project base classes, by the framework the file uses.
BASE_NAME_HINTS = (
    ("rest_framework", re.compile(r"(?:APIView|ViewSet|ViewSetMixin|GenericView)$"), "drf"),
    ("django", re.compile(r"View$"), "django"),
    ("flask_restful", re.compile(r"Resource$"), "flask-restful"),
    ("flask_restx", re.compile(r"Resource$"), "flask-restful"),
    ("flask", re.compile(r"MethodView$"), "flask"),
    ("aiohttp", re.compile(r"View$"), "aiohttp"),
    ("starlette", re.compile(r"Endpoint$"), "starlette"),
)

# Constructors of application objects.
APP_CONSTRUCTORS = {
    "flask.Flask": "flask", "fastapi.FastAPI": "fastapi", "starlette.applications.Starlette": "starlette",
    "aiohttp.web.Application": "aiohttp", "quart.Quart": "flask", "sanic.Sanic": "sanic",
    "flask_openapi3.OpenAPI": "flask", "apiflask.APIFlask": "flask", "connexion.App": "flask",
    "connexion.FlaskApp": "flask", "connexion.AsyncApp": "starlette",
}
ROUTER_CONSTRUCTORS = {
    "flask.Blueprint": "flask", "fastapi.APIRouter": "fastapi", "aiohttp.web.RouteTableDef": "aiohttp",
    "starlette.routing.Router": "starlette", "flask_smorest.Blueprint": "flask", "apiflask.APIBlueprint": "flask",
    "quart.Blueprint": "flask",
}
# Calls that register a route: final attribute name -> framework.
REGISTRATION_ATTRS = {
    "add_url_rule": "flask", "add_api_route": "fastapi", "add_route": "starlette",
    "add_get": "aiohttp", "add_post": "aiohttp", "add_put": "aiohttp", "add_patch": "aiohttp",
    "add_delete": "aiohttp", "add_view": "aiohttp", "add_resource": "flask-restful",
}
URL_PATTERN_FUNCS = {
    "django.urls.path": "django", "django.urls.re_path": "django", "django.conf.urls.url": "django",
    "starlette.routing.Route": "starlette", "starlette.routing.Mount": "starlette",
    "aiohttp.web.get": "aiohttp", "aiohttp.web.post": "aiohttp", "aiohttp.web.put": "aiohttp",
    "aiohttp.web.patch": "aiohttp", "aiohttp.web.delete": "aiohttp", "aiohttp.web.route": "aiohttp",
    "aiohttp.web.view": "aiohttp",
}
# Django decorators that restrict a function view's methods.
DJANGO_METHOD_DECORATORS = {
    "django.views.decorators.http.require_POST": frozenset({"post"}),
    "django.views.decorators.http.require_GET": frozenset({"get"}),
    "django.views.decorators.http.require_safe": frozenset({"get", "head"}),
}
DJANGO_REQUIRE_METHODS = "django.views.decorators.http.require_http_methods"
# Owners of ``.get(...)``/``.route(...)``-style decorators that are not web routers.
NOT_ROUTER_ROOTS = ("click", "typer", "pytest", "celery", "functools", "unittest", "mock", "cache", "dramatiq")


@dataclass(frozen=True)
class Handler:
    """A request handler: the function, its framework, HTTP methods and path when known."""

    func: cst.FunctionDef
    framework: str
    methods: frozenset[str]
    path: str | None
    owner: str | None  # the app/router variable for decorated routes, the class for methods
    decorators: tuple[str, ...]  # resolved names of all decorators on the function
    #: The route decorator call, when the handler has one (``@router.post("/x", status_code=201)``).
    route_call: cst.Call | None = field(default=None, compare=False)
    #: The class of a class-based handler.
    cls: cst.ClassDef | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.func.name.value

    @property
    def writes(self) -> bool:
        return bool(self.methods & WRITE_METHODS)

    @property
    def qualname(self) -> str:
        return f"{self.cls.name.value}.{self.name}" if self.cls is not None else self.name

    def describe(self) -> str:
        """``POST /orders`` or the handler's name, for messages."""
        verbs = "/".join(sorted(m.upper() for m in self.methods)) if self.methods else ""
        if self.path is not None:
            return f"`{verbs + ' ' if verbs else ''}{self.path or '/'}` ({self.qualname})"
        return f"`{self.qualname}`"


def string_value(node: cst.CSTNode | None) -> str | None:
    """The value of a plain string literal (concatenations included), else None."""
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # pragma: no cover - malformed literal
            return None
        return value.decode("latin-1") if isinstance(value, bytes) else value
    if isinstance(node, cst.ConcatenatedString):
        left, right = string_value(node.left), string_value(node.right)
        return left + right if left is not None and right is not None else None
    return None


def arg(call: cst.Call, index: int | None = None, keyword: str | None = None) -> cst.BaseExpression | None:
    """A call's argument by keyword, or by position (ignoring keyword arguments)."""
    if keyword is not None:
        for a in call.args:
            if a.keyword is not None and a.keyword.value == keyword:
                return a.value
    if index is not None:
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if index < len(positional):
            return positional[index].value
    return None


def _methods_from(call: cst.Call, attr: str) -> frozenset[str]:
    if attr in HTTP_METHODS:
        return frozenset({attr})
    value = arg(call, keyword="methods")
    if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
        found = {string_value(e.value) for e in value.elements}
        return frozenset(m.lower() for m in found if m)
    return frozenset({"get"}) if attr in ("route", "api_route") else frozenset()


def _configured(ctx: FileContext, key: str) -> tuple[str, ...]:
    handlers = ctx.settings.get("handlers", {}) if ctx.settings else {}
    return tuple(handlers.get(key, ()) or ())


def is_views_module(path: str) -> bool:
    parts = path.split("/")
    return parts[-1] in ("views.py", "viewsets.py", "api.py") or "views" in parts[:-1]


def _decorator_info(ctx: FileContext, deco: cst.Decorator) -> tuple[str, cst.Call | None]:
    expr = deco.decorator
    call = expr if isinstance(expr, cst.Call) else None
    name = ctx.resolve(call.func if call else expr) or ""
    return name, call


def _route_from_decorators(ctx: FileContext, func: cst.FunctionDef, names: list[tuple[str, cst.Call | None]]) -> Handler | None:
    custom = _configured(ctx, "decorators")
    all_names = tuple(n for n, _ in names)
    for name, call in names:
        last = name.rsplit(".", 1)[-1]
        if name == "rest_framework.decorators.api_view":
            methods = frozenset({"get"})
            if call is not None:
                value = arg(call, 0) or arg(call, keyword="http_method_names")
                if isinstance(value, (cst.List, cst.Tuple)):
                    methods = frozenset((string_value(e.value) or "").lower() for e in value.elements) - {""}
            return Handler(func, "drf", methods, None, None, all_names, call)
        if call is not None and last in ROUTE_DECORATOR_ATTRS and isinstance(call.func, cst.Attribute):
            path = string_value(arg(call, 0) or arg(call, keyword="path") or arg(call, keyword="rule"))
            if path is None or not path.startswith("/") and path != "":
                continue
            owner = ctx.resolve(call.func.value) or ""
            if owner.startswith(NOT_ROUTER_ROOTS):
                continue
            framework = _framework_of(ctx)
            return Handler(func, framework, _methods_from(call, last), path, owner, all_names, call)
        if custom and (name in custom or last in custom):
            path = string_value(arg(call, 0)) if call is not None else None
            methods = _methods_from(call, last) if call is not None else frozenset()
            return Handler(func, "custom", methods, path, None, all_names, call)
    return None


def _framework_of(ctx: FileContext) -> str:
    for module, name in (("fastapi", "fastapi"), ("flask", "flask"), ("quart", "flask"), ("apiflask", "flask"),
                         ("aiohttp", "aiohttp"), ("starlette", "starlette"), ("sanic", "sanic"), ("django", "django")):
        if ctx.imported(module):
            return name
    return "unknown"


def _local_classes(ctx: FileContext) -> dict[str, cst.ClassDef]:
    key = ("web.local-classes",)
    if key not in ctx.cache:
        ctx.cache[key] = {s.name.value: s for s in ctx.module.body if isinstance(s, cst.ClassDef)}
    return ctx.cache[key]


def class_handler_framework(ctx: FileContext, cls: cst.ClassDef, _depth: int = 0) -> str | None:
    """The framework a class-based view belongs to, or None if the class is no handler."""
    key = ("web.class", id(cls))
    if key in ctx.cache:
        return ctx.cache[key]
    ctx.cache[key] = None  # guards against cyclic local bases
    found = _class_framework(ctx, cls, _depth)
    ctx.cache[key] = found
    return found


def _class_framework(ctx: FileContext, cls: cst.ClassDef, depth: int) -> str | None:
    custom = _configured(ctx, "base-classes")
    local = _local_classes(ctx)
    for base in cls.bases:
        if base.keyword is not None:
            continue
        name = ctx.resolve(base.value) or ""
        if name in HANDLER_BASES:
            return HANDLER_BASES[name]
        if name.startswith((DRF_GENERIC_PREFIX, DRF_VIEWSET_PREFIX, "rest_framework.mixins.")):
            return "drf"
        if name.startswith("django.views.generic.") or name.startswith("django.contrib.auth.views."):
            return "django"
        if custom and (name in custom or name.rsplit(".", 1)[-1] in custom):
            return "custom"
        if isinstance(base.value, cst.Name) and base.value.value in local and depth < 10:
            inner = local[base.value.value]
            if inner is not cls:
                found = class_handler_framework(ctx, inner, depth + 1)
                if found is not None:
                    return found
    for base in cls.bases:
        if base.keyword is not None:
            continue
        name = ctx.resolve(base.value) or ""
        if not name or name.split(".")[0] in ("object", "typing", "abc", "enum", "pydantic", "dataclasses"):
            continue
        if isinstance(base.value, cst.Name) and base.value.value in local:
            continue
        last = name.rsplit(".", 1)[-1]
        for module, pattern, framework in BASE_NAME_HINTS:
            if pattern.search(last) and ctx.imported(module):
                return framework
    return None


def _declared_methods(ctx: FileContext, names: list[tuple[str, cst.Call | None]]) -> frozenset[str]:
    for name, call in names:
        if name in DJANGO_METHOD_DECORATORS:
            return DJANGO_METHOD_DECORATORS[name]
        if name == DJANGO_REQUIRE_METHODS and call is not None:
            value = arg(call, 0)
            if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
                return frozenset((string_value(e.value) or "").lower() for e in value.elements) - {""}
    return frozenset()


class _MethodChecks(cst.CSTVisitor):
    """Finds ``request.method == "POST"`` / ``request.method in (...)`` tests in a function."""

    def __init__(self) -> None:
        super().__init__()
        self.methods: set[str] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # nested functions answer nothing

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        if not (isinstance(left, cst.Attribute) and left.attr.value == "method"):
            return
        for target in node.comparisons:
            if isinstance(target.operator, (cst.Equal, cst.In)):
                value = target.comparator
                if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
                    items = [e.value for e in value.elements]
                else:
                    items = [value]
                for item in items:
                    text = string_value(item)
                    if text and text.lower() in HTTP_METHODS:
                        self.methods.add(text.lower())


def methods_tested_in(func: cst.FunctionDef) -> frozenset[str]:
    """HTTP methods a function view tests ``request.method`` against."""
    walker = _MethodChecks()
    walk(func.body, walker)
    return frozenset(walker.methods)


def called_in_module(ctx: FileContext) -> frozenset[str]:
    """Names a module calls as plain functions (``helper(request)``): a function another
    function of the module calls is a helper, not a view. Memoised."""
    key = ("web.called-in-module",)
    if key not in ctx.cache:
        names: set[str] = set()

        class _Walk(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                if isinstance(node.func, cst.Name):
                    names.add(node.func.value)

        walk(ctx.module, _Walk())
        ctx.cache[key] = frozenset(names)
    return ctx.cache[key]


def handler_for(ctx: FileContext, func: cst.FunctionDef, cls: cst.ClassDef | None = None) -> Handler | None:
    """The handler ``func`` is, or None. ``cls`` is the class it is defined in, if any.

    Memoised per file, so every rule can ask freely.
    """
    key = ("handler", id(func))
    if key in ctx.cache:
        return ctx.cache[key]
    _module_imports(ctx)
    handler = _detect(ctx, func, cls)
    ctx.cache[key] = handler
    return handler


def _module_imports(ctx: FileContext) -> None:
    """Make the module's top-level imports known before the traversal reaches them, so a
    handler asked about early (from ``visit_Module``) is detected as it would be later."""
    key = ("web.module-imports",)
    if key in ctx.cache:
        return
    ctx.cache[key] = True
    for stmt in ctx.module.body:
        inner = [stmt]
        if isinstance(stmt, cst.Try):
            inner = [s for s in stmt.body.body]
        for item in inner:
            if isinstance(item, cst.SimpleStatementLine):
                for small in item.body:
                    if isinstance(small, (cst.Import, cst.ImportFrom)):
                        ctx.add_import(small)


def _first_param(func: cst.FunctionDef) -> str | None:
    params = list(func.params.posonly_params) + list(func.params.params)
    return params[0].name.value if params else None


REGISTRATION_HINTS = ("add_url_rule", "add_api_route", "add_route", "add_get", "add_post", "add_put", "add_patch",
                      "add_delete", "Route(", "web.get", "web.post", "web.put", "web.patch", "web.delete", "web.route")


def registered_views(ctx: FileContext) -> dict[str, tuple[str, str | None, frozenset[str]]]:
    """Module functions this file registers as views by a call rather than a decorator
    (``app.add_url_rule("/x", view_func=f)``, ``Route("/x", f)``, ``web.get("/x", f)``):
    name -> (framework, path, methods). Memoised."""
    key = ("web.registered",)
    if key in ctx.cache:
        return ctx.cache[key]
    found: dict[str, tuple[str, str | None, frozenset[str]]] = {}
    ctx.cache[key] = found
    if not any(h in ctx.text for h in REGISTRATION_HINTS):
        return found

    class _Walk(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            name = ctx.resolve(node.func) or ""
            last = name.rsplit(".", 1)[-1]
            view: cst.BaseExpression | None = None
            methods: frozenset[str] = frozenset()
            if name in URL_PATTERN_FUNCS and not name.endswith("Mount"):
                framework = URL_PATTERN_FUNCS[name]
                path = string_value(arg(node, 0) or arg(node, keyword="path"))
                view = arg(node, 1) or arg(node, keyword="endpoint") or arg(node, keyword="handler")
                verb = last if last in HTTP_METHODS else None
                value = arg(node, keyword="methods")
                if verb:
                    methods = frozenset({verb})
                elif isinstance(value, (cst.List, cst.Tuple, cst.Set)):
                    methods = frozenset((string_value(e.value) or "").lower() for e in value.elements) - {""}
            elif last in REGISTRATION_ATTRS and last != "add_resource" and isinstance(node.func, cst.Attribute):
                framework = REGISTRATION_ATTRS[last]
                path = string_value(arg(node, 0) or arg(node, keyword="rule") or arg(node, keyword="path"))
                if last == "add_url_rule":
                    view = arg(node, keyword="view_func") or arg(node, 2)
                else:
                    view = arg(node, 1) or arg(node, keyword="endpoint") or arg(node, keyword="handler")
                verb = last[4:] if last[4:] in HTTP_METHODS else None
                if verb:
                    methods = frozenset({verb})
                else:
                    methods = _methods_from(node, "")
            else:
                return
            if isinstance(view, cst.Name) and path is not None:
                found[view.value] = (framework, path, methods)

    walk(ctx.module, _Walk())
    return found


def _detect(ctx: FileContext, func: cst.FunctionDef, cls: cst.ClassDef | None) -> Handler | None:
    names = [_decorator_info(ctx, d) for d in func.decorators]
    found = _route_from_decorators(ctx, func, names)
    if found is not None:
        if found.framework == "drf" and cls is not None:
            return Handler(found.func, found.framework, found.methods, found.path, cls.name.value,
                           found.decorators, found.route_call, cls)
        return found
    all_names = tuple(n for n, _ in names)
    if cls is None and func.name.value in registered_views(ctx) and _is_module_level(ctx, func):
        framework, path, methods = registered_views(ctx)[func.name.value]
        return Handler(func, framework, methods, path, None, all_names)
    params = [p.name.value for p in list(func.params.posonly_params) + list(func.params.params)]
    if cls is not None:
        framework = class_handler_framework(ctx, cls)
        if framework is None or len(params) < 1:
            return None
        verb = func.name.value
        if verb in HTTP_METHODS:
            return Handler(func, framework, frozenset({verb}), None, cls.name.value, all_names, None, cls)
        if framework == "drf" and verb in VIEWSET_ACTIONS:
            return Handler(func, framework, frozenset({VIEWSET_ACTIONS[verb]}), None, cls.name.value, all_names, None, cls)
        for name, call in names:
            if name.startswith("rest_framework.decorators.action") or name.endswith(".action") and framework == "drf":
                methods = frozenset({"get"})
                value = arg(call, keyword="methods") if call is not None else None
                if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
                    methods = frozenset((string_value(e.value) or "").lower() for e in value.elements) - {""}
                return Handler(func, framework, methods, None, cls.name.value, all_names, None, cls)
        return None
    if params and params[0] in ("request", "req") and not func.name.value.startswith("_") \
            and func.name.value not in called_in_module(ctx):
        if ctx.imported("django") and is_views_module(ctx.path) and params[0] == "request":
            methods = _declared_methods(ctx, names) or methods_tested_in(func)
            return Handler(func, "django", methods, None, None, all_names)
        if func.asynchronous is not None:
            if ctx.imported("aiohttp"):
                return Handler(func, "aiohttp", frozenset(), None, None, all_names)
            if ctx.imported("starlette") and not ctx.imported("fastapi"):
                return Handler(func, "starlette", frozenset(), None, None, all_names)
    return None


def _is_module_level(ctx: FileContext, func: cst.FunctionDef) -> bool:
    return any(stmt is func for stmt in ctx.module.body)


def enclosing_handler(ctx: FileContext) -> Handler | None:
    """The handler the node being visited sits in (the innermost function must be it)."""
    func = ctx.enclosing_function()
    if func is None:
        return None
    cls = None
    for node in ctx.ancestors():
        if node is func:
            continue
        if isinstance(node, cst.ClassDef):
            cls = node
            break
        if isinstance(node, cst.FunctionDef):
            break
    return handler_for(ctx, func, cls)


def current_handler(ctx: FileContext, func: cst.FunctionDef) -> Handler | None:
    """Call from ``visit_FunctionDef``: the handler ``func`` is (its class from the stack)."""
    cls = None
    for node in ctx.ancestors():
        if isinstance(node, cst.ClassDef):
            cls = node
            break
        if isinstance(node, cst.FunctionDef):
            break
    return handler_for(ctx, func, cls)


def handlers_in_module(ctx: FileContext) -> list[Handler]:
    """Every handler defined at module level or in a module-level class (memoised)."""
    key = ("web.handlers",)
    if key in ctx.cache:
        return ctx.cache[key]
    found: list[Handler] = []
    for stmt in ctx.module.body:
        if isinstance(stmt, cst.FunctionDef):
            h = handler_for(ctx, stmt, None)
            if h is not None:
                found.append(h)
        elif isinstance(stmt, cst.ClassDef):
            for item in stmt.body.body:
                if isinstance(item, cst.FunctionDef):
                    h = handler_for(ctx, item, stmt)
                    if h is not None:
                        found.append(h)
    ctx.cache[key] = found
    return found


def app_framework(ctx: FileContext, call: cst.Call) -> str | None:
    """The framework when ``call`` creates an application object (``Flask(__name__)``)."""
    return APP_CONSTRUCTORS.get(ctx.resolve(call.func) or "")


def router_framework(ctx: FileContext, call: cst.Call) -> str | None:
    return ROUTER_CONSTRUCTORS.get(ctx.resolve(call.func) or "")


def framework_family(framework: str | None) -> str:
    """Frameworks that share error handling and response conventions: flask (Flask, Quart,
    Flask-RESTful), asgi (FastAPI, Starlette), django (Django, DRF), aiohttp, other."""
    if framework in ("flask", "flask-restful"):
        return "flask"
    if framework in ("fastapi", "starlette"):
        return "asgi"
    if framework in ("django", "drf"):
        return "django"
    if framework == "aiohttp":
        return "aiohttp"
    return framework or "other"


# ---------------------------------------------------------------------------------------
# What a handler does

#: Handler names that create something.
CREATE_NAME = re.compile(r"^(?:create|add|new|register|insert|signup|sign_up|post_new)(?:_|$)|_create$", re.IGNORECASE)
#: Verbs that create only when aimed at a collection (``POST /files`` vs ``POST /products/{id}/image``).
WEAK_CREATE_NAME = re.compile(r"^(?:upload|submit|place|make|open|issue)(?:_|$)", re.IGNORECASE)
#: Final names of calls that create or save something.
CREATE_CALL = re.compile(r"^(?:create|add|insert|register|persist|place|new)(?:_|$|[A-Z])|_create$|^bulk_insert")
#: Final names of calls that store something (a creation or an update).
SAVE_CALL = re.compile(r"^(?:save|persist|commit|put|upsert)(?:_|$)")
#: Words of a handler's or view class's name that say it creates (``OrderCreateView``).
CREATE_WORDS = frozenset({"create", "add", "new", "register", "signup", "insert", "submit", "upload", "place"})
BULK_WORDS = frozenset({"bulk", "batch", "many", "import"})
_PATH_PARAM = re.compile(r"<[^>]+>|\{[^}]+\}|:[A-Za-z_]\w*|\(\?P<")
#: Final names of calls that change or remove something.
CHANGE_CALL = re.compile(r"(?:^|[._])(?:update|delete|remove|destroy|cancel|approve|reject|archive|revoke|"
                         r"deactivate|activate|close|set|assign|transfer|refund|merge|publish|bulk)(?:_|$|[A-Z])")
#: Words in a POST handler's name or path that mark an action rather than a change of data.
ACTION_WORDS = frozenset({
    "login", "logout", "signin", "signout", "auth", "authenticate", "authorize", "token", "tokens", "refresh",
    "search", "query", "filter", "preview", "calculate", "calc", "quote", "validate", "validation", "verify",
    "check", "send", "notify", "webhook", "webhooks", "callback", "callbacks", "hook", "hooks", "run", "execute",
    "import", "export", "batch", "graphql", "rpc", "ping", "health", "healthz", "echo", "convert", "render",
    "estimate", "reset", "confirm", "test", "password", "lookup", "resolve", "sync", "toggle", "like", "unlike",
    "vote", "subscribe", "unsubscribe", "evaluate", "predict", "analyze", "analyse", "sign", "simulate", "dry",
    "translate", "parse", "format", "compute", "count", "stats", "report", "reports", "download", "print",
    "generate", "upload_url",
})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def words_of(text: str) -> set[str]:
    """Lower-case words of identifiers and paths (``createOrder``, ``create_order``, ``/orders/search``)."""
    return {w.lower() for w in _WORDS.findall(text)}


class _CallNames(cst.CSTVisitor):
    def __init__(self, ctx: FileContext, root: cst.FunctionDef) -> None:
        super().__init__()
        self.ctx = ctx
        self.root = root
        self.names: list[str] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.root

    def visit_Call(self, node: cst.Call) -> None:
        name = self.ctx.resolve(node.func)
        if name:
            self.names.append(name.replace("()", "").rsplit(".", 1)[-1])


def called_names(ctx: FileContext, func: cst.FunctionDef) -> list[str]:
    """Final names of the calls a function makes (nested functions excluded), memoised."""
    key = ("web.called", id(func))
    if key not in ctx.cache:
        walker = _CallNames(ctx, func)
        walk(func, walker)
        ctx.cache[key] = walker.names
    return ctx.cache[key]


def is_action(handler: Handler) -> bool:
    """A POST endpoint that runs an action (login, search, webhook, preview...)."""
    return bool(words_of(f"{handler.name} {handler.path or ''} {handler.owner or ''}") & ACTION_WORDS)


def creates(ctx: FileContext, handler: Handler) -> bool:
    """Whether a handler creates a resource: its name (``create_order``, DRF's ``create``),
    its view class's name (``OrderCreateView``), or a POST to a collection path
    (``/orders``, no path parameter) that calls a creating function (``create_order``,
    ``Order.objects.create``, ``session.add``). Bulk and batch endpoints, which answer with
    per-item results, are not counted."""
    words = words_of(f"{handler.name} {handler.owner or ''}")
    if words & BULK_WORDS:
        return False
    if CREATE_NAME.search(handler.name) or handler.name == "create" and handler.framework == "drf":
        return True
    if handler.cls is not None and words_of(handler.cls.name.value) & CREATE_WORDS:
        return True
    if handler.path is not None and not _PATH_PARAM.search(handler.path):
        return bool(WEAK_CREATE_NAME.search(handler.name)) or any(CREATE_CALL.search(n)
                                                                    for n in called_names(ctx, handler.func))
    return False


def changes_data(ctx: FileContext, handler: Handler) -> bool:
    """Whether a handler creates, changes or deletes data: PUT/PATCH/DELETE handlers, and
    POST handlers that are not actions and create or change something."""
    if handler.methods & {"put", "patch", "delete"}:
        return True
    if "post" not in handler.methods or is_action(handler):
        return False
    called = called_names(ctx, handler.func)
    return creates(ctx, handler) or any(CHANGE_CALL.search(n) or CREATE_CALL.search(n) or SAVE_CALL.search(n)
                                        for n in called)


# ---------------------------------------------------------------------------------------
# Responses


# Calls that build a JSON response: resolved name -> (body argument index, status keyword)
JSON_RESPONSES = {
    "flask.jsonify": (None, None), "quart.jsonify": (None, None),
    "django.http.JsonResponse": (0, "status"), "django.http.response.JsonResponse": (0, "status"),
    "rest_framework.response.Response": (0, "status"),
    "fastapi.responses.JSONResponse": (0, "status_code"), "starlette.responses.JSONResponse": (0, "status_code"),
    "fastapi.responses.ORJSONResponse": (0, "status_code"), "fastapi.responses.UJSONResponse": (0, "status_code"),
    "aiohttp.web.json_response": (0, "status"), "sanic.response.json": (0, "status"),
}
OTHER_RESPONSES = {
    "flask.make_response": (0, None), "flask.Response": (0, "status"), "werkzeug.wrappers.Response": (0, "status"),
    "django.http.HttpResponse": (0, "status"), "fastapi.Response": (0, "status_code"),
    "fastapi.responses.Response": (0, "status_code"), "starlette.responses.Response": (0, "status_code"),
    "fastapi.responses.PlainTextResponse": (0, "status_code"), "starlette.responses.PlainTextResponse": (0, "status_code"),
    "aiohttp.web.Response": (None, "status"),
}
# Exceptions that frameworks turn into a JSON error with a fixed shape.
DETAIL_EXCEPTIONS = {
    "fastapi.HTTPException": "status_code", "fastapi.exceptions.HTTPException": "status_code",
    "starlette.exceptions.HTTPException": "status_code",
}
DRF_EXCEPTIONS = {
    "ParseError": 400, "AuthenticationFailed": 401, "NotAuthenticated": 401, "PermissionDenied": 403,
    "NotFound": 404, "MethodNotAllowed": 405, "NotAcceptable": 406, "UnsupportedMediaType": 415,
    "Throttled": 429, "APIException": 500,
}
# Error-message keys, in the order that decides an error body's "primary" key.
ERROR_KEYS = ("error", "errors", "detail", "message", "msg", "description", "reason", "title", "error_message")


@dataclass(frozen=True)
class Response:
    """What a ``return``/``raise`` in a handler answers.

    ``status`` is the explicit status code (None when the framework's default applies);
    ``keys`` are the top-level keys of a JSON object body written as a literal (or keyword
    arguments of ``jsonify``); ``kind`` is ``json``, ``text``, ``exception`` (an HTTP
    exception with a fixed body shape), ``abort`` or ``other``.
    """

    node: cst.CSTNode
    status: int | None
    kind: str
    keys: tuple[str, ...] | None = None
    body: cst.BaseExpression | None = field(default=None, compare=False)
    values: dict = field(default_factory=dict, compare=False)  # key -> value node

    @property
    def is_error(self) -> bool:
        return self.status is not None and self.status >= 400

    @property
    def shape(self) -> str | None:
        """The error body's primary key (``error``, ``detail``, ``message``...); None when
        the body has none (field-keyed validation errors, progress bodies)."""
        if self.keys is None:
            return None
        for key in ERROR_KEYS:
            if key in self.keys:
                return key
        return None


def status_code(ctx: FileContext, node: cst.BaseExpression | None) -> int | None:
    """An HTTP status written as ``404``, ``status.HTTP_404_NOT_FOUND``, ``HTTPStatus.NOT_FOUND``
    or ``HTTPStatus(404)``; None when it is computed."""
    if node is None:
        return None
    if isinstance(node, cst.Integer):
        try:
            return int(node.value)
        except ValueError:
            return None
    name = ctx.resolve(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
    if name:
        last = name.rsplit(".", 1)[-1]
        m = re.match(r"^HTTP_(\d{3})(?:_|$)", last)
        if m:
            return int(m.group(1))
        if ".HTTPStatus." in f".{name}" or name.startswith(("http.HTTPStatus", "HTTPStatus")):
            try:
                return int(http.HTTPStatus[last])
            except KeyError:
                return None
        if name.startswith(("aiohttp.web.HTTP", "werkzeug.exceptions.")):
            return None
    if isinstance(node, cst.Attribute) and node.attr.value == "value":
        return status_code(ctx, node.value)
    return None


def _dict_keys(node: cst.BaseExpression | None) -> tuple[tuple[str, ...] | None, dict]:
    if isinstance(node, cst.Dict):
        keys: list[str] = []
        values: dict = {}
        for element in node.elements:
            if not isinstance(element, cst.DictElement):
                return None, {}
            key = string_value(element.key)
            if key is None:
                return None, {}
            keys.append(key)
            values[key] = element.value
        return tuple(keys), values
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "dict" \
            and all(a.keyword is not None for a in node.args):
        return tuple(a.keyword.value for a in node.args), {a.keyword.value: a.value for a in node.args}
    return None, {}


def local_value(func: cst.FunctionDef | None, name: str) -> cst.BaseExpression | None:
    """The value ``name`` was assigned, when a function assigns it exactly once."""
    if func is None:
        return None
    found: list[cst.BaseExpression] = []

    class _Find(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is func

        def visit_Assign(self, node: cst.Assign) -> None:
            for t in node.targets:
                if isinstance(t.target, cst.Name) and t.target.value == name:
                    found.append(node.value)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            if isinstance(node.target, cst.Name) and node.target.value == name and node.value is not None:
                found.append(node.value)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if isinstance(node.target, cst.Name) and node.target.value == name:
                found.append(node.value)
                found.append(node.value)

    walk(func, _Find())
    return found[0] if len(found) == 1 else None


def _body_info(ctx: FileContext, body: cst.BaseExpression | None, func: cst.FunctionDef | None) -> tuple[tuple[str, ...] | None, dict]:
    if isinstance(body, cst.Name):
        body = local_value(func, body.value) or body
    return _dict_keys(body)


def response_of(ctx: FileContext, node: cst.Return | cst.Raise, func: cst.FunctionDef | None = None) -> Response | None:
    """The response a ``return`` or ``raise`` statement in a handler gives, when it can be
    read from the code (JSON helpers, ``(body, status)`` tuples, dict literals, framework
    response classes, HTTP exceptions); None otherwise."""
    if isinstance(node, cst.Raise):
        return _exception_response(ctx, node, node.exc)
    value = node.value
    if value is None:
        return None
    return _value_response(ctx, node, value, func)


def _exception_response(ctx: FileContext, node: cst.CSTNode, exc: cst.BaseExpression | None) -> Response | None:
    if not isinstance(exc, cst.Call):
        return None
    name = ctx.resolve(exc.func) or ""
    if name in DETAIL_EXCEPTIONS:
        status = status_code(ctx, arg(exc, 0) or arg(exc, keyword="status_code"))
        return Response(node, status, "exception", ("detail",), exc, {"detail": arg(exc, 1) or arg(exc, keyword="detail")})
    last = name.rsplit(".", 1)[-1]
    if name.startswith("rest_framework.exceptions."):
        if last == "ValidationError":
            return Response(node, 400, "exception", None, exc)
        if last in DRF_EXCEPTIONS:
            return Response(node, DRF_EXCEPTIONS[last], "exception", ("detail",), exc)
    if name in ("flask.abort", "werkzeug.exceptions.abort", "quart.abort"):
        return Response(node, status_code(ctx, arg(exc, 0)), "abort", None, exc)
    return None


def _value_response(ctx: FileContext, node: cst.CSTNode, value: cst.BaseExpression, func: cst.FunctionDef | None,
                    status: int | None = None, depth: int = 0) -> Response | None:
    if depth > 3:
        return None
    if isinstance(value, cst.Name) and func is not None:
        assigned = local_value(func, value.value)
        if assigned is not None and not isinstance(assigned, cst.Name):
            return _value_response(ctx, node, assigned, func, status, depth + 1)
    if isinstance(value, cst.Tuple) and value.elements:
        first = value.elements[0].value
        second = status_code(ctx, value.elements[1].value) if len(value.elements) > 1 else None
        inner = _value_response(ctx, node, first, func, second, depth + 1)
        if inner is not None:
            return inner
        if isinstance(first, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return Response(node, second, "text", None, first)
        return Response(node, second, "other", None, first)
    if isinstance(value, (cst.Dict,)):
        keys, values = _dict_keys(value)
        return Response(node, status, "json", keys, value, values)
    if isinstance(value, cst.Call):
        name = ctx.resolve(value.func) or ""
        if name in JSON_RESPONSES:
            index, keyword = JSON_RESPONSES[name]
            if index is None:  # jsonify(...) takes a dict or keyword arguments
                body = arg(value, 0)
                if body is None and value.args and all(a.keyword is not None for a in value.args):
                    keys = tuple(a.keyword.value for a in value.args)
                    return Response(node, status, "json", keys, None, {a.keyword.value: a.value for a in value.args})
                keys, values = _body_info(ctx, body, func)
                return Response(node, status, "json", keys, body, values)
            body = arg(value, index, keyword="content" if keyword == "status_code" else "data")
            explicit = status_code(ctx, arg(value, keyword=keyword)) if keyword else None
            if explicit is None and name.startswith("aiohttp"):
                explicit = None
            keys, values = _body_info(ctx, body, func)
            return Response(node, explicit if explicit is not None else status, "json", keys, body, values)
        if name in OTHER_RESPONSES:
            index, keyword = OTHER_RESPONSES[name]
            explicit = status_code(ctx, arg(value, keyword=keyword)) if keyword else None
            if name.endswith("make_response"):
                explicit = status_code(ctx, arg(value, 1))
                inner = _value_response(ctx, node, arg(value, 0), func, explicit, depth + 1) if arg(value, 0) is not None else None
                if inner is not None:
                    return inner
            body = arg(value, index) if index is not None else arg(value, keyword="text")
            return Response(node, explicit if explicit is not None else status, "text", None, body)
        if name.startswith(("flask.render_template", "django.shortcuts.render", "flask.redirect",
                            "django.shortcuts.redirect")):
            return Response(node, status, "other", None, value)
    return None


def responses_in(ctx: FileContext, func: cst.FunctionDef) -> list[Response]:
    """Every readable response of a handler (nested functions excluded), memoised."""
    key = ("web.responses", id(func))
    if key in ctx.cache:
        return ctx.cache[key]
    found: list[Response] = []

    class _Walk(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is func

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Return(self, node: cst.Return) -> None:
            r = response_of(ctx, node, func)
            if r is not None:
                found.append(r)

        def visit_Raise(self, node: cst.Raise) -> None:
            r = response_of(ctx, node, func)
            if r is not None:
                found.append(r)

    walk(func, _Walk())
    ctx.cache[key] = found
    return found


def route_status(ctx: FileContext, handler: Handler) -> int | None:
    """The status a route decorator declares (``@router.post(..., status_code=201)``)."""
    if handler.route_call is None:
        return None
    return status_code(ctx, arg(handler.route_call, keyword="status_code"))


# ---------------------------------------------------------------------------------------
# Shared facts


class Routes(Collector):
    """Facts ``routes``: every route a file declares, as {path, methods, framework, handler,
    owner} (URL patterns add ``name``, the URL name, when given).

    Facts ``apps``: every application object created, as {framework, name}.

    Facts ``routers``: every router or blueprint created, as {framework, name, prefix}.

    Facts ``urlconfs``: every module-level Django ``urlpatterns`` list, as {framework}.

    Facts ``django-projects``: every Django settings module (``ROOT_URLCONF = ...``).
    """

    name = "routes"
    triggers = ("route", "get", "post", "path", "View", "Resource", "add_", "api_view", "Flask", "FastAPI",
                "Starlette", "Application", "Sanic", "Quart", "url(", "request", "urlpatterns", "Blueprint", "Router",
                "register",
                "RouteTableDef", "ROOT_URLCONF")

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(self.ctx.stack) != 3:
            return
        names = {t.target.value for t in node.targets if isinstance(t.target, cst.Name)}
        if "urlpatterns" in names:
            self.record({"framework": "django"}, node, key="urlconfs")
        if "ROOT_URLCONF" in names:
            self.record({"framework": "django"}, node, key="django-projects")

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        handler = current_handler(self.ctx, node)
        if handler is not None:
            self.record({"path": handler.path, "methods": sorted(handler.methods), "framework": handler.framework,
                         "handler": handler.name, "owner": handler.owner}, node)

    def visit_Call(self, node: cst.Call) -> None:
        name = self.ctx.resolve(node.func) or ""
        framework = APP_CONSTRUCTORS.get(name)
        if framework:
            target = _assigned_name(self.ctx)
            self.record({"framework": framework, "name": target}, node, key="apps")
            return
        framework = ROUTER_CONSTRUCTORS.get(name)
        if framework:
            prefix = string_value(arg(node, keyword="prefix") or arg(node, keyword="url_prefix"))
            self.record({"framework": framework, "name": _assigned_name(self.ctx), "prefix": prefix}, node,
                        key="routers")
            return
        if name in URL_PATTERN_FUNCS:
            path = string_value(arg(node, 0) or arg(node, keyword="path") or arg(node, keyword="route"))
            if path is not None:
                data = {"path": path, "methods": [], "framework": URL_PATTERN_FUNCS[name],
                        "handler": _handler_name(arg(node, 1) or arg(node, keyword="endpoint") or arg(node, keyword="view")),
                        "owner": None}
                url_name = string_value(arg(node, keyword="name"))
                if url_name:
                    data["name"] = url_name
                self.record(data, node)
            return
        last = name.rsplit(".", 1)[-1]
        if last == "register" and isinstance(node.func, cst.Attribute) and _drf_router_file(self.ctx):
            prefix = string_value(arg(node, 0) or arg(node, keyword="prefix"))
            view = arg(node, 1) or arg(node, keyword="viewset")
            if prefix is not None and view is not None:
                data = {"path": prefix, "methods": [], "framework": "drf", "handler": _handler_name(view),
                        "owner": self.ctx.resolve(node.func.value)}
                basename = string_value(arg(node, 2) or arg(node, keyword="basename"))
                if basename:
                    data["name"] = basename
                self.record(data, node)
            return
        if last in REGISTRATION_ATTRS and isinstance(node.func, cst.Attribute):
            if last == "add_resource":
                path = string_value(arg(node, 1))
                view = arg(node, 0)
            else:
                path = string_value(arg(node, 0) or arg(node, keyword="rule") or arg(node, keyword="path"))
                view = arg(node, 1) or arg(node, keyword="view_func") or arg(node, keyword="endpoint")
            if path is not None and path.startswith("/"):
                verb = last[4:] if last.startswith("add_") and last[4:] in HTTP_METHODS else None
                self.record({"path": path, "methods": [verb] if verb else [], "framework": REGISTRATION_ATTRS[last],
                             "handler": _handler_name(view), "owner": self.ctx.resolve(node.func.value)}, node)


def _drf_router_file(ctx: FileContext) -> bool:
    return ctx.imported("rest_framework") and ("DefaultRouter" in ctx.text or "SimpleRouter" in ctx.text)


def _assigned_name(ctx: FileContext) -> str | None:
    parent = ctx.parent()
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        target = parent.targets[0].target
        if isinstance(target, cst.Name):
            return target.value
        if isinstance(target, cst.Attribute):
            return target.attr.value
    if isinstance(parent, cst.AnnAssign) and isinstance(parent.target, cst.Name):
        return parent.target.value
    return None


def _handler_name(node: cst.CSTNode | None) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Name) and node.func.value == "include" or \
                isinstance(node.func, cst.Attribute) and node.func.attr.value == "include":
            included = string_value(arg(node, 0))
            if included is not None:
                return included
            first = arg(node, 0)
            if isinstance(first, cst.Tuple) and first.elements:
                return string_value(first.elements[0].value) or _handler_name(first.elements[0].value)
        return _handler_name(node.func.value if isinstance(node.func, cst.Attribute) else node.func)
    return None


def route_paths(facts: Iterable) -> list[str]:
    return [f.data["path"] for f in facts if f.data.get("path") is not None]


def iter_functions(node: cst.CSTNode) -> Iterator[cst.FunctionDef]:
    """Functions defined directly in a module or class body (not nested in functions)."""
    body = node.body.body if isinstance(node, cst.ClassDef) else getattr(node, "body", ())
    for stmt in body:
        if isinstance(stmt, cst.FunctionDef):
            yield stmt
