from __future__ import annotations

from checker.model import Confidence, Example, Location, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from rules._shared.layers import ModuleIndex, layers_from_settings, module_name, module_parts

# Objects of the web framework's request cycle: only the controllers layer should touch them.
WEB_OBJECTS = {
    "flask.request": "Flask's request object", "flask.session": "Flask's session",
    "flask.jsonify": "Flask's response helper", "flask.make_response": "Flask's response helper",
    "quart.request": "Quart's request object",
    "fastapi.Request": "FastAPI's Request", "starlette.requests.Request": "Starlette's Request",
    "fastapi.responses.JSONResponse": "FastAPI's JSONResponse", "starlette.responses.JSONResponse": "Starlette's JSONResponse",
    "django.http.HttpRequest": "Django's HttpRequest", "django.http.JsonResponse": "Django's JsonResponse",
    "django.http.HttpResponse": "Django's HttpResponse", "django.http.request.HttpRequest": "Django's HttpRequest",
    "rest_framework.request.Request": "DRF's Request", "rest_framework.response.Response": "DRF's Response",
    "aiohttp.web.Request": "aiohttp's Request", "aiohttp.web.json_response": "aiohttp's response helper",
}


class LayerViolation(ProjectRule):
    """
    ## What it does
    Checks every import against the layer order, outermost first: controllers -> services
    -> repositories -> models. A module may import its own layer and the layers below it;
    importing a layer above it is reported (a repository importing a controller, models
    importing services, a service importing a view). Modules outside the inner layers that
    import the web framework's request-cycle objects are reported too (a service doing
    `from flask import request`, a repository returning a `JsonResponse`).

    Layers come from `[tool.checker.layers]` (ordered `layer = [globs]`, path globs such
    as `app/api/**` or dotted globs such as `app.services.*`); without it, from folder and
    module names (controllers: controllers, routes, views, api, endpoints, handlers...;
    services: services, use_cases; repositories: repositories, crud, dal, dao; models:
    models, entities, schemas). Relative imports are resolved from the file's location.
    The finding names both modules, their layers and the import line.

    ## Why is this bad?
    The point of layers is that inner code does not know the outer code: business rules can
    be tested without HTTP, storage can change without touching handlers. An upward import
    breaks that silently — and usually ends in circular imports and code that can only run
    inside a web request.

    ## Known limits
    Imports inside functions count like module-level ones. Dynamic imports and
    attribute access through an imported package (`import app; app.api.x`) are not
    followed. Modules outside any layer are not judged. Without configured layers, a module
    that declares routes or creates the application counts as a controller whatever its
    folder is called.
    """

    slug = "layer-violation"
    checklist = "Proper separation of concerns; clean or hexagonal architecture"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    summary = "A module imports from a layer above it (or the web framework's request objects)"
    bad = (
        Example(
            "from sqlalchemy import select\n\n"
            "from app.api.orders import serialize_order  # flagged\n"
            "from app.models import Order\n\n"
            "def find_order(session, order_id):\n"
            "    order = session.scalars(select(Order).where(Order.id == order_id)).first()\n"
            "    return serialize_order(order) if order else None\n",
            path="app/repositories/orders.py",
        ),
        Example(
            "from flask import request  # flagged\n\n"
            "from app.repositories import orders as repo\n\n"
            "def current_orders():\n"
            "    return repo.orders_for(request.args['customer'])\n",
            path="app/services/orders.py",
        ),
    )
    good = (
        Example(
            "from flask import Blueprint, jsonify, request\n\n"
            "from app.services import orders as order_service\n\n"
            "bp = Blueprint('orders', __name__)\n\n"
            "@bp.get('/orders')\n"
            "def list_orders():\n"
            "    return jsonify(order_service.orders_for(request.args['customer']))\n",
            path="app/api/orders.py",
        ),
    )

    def check(self, project: ProjectContext) -> None:
        paths = [f.path for f in project.files if f.language == "python"]
        layers = layers_from_settings(project.settings, paths)
        index = ModuleIndex(paths)
        # Without configured layers, a module that declares routes or creates the app is a
        # controller whatever its folder is called (a service's ``service/main.py``).
        python_files = set(paths)
        web_files = set() if layers.configured else {
            f.path for key in ("routes", "apps", "routers") for f in project.facts(key)}

        def layer_of(path: str) -> str | None:
            return layers.controllers if path in web_files else layers.layer_of(path)

        def target_layer(path: str) -> str | None:
            # A module called ``endpoints.py`` or ``api.py`` that declares no routes is often
            # no controller at all (protocol endpoints, a client API): trust its name only
            # when it serves requests or its folder says so.
            if path in web_files or layers.configured:
                return layer_of(path)
            found = layers.default_layer_and_source(path)
            if found is None:
                return None
            layer, source = found
            if layer == layers.controllers and source == "name" and path in python_files:
                return None
            return layer

        seen: set[tuple[str, int]] = set()
        for fact in project.facts("imports"):
            if project.is_test(fact.path):
                continue
            mine = layer_of(fact.path)
            if mine is None:
                continue
            self.checked()
            data = fact.data
            module, names = data["module"], data.get("names", [])
            if mine != layers.controllers:
                for name in [module] + [f"{module}.{n}" for n in names]:
                    if name in WEB_OBJECTS and (fact.path, fact.line) not in seen:
                        seen.add((fact.path, fact.line))
                        self.report_at(fact.path, fact.line,
                                       f"`{module_name(fact.path)}` ({mine} layer) imports {WEB_OBJECTS[name]} "
                                       f"(`{data['code']}`): only the {layers.controllers} layer should handle "
                                       "requests and responses; pass plain data in and out")
                        break
            targets = self._targets(index, fact.path, module, names, data.get("relative", False))
            for target_path, target_module in targets:
                if target_path == fact.path:
                    continue
                theirs = target_layer(target_path)
                if theirs is None or layers.index(theirs) >= layers.index(mine):
                    continue
                if (fact.path, fact.line) in seen:
                    break
                seen.add((fact.path, fact.line))
                self.report_at(
                    fact.path, fact.line,
                    f"`{module_name(fact.path)}` ({mine} layer) imports `{target_module}` ({theirs} layer) in "
                    f"`{data['code']}`: the {mine} layer must not depend on the {theirs} layer above it",
                    related=[Location(target_path, 1, f"{theirs} module")],
                )
                break

    @staticmethod
    def _targets(index: ModuleIndex, path: str, module: str, names: list[str], relative: bool) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for name, target in index.resolve_from(module, names, near=path) if names else \
                [("", t) for t in [index.resolve(module, near=path)] if t]:
            out.append((target, f"{module}.{name}" if name else module))
        if out:
            return out
        # Not a scanned file: judge by the name when it is clearly this project's package.
        own_root = module_parts(path)[0] if module_parts(path) else ""
        if relative or module.split(".", 1)[0] == own_root:
            for name in names or [""]:
                full = f"{module}.{name}" if name else module
                out.append((full.replace(".", "/") + ".py", full))
        return out
