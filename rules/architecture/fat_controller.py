from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from checker.syntax import walk
from rules._shared.web import current_handler


class _Measure(cst.CSTVisitor):
    """Counts statements, branches and loops of one function (nested functions included:
    they are part of the handler's body)."""

    def __init__(self) -> None:
        super().__init__()
        self.statements = 0
        self.branches = 0
        self.loops = 0

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.statements += len(node.body)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self.statements += len(node.body)

    def visit_If(self, node: cst.If) -> None:
        self.statements += 1
        self.branches += 1

    def visit_Else(self, node: cst.Else) -> None:
        self.branches += 0  # an else adds no decision of its own

    def visit_Try(self, node: cst.Try) -> None:
        self.statements += 1

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.branches += 1

    def visit_Match(self, node: cst.Match) -> None:
        self.statements += 1

    def visit_MatchCase(self, node: cst.MatchCase) -> None:
        self.branches += 1

    def visit_For(self, node: cst.For) -> None:
        self.statements += 1
        self.loops += 1
        self.branches += 1

    def visit_While(self, node: cst.While) -> None:
        self.statements += 1
        self.loops += 1
        self.branches += 1

    def visit_With(self, node: cst.With) -> None:
        self.statements += 1

    def _comprehension(self, node: cst.CSTNode) -> None:
        self.loops += 1

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension  # type: ignore[assignment]


class FatController(FileRule):
    """
    ## What it does
    Measures every request handler (Flask/FastAPI/aiohttp routes, Django and DRF views,
    class-based view methods) and reports those whose statements, branches (`if`/`elif`,
    `except`, `case`, loops) or loops (including comprehensions) exceed the thresholds:
    business logic that belongs in a service.

    Thresholds are options: `[tool.checker.rules.fat-controller]` `max-statements`
    (default 30), `max-branches` (default 10), `max-loops` (default 3).

    ## Why is this bad?
    A handler that computes prices, walks collections and decides business rules mixes HTTP
    concerns with domain logic: the logic cannot be reused from a job or a CLI, it can only
    be tested through HTTP, and every change to it risks the request handling around it.
    A thin handler parses the request, calls a service and shapes the response.

    ## Known limits
    Size is a proxy: a long but flat handler that only maps fields may exceed the statement
    threshold without holding business logic. Raise the thresholds or suppress with a reason.
    """

    slug = "fat-controller"
    checklist = "Business logic mixed with HTTP handling"
    section = Section.ARCHITECTURE
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "A request handler holds business logic (too many statements, branches or loops)"
    options = {"max-statements": 30, "max-branches": 10, "max-loops": 3}
    triggers = ("route", "get", "post", "put", "delete", "patch", "View", "Resource", "request", "api_view")
    bad = (
        Example(
            "from flask import Blueprint, jsonify, request\n\n"
            "bp = Blueprint('orders', __name__)\n\n"
            "@bp.post('/orders/quote')\n"
            "def quote():  # flagged\n"
            "    data = request.get_json()\n"
            "    lines = [line for line in data['lines'] if line['qty'] > 0]\n"
            "    total = 0\n"
            "    for line in lines:\n"
            "        if line['qty'] > 100:\n"
            "            total += line['qty'] * line['price'] * 0.9\n"
            "        elif line['qty'] > 10:\n"
            "            total += line['qty'] * line['price'] * 0.95\n"
            "        else:\n"
            "            total += line['qty'] * line['price']\n"
            "    for code in data.get('coupons', []):\n"
            "        if code.startswith('VIP'):\n"
            "            total *= 0.8\n"
            "    taxed = [round(total * r, 2) for r in (1.0, 1.2)]\n"
            "    return jsonify(net=taxed[0], gross=taxed[1])\n",
            path="orders/routes.py",
        ),
    )
    good = (
        Example(
            "from flask import Blueprint, jsonify, request\n\n"
            "from orders.services import pricing\n\n"
            "bp = Blueprint('orders', __name__)\n\n"
            "@bp.post('/orders/quote')\n"
            "def quote():\n"
            "    payload = pricing.QuoteRequest.parse(request.get_json())\n"
            "    return jsonify(pricing.quote(payload).as_dict())\n",
            path="orders/routes.py",
        ),
    )

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.ctx.is_test:
            return
        handler = current_handler(self.ctx, node)
        if handler is None:
            return
        self.checked()
        measure = _Measure()
        walk(node.body, measure)
        opts = self.opts
        limits = (
            ("statements", measure.statements, int(opts["max-statements"])),
            ("branches", measure.branches, int(opts["max-branches"])),
            ("loops", measure.loops, int(opts["max-loops"])),
        )
        over = [f"{count} {what} (max {limit})" for what, count, limit in limits if count > limit]
        if over:
            self.report(node.name, f"handler {handler.describe()} has {', '.join(over)}: move the business "
                                   "logic into a service and keep the handler to request parsing and the response")
