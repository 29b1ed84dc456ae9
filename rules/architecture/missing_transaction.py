from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from rules._shared.db import STAGE, TRANSACTION, WRITE, classify, function_locals
from rules._shared.web import current_handler

TX_WORDS = re.compile(r"(?:atomic|transaction|transactional|begin|begin_nested|session_scope|unit_of_work|uow|"
                      r"start_transaction|commit_on_success)$", re.IGNORECASE)
SKIP_DIRS = frozenset({"migrations", "alembic", "versions"})
AUTOCOMMIT_APIS = ("django", "asyncpg", "databases")
FIX = {
    "django": "wrap them in `with transaction.atomic():`",
    "asyncpg": "run them inside `async with conn.transaction():`",
    "databases": "run them inside `async with database.transaction():`",
    "sqlalchemy": "commit once after all of them (or use `with session.begin():`)",
    "dbapi": "commit once after all of them (or use `with conn:`)",
}


class _Events(cst.CSTVisitor):
    """Database writes and commits of one function, in order, with whether each sits in a
    transaction block or a loop (nested functions are left to their own visit)."""

    def __init__(self, rule: "MissingTransaction", func: cst.FunctionDef) -> None:
        super().__init__()
        self.rule = rule
        self.ctx = rule.ctx
        self.func = func
        self.tx = 0
        self.loops = 0
        self.events: list[tuple[str, str, cst.Call, bool, bool, str]] = []  # kind, api, node, in_tx, in_loop, what

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.func

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_With(self, node: cst.With) -> None:
        if any(self.rule.is_tx_context(item.item, self.func) for item in node.items):
            self.tx += 1
            self.rule._tx_withs.add(id(node))

    def leave_With(self, node: cst.With) -> None:
        if id(node) in self.rule._tx_withs:
            self.tx -= 1

    def _loop_in(self, node: cst.CSTNode) -> None:
        self.loops += 1

    def _loop_out(self, node: cst.CSTNode) -> None:
        self.loops -= 1

    visit_For = visit_While = visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _loop_in  # type: ignore
    leave_For = leave_While = leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _loop_out  # type: ignore

    def visit_Call(self, node: cst.Call) -> bool:
        found = classify(self.ctx, node, self.func)
        if found is None:
            name = self.ctx.resolve(node.func) or ""
            if name.rsplit(".", 1)[-1] in ("begin",) and isinstance(node.func, cst.Attribute):
                self.events.append(("begin", "sqlalchemy", node, self.tx > 0, self.loops > 0, "begin"))
            return True
        if found.api == "django" and found.method in ("save", "delete", "asave", "adelete") \
                and not self.ctx.imported("django") and ".objects" not in self.ctx.text:
            return False  # an instance method outside Django code: not known to be the ORM's
        if found.op == WRITE or found.op == STAGE:
            self.events.append(("write", found.api, node, self.tx > 0, self.loops > 0, found.description))
        elif found.op == TRANSACTION and found.method in ("commit", "begin"):
            self.events.append((found.method, found.api, node, self.tx > 0, self.loops > 0, found.description))
        return False


class MissingTransaction(ProjectRule):
    """
    ## What it does
    Finds functions that write to the database more than once without a transaction around
    the writes, so a failure half-way leaves the first writes committed:

    * Django (autocommit): two or more ORM writes (`create`, `save()`, `update`, `delete`,
      `bulk_create`...; one inside a loop counts as several) outside `transaction.atomic()`
      and not in an `@transaction.atomic` function. Views are left alone when the settings
      turn on `ATOMIC_REQUESTS`.
    * SQLAlchemy sessions and DB-API connections: writes split over two or more `commit()`
      calls in one function.
    * asyncpg and `databases`: two or more writes outside `conn.transaction()` /
      `database.transaction()`.

    Transaction blocks recognised: `with transaction.atomic()`, `with session.begin()`,
    `with engine.begin()`, `with conn:` on a DB-API connection, `async with
    conn.transaction()`, and helpers named like `session_scope()`/`unit_of_work()`.

    ## Why is this bad?
    Business operations that change several rows (an order and its lines, a transfer's two
    balances) must succeed or fail as a whole. Without a transaction, an exception or a
    crash between the writes leaves data that no code path expects.

    ## Known limits
    Writes made by called functions are not counted (a service calling two repository
    methods that each commit is not seen), and neither is a transaction opened by the
    caller. Per-item commits in loops are taken as deliberate batching. MongoDB writes are
    not judged.
    """

    slug = "missing-transaction"
    checklist = "Database transactions for data consistency"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    engines = ("semgrep",)
    cwe = ("CWE-362",)
    summary = "Several database writes run without a transaction"
    triggers = ("objects", "save(", "commit", "execute", ".delete(", ".update(", "create(", "ATOMIC_REQUESTS",
                "bulk_")
    bad = (
        Example(
            "from django.db.models import F\n\n"
            "from .models import Account, Transfer\n\n"
            "def transfer(source_id, target_id, amount):  # flagged\n"
            "    Account.objects.filter(pk=source_id).update(balance=F('balance') - amount)\n"
            "    Account.objects.filter(pk=target_id).update(balance=F('balance') + amount)\n"
            "    return Transfer.objects.create(source_id=source_id, target_id=target_id, amount=amount)\n",
            path="bank/services.py",
        ),
        Example(
            "from app.extensions import db\n"
            "from app.models import AuditEntry, Order\n\n"
            "def place_order(customer, lines):  # flagged\n"
            "    order = Order(customer=customer, lines=lines)\n"
            "    db.session.add(order)\n"
            "    db.session.commit()\n"
            "    db.session.add(AuditEntry(action='order.placed', ref=order.id))\n"
            "    db.session.commit()\n"
            "    return order\n",
            path="app/services/orders.py",
        ),
    )
    good = (
        Example(
            "from django.db import transaction\n"
            "from django.db.models import F\n\n"
            "from .models import Account, Transfer\n\n"
            "@transaction.atomic\n"
            "def transfer(source_id, target_id, amount):\n"
            "    Account.objects.filter(pk=source_id).update(balance=F('balance') - amount)\n"
            "    Account.objects.filter(pk=target_id).update(balance=F('balance') + amount)\n"
            "    return Transfer.objects.create(source_id=source_id, target_id=target_id, amount=amount)\n",
            path="bank/services.py",
        ),
        Example(
            "from app.extensions import db\n"
            "from app.models import AuditEntry, Order\n\n"
            "def place_order(customer, lines):\n"
            "    order = Order(customer=customer, lines=lines)\n"
            "    db.session.add(order)\n"
            "    db.session.flush()\n"
            "    db.session.add(AuditEntry(action='order.placed', ref=order.id))\n"
            "    db.session.commit()\n"
            "    return order\n",
            path="app/services/orders.py",
        ),
    )

    def visit_Module(self, node: cst.Module) -> None:
        parts = self.ctx.path.split("/")
        self._skip = self.ctx.is_test or any(p in SKIP_DIRS for p in parts[:-1])
        self._tx_withs: set[int] = set()

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            if isinstance(t.target, cst.Name) and t.target.value == "ATOMIC_REQUESTS" and _true(node.value):
                self.record({"atomic-requests": True}, node)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if isinstance(node.key, cst.SimpleString) and node.key.value.strip("'\"") == "ATOMIC_REQUESTS" and _true(node.value):
            self.record({"atomic-requests": True}, node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self._skip:
            return
        if any(self._tx_decorator(d) for d in node.decorators):
            return
        walker = _Events(self, node)
        node.body.visit(walker)
        events = walker.events
        if not any(kind == "write" for kind, *_ in events):
            return
        self.checked()
        handler = current_handler(self.ctx, node) is not None
        for api in sorted({api for kind, api, *_ in events if kind == "write"}):
            mine = [e for e in events if e[1] == api or e[0] == "begin" and api == "sqlalchemy"]
            writes = self._unsafe_writes(api, mine)
            if writes:
                lines = [self.ctx.line_of(n) for _, _, n, *_ in writes]
                self.record({"api": api, "function": node.name.value, "handler": handler,
                             "lines": lines, "what": writes[0][5]}, node.name)
                return

    def _unsafe_writes(self, api: str, events: list) -> list:
        if api in AUTOCOMMIT_APIS:
            outside = [e for e in events if e[0] == "write" and not e[3]]
            weight = sum(2 if e[4] else 1 for e in outside)
            return outside if weight >= 2 else []
        if api in ("sqlalchemy", "dbapi"):
            segments: list[list] = []
            pending: list = []
            for e in events:
                if e[3]:
                    continue
                if e[0] == "write":
                    pending.append(e)
                elif e[0] == "commit":
                    if e[4]:
                        return []  # per-item commits in a loop: deliberate batching
                    if pending:
                        segments.append(pending)
                        pending = []
            if len(segments) >= 2:
                return [e for seg in segments for e in seg]
        return []

    def _tx_decorator(self, deco: cst.Decorator) -> bool:
        expr = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
        name = self.ctx.resolve(expr) or ""
        return bool(TX_WORDS.search(name.rsplit(".", 1)[-1]))

    def is_tx_context(self, item: cst.BaseExpression, func: cst.FunctionDef) -> bool:
        if isinstance(item, cst.Call):
            name = self.ctx.resolve(item.func) or ""
            last = name.rsplit(".", 1)[-1]
            if TX_WORDS.search(last):
                return True
            return False
        if isinstance(item, (cst.Name, cst.Attribute)):
            name = self.ctx.resolve(item) or ""
            kinds = function_locals(self.ctx, func).kinds
            return kinds.get(name) == "connection"
        return False

    def check(self, project: ProjectContext) -> None:
        facts = project.facts(self.slug)
        atomic_requests = any(f.data.get("atomic-requests") for f in facts)
        for fact in facts:
            data = fact.data
            if "api" not in data:
                continue
            if data["api"] == "django" and data["handler"] and atomic_requests:
                continue
            lines = ", ".join(str(n) for n in data["lines"][:6])
            if data["api"] in AUTOCOMMIT_APIS:
                count = len(data["lines"])
                what = f"writes {count} times (lines {lines}" if count > 1 else f"writes in a loop (line {lines}"
                msg = (f"`{data['function']}` {what}; first: {data['what']}) with no transaction: a failure "
                       f"between them leaves partial data; {FIX[data['api']]}")
            else:
                msg = (f"`{data['function']}` commits its writes in separate transactions (lines {lines}): a failure "
                       f"after the first commit leaves partial data; {FIX[data['api']]}")
            self.report_at(fact.path, fact.line, msg)


def _true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"
