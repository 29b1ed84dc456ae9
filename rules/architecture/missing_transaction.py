from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from checker.syntax import walk
from rules._shared.db import STAGE, TRANSACTION, WRITE, classify, function_locals
from rules._shared.web import current_handler, string_value

TX_WORDS = re.compile(r"(?:atomic|transaction|transactional|begin|begin_nested|session_scope|unit_of_work|uow|"
                      r"start_transaction|commit_on_success)$", re.IGNORECASE)
SKIP_DIRS = frozenset({"migrations", "alembic", "versions"})
AUTOCOMMIT_APIS = ("django", "asyncpg", "databases")
GENERIC_NAMES = frozenset({"save", "delete", "create", "update", "post", "put", "patch", "get", "run", "execute",
                           "handle", "process", "perform", "form_valid", "clean"})
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
        self.tx_callees: set[str] = set()  # functions called inside a transaction block
        self.callees: set[str] = set()  # every function called
        self.path: list[cst.CSTNode] = []  # the nodes from the function body down to the current one
        self.chains: dict[int, tuple[cst.CSTNode, ...]] = {}  # write call -> its ancestors

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.path.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        super().on_leave(original_node)
        self.path.pop()

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

    def visit_Assign(self, node: cst.Assign) -> None:
        # ``order.status = ...`` changes a loaded row: the unit of work will write it.
        if _progress_marker(self.ctx, node):
            return  # ``job.state = State.running`` committed before long work is deliberate
        for t in node.targets:
            target = t.target
            if isinstance(target, cst.Attribute) and not (isinstance(target.value, cst.Name)
                                                         and target.value.value in ("self", "cls")):
                self.events.append(("work", "any", node, self.tx > 0, self.loops > 0, "attribute change"))
                return

    def _loop_in(self, node: cst.CSTNode) -> None:
        self.loops += 1

    def _loop_out(self, node: cst.CSTNode) -> None:
        self.loops -= 1

    visit_For = visit_While = visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _loop_in  # type: ignore
    leave_For = leave_While = leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _loop_out  # type: ignore

    def visit_Call(self, node: cst.Call) -> bool:
        name = self.ctx.resolve(node.func)
        if name:
            callee = name.replace("()", "").rsplit(".", 1)[-1]
            self.callees.add(callee)
            if self.tx > 0:
                self.tx_callees.add(callee)
        found = classify(self.ctx, node, self.func)
        if found is None:
            if self.loops > 0 and isinstance(node.func, cst.Attribute):
                # A method called per item (``self.products.adjust_stock(...)``) may write
                # through the unit of work: it counts as work between two commits.
                self.events.append(("work", "any", node, self.tx > 0, True, "call in a loop"))
            return True
        if found.api == "django" and found.method in ("save", "delete", "asave", "adelete") \
                and not self.ctx.imported("django") and ".objects" not in self.ctx.text:
            return False  # an instance method outside Django code: not known to be the ORM's
        if found.op == WRITE or found.op == STAGE:
            self.chains[id(node)] = tuple(self.path)
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
      `bulk_create`...) that can run in the same call (not in exclusive branches, not after
      an early `return`) outside `transaction.atomic()` and not in an `@transaction.atomic`
      function. One write repeated in a loop over independent items is taken as a batch. Views are left alone when the settings
      turn on `ATOMIC_REQUESTS`.
    * SQLAlchemy sessions and DB-API connections: work split over two or more `commit()`
      calls in one function (writes, changed attributes of loaded rows, or per-item calls
      in a loop before each commit).
    * asyncpg and `databases`: two or more writes outside `conn.transaction()` /
      `database.transaction()`.

    Receivers of Django's `pre_delete`/`post_delete` signals run inside the deletion's own
    transaction and are not judged. Transaction blocks recognised: `with transaction.atomic()`, `with session.begin()`,
    `with engine.begin()`, `with conn:` on a DB-API connection, `async with
    conn.transaction()`, and helpers named like `session_scope()`/`unit_of_work()`.

    ## Why is this bad?
    Business operations that change several rows (an order and its lines, a transfer's two
    balances) must succeed or fail as a whole. Without a transaction, an exception or a
    crash between the writes leaves data that no code path expects.

    ## Known limits
    Writes made by called functions are not counted (a service calling two repository
    methods that each commit is not seen). A transaction opened by a caller is seen when
    the caller calls the function by name inside its transaction block or from an
    `@transaction.atomic` function (in the same file, or anywhere for specific names). Per-item commits in loops are taken as deliberate batching. MongoDB writes are
    not judged.
    """

    slug = "missing-transaction"
    checklist = "Database transactions for data consistency"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
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
        walker = _Events(self, node)
        if any(self._tx_decorator(d) or self._delete_receiver(d) for d in node.decorators):
            walker.tx = 1
            walk(node.body, walker)
            if walker.tx_callees:
                self.record({"tx-callees": sorted(walker.tx_callees)})
            return
        walk(node.body, walker)
        if walker.tx_callees:
            self.record({"tx-callees": sorted(walker.tx_callees)})
        if walker.callees and node.name.value not in GENERIC_NAMES:
            self.record({"caller": node.name.value, "callees": sorted(walker.callees)[:100]})
        events = walker.events
        if not any(kind in ("write", "commit") for kind, *_ in events):
            return
        self.checked()
        handler = current_handler(self.ctx, node) is not None
        for api in sorted({api for kind, api, *_ in events if kind in ("write", "commit")}):
            mine = [e for e in events if e[1] in (api, "any")]
            writes = self._unsafe_writes(api, mine, walker.chains)
            if writes:
                lines = [self.ctx.line_of(n) for _, _, n, *_ in writes]
                self.record({"api": api, "function": node.name.value, "handler": handler,
                             "lines": lines, "what": writes[0][5]}, node.name)
                return

    def _unsafe_writes(self, api: str, events: list, chains: dict) -> list:
        if api in AUTOCOMMIT_APIS:
            outside = [e for e in events if e[0] == "write" and not e[3]]
            # Two write sites that can both run in one call (not in exclusive branches).
            together = [e for e in outside if any(o is not e and _together(chains[id(e[2])], chains[id(o[2])])
                                                  for o in outside)]
            return together if len(together) >= 2 else []
        if api in ("sqlalchemy", "dbapi"):
            commits = [e for e in events if e[0] == "commit" and not e[3] and not e[4]]
            segments: list[list] = []
            pending: list = []
            for e in events:
                if e[3]:
                    continue
                if e[0] in ("write", "work"):
                    pending.append(e)
                elif e[0] == "commit":
                    if e[4]:
                        return []  # per-item commits in a loop: deliberate batching
                    if pending:
                        segments.append(pending)
                        pending = []
            if len(segments) >= 2 and any(e[0] == "write" for seg in segments for e in seg) \
                    or len(segments) >= 2 and len(commits) >= 2:
                return [e for seg in segments for e in seg if e[0] == "write"] or commits
        return []

    def _delete_receiver(self, deco: cst.Decorator) -> bool:
        """``@receiver(post_delete, ...)``: Django sends delete signals inside the delete's
        own transaction."""
        if not isinstance(deco.decorator, cst.Call):
            return False
        if (self.ctx.resolve(deco.decorator.func) or "").rsplit(".", 1)[-1] != "receiver":
            return False
        signal = deco.decorator.args[0].value if deco.decorator.args else None
        name = (self.ctx.resolve(signal) or "") if isinstance(signal, (cst.Name, cst.Attribute)) else ""
        return name.rsplit(".", 1)[-1] in ("pre_delete", "post_delete")

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
        # Functions some caller runs inside a transaction block: by name in the same file,
        # and project-wide for names specific enough to identify a function.
        in_tx_file: set[tuple[str, str]] = set()
        in_tx_project: set[str] = set()
        calls: dict[str, set[str]] = {}
        for fact in facts:
            for name in fact.data.get("tx-callees", ()):
                in_tx_file.add((fact.path, name))
                if name not in GENERIC_NAMES and len(name) >= 6:
                    in_tx_project.add(name)
            if "caller" in fact.data:
                calls.setdefault(fact.data["caller"], set()).update(fact.data["callees"])
        # What a function run inside a transaction calls runs inside it too.
        frontier = list(in_tx_project)
        while frontier:
            name = frontier.pop()
            for callee in calls.get(name, ()):
                if callee not in in_tx_project and callee not in GENERIC_NAMES and len(callee) >= 6:
                    in_tx_project.add(callee)
                    frontier.append(callee)
        for fact in facts:
            data = fact.data
            if "api" not in data:
                continue
            if data["api"] == "django" and data["handler"] and atomic_requests:
                continue
            name = data["function"]
            if (fact.path, name) in in_tx_file or name in in_tx_project:
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


PROGRESS_VALUES = frozenset({"running", "started", "starting", "processing", "in_progress", "inprogress", "building",
                             "queued", "working", "busy", "locked"})


def _progress_marker(ctx, node: cst.Assign) -> bool:
    """``x.state = State.RUNNING``-style assignments: a job publishing its progress."""
    if not any(isinstance(t.target, cst.Attribute) and t.target.attr.value in ("state", "status", "progress", "phase")
               for t in node.targets):
        return False
    value = node.value
    text = (ctx.resolve(value) or "") if isinstance(value, (cst.Name, cst.Attribute)) else (string_value(value) or "")
    return text.rsplit(".", 1)[-1].lower() in PROGRESS_VALUES


def _terminates(block: cst.CSTNode) -> bool:
    """Whether a block ends with ``return``/``raise``/``continue``/``break``."""
    body = getattr(block, "body", None)
    if not isinstance(block, cst.IndentedBlock) or not body:
        return False
    last = body[-1]
    return isinstance(last, cst.SimpleStatementLine) and bool(last.body) and isinstance(
        last.body[-1], (cst.Return, cst.Raise, cst.Continue, cst.Break))


def _together(a: tuple[cst.CSTNode, ...], b: tuple[cst.CSTNode, ...]) -> bool:
    """Whether two calls (given by their ancestor chains) can both run in one execution:
    not in different branches of an ``if``/``match``/conditional expression, not in two
    ``except`` clauses (or an ``except`` and the ``else``), and not after a branch that
    returns before reaching the second."""
    i = 0
    while i < len(a) and i < len(b) and a[i] is b[i]:
        i += 1
    if i == 0 or i >= len(a) or i >= len(b):
        return True
    parent, x, y = a[i - 1], a[i], b[i]
    if isinstance(parent, (cst.If, cst.IfExp, cst.Match)):
        return False
    if isinstance(parent, cst.Try):
        branches = list(parent.handlers) + ([parent.orelse] if parent.orelse is not None else [])
        return not (any(x is h for h in branches) and any(y is h for h in branches))
    if isinstance(parent, cst.IndentedBlock):
        order = {id(stmt): n for n, stmt in enumerate(parent.body)}
        first = a if order.get(id(x), 0) <= order.get(id(y), 0) else b
        return not any(_terminates(node) for node in first[i + 1:])
    return True


def _true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"
