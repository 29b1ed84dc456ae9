from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from rules._shared.db import QueryNames
from rules._shared.web import current_handler, string_value

SLUG = "unpaginated-list-endpoint"
# Functions whose result is a number or flag, however large their argument.
SCALAR_FUNCS = frozenset({"len", "sum", "bool", "any", "all", "max", "min", "int", "float", "round", "abs", "next",
                          "count", "exists", "first", "get"})
# Calls that show the handler pages its results.
PAGINATION_CALLS = re.compile(r"(?:^|\.)(?:Paginator|paginate|paginate_queryset|get_paginated_response|"
                              r"LimitOffsetPagination|PageNumberPagination|CursorPagination|paginated|page_of|"
                              r"paginate_query|Page)$")
DJANGO_LIST_VIEWS = frozenset({"django.views.generic.ListView", "django.views.generic.list.ListView",
                               "django.views.generic.list.BaseListView"})
DRF_LIST_BASES = frozenset({
    "rest_framework.generics.ListAPIView", "rest_framework.generics.ListCreateAPIView",
    "rest_framework.viewsets.ModelViewSet", "rest_framework.viewsets.ReadOnlyModelViewSet",
    "rest_framework.mixins.ListModelMixin",
})
LOOKUP_TABLE = re.compile(r"(?:Type|Kind|Status|Category|Categories|Setting|Settings|Config|Configuration|Choice|"
                          r"Option|Country|Countries|Currency|Currencies|Language|Locale|Role|Permission|Flag|Tag)$")


class UnpaginatedListEndpoint(ProjectRule):
    """
    ## What it does
    Finds list endpoints that return a whole table:

    * a request handler (Flask, FastAPI, Django, DRF, aiohttp...) whose response carries
      the rows of an unbounded query: `Model.objects.all()`/`filter(...)`,
      `Model.query.all()`, `session.query(X).all()`, `session.scalars(select(X)).all()`,
      serialised whole (`jsonify`, `JsonResponse`, `Serializer(..., many=True)`, a list
      comprehension, a template context), directly or through local variables;
    * a Django `ListView` without `paginate_by`;
    * a DRF list view or viewset (`ListAPIView`, `ListCreateAPIView`, `ModelViewSet`,
      `ReadOnlyModelViewSet`, `ListModelMixin`) with no `pagination_class` when the
      settings declare no `DEFAULT_PAGINATION_CLASS`, or with `pagination_class = None`.

    A query that is sliced (`[:50]`), `limit()`ed, `paginate()`d or handed to a paginator
    (`Paginator`, `paginate_queryset`, fastapi-pagination) is bounded, and detail views
    return one row; neither is reported.

    ## Why is this bad?
    The response grows with the table: fine with a hundred rows, a multi-megabyte
    response, seconds of serialisation and a memory spike with a million. Clients cannot
    page, and one request can take a worker down.

    ## Known limits
    Queries built in other functions (a repository returning `.all()`) are not followed.
    Pagination inherited from a project base class or mixin (`paginate_by`,
    `get_paginate_by`, `pagination_class`) is found by class name across files.
    Models named like small lookup tables (`...Type`, `...Status`, `Category`, `Country`,
    `Tag`...) are taken to be small.
    """

    slug = SLUG
    checklist = "Implement pagination for list endpoints"
    section = Section.PERFORMANCE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "A list endpoint returns an unbounded collection"
    triggers = ("objects", "query", "select", "scalars", "ListView", "ListAPIView", "ViewSet", "ListModelMixin",
                "REST_FRAMEWORK", "execute", "paginat")
    bad = (
        Example(
            "from flask import Flask, jsonify\n"
            "from .models import Order\n\n"
            "app = Flask(__name__)\n\n"
            "@app.get('/orders')\n"
            "def orders():\n"
            "    rows = Order.query.order_by(Order.id.desc()).all()  # flagged\n"
            "    return jsonify([o.to_dict() for o in rows])\n",
            path="shop/app.py",
        ),
    )
    good = (
        Example(
            "from flask import Flask, jsonify, request\n"
            "from .models import Order\n\n"
            "app = Flask(__name__)\n\n"
            "@app.get('/orders')\n"
            "def orders():\n"
            "    page = Order.query.order_by(Order.id.desc()).paginate(page=request.args.get('page', 1, type=int), per_page=50)\n"
            "    return jsonify([o.to_dict() for o in page.items])\n\n"
            "@app.get('/orders/<int:oid>')\n"
            "def order(oid):\n"
            "    return jsonify(Order.query.get_or_404(oid).to_dict())\n\n"
            "@app.get('/orders/latest')\n"
            "def latest():\n"
            "    return jsonify([o.to_dict() for o in Order.query.order_by(Order.id.desc()).limit(20)])\n",
            path="shop/app.py",
        ),
    )

    def __init__(self, ctx=None) -> None:
        super().__init__(ctx)
        self.names = QueryNames(ctx) if ctx is not None else None
        self.frames: list[dict] = []

    # -- settings and class-based views ------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Name) and target.value == "REST_FRAMEWORK" and isinstance(node.value, cst.Dict):
                for el in node.value.elements:
                    if isinstance(el, cst.DictElement) and string_value(el.key) == "DEFAULT_PAGINATION_CLASS":
                        if not (isinstance(el.value, cst.Name) and el.value.value == "None"):
                            self.record({"t": "default-pagination"}, node)
            elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and \
                    target.value.value == "REST_FRAMEWORK" and "DEFAULT_PAGINATION_CLASS" in self.ctx.code_of(target):
                self.record({"t": "default-pagination"}, node)
        frame = self.frames[-1] if self.frames else None
        for t in node.targets:
            self.names.assign(t.target, node.value)
            if frame is not None and isinstance(t.target, cst.Name):
                origin = self._origin(node.value, frame)
                if origin is not None:
                    frame["unbounded"][t.target.value] = origin
                else:
                    frame["unbounded"].pop(t.target.value, None)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if self.ctx.is_test:
            return
        bases = {self.ctx.resolve(b.value) or "" for b in node.bases}
        attrs: dict[str, cst.BaseExpression] = {}
        methods: set[str] = set()
        for stmt in node.body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
                        attrs[small.targets[0].target.value] = small.value
            elif isinstance(stmt, cst.FunctionDef):
                methods.add(stmt.name.value)
        base_names = sorted({b.rsplit(".", 1)[-1] for b in bases if b})
        pagination = attrs.get("pagination_class")
        paginates = "paginate_by" in attrs or "get_paginate_by" in methods or "paginate_queryset" in methods or (
            pagination is not None and not (isinstance(pagination, cst.Name) and pagination.value == "None"))
        if node.bases or paginates:
            # Every class with bases (and every paginating mixin), so that inherited pagination is seen.
            self.record({"t": "class", "name": node.name.value, "bases": base_names, "paginates": paginates}, node)
        if bases & DJANGO_LIST_VIEWS:
            self.checked()
            if not paginates and "get" not in methods:  # an own ``get`` may not list anything
                self.record({"t": "listview", "name": node.name.value, "model": self._model_of(attrs),
                             "bases": base_names}, node)
        elif bases & DRF_LIST_BASES:
            self.checked()
            state = "absent" if pagination is None else "none" if isinstance(pagination, cst.Name) and \
                pagination.value == "None" else "set"
            if state != "set" and "list" not in methods and "paginate_queryset" not in methods:
                self.record({"t": "drf", "name": node.name.value, "state": state, "model": self._model_of(attrs),
                             "bases": base_names}, node)

    def _model_of(self, attrs: dict[str, cst.BaseExpression]) -> str | None:
        model = attrs.get("model")
        if isinstance(model, (cst.Name, cst.Attribute)):
            return (self.ctx.resolve(model) or "").rsplit(".", 1)[-1]
        desc = self.names.describe(attrs.get("queryset")) if attrs.get("queryset") is not None else None
        return desc.model if desc is not None else None

    # -- handlers ---------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.enter()
        handler = None if self.ctx.is_test else current_handler(self.ctx, node)
        self.frames.append({"handler": handler, "func": node, "unbounded": {}, "found": [], "paged": False})

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.leave()
        frame = self.frames.pop()
        if frame["handler"] is None or not frame["found"]:
            return
        if frame["paged"]:
            return
        for origin, ret, model in frame["found"]:
            self.record({"t": "handler", "name": frame["handler"].name, "model": model,
                         "query": " ".join(self.ctx.code_of(origin).split())[:80]}, origin)

    def visit_Call(self, node: cst.Call) -> None:
        if not self.frames or self.frames[-1]["handler"] is None:
            return
        name = self.ctx.resolve(node.func) or ""
        if PAGINATION_CALLS.search(name):
            self.frames[-1]["paged"] = True

    def visit_Return(self, node: cst.Return) -> None:
        if not self.frames or node.value is None:
            return
        frame = self.frames[-1]
        if frame["handler"] is None or self.ctx.enclosing_function() is not frame["func"]:
            return
        self.checked()
        origin = self._origin(node.value, frame)
        if origin is not None:
            desc = self.names.describe(origin)
            frame["found"].append((origin, node, desc.model if desc is not None else None))

    def _origin(self, expr: cst.BaseExpression | None, frame: dict) -> cst.Call | None:
        """The unbounded query call ``expr`` carries the rows of, if any."""
        if expr is None:
            return None
        if isinstance(expr, cst.Name):
            return frame["unbounded"].get(expr.value)
        if isinstance(expr, cst.Call):
            desc = self.names.describe(expr)
            if desc is not None:
                if desc.orm in ("django", "sqlalchemy") and desc.model is not None and desc.is_collection \
                        and not desc.limited and "paginate" not in desc.methods:
                    return expr
                return None
            fname = (self.ctx.resolve(expr.func) or "").rsplit(".", 1)[-1]
            if fname in SCALAR_FUNCS:
                return None
            if isinstance(expr.func, cst.Attribute):
                found = self._origin(expr.func.value, frame)
                if found is not None:
                    return found
            for a in expr.args:
                found = self._origin(a.value, frame)
                if found is not None:
                    return found
            return None
        if isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return self._origin(expr.for_in.iter, frame)
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for el in expr.elements:
                found = self._origin(el.value, frame)
                if found is not None:
                    return found
            return None
        if isinstance(expr, cst.Dict):
            for el in expr.elements:
                if isinstance(el, (cst.DictElement, cst.StarredDictElement)):
                    found = self._origin(el.value, frame)
                    if found is not None:
                        return found
            return None
        if isinstance(expr, cst.Attribute):
            return self._origin(expr.value, frame)
        if isinstance(expr, cst.Subscript):
            sl = expr.slice[0].slice if expr.slice else None
            if isinstance(sl, cst.Slice) and sl.upper is not None:
                return None
            if not isinstance(sl, cst.Slice):
                return None  # one element
            return self._origin(expr.value, frame)
        if isinstance(expr, cst.Await):
            return self._origin(expr.expression, frame)
        return None

    # -- the project part --------------------------------------------------------------------
    def check(self, project: ProjectContext) -> None:
        facts = [f for f in project.facts(SLUG) if not project.is_test(f.path)]
        default = any(f.data["t"] == "default-pagination" for f in facts)
        classes: dict[str, list[dict]] = {}
        for f in facts:
            if f.data["t"] == "class":
                classes.setdefault(f.data["name"], []).append(f.data)

        def inherits_pagination(bases: list[str], seen: set[str]) -> bool:
            for base in bases:
                if base in seen:
                    continue
                seen.add(base)
                for cls in classes.get(base, ()):
                    if cls["paginates"] or inherits_pagination(cls["bases"], seen):
                        return True
            return False

        for fact in sorted(facts, key=lambda f: (f.path, f.line)):
            data = fact.data
            model = data.get("model") or ""
            if model and LOOKUP_TABLE.search(model):
                continue
            if data["t"] == "handler":
                self.report_at(fact.path, fact.line,
                               f"handler `{data['name']}` returns every row of `{data['query']}` unpaginated; "
                               "slice or `limit()` it, or page it with a paginator")
            elif data["t"] in ("listview", "drf") and inherits_pagination(data.get("bases", []), set()) and \
                    data.get("state") != "none":
                continue
            elif data["t"] == "listview":
                self.report_at(fact.path, fact.line,
                               f"`{data['name']}` lists every row with no `paginate_by`; set `paginate_by` to page it")
            elif data["t"] == "drf":
                if data["state"] == "none":
                    self.report_at(fact.path, fact.line,
                                   f"`{data['name']}` turns pagination off (`pagination_class = None`) on a list endpoint; "
                                   "set a pagination class")
                elif not default:
                    self.report_at(fact.path, fact.line,
                                   f"`{data['name']}` lists every row: it has no `pagination_class` and the settings declare "
                                   "no `DEFAULT_PAGINATION_CLASS`; set one of them")
