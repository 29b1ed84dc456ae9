from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from rules._shared.web import _framework_of, arg, current_handler, framework_family, responses_in, words_of

ERROR_HANDLER_DECORATORS = frozenset({"errorhandler", "app_errorhandler", "exception_handler"})
ERROR_HANDLER_CALLS = frozenset({"register_error_handler", "add_exception_handler"})
# Endpoints whose error body is fixed by a protocol (OAuth 2.0 / OpenID Connect: {"error": ...}).
PROTOCOL_WORDS = frozenset({"token", "oauth", "oauth2", "oidc", "openid", "authorize", "authorization",
                            "introspect", "introspection", "revoke", "revocation", "userinfo", "jwks", "scim"})


def _shape_text(shape: str) -> str:
    if "," in shape or shape in ("detail", "error", "errors", "message", "msg", "description", "reason", "title",
                                 "error_message"):
        keys = shape.split(",")
        return "{" + ", ".join(f'"{k}": ...' for k in keys) + "}"
    return "{" + f'"{shape}": ...' + "}"


class InconsistentResponseFormat(ProjectRule):
    """
    ## What it does
    Collects the error responses of every request handler and global error handler of an
    application (JSON bodies written as literals, `jsonify(...)` keywords, `JSONResponse`,
    `JsonResponse`, DRF `Response`, FastAPI `HTTPException` — whose body is always
    `{"detail": ...}` — and DRF API exceptions), and reads the key that carries the error
    message: `error`, `errors`, `detail`, `message`, `msg`, `description`, `reason` or
    `title` (the whole key set when none of those is present).

    The shape most error responses of the app use is its convention; each error response in
    another shape is reported, naming the convention and how many responses follow it. Apps
    are grouped by framework across the repository. Nothing is reported without a clear
    majority (at least two responses, more than any other shape) or with fewer than three
    error responses in all.

    ## Why is this bad?
    Clients parse errors in one place. When one endpoint says `{"error": ...}` and another
    `{"message": ...}`, client code grows special cases, and some errors are shown to users
    as "undefined" or not at all. A standard error shape is part of the API contract.

    ## Known limits
    Bodies built by helper functions or serializers are not read; plain-text and HTML error
    bodies are not compared with JSON ones.
    """

    slug = "inconsistent-response-format"
    checklist = "Inconsistent API response formats; standardized error responses"
    section = Section.ARCHITECTURE
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "Error responses of one application use different shapes"
    triggers = ("route", "get", "post", "put", "delete", "patch", "View", "Resource", "request", "api_view",
                "errorhandler", "exception_handler")
    bad = (
        Example(
            "from flask import Blueprint, jsonify\n\n"
            "from app.services import catalog\n\n"
            "bp = Blueprint('catalog', __name__)\n\n"
            "@bp.get('/products/<int:pid>')\n"
            "def product(pid):\n"
            "    item = catalog.product(pid)\n"
            "    if item is None:\n"
            "        return jsonify(error='product not found'), 404\n"
            "    return jsonify(item)\n\n"
            "@bp.get('/categories/<slug>')\n"
            "def category(slug):\n"
            "    found = catalog.category(slug)\n"
            "    if found is None:\n"
            "        return jsonify(error='category not found'), 404\n"
            "    return jsonify(found)\n\n"
            "@bp.delete('/products/<int:pid>')\n"
            "def delete_product(pid):\n"
            "    if not catalog.delete(pid):\n"
            "        return jsonify(message='no such product'), 404  # flagged\n"
            "    return '', 204\n",
            path="app/api/catalog.py",
        ),
    )
    good = (
        Example(
            "from flask import Blueprint, jsonify\n\n"
            "from app.services import catalog\n\n"
            "bp = Blueprint('catalog', __name__)\n\n"
            "@bp.get('/products/<int:pid>')\n"
            "def product(pid):\n"
            "    item = catalog.product(pid)\n"
            "    if item is None:\n"
            "        return jsonify(error='product not found', code='not_found'), 404\n"
            "    return jsonify(item)\n\n"
            "@bp.get('/categories/<slug>')\n"
            "def category(slug):\n"
            "    found = catalog.category(slug)\n"
            "    if found is None:\n"
            "        return jsonify(error='category not found'), 404\n"
            "    return jsonify(found)\n\n"
            "@bp.delete('/products/<int:pid>')\n"
            "def delete_product(pid):\n"
            "    if not catalog.delete(pid):\n"
            "        return jsonify(error='no such product'), 404\n"
            "    return '', 204\n",
            path="app/api/catalog.py",
        ),
    )

    def visit_Module(self, node: cst.Module) -> None:
        self._registered: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        # ``app.register_error_handler(NotFound, not_found)``: the handler is a module function.
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in ERROR_HANDLER_CALLS:
            target = arg(node, 1)
            if isinstance(target, cst.Name):
                self._registered.add(target.value)

    def leave_Module(self, node: cst.Module) -> None:
        if self.ctx.is_test or not self._registered:
            return
        family = framework_family(_framework_of(self.ctx))
        for stmt in node.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value in self._registered \
                    and current_handler(self.ctx, stmt) is None and not self._error_handler(stmt):
                for r in responses_in(self.ctx, stmt):
                    if r.is_error and r.shape is not None:
                        self.record({"family": family, "shape": r.shape, "handler": f"error handler `{stmt.name.value}`"},
                                    r.node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        handler = current_handler(self.ctx, node)
        if handler is not None:
            if words_of(f"{handler.name} {handler.path or ''} {handler.owner or ''} {self.ctx.path}") & PROTOCOL_WORDS:
                return
            family, label = framework_family(handler.framework), handler.describe()
        elif self._error_handler(node):
            family, label = framework_family(_framework_of(self.ctx)), f"error handler `{node.name.value}`"
        else:
            return
        for r in responses_in(self.ctx, node):
            if r.is_error and r.shape is not None:
                self.record({"family": family, "shape": r.shape, "handler": label}, r.node)

    def _error_handler(self, node: cst.FunctionDef) -> bool:
        for deco in node.decorators:
            expr = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
            name = self.ctx.resolve(expr) or ""
            if name.rsplit(".", 1)[-1] in ERROR_HANDLER_DECORATORS:
                return True
        return False

    def check(self, project: ProjectContext) -> None:
        by_family: dict[str, list] = {}
        for fact in project.facts(self.slug):
            if not project.is_test(fact.path):
                by_family.setdefault(fact.data["family"], []).append(fact)
        for family, facts in sorted(by_family.items()):
            self.checked()
            counts: dict[str, int] = {}
            for f in facts:
                counts[f.data["shape"]] = counts.get(f.data["shape"], 0) + 1
            if len(facts) < 3 or len(counts) < 2:
                continue
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            (convention, top), (_, second) = ranked[0], ranked[1]
            if top < 2 or top == second:
                continue
            for f in sorted(facts, key=lambda f: (f.path, f.line)):
                shape = f.data["shape"]
                if shape == convention:
                    continue
                self.report_at(
                    f.path, f.line,
                    f"{f.data['handler']} answers an error as {_shape_text(shape)} while this app's convention is "
                    f"{_shape_text(convention)} ({top} of {len(facts)} error responses): use the same error shape "
                    "everywhere", confidence=Confidence.HIGH if top >= 3 else Confidence.MEDIUM)
