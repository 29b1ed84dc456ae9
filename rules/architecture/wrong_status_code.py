from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from checker.syntax import walk
from rules._shared.web import Handler, Response, creates, current_handler, framework_family, is_action, \
    response_of, route_status, string_value

VALIDATION_EXCEPTIONS = re.compile(r"(?:Validation|Invalid|Schema|BadRequest|Unprocessable|Marshmallow|"
                                   r"ParseError|DecodeError)|^(?:ValueError|KeyError|TypeError)$")
VALIDATION_WORDS = re.compile(r"\b(?:invalid|required|missing|must be|must not|not valid|validation|malformed|"
                              r"bad request|expected)\b", re.IGNORECASE)
ERROR_STATUS_VALUES = frozenset({"error", "fail", "failed", "failure", "err", "ko"})
NOT_JSON_ERROR_PATHS = re.compile(r"graphql|rpc", re.IGNORECASE)


def _literal_false(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


def _empty(node: cst.BaseExpression | None) -> bool:
    if node is None or isinstance(node, cst.Name) and node.value == "None":
        return True
    if isinstance(node, (cst.List, cst.Tuple, cst.Dict, cst.Set)) and not node.elements:
        return True
    return string_value(node) == ""


def error_payload(r: Response) -> str | None:
    """Why a JSON body reads as an error (``{"error": ...}``, ``{"success": False}``...)."""
    if r.kind != "json" or r.keys is None:
        return None
    for key in ("error", "errors", "error_message", "error_code"):
        if key in r.keys and not _empty(r.values.get(key)):
            return f"`{key}`"
    for key in ("success", "ok"):
        if key in r.keys and _literal_false(r.values.get(key)):
            return f"`{key}: False`"
    status = string_value(r.values.get("status")) if "status" in r.keys else None
    if status and status.lower() in ERROR_STATUS_VALUES:
        return f"`status: {status!r}`"
    return None


class _Walk(cst.CSTVisitor):
    """Responses of one handler with what surrounds them: the exception types of an
    enclosing ``except``, whether they sit under a validation test, or in a POST branch."""

    def __init__(self, rule: "WrongStatusCode", func: cst.FunctionDef) -> None:
        super().__init__()
        self.rule = rule
        self.func = func
        self.excepts: list[list[str]] = []
        self.validation_ifs = 0
        self.post_ifs = 0
        self.sets_status = False
        self.found: list[tuple[Response, list[str], bool, bool]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.func

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        names: list[str] = []
        t = node.type
        items = [e.value for e in t.elements] if isinstance(t, cst.Tuple) else [t] if t is not None else []
        for item in items:
            name = self.rule.ctx.resolve(item) if isinstance(item, (cst.Name, cst.Attribute)) else None
            if name:
                names.append(name.rsplit(".", 1)[-1])
        self.excepts.append(names)

    def leave_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.excepts.pop()

    def visit_If(self, node: cst.If) -> None:
        code = self.rule.ctx.code_of(node.test)
        if re.search(r"\b(?:is_valid|validate|errors)\b", code) and re.match(r"\s*(?:not\b|.*errors)", code):
            self.validation_ifs += 1
            self.rule._marked.add(("v", id(node)))
        if re.search(r"\.method\s*(?:==|in)\s*.*['\"]POST['\"]", code):
            self.post_ifs += 1
            self.rule._marked.add(("p", id(node)))

    def leave_If(self, node: cst.If) -> None:
        if ("v", id(node)) in self.rule._marked:
            self.validation_ifs -= 1
        if ("p", id(node)) in self.rule._marked:
            self.post_ifs -= 1

    def visit_If_orelse(self, node: cst.If) -> None:
        # The else branch of ``if not form.is_valid()`` is the valid case.
        if ("v", id(node)) in self.rule._marked:
            self.validation_ifs -= 1
            self.rule._marked.add(("ve", id(node)))

    def leave_If_orelse(self, node: cst.If) -> None:
        if ("ve", id(node)) in self.rule._marked:
            self.validation_ifs += 1

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            if isinstance(t.target, cst.Attribute) and t.target.attr.value in ("status_code", "status"):
                self.sets_status = True

    def _response(self, node: cst.Return | cst.Raise) -> None:
        r = response_of(self.rule.ctx, node, self.func)
        if r is not None:
            self.found.append((r, [n for names in self.excepts for n in names], self.validation_ifs > 0,
                               self.post_ifs > 0))

    def visit_Return(self, node: cst.Return) -> None:
        self._response(node)

    def visit_Raise(self, node: cst.Raise) -> None:
        self._response(node)


class WrongStatusCode(ProjectRule):
    """
    ## What it does
    Reads the responses of every request handler and reports status codes that contradict
    the payload:

    * an error payload (`{"error": ...}`, `{"success": False}`, `{"status": "error"}`)
      returned with status 200 (explicitly or by default);
    * a creation endpoint (a POST handler that creates something: its name, or calls such as
      `create`/`add`/`save`/`insert`) answering 200 instead of 201 — the finding names the
      app's convention when other creation endpoints answer 201;
    * a validation failure (inside `except ValidationError`/`ValueError`, under
      `if not form.is_valid()`, or with a message saying a field is invalid or missing)
      answered with 500.

    Only JSON responses are judged for creations (an HTML form's POST answers with a redirect
    or a page). FastAPI routes are judged by their decorator's `status_code=`. POST endpoints that run
    actions (login, search, webhooks, previews...) are not creation endpoints. GraphQL and
    RPC endpoints, which report errors in a 200 body by design, are left alone.

    ## Why is this bad?
    Clients, proxies, monitoring and retries act on the status code, not on the body: an
    error answered with 200 is cached, counted as success and never retried or alerted on;
    a validation problem answered with 500 pages the on-call engineer for a client's typo
    and tells the client to retry something that can never succeed.

    ## Known limits
    Only responses written in the handler are read (not those built by helpers), and a
    status set later on an injected response object is taken as deliberate.
    """

    slug = "wrong-status-code"
    checklist = "Appropriate HTTP status codes"
    section = Section.ARCHITECTURE
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "A response's HTTP status code contradicts what it says (error with 200, creation with 200, validation with 500)"
    triggers = ("route", "get", "post", "put", "delete", "patch", "View", "Resource", "request", "api_view")
    bad = (
        Example(
            "from flask import Blueprint, jsonify, request\n"
            "from marshmallow import ValidationError\n\n"
            "from app.schemas import OrderSchema\n"
            "from app.services import orders as order_service\n\n"
            "bp = Blueprint('orders', __name__)\n\n"
            "@bp.post('/orders')\n"
            "def create_order():\n"
            "    try:\n"
            "        payload = OrderSchema().load(request.get_json())\n"
            "    except ValidationError as err:\n"
            "        return jsonify(error='invalid order', fields=err.messages), 500  # flagged\n"
            "    order = order_service.create_order(payload)\n"
            "    return jsonify(OrderSchema().dump(order))  # flagged\n\n"
            "@bp.get('/orders/<int:order_id>')\n"
            "def show_order(order_id):\n"
            "    order = order_service.find(order_id)\n"
            "    if order is None:\n"
            "        return jsonify(error='order not found')  # flagged\n"
            "    return jsonify(OrderSchema().dump(order))\n",
            path="app/api/orders.py",
        ),
    )
    good = (
        Example(
            "from flask import Blueprint, jsonify, request\n"
            "from marshmallow import ValidationError\n\n"
            "from app.schemas import OrderSchema\n"
            "from app.services import orders as order_service\n\n"
            "bp = Blueprint('orders', __name__)\n\n"
            "@bp.post('/orders')\n"
            "def create_order():\n"
            "    try:\n"
            "        payload = OrderSchema().load(request.get_json())\n"
            "    except ValidationError as err:\n"
            "        return jsonify(error='invalid order', fields=err.messages), 422\n"
            "    order = order_service.create_order(payload)\n"
            "    return jsonify(OrderSchema().dump(order)), 201\n\n"
            "@bp.post('/orders/search')\n"
            "def search_orders():\n"
            "    return jsonify(order_service.search(request.get_json()))\n\n"
            "@bp.get('/orders/<int:order_id>')\n"
            "def show_order(order_id):\n"
            "    order = order_service.find(order_id)\n"
            "    if order is None:\n"
            "        return jsonify(error='order not found'), 404\n"
            "    return jsonify(OrderSchema().dump(order))\n",
            path="app/api/orders.py",
        ),
    )

    def visit_Module(self, node: cst.Module) -> None:
        self._marked: set[tuple[str, int]] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        handler = current_handler(self.ctx, node)
        if handler is None:
            return
        self.checked()
        walker = _Walk(self, node)
        walk(node, walker)
        family = framework_family(handler.framework)
        label = handler.describe()
        if handler.path is not None and NOT_JSON_ERROR_PATHS.search(handler.path):
            return
        # Error payloads answered with 200.
        if not walker.sets_status:
            for r, _, _, _ in walker.found:
                why = error_payload(r)
                if why and r.status in (None, 200):
                    status = "200" if r.status == 200 else "the default 200"
                    self.record({"kind": "error-200", "message": f"handler {label} answers an error payload ({why}) "
                                 f"with {status}: use a 4xx/5xx status so clients and monitoring see the failure"},
                                r.node)
        # Validation failures answered with 500.
        for r, excepts, under_validation, _ in walker.found:
            if r.status != 500:
                continue
            reason = None
            caught = [n for n in excepts if VALIDATION_EXCEPTIONS.search(n)]
            if caught:
                reason = f"inside `except {caught[0]}`"
            elif under_validation:
                reason = "after a failed validation check"
            else:
                text = " ".join(string_value(v) or "" for v in r.values.values()) if r.values else ""
                if VALIDATION_WORDS.search(text):
                    reason = "with a message about invalid input"
            if reason:
                self.record({"kind": "validation-500", "message": f"handler {label} answers a validation failure "
                             f"({reason}) with 500: use 400 or 422 — the client must fix the request, the server "
                             "did not fail"}, r.node)
        # Creation endpoints.
        self._creation(handler, walker, family, label)

    def _creation(self, handler: Handler, walker: _Walk, family: str, label: str) -> None:
        methods = handler.methods
        django_branch = handler.framework == "django" and len(methods) > 1
        if "post" not in methods or (len(methods) > 1 and not django_branch):
            return
        if is_action(handler) or not creates(self.ctx, handler):
            return
        declared = route_status(self.ctx, handler)
        if handler.route_call is not None and family == "asgi":
            status = declared if declared is not None else 200
            node = handler.route_call
            self.record({"kind": "creation", "family": family, "status": status,
                         "message": f"creation endpoint {label} declares no `status_code=201`, so it answers 200"}, node)
            return
        # Only JSON answers: an HTML form's POST answers with a redirect or a page, where 201
        # means nothing.
        successes = [r for r, _, _, in_post in walker.found
                     if not r.is_error and r.kind == "json" and error_payload(r) is None
                     and (not django_branch or in_post) and r.status not in (302, 303, 301, 307)]
        if not successes:
            return
        for r in successes:
            status = r.status if r.status is not None else (declared if declared is not None else 200)
            self.record({"kind": "creation", "family": family, "status": status,
                         "message": f"creation endpoint {label} answers {status} instead of 201 Created"}, r.node)

    def check(self, project: ProjectContext) -> None:
        facts = [f for f in project.facts(self.slug) if "kind" in f.data]
        created: dict[str, int] = {}
        for f in facts:
            if f.data["kind"] == "creation" and f.data["status"] in (201, 202):
                created[f.data["family"]] = created.get(f.data["family"], 0) + 1
        if facts:
            self.checked()
        for f in facts:
            kind = f.data["kind"]
            if kind == "creation":
                if f.data["status"] != 200:
                    continue
                others = created.get(f.data["family"], 0)
                convention = (f" (this app's convention: {others} other creation endpoint"
                              f"{'s' if others > 1 else ''} answer{'' if others > 1 else 's'} 201)") if others else ""
                self.report_at(f.path, f.line, f.data["message"] + convention,
                               confidence=Confidence.HIGH if others else Confidence.MEDIUM)
            else:
                self.report_at(f.path, f.line, f.data["message"],
                               severity=Severity.MEDIUM if kind == "validation-500" else Severity.LOW)
