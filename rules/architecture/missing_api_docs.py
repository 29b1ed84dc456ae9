from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from rules._shared.web import arg, current_handler, framework_family, responses_in, status_code

# Imports that produce or serve an OpenAPI document.
OPENAPI_MODULES = ("apispec", "flasgger", "flask_smorest", "flask_restx", "flask_restplus", "flask_openapi3",
                   "spectree", "apiflask", "drf_spectacular", "drf_yasg", "rest_framework.schemas", "ninja",
                   "connexion", "aiohttp_apispec", "aiohttp_swagger", "aiohttp_pydantic", "flask_pydantic_spec",
                   "pyramid_openapi3", "openapi_core", "starlette.schemas", "apispec_webframeworks",
                   "django_ninja", "flask_swagger", "flask_swagger_ui", "flask_apispec", "fastapi")
SPEC_NAME = re.compile(r"(?:^|/)(?:openapi|swagger|api[-_]?spec|spec)[^/]*\.(?:ya?ml|json)$", re.IGNORECASE)
SPEC_CANDIDATE = re.compile(r"(?:api|spec|schema|openapi|swagger)[^/]*\.(?:ya?ml|json)$", re.IGNORECASE)
SPEC_HEAD = re.compile(r"""^\s*["']?(?:openapi|swagger)["']?\s*:""", re.MULTILINE)
# ``dict[str, Any]``-style annotations document nothing about the body.
LOOSE_GENERIC = re.compile(r"^(?:typing\.)?(?:dict|Dict|Mapping|List|list)\[.*\bAny\]$")
LOOSE_ANNOTATIONS = frozenset({"Any", "typing.Any", "dict", "Dict", "typing.Dict", "object", "JSONResponse",
                               "fastapi.responses.JSONResponse", "starlette.responses.JSONResponse"})
FAMILY_NAMES = {"flask": "Flask", "django": "Django", "aiohttp": "aiohttp", "asgi": "Starlette"}


class MissingApiDocs(ProjectRule):
    """
    ## What it does
    Checks that the HTTP API is described by OpenAPI:

    * a Flask, Django, aiohttp or Starlette application with JSON endpoints (at least
      `min-routes`, default 3) and no OpenAPI source: no spec file (`openapi.yaml`,
      `swagger.json`, any YAML/JSON document starting with `openapi:`/`swagger:`) and no
      generator (apispec, flasgger, flask-smorest, Flask-RESTX, APIFlask, spectree,
      drf-spectacular, drf-yasg, DRF schemas, django-ninja, connexion, aiohttp-apispec);
    * FastAPI routes, whose schema is generated, that lack a response model
      (`response_model=`, a return annotation other than `Any`/`dict`, or a `response_class`)
      or a description (a docstring, `summary=` or `description=`). Routes hidden with
      `include_in_schema=False` (on the route or on its router) and 204 routes without a
      body need no model.

    HTML-only Django or Flask sites (views that render templates) are not judged.

    ## Why is this bad?
    Clients, front-end teams and tests need to know what each endpoint accepts and
    returns. Without a machine-readable contract, the API is learned by reading code and
    breaks silently when a field changes; generated client code and contract tests are
    impossible.

    ## Known limits
    A spec maintained in another repository is not seen. Whether the spec is *accurate*
    (matches the code) is not checked.
    """

    slug = "missing-api-docs"
    checklist = "API documentation (OpenAPI) complete and accurate"
    section = Section.ARCHITECTURE
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "The HTTP API has no OpenAPI description (or FastAPI routes lack models and descriptions)"
    options = {"min-routes": 3}
    bad = (
        Example(
            "from fastapi import APIRouter\n\n"
            "from app.schemas import Order\n"
            "from app.services import orders\n\n"
            "router = APIRouter(prefix='/orders')\n\n"
            "@router.get('/{order_id}', response_model=Order)\n"
            "def get_order(order_id: int):\n"
            "    \"\"\"One order with its lines.\"\"\"\n"
            "    return orders.get(order_id)\n\n"
            "@router.get('/')  # flagged\n"
            "def list_orders():\n"
            "    return orders.list_all()\n",
            path="app/api/orders.py",
        ),
    )
    good = (
        Example(
            "from fastapi import APIRouter\n\n"
            "from app.schemas import Order\n"
            "from app.services import orders\n\n"
            "router = APIRouter(prefix='/orders')\n\n"
            "@router.get('/{order_id}', response_model=Order)\n"
            "def get_order(order_id: int):\n"
            "    \"\"\"One order with its lines.\"\"\"\n"
            "    return orders.get(order_id)\n\n"
            "@router.get('/', summary='All open orders')\n"
            "def list_orders() -> list[Order]:\n"
            "    return orders.list_all()\n\n"
            "@router.get('/_debug', include_in_schema=False)\n"
            "def debug():\n"
            "    return {}\n",
            path="app/api/orders.py",
        ),
    )

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self._source(self.ctx.code_of(alias.name), node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.module is not None and not node.relative:
            module = self.ctx.code_of(node.module)
            self._source(module, node)
            if not isinstance(node.names, cst.ImportStar):
                for alias in node.names:
                    self._source(f"{module}.{self.ctx.code_of(alias.name)}", node)

    def _source(self, module: str, node: cst.CSTNode) -> None:
        if self.ctx.is_test or module.split(".")[0] == "fastapi":
            return
        if any(module == m or module.startswith(m + ".") for m in OPENAPI_MODULES):
            self.record({"source": module}, node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        handler = current_handler(self.ctx, node)
        if handler is None:
            return
        family = framework_family(handler.framework)
        if handler.framework == "fastapi" and handler.route_call is not None:
            self._fastapi(node, handler)
            return
        json = handler.framework in ("drf",) or any(r.kind in ("json", "exception") for r in responses_in(self.ctx, node))
        self.record({"family": family, "json": json, "framework": handler.framework}, node.name)

    def _fastapi(self, node: cst.FunctionDef, handler) -> None:
        call = handler.route_call
        include = arg(call, keyword="include_in_schema")
        if isinstance(include, cst.Name) and include.value == "False" or self._hidden_router(call):
            return
        if (handler.path or "").rstrip("/").rsplit("/", 1)[-1] in ("health", "healthz", "ready", "readyz", "livez",
                                                                   "ping", "metrics"):
            return
        missing = []
        has_model = arg(call, keyword="response_model") is not None or arg(call, keyword="response_class") is not None
        if not has_model and node.returns is not None:
            annotation = node.returns.annotation
            text = self.ctx.resolve(annotation) if isinstance(annotation, (cst.Name, cst.Attribute)) else None
            shown = text or self.ctx.code_of(annotation).strip()
            if shown == "None":
                has_model = False  # fine only for 204 routes, checked below
            elif shown in LOOSE_ANNOTATIONS or LOOSE_GENERIC.match(shown):
                has_model = False
            else:
                has_model = True  # a model, a list of models, or a response class
        if not has_model and status_code(self.ctx, arg(call, keyword="status_code")) == 204:
            has_model = True
        if not has_model:
            missing.append("a response model (`response_model=` or a return annotation)")
        described = node.get_docstring() is not None or arg(call, keyword="summary") is not None \
            or arg(call, keyword="description") is not None
        if not described:
            missing.append("a description (docstring or `summary=`)")
        self.record({"fastapi": handler.describe(), "missing": missing}, call)

    def _hidden_router(self, call: cst.Call) -> bool:
        """Whether the route's router is built with ``include_in_schema=False`` in this file."""
        if not isinstance(call.func, cst.Attribute) or not isinstance(call.func.value, cst.Name):
            return False
        key = ("missing-api-docs.hidden-routers",)
        if key not in self.ctx.cache:
            hidden: set[str] = set()
            for stmt in self.ctx.module.body:
                if isinstance(stmt, cst.SimpleStatementLine):
                    for small in stmt.body:
                        if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                            flag = arg(small.value, keyword="include_in_schema")
                            if isinstance(flag, cst.Name) and flag.value == "False":
                                hidden.update(t.target.value for t in small.targets if isinstance(t.target, cst.Name))
            self.ctx.cache[key] = hidden
        return call.func.value.value in self.ctx.cache[key]

    def check(self, project: ProjectContext) -> None:
        facts = [f for f in project.facts(self.slug) if not project.is_test(f.path)]
        min_routes = int(self.opts["min-routes"])
        for f in facts:
            if "fastapi" in f.data:
                self.checked()
                if f.data["missing"]:
                    self.report_at(f.path, f.line, f"FastAPI route {f.data['fastapi']} lacks "
                                                   f"{' and '.join(f.data['missing'])}: the generated OpenAPI "
                                                   "document cannot tell clients what it returns")
        json_routes: dict[str, int] = {}
        for f in facts:
            if f.data.get("json"):
                json_routes[f.data["family"]] = json_routes.get(f.data["family"], 0) + 1
        # DRF viewsets registered on a router answer JSON through inherited actions.
        for f in project.facts("routes"):
            if f.data.get("framework") == "drf" and f.data.get("path") is not None and not project.is_test(f.path):
                json_routes["django"] = json_routes.get("django", 0) + 1
        judged = {family for family, count in json_routes.items() if count >= min_routes and family in FAMILY_NAMES}
        if not judged:
            return
        self.checked(len(judged))
        if any("source" in f.data for f in facts) or self._spec_file(project):
            return
        anchors: dict[str, tuple[str, int]] = {}
        for f in sorted(project.facts("apps"), key=lambda f: (f.path, f.line)):
            if not project.is_test(f.path):
                anchors.setdefault(framework_family(f.data.get("framework")), (f.path, f.line))
        for f in sorted(project.facts("urlconfs"), key=lambda f: (f.path, f.line)):
            if not project.is_test(f.path):
                anchors.setdefault("django", (f.path, f.line))
        for f in sorted(project.facts("routers"), key=lambda f: (f.path, f.line)):
            if not project.is_test(f.path):
                anchors.setdefault(framework_family(f.data.get("framework")), (f.path, f.line))
        first_route: dict[str, tuple[str, int]] = {}
        for f in sorted(facts, key=lambda f: (f.path, f.line)):
            if f.data.get("json"):
                first_route.setdefault(f.data["family"], (f.path, f.line))
        for family in sorted(judged):
            path, line = anchors.get(family) or first_route[family]
            self.report_at(path, line, f"this {FAMILY_NAMES[family]} API has {json_routes[family]} JSON endpoints and "
                                       "no OpenAPI description: add a spec file or generate one (apispec, flask-smorest, "
                                       "drf-spectacular...)")

    @staticmethod
    def _spec_file(project: ProjectContext) -> bool:
        for f in project.files:
            if f.language not in ("yaml", "json"):
                continue
            if SPEC_NAME.search(f.path):
                return True
            if SPEC_CANDIDATE.search(f.path) and f.size < 2_000_000:
                head = (project.read_text(f.path) or "")[:2000]
                if SPEC_HEAD.search(head):
                    return True
        return False
