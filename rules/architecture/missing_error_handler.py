from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from checker.syntax import walk
from rules._shared.web import _framework_of, arg, framework_family

HANDLER_DECORATORS = frozenset({"errorhandler", "app_errorhandler", "exception_handler", "error_handler"})
HANDLER_CALLS = frozenset({"register_error_handler", "add_exception_handler", "register_error_handlers",
                           "set_error_handler"})
# Extensions whose API object installs JSON error handlers on the app.
ERROR_HANDLING_APIS = {
    "flask_smorest.Api": "flask", "flask_restx.Api": "flask", "flask_restful.Api": "flask", "apiflask.APIFlask": "flask",
    "connexion.App": "flask", "connexion.FlaskApp": "flask", "connexion.AsyncApp": "asgi",
    "flask_restplus.Api": "flask",
}
DJANGO_HANDLERS = frozenset({"handler400", "handler403", "handler404", "handler500"})
FAMILY_NAMES = {"flask": "Flask", "asgi": "FastAPI/Starlette", "django": "Django", "aiohttp": "aiohttp"}
FIX = {
    "flask": "register `@app.errorhandler(Exception)` (and HTTPException) returning the API's error shape",
    "asgi": "register `@app.exception_handler(Exception)` returning the API's error shape",
    "django": "set `handler500`/`handler404` in the root URLconf, add exception middleware, or DRF's "
              "`EXCEPTION_HANDLER`",
    "aiohttp": "add an error middleware that turns exceptions into the API's error responses",
}


class MissingErrorHandler(ProjectRule):
    """
    ## What it does
    Reports a web application that registers no global error handler:

    * Flask/Quart: no `@app.errorhandler`/`@bp.app_errorhandler`/`register_error_handler`,
      and no extension that installs them (flask-smorest, Flask-RESTX/RESTful `Api`,
      APIFlask, connexion);
    * FastAPI/Starlette: no `@app.exception_handler`, `add_exception_handler`,
      `exception_handlers=` or exception-catching HTTP middleware;
    * Django (a project with `ROOT_URLCONF`): no `handler500`/`handler404` in a URLconf, no
      middleware with `process_exception`, no DRF `EXCEPTION_HANDLER`, no `500.html`
      template;
    * aiohttp: no middleware that catches exceptions.

    Applications with fewer routes than the `min-routes` option (default 3) are not judged,
    nor are libraries that only define blueprints or URL patterns.

    ## Why is this bad?
    Without a global handler, every unexpected exception reaches the client as the
    framework's default page: HTML for a JSON API, a different shape from the API's own
    errors, sometimes with internals. A single handler gives consistent, safe error
    responses and one place to log them.

    ## Known limits
    The check is per framework across the repository: several apps of the same framework
    pass together as soon as one registers a handler.
    """

    slug = "missing-error-handler"
    checklist = "Global error handlers and middleware; missing error handling middleware"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "The application registers no global error handler"
    options = {"min-routes": 3}
    triggers = ("errorhandler", "exception_handler", "error_handler", "handler500", "handler404", "process_exception",
                "EXCEPTION_HANDLER", "middleware", "ROOT_URLCONF", "Api(", "APIFlask", "connexion", "handler400",
                "handler403")
    bad = (
        Example(
            "from fastapi import FastAPI\n\n"
            "from shop.api import carts, orders, products\n\n"
            "app = FastAPI(title='shop')  # flagged\n"
            "app.include_router(carts.router)\n\n"
            "@app.get('/orders')\n"
            "def list_orders():\n"
            "    return orders.list_all()\n\n"
            "@app.get('/products')\n"
            "def list_products():\n"
            "    return products.list_all()\n\n"
            "@app.get('/healthz')\n"
            "def healthz():\n"
            "    return {'status': 'ok'}\n",
            path="shop/main.py",
        ),
    )
    good = (
        Example(
            "from fastapi import FastAPI, Request\n"
            "from fastapi.responses import JSONResponse\n\n"
            "from shop.api import orders, products\n\n"
            "app = FastAPI(title='shop')\n\n"
            "@app.exception_handler(Exception)\n"
            "async def unexpected(request: Request, exc: Exception):\n"
            "    return JSONResponse({'error': 'internal error'}, status_code=500)\n\n"
            "@app.get('/orders')\n"
            "def list_orders():\n"
            "    return orders.list_all()\n\n"
            "@app.get('/products')\n"
            "def list_products():\n"
            "    return products.list_all()\n\n"
            "@app.get('/healthz')\n"
            "def healthz():\n"
            "    return {'status': 'ok'}\n",
            path="shop/main.py",
        ),
    )

    def _family(self) -> str:
        return framework_family(_framework_of(self.ctx))

    def visit_Decorator(self, node: cst.Decorator) -> None:
        expr = node.decorator.func if isinstance(node.decorator, cst.Call) else node.decorator
        name = self.ctx.resolve(expr) or ""
        last = name.rsplit(".", 1)[-1]
        if last in HANDLER_DECORATORS and isinstance(expr, cst.Attribute):
            self.record({"handler": last, "family": self._family()}, node)
        elif isinstance(node.decorator, cst.Call) and last == "middleware":
            self._middleware_fact(node)
        elif name in ("aiohttp.web.middleware", "aiohttp.web_middlewares.middleware"):
            self._middleware_fact(node)

    def _middleware_fact(self, node: cst.Decorator) -> None:
        func = None
        for ancestor in self.ctx.ancestors():
            if isinstance(ancestor, cst.FunctionDef):
                func = ancestor
                break
        if func is not None and _catches_broadly(func):
            self.record({"handler": "middleware", "family": self._family()}, node)

    def visit_Call(self, node: cst.Call) -> None:
        name = self.ctx.resolve(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if last in HANDLER_CALLS and isinstance(node.func, cst.Attribute):
            self.record({"handler": last, "family": self._family()}, node)
        elif name in ERROR_HANDLING_APIS:
            self.record({"handler": name, "family": ERROR_HANDLING_APIS[name]}, node)
        elif arg(node, keyword="exception_handlers") is not None:
            self.record({"handler": "exception_handlers", "family": self._family()}, node)
        elif last == "add_middleware" and isinstance(node.func, cst.Attribute):
            middleware = self.ctx.resolve(arg(node, 0)) or ""
            if any(w in middleware.rsplit(".", 1)[-1] for w in ("Error", "Exception")):
                self.record({"handler": "middleware", "family": self._family()}, node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value == "process_exception":
            self.record({"handler": "process_exception", "family": "django"}, node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(self.ctx.stack) != 3:
            return
        for t in node.targets:
            if isinstance(t.target, cst.Name):
                if t.target.value in DJANGO_HANDLERS:
                    self.record({"handler": t.target.value, "family": "django"}, node)
                elif t.target.value == "ROOT_URLCONF":
                    self.record({"project": "django"}, node)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if isinstance(node.key, cst.SimpleString) and node.key.value.strip("'\"") == "EXCEPTION_HANDLER":
            self.record({"handler": "EXCEPTION_HANDLER", "family": "django"}, node)

    def check(self, project: ProjectContext) -> None:
        min_routes = int(self.opts["min-routes"])
        facts = [f for f in project.facts(self.slug) if not project.is_test(f.path)]
        handled = {f.data["family"] for f in facts if "handler" in f.data}
        if any(f.path.endswith(("templates/500.html", "templates/500.txt")) for f in project.files):
            handled.add("django")
        routes: dict[str, int] = {}
        for f in project.facts("routes"):
            if not project.is_test(f.path):
                family = framework_family(f.data.get("framework"))
                routes[family] = routes.get(family, 0) + 1
        anchors: dict[str, tuple[str, int]] = {}
        for f in sorted(project.facts("apps"), key=lambda f: (f.path, f.line)):
            if not project.is_test(f.path):
                anchors.setdefault(framework_family(f.data.get("framework")), (f.path, f.line))
        for f in sorted(facts, key=lambda f: (f.path, f.line)):
            if f.data.get("project") == "django":
                anchors.setdefault("django", (f.path, f.line))
        for family, (path, line) in sorted(anchors.items()):
            count = routes.get(family, 0)
            if family not in FIX or count < min_routes:
                continue
            self.checked()
            if family in handled:
                continue
            self.report_at(path, line, f"this {FAMILY_NAMES[family]} application ({count} routes) registers no global "
                                       f"error handler, so unexpected exceptions reach clients as the framework's "
                                       f"default error page: {FIX[family]}")


def _catches_broadly(func: cst.FunctionDef) -> bool:
    found = False

    class _Walk(cst.CSTVisitor):
        def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
            nonlocal found
            t = node.type
            if t is None or isinstance(t, cst.Name) and t.value in ("Exception", "BaseException") or \
                    isinstance(t, cst.Attribute) and t.attr.value in ("HTTPException", "Exception"):
                found = True

    walk(func, _Walk())
    return found
