from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared import db
from rules._shared.requests import BODY, QUERY, CallEvent, FlowResult, Taint, analyze_flow, is_validator_class, last
from rules._shared.web import current_handler

# Callees that only show, log, answer or inspect data: passing client data to them is no use of it.
NOT_A_USE = frozenset({
    "print", "len", "isinstance", "hasattr", "getattr", "repr", "str", "bool", "type", "sorted", "enumerate", "zip",
    "range", "any", "all", "sum", "map", "filter", "iter", "next", "id", "format", "vars", "min", "max",
    "json.dumps", "json.dump", "flask.jsonify", "flask.make_response", "flask.render_template", "flask.redirect",
    "flask.url_for", "flask.abort", "flask.flash", "django.shortcuts.render", "django.shortcuts.redirect",
    "django.template.loader.render_to_string", "fastapi.HTTPException", "werkzeug.exceptions.abort",
    "dict", "list", "tuple", "set", "frozenset",
})
NOT_A_USE_LAST = frozenset({
    "debug", "info", "warning", "warn", "error", "exception", "critical", "log", "jsonify", "render_template",
    "render", "render_to_response", "redirect", "url_for", "abort", "flash", "dumps", "make_response", "json_response",
    "append", "extend", "update", "setdefault", "startswith", "endswith", "format", "join", "encode", "decode",
    "strip", "split", "replace", "lower", "upper", "get", "pop", "items", "keys", "values", "copy", "count", "index",
    "write", "send", "emit", "set_cookie", "capture_exception", "capture_message", "add_note",
})
# Local objects whose attributes are not model fields.
NOT_MODEL_OBJECTS = frozenset({"self", "cls", "g", "request", "response", "resp", "session", "current_app", "app",
                               "ctx", "context", "flask.g", "res", "r"})
CONSTRUCTOR_LIBRARY_ROOTS = frozenset({
    "flask", "werkzeug", "django", "rest_framework", "fastapi", "starlette", "aiohttp", "json", "datetime",
    "decimal", "uuid", "pathlib", "collections", "typing", "re", "io", "os", "http", "urllib", "requests",
    "httpx", "jinja2", "markupsafe", "enum", "dataclasses", "fractions", "ipaddress", "email", "logging",
    "threading", "queue", "zoneinfo", "pytz", "dateutil", "itertools", "functools",
})
CAMEL = re.compile(r"^_?[A-Z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*$")
EXCEPTION_NAME = re.compile(r"(Error|Exception|Warning|Response|Redirect|Exit)$")


class MissingInputValidation(FileRule):
    """
    ## What it does
    Follows client data inside each request handler, from where it is read (Flask
    `request.json`/`get_json()`/`form`/`args`/`values`/`data`, Django `request.POST`/`GET`/
    `body`, DRF `request.data`/`query_params`, FastAPI/Starlette `await request.json()`
    and parameters typed `dict`/`Any`, aiohttp `await request.json()`/`post()`) to where it
    is used, and reports a handler where the data reaches a database write or query, a model
    constructor (`User(**data)`), an attribute of a model object (`user.email = data["email"]`,
    `setattr(...)`), or, as a whole body, any other call (`create_order(payload)`), without
    being validated first.

    Validation is any of: a pydantic model, marshmallow schema (`load`/`validate`), WTForms
    or Django form (`validate_on_submit`/`is_valid`), DRF serializer (`is_valid`),
    `jsonschema.validate`, webargs `use_args`/`use_kwargs`, flask-smorest `arguments`,
    flask-restx `expect`, flask-restful `reqparse`, FastAPI typed parameters, a project
    helper named for validation (`validate_payload(data)`), or explicit checks of the fields
    that reject the request (`if "email" not in data: abort(400)`).

    Typed conversion counts as validation: `request.args.get("page", type=int)`,
    `int(request.form["qty"])`, `UUID(...)`, `Decimal(...)`, `date.fromisoformat(...)` give
    a value of a checked type. A single value used as a lookup key in a read query
    (`Order.objects.get(pk=request.POST["id"])`, `filter(sku=q)`) is not reported: ORMs and
    drivers parameterise and type-check lookups; a whole body spread into a query
    (`filter(**request.GET)`) is. Query-string values are reported only when they reach a
    write or a constructor. A raw body (`request.body`, `await request.body()`,
    `get_data()`) handed to a parser (`yaml.safe_load`, a project's own reader) is parsed,
    not used: the parser's result is followed instead.

    ## Why is this bad?
    Unvalidated input is where injection, mass assignment (a client setting `is_admin`
    through `User(**data)`), type confusion (a list where a string was expected) and crashes
    on malformed bodies begin. A schema at the boundary states what the endpoint accepts,
    rejects the rest with a 400, and hands typed values to the code behind it.

    ## Known limits
    The flow is followed inside one function (and through module-level helpers that
    return request data); validation done by a service the raw data is passed to is not
    seen unless its name says it validates. One finding is reported per handler, at the
    first unvalidated use.
    """

    slug = "missing-input-validation"
    checklist = "Validate all user inputs at API boundaries; request bodies validated against schemas with strict type checking"
    section = Section.SECURITY
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-20", "CWE-915")
    summary = "Request data reaches use without validation"
    triggers = ("request", "Body(", "dict", "Dict", "Any")
    bad = (
        Example(
            "from flask import Blueprint, request as req\n"
            "from .models import db, Customer\n\n"
            "bp = Blueprint('customers', __name__)\n\n"
            "@bp.post('/customers')\n"
            "def create_customer():\n"
            "    payload = req.get_json()\n"
            "    customer = Customer(**payload)  # flagged\n"
            "    db.session.add(customer)\n"
            "    db.session.commit()\n"
            "    return {'id': customer.id}, 201\n",
            path="app/customers.py",
        ),
        Example(
            "from typing import Any\n"
            "from fastapi import APIRouter\n"
            "from .db import orders\n\n"
            "router = APIRouter()\n\n"
            "@router.post('/orders')\n"
            "async def create_order(body: dict[str, Any]):\n"
            "    await orders.insert_one(body)  # flagged\n"
            "    return {'ok': True}\n",
            path="api/orders.py",
        ),
    )
    good = (
        Example(
            "from flask import Blueprint, request\n"
            "from marshmallow import Schema, fields\n"
            "from .models import db, Customer\n\n"
            "bp = Blueprint('customers', __name__)\n\n"
            "class CustomerSchema(Schema):\n"
            "    name = fields.Str(required=True)\n\n"
            "@bp.post('/customers')\n"
            "def create_customer():\n"
            "    data = CustomerSchema().load(request.get_json())\n"
            "    customer = Customer(**data)\n"
            "    db.session.add(customer)\n"
            "    db.session.commit()\n"
            "    return {'id': customer.id}, 201\n\n"
            "@bp.get('/customers')\n"
            "def list_customers():\n"
            "    page = request.args.get('page', 1, type=int)\n"
            "    return {'items': Customer.query.paginate(page=page).items}\n",
            path="app/customers.py",
        ),
        Example(
            "from fastapi import APIRouter\n"
            "from pydantic import BaseModel\n\n"
            "router = APIRouter()\n\n"
            "class OrderIn(BaseModel):\n"
            "    sku: str\n"
            "    quantity: int\n\n"
            "@router.post('/orders')\n"
            "async def create_order(order: OrderIn, db=None):\n"
            "    await db.orders.insert_one(order.model_dump())\n",
            path="api/orders.py",
        ),
    )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        handler = current_handler(self.ctx, node)
        if handler is None:
            return
        flow = analyze_flow(self.ctx, node, handler)
        relevant = [t for _, t in flow.sources if t.kind in (BODY, QUERY)]
        if not relevant:
            return
        self.checked()
        found = self._first_use(node, flow)
        if found is None:
            return
        where, taint, what, mass = found
        self.report(
            where,
            f"client data from `{_short(taint.what)}` reaches {what} without validation "
            "(validate it with a schema, form or serializer first)",
            severity=Severity.HIGH if mass else Severity.MEDIUM,
            related=[(taint.origin, "client data is read here")],
        )

    def _first_use(self, func: cst.FunctionDef, flow: FlowResult) -> tuple[cst.CSTNode, Taint, str, bool] | None:
        candidates: list[tuple[cst.CSTNode, Taint, str, bool]] = []
        for event in flow.calls:
            use = self._call_use(func, event, flow)
            if use is not None:
                candidates.append(use)
        for node, target, taint in flow.attr_assigns:
            if taint.kind not in (BODY, QUERY) or flow.is_validated(taint):
                continue
            owner = self.ctx.resolve(target.value) or ""
            if isinstance(target.value, cst.Name) and owner not in NOT_MODEL_OBJECTS:
                candidates.append((node, taint, f"the model attribute `{self.ctx.code_of(target).strip()}`", False))
        if not candidates:
            return None
        return min(candidates, key=lambda c: (self.ctx.line_of(c[0]), 0))

    def _call_use(self, func: cst.FunctionDef, event: CallEvent, flow: FlowResult) -> tuple[cst.CSTNode, Taint, str, bool] | None:
        name = event.name
        short = last(name)
        args = [(a, t) for a, t in event.args if t.kind in (BODY, QUERY) and not flow.is_validated(t)]
        if not args:
            return None
        if name == "setattr" and len(event.node.args) >= 3:
            for a, t in args:
                if a is event.node.args[2]:
                    return event.node, t, "`setattr` on an object", False
            return None
        dbcall = db.classify(self.ctx, event.node, func)
        if dbcall is not None and dbcall.op in (db.WRITE, db.STAGE, db.READ, db.LAZY):
            for a, t in args:
                mass = a.star == "**" or t.whole
                if dbcall.op not in (db.WRITE, db.STAGE) and not mass:
                    continue  # one value as a lookup key: parameterised and type-checked by the ORM
                kind = "database write" if dbcall.op in (db.WRITE, db.STAGE) else "database query"
                return event.node, t, f"a {kind} (`{_callee(self.ctx, event.node)}`)", mass and dbcall.op != db.READ
            return None
        if name in NOT_A_USE or short in NOT_A_USE_LAST or event.receiver is not None:
            return None
        if short.startswith(("log", "_log")) or ".log" in name or name.startswith(("logging.", "logger.", "log.")):
            return None
        root = name.split(".", 1)[0]
        if CAMEL.match(short) and not EXCEPTION_NAME.search(short):
            if root in CONSTRUCTOR_LIBRARY_ROOTS or is_validator_class(self.ctx, event.node.func):
                return None
            for a, t in args:
                if t.kind == QUERY and a.star != "**":
                    continue
                return event.node, t, f"the constructor `{short}(...)`", a.star == "**"
            return None
        for a, t in args:
            if t.raw and a is event.node.args[0] and (event.receiver is None):
                continue  # a parser reading the raw body
            if t.kind == BODY and t.whole and root not in CONSTRUCTOR_LIBRARY_ROOTS:
                return event.node, t, f"the call `{_callee(self.ctx, event.node)}(...)` as a whole", a.star == "**"
        return None


def _callee(ctx, call: cst.Call) -> str:
    return ctx.code_of(call.func).strip()


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
