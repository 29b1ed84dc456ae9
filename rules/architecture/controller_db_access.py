from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from checker.syntax import walk
from rules._shared.db import DbCall, db_calls_in
from rules._shared.layers import layers_from_settings
from rules._shared.web import Handler, handler_for, words_of

# Calls that are not the controller talking to the database itself.
FRAMEWORK_SHORTCUTS = ("django.shortcuts.get_object_or_404", "django.shortcuts.get_list_or_404",
                       "django.shortcuts.aget_object_or_404", "django.shortcuts.aget_list_or_404")
# Health checks probe the database on purpose.
HEALTH_WORDS = frozenset({"health", "healthz", "healthcheck", "readiness", "readyz", "ready", "liveness", "livez",
                          "ping", "heartbeat"})
# Hooks of Django and DRF class-based views: the documented place for query configuration.
VIEW_HOOK_PREFIXES = ("get_", "perform_", "filter_", "paginate_", "form_", "dispatch", "initial", "setup")


class _LocalCalls(cst.CSTVisitor):
    """Names of module functions (``helper(...)``) and own methods (``self.helper(...)``)
    a function calls."""

    def __init__(self, root: cst.FunctionDef) -> None:
        super().__init__()
        self.root = root
        self.functions: set[str] = set()
        self.methods: set[str] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.root

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name):
            self.functions.add(func.value)
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in ("self", "cls"):
            self.methods.add(func.attr.value)


class ControllerDbAccess(FileRule):
    """
    ## What it does
    Finds request handlers that talk to the database themselves: Django ORM managers and
    querysets, SQLAlchemy sessions (`db.session`, `session.execute/scalars/query`, SQLModel
    `session.exec`), `Model.query`, DB-API cursors and connections, asyncpg, MongoDB
    collections. Helper functions of the same controller module that a handler calls are
    followed. The finding names the handler, the database call, and the layer that should
    own it.

    Controllers are the handlers found by the shared handler detection (route decorators,
    Django and DRF views and viewsets, aiohttp and Starlette handlers, Flask-RESTful
    resources, configured `[tool.checker.handlers]`). When `[tool.checker.layers]` is
    configured, every function of the first (outermost) layer counts as a controller.

    A handler that calls a service or a repository — anything outside its own module — is
    quiet, whatever that code does; so are health-check handlers, which probe the database
    on purpose.

    Django idioms that are not counted: `get_object_or_404`/`get_list_or_404` (the view
    layer's own shortcut for turning a missing row into a 404), class attributes such as a
    DRF `ModelViewSet`'s `queryset = Order.objects.all()` (declarative configuration the
    framework runs), and the generic views' hooks (`get_queryset`, `perform_create`,
    `get_object`...), which are the documented place for that configuration.

    ## Why is this bad?
    Queries in handlers tie HTTP code to the storage schema: the same query gets copied into
    every endpoint that needs it, business rules end up split between handlers, and the
    logic cannot be tested or reused without a web request. A repository (or a service
    calling one) gives data access a single home.

    ## Known limits
    Calls into other modules are not followed, so a handler that calls a "service" living in
    the same views module is judged by that helper's code. Queries built in the handler but
    executed elsewhere are seen only where the database is actually touched.
    """

    slug = "controller-db-access"
    checklist = "Direct database access from controllers; repository pattern for data access; service layer for business logic"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "A request handler queries the database itself instead of going through a repository or service"
    triggers = ("objects", "session", "query", "cursor", "execute", "fetch", "scalars", "save", "delete",
                "insert_one", "find_one", "find(", "update", "_manager", "Session", "exec(", "read_sql")
    bad = (
        Example(
            "from flask import Blueprint, jsonify\n\n"
            "from app.extensions import db\n"
            "from app.models import Order\n\n"
            "bp = Blueprint('orders', __name__)\n\n"
            "@bp.get('/orders/<int:order_id>')\n"
            "def show_order(order_id):\n"
            "    order = db.session.get(Order, order_id)  # flagged\n"
            "    return jsonify(order.to_dict())\n",
            path="app/orders/routes.py",
        ),
        Example(
            "from django.http import JsonResponse\n"
            "from django.views.decorators.http import require_GET\n\n"
            "from .models import Invoice\n\n"
            "@require_GET\n"
            "def overdue(request):\n"
            "    rows = (Invoice.objects  # flagged\n"
            "            .filter(paid=False)\n"
            "            .values('id', 'due'))\n"
            "    return JsonResponse({'items': list(rows)})\n",
            path="billing/views.py",
        ),
    )
    good = (
        Example(
            "from flask import Blueprint, jsonify\n\n"
            "from app.services import orders as order_service\n\n"
            "bp = Blueprint('orders', __name__)\n\n"
            "@bp.get('/orders/<int:order_id>')\n"
            "def show_order(order_id):\n"
            "    order = order_service.get_order(order_id)\n"
            "    return jsonify(order.to_dict())\n",
            path="app/orders/routes.py",
        ),
        Example(
            "from rest_framework import viewsets\n\n"
            "from .models import Invoice\n"
            "from .serializers import InvoiceSerializer\n\n"
            "class InvoiceViewSet(viewsets.ModelViewSet):\n"
            "    queryset = Invoice.objects.select_related('customer').all()\n"
            "    serializer_class = InvoiceSerializer\n\n"
            "    def get_queryset(self):\n"
            "        return super().get_queryset().filter(owner=self.request.user)\n",
            path="billing/views.py",
        ),
    )

    def leave_Module(self, node: cst.Module) -> None:
        if self.ctx.is_test:
            return
        layers = layers_from_settings(self.ctx.settings)
        configured_controller = layers.configured and layers.layer_of(self.ctx.path) == layers.controllers
        functions: dict[str, cst.FunctionDef] = {}
        classes: list[cst.ClassDef] = []
        for stmt in node.body:
            if isinstance(stmt, cst.FunctionDef):
                functions[stmt.name.value] = stmt
            elif isinstance(stmt, cst.ClassDef):
                classes.append(stmt)
        controllers: list[tuple[cst.FunctionDef, Handler | None, cst.ClassDef | None]] = []
        for func in functions.values():
            handler = handler_for(self.ctx, func, None)
            if handler is not None or configured_controller and not func.name.value.startswith("_"):
                controllers.append((func, handler, None))
        for cls in classes:
            for item in cls.body.body:
                if isinstance(item, cst.FunctionDef):
                    handler = handler_for(self.ctx, item, cls)
                    if handler is not None or configured_controller and not item.name.value.startswith("_"):
                        controllers.append((item, handler, cls))
        if not controllers:
            return
        owner = layers.data_owner()
        reported: set[int] = set()
        for func, handler, cls in controllers:
            self.checked()
            if words_of(f"{func.name.value} {handler.path or '' if handler else ''}") & HEALTH_WORDS:
                continue
            label = handler.describe() if handler is not None else f"`{(cls.name.value + '.') if cls else ''}{func.name.value}`"
            calls = self._db_calls(func)
            if calls:
                first, found = calls[0]
                if id(first) in reported:
                    continue
                reported.add(id(first))
                more = f" (and {len(calls) - 1} more database call{'s' if len(calls) > 2 else ''})" if len(calls) > 1 else ""
                self.report(first, f"handler {label} runs {found.description} itself{more}: data access belongs in "
                                   f"the {owner} layer, called through a service",
                            related=[(c, "database call") for c, _ in calls[1:6]])
                continue
            # Helpers of the same module (or the same class) that the handler calls.
            for helper in self._helpers(func, functions, cls):
                helper_calls = self._db_calls(helper)
                if helper_calls:
                    first, found = helper_calls[0]
                    if id(first) in reported:
                        break
                    reported.add(id(first))
                    self.report(first, f"`{helper.name.value}`, called by handler {label} in this controller "
                                       f"module, runs {found.description}: data access belongs in the {owner} layer",
                                related=[(func.name, "handler")])
                    break

    def _db_calls(self, func: cst.FunctionDef) -> list[tuple[cst.Call, DbCall]]:
        key = ("controller-db-access", id(func))
        if key not in self.ctx.cache:
            calls = [(c, d) for c, d in db_calls_in(self.ctx, func)
                     if (self.ctx.resolve(c.func) or "") not in FRAMEWORK_SHORTCUTS]
            self.ctx.cache[key] = calls
        return self.ctx.cache[key]

    def _helpers(self, func: cst.FunctionDef, functions: dict[str, cst.FunctionDef],
                 cls: cst.ClassDef | None) -> list[cst.FunctionDef]:
        """Non-handler functions of this module (and methods of the handler's class) that
        the handler calls, two levels deep."""
        methods = {m.name.value: m for m in cls.body.body if isinstance(m, cst.FunctionDef)} if cls else {}
        seen: set[int] = {id(func)}
        out: list[cst.FunctionDef] = []
        frontier = [func]
        for _ in range(2):
            nxt: list[cst.FunctionDef] = []
            for f in frontier:
                walker = _LocalCalls(f)
                walk(f, walker)
                targets = [functions[n] for n in sorted(walker.functions) if n in functions]
                targets += [methods[n] for n in sorted(walker.methods) if n in methods]
                for t in targets:
                    if t in methods.values() and t.name.value.startswith(VIEW_HOOK_PREFIXES):
                        continue
                    if id(t) in seen or handler_for(self.ctx, t, cls if t in methods.values() else None) is not None:
                        continue
                    seen.add(id(t))
                    out.append(t)
                    nxt.append(t)
            frontier = nxt
        return out
