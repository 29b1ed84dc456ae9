"""Web framework knowledge: which functions are request handlers, which routes and apps a
file declares.

Recognised: Flask (``@app.route``/``@bp.get``..., ``add_url_rule``, ``MethodView``),
Flask-RESTful resources, FastAPI/Starlette (``@router.get``..., ``add_api_route``,
``Route(...)``), Django (function views in views modules, class-based views, ``path()``
URL patterns), Django REST framework (``@api_view``, ``APIView``, viewsets), aiohttp
(``@routes.get``, ``router.add_get``, ``web.get``, ``web.View``). In-house frameworks are
configured under ``[tool.checker.handlers]``: ``decorators`` (dotted names or final
attribute names of route decorators) and ``base-classes`` (handler base classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import libcst as cst

from checker.rule import Collector, FileContext

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
    "flask.views.MethodView": "flask", "flask.views.View": "flask",
    "flask_restful.Resource": "flask-restful", "flask_restx.Resource": "flask-restful",
    "django.views.View": "django", "django.views.generic.View": "django",
    "django.views.generic.base.View": "django", "django.views.generic.TemplateView": "django",
    "rest_framework.views.APIView": "drf", "rest_framework.generics.GenericAPIView": "drf",
    "rest_framework.viewsets.ViewSet": "drf", "rest_framework.viewsets.ModelViewSet": "drf",
    "rest_framework.viewsets.GenericViewSet": "drf", "rest_framework.viewsets.ReadOnlyModelViewSet": "drf",
    "aiohttp.web.View": "aiohttp", "starlette.endpoints.HTTPEndpoint": "starlette",
}
DRF_GENERIC_PREFIX = "rest_framework.generics."
DRF_VIEWSET_PREFIX = "rest_framework.viewsets."

# Constructors of application objects.
APP_CONSTRUCTORS = {
    "flask.Flask": "flask", "fastapi.FastAPI": "fastapi", "starlette.applications.Starlette": "starlette",
    "aiohttp.web.Application": "aiohttp", "quart.Quart": "flask", "sanic.Sanic": "sanic",
}
ROUTER_CONSTRUCTORS = {
    "flask.Blueprint": "flask", "fastapi.APIRouter": "fastapi", "aiohttp.web.RouteTableDef": "aiohttp",
    "starlette.routing.Router": "starlette",
}
# Calls that register a route: dotted-name suffix -> (framework, index of the path argument)
REGISTRATION_ATTRS = {
    "add_url_rule": "flask", "add_api_route": "fastapi", "add_route": "starlette",
    "add_get": "aiohttp", "add_post": "aiohttp", "add_put": "aiohttp", "add_patch": "aiohttp",
    "add_delete": "aiohttp", "add_view": "aiohttp",
}
URL_PATTERN_FUNCS = {
    "django.urls.path": "django", "django.urls.re_path": "django", "django.conf.urls.url": "django",
    "starlette.routing.Route": "starlette", "starlette.routing.Mount": "starlette",
    "aiohttp.web.get": "aiohttp", "aiohttp.web.post": "aiohttp", "aiohttp.web.put": "aiohttp",
    "aiohttp.web.patch": "aiohttp", "aiohttp.web.delete": "aiohttp", "aiohttp.web.route": "aiohttp",
    "aiohttp.web.view": "aiohttp",
}


@dataclass(frozen=True)
class Handler:
    """A request handler: the function, its framework, HTTP methods and path when known."""

    func: cst.FunctionDef
    framework: str
    methods: frozenset[str]
    path: str | None
    owner: str | None  # the app/router variable for decorated routes, the class for methods
    decorators: tuple[str, ...]  # resolved names of all decorators on the function

    @property
    def name(self) -> str:
        return self.func.name.value

    @property
    def writes(self) -> bool:
        return bool(self.methods & WRITE_METHODS)


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
    return tuple(handlers.get(key, ()))


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
    for name, call in names:
        last = name.rsplit(".", 1)[-1]
        if name in ("rest_framework.decorators.api_view",):
            methods = frozenset({"get"})
            if call is not None:
                value = arg(call, 0) or arg(call, keyword="http_method_names")
                if isinstance(value, (cst.List, cst.Tuple)):
                    methods = frozenset((string_value(e.value) or "").lower() for e in value.elements) - {""}
            return Handler(func, "drf", methods, None, None, tuple(n for n, _ in names))
        if call is not None and last in ROUTE_DECORATOR_ATTRS and isinstance(call.func, cst.Attribute):
            path = string_value(arg(call, 0) or arg(call, keyword="path") or arg(call, keyword="rule"))
            if path is None or not path.startswith("/") and path != "":
                continue
            owner = ctx.resolve(call.func.value) or ""
            if owner.startswith(("click", "typer", "pytest", "celery", "functools")):
                continue
            framework = _framework_of(ctx)
            return Handler(func, framework, _methods_from(call, last), path, owner, tuple(n for n, _ in names))
        if custom and (name in custom or last in custom):
            path = string_value(arg(call, 0)) if call is not None else None
            methods = _methods_from(call, last) if call is not None else frozenset()
            return Handler(func, "custom", methods, path, None, tuple(n for n, _ in names))
    return None


def _framework_of(ctx: FileContext) -> str:
    for module, name in (("fastapi", "fastapi"), ("flask", "flask"), ("quart", "flask"), ("aiohttp", "aiohttp"),
                         ("starlette", "starlette"), ("sanic", "sanic"), ("django", "django")):
        if ctx.imported(module):
            return name
    return "unknown"


def class_handler_framework(ctx: FileContext, cls: cst.ClassDef) -> str | None:
    """The framework a class-based view belongs to, or None if the class is no handler."""
    custom = _configured(ctx, "base-classes")
    for base in cls.bases:
        name = ctx.resolve(base.value) or ""
        if name in HANDLER_BASES:
            return HANDLER_BASES[name]
        if name.startswith((DRF_GENERIC_PREFIX, DRF_VIEWSET_PREFIX)) or name.startswith("rest_framework.mixins."):
            return "drf"
        if name.startswith("django.views.generic."):
            return "django"
        if custom and (name in custom or name.rsplit(".", 1)[-1] in custom):
            return "custom"
    return None


def handler_for(ctx: FileContext, func: cst.FunctionDef, cls: cst.ClassDef | None = None) -> Handler | None:
    """The handler ``func`` is, or None. ``cls`` is the class it is defined in, if any.

    Memoised per file, so every rule can ask freely.
    """
    key = ("handler", id(func))
    if key in ctx.cache:
        return ctx.cache[key]
    handler = _detect(ctx, func, cls)
    ctx.cache[key] = handler
    return handler


def _detect(ctx: FileContext, func: cst.FunctionDef, cls: cst.ClassDef | None) -> Handler | None:
    names = [_decorator_info(ctx, d) for d in func.decorators]
    found = _route_from_decorators(ctx, func, names)
    if found is not None:
        return found
    params = [p.name.value for p in func.params.params]
    if cls is not None:
        framework = class_handler_framework(ctx, cls)
        if framework is None or len(params) < 1:
            return None
        verb = func.name.value
        if verb in HTTP_METHODS:
            return Handler(func, framework, frozenset({verb}), None, cls.name.value, tuple(n for n, _ in names))
        if framework == "drf" and verb in VIEWSET_ACTIONS:
            return Handler(func, framework, frozenset({VIEWSET_ACTIONS[verb]}), None, cls.name.value, tuple(n for n, _ in names))
        if any(n.startswith("rest_framework.decorators.action") for n, _ in names):
            return Handler(func, framework, frozenset({"get"}), None, cls.name.value, tuple(n for n, _ in names))
        return None
    if params and params[0] == "request":
        if ctx.imported("django") and is_views_module(ctx.path):
            return Handler(func, "django", frozenset(), None, None, tuple(n for n, _ in names))
        if ctx.imported("aiohttp") and func.asynchronous is not None:
            return Handler(func, "aiohttp", frozenset(), None, None, tuple(n for n, _ in names))
    return None


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


def app_framework(ctx: FileContext, call: cst.Call) -> str | None:
    """The framework when ``call`` creates an application object (``Flask(__name__)``)."""
    return APP_CONSTRUCTORS.get(ctx.resolve(call.func) or "")


def router_framework(ctx: FileContext, call: cst.Call) -> str | None:
    return ROUTER_CONSTRUCTORS.get(ctx.resolve(call.func) or "")


class Routes(Collector):
    """Facts ``routes``: every route a file declares, as {path, methods, framework, handler}.

    Facts ``apps``: every application object created, as {framework, name}.
    """

    name = "routes"
    triggers = ("route", "get", "post", "path", "View", "Resource", "add_", "api_view", "Flask", "FastAPI",
                "Starlette", "Application", "Sanic", "Quart")

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
        if name in URL_PATTERN_FUNCS:
            path = string_value(arg(node, 0) or arg(node, keyword="path") or arg(node, keyword="route"))
            if path is not None:
                self.record({"path": path, "methods": [], "framework": URL_PATTERN_FUNCS[name],
                             "handler": _handler_name(arg(node, 1) or arg(node, keyword="endpoint")), "owner": None}, node)
            return
        last = name.rsplit(".", 1)[-1]
        if last in REGISTRATION_ATTRS and isinstance(node.func, cst.Attribute):
            path = string_value(arg(node, 0) or arg(node, keyword="rule") or arg(node, keyword="path"))
            if path is not None and path.startswith("/"):
                verb = last[4:] if last.startswith("add_") and last[4:] in HTTP_METHODS else None
                self.record({"path": path, "methods": [verb] if verb else [], "framework": REGISTRATION_ATTRS[last],
                             "handler": _handler_name(arg(node, 1) or arg(node, keyword="view_func") or arg(node, keyword="endpoint")),
                             "owner": self.ctx.resolve(node.func.value)}, node)


def _assigned_name(ctx: FileContext) -> str | None:
    parent = ctx.parent()
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        target = parent.targets[0].target
        if isinstance(target, cst.Name):
            return target.value
    if isinstance(parent, cst.AnnAssign) and isinstance(parent.target, cst.Name):
        return parent.target.value
    return None


def _handler_name(node: cst.CSTNode | None) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    if isinstance(node, cst.Call):
        return _handler_name(node.func.value if isinstance(node.func, cst.Attribute) else node.func)
    return None


def route_paths(facts: Iterable) -> list[str]:
    return [f.data["path"] for f in facts if f.data.get("path") is not None]
