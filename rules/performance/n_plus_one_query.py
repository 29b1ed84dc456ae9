from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from checker.model import Confidence, Example, Location, Section, Severity
from checker.rule import Fact, ProjectContext, ProjectRule
from checker.syntax import walk
from rules._shared.db import (LAZY, READ, WRITE, QueryExpr, _attr_chain, call_chain, classify, describe_query,
                              function_locals, is_chain_receiver)
from rules._shared.models import Model, Models, load_models
from rules._shared.web import string_value

SLUG = "n-plus-one-query"
# Django related-manager methods that are answered from a prefetch cache.
FROM_PREFETCH = frozenset({"all", "count", "exists", "first", "last", "__iter__"})
# Related-manager methods that always send a query, prefetched or not.
REQUERY = frozenset({
    "filter", "exclude", "order_by", "annotate", "values", "values_list", "get", "aggregate", "latest",
    "earliest", "distinct", "select_related", "prefetch_related", "only", "defer", "in_bulk", "iterator",
    "reverse", "extra", "alias", "using", "none",
})
REL_WRITES = frozenset({"create", "get_or_create", "update_or_create", "add", "remove", "set", "clear", "update",
                        "delete", "bulk_create"})
MANAGER_METHODS = FROM_PREFETCH | REQUERY | REL_WRITES
NON_LAZY = frozenset({"joined", "selectin", "subquery", "immediate"})
NO_SQL = frozenset({"raise", "raise_on_sql", "noload"})
ALWAYS_QUERY = frozenset({"dynamic", "write_only"})
COMPUTED = (cst.Call, cst.FormattedString, cst.BinaryOperation, cst.Subscript)
DDL_CONSTRUCT = re.compile(r"^(?:Create|Drop)(?:Table|Schema|Index|Sequence|Constraint)$|^(?:DDL|AddConstraint|DropConstraint)$")
DDL_TEXT = re.compile(r"\s*(?:create|drop|alter|truncate|grant|revoke|vacuum|analyze|reindex|comment\s+on|set\s)\b", re.I)
# Calls that never reach the database, or re-read one object on purpose.
# Calls left out on purpose: no query (``none``), a deliberate reload, and the content-type
# manager's lookups, which Django answers from an in-process cache after the first call.
NO_ROUND_TRIP = frozenset({"none", "refresh_from_db", "arefresh_from_db", "get_for_model", "get_for_models",
                           "get_for_id"})
SUBQUERY_WRAPPERS = frozenset({"Subquery", "Exists", "Prefetch", "ArraySubquery", "OuterRef"})
COMP_NODES = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
# Calls that already send many rows at once: one per batch is the fix, not the problem.
BATCH_METHODS = frozenset({"insert_many", "bulk_write", "bulk_create", "bulk_update", "abulk_create", "abulk_update",
                           "executemany", "execute_many", "bulk_save_objects", "bulk_insert_mappings",
                           "bulk_update_mappings", "copy_records_to_table", "copy_expert", "copy_from", "in_bulk"})
CACHE_DECORATORS = re.compile(r"(?:^|\.)(?:lru_cache|cache|cached_property|cached|memoize|memoized|ttl_cache|"
                              r"cached_method|cachedmethod)$")
BATCHING = re.compile(r"chunk|batch|grouper|paginat|page_range|islice_groups|partition", re.IGNORECASE)
BOUNDED_CALLS = frozenset({"get_models", "get_app_configs", "get_fields", "_get_fields"})
BOUNDED_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")
MIGRATION_PATH = re.compile(r"(?:^|/)(?:migrations|alembic|versions)/")


def _targets(node: cst.BaseAssignTargetExpression, iterable: cst.BaseExpression) -> tuple[list[str], bool]:
    """The loop variables, and whether they are the rows of the iterable (not unpacked parts)."""
    if isinstance(node, cst.Name):
        return [node.value], True
    if isinstance(node, (cst.Tuple, cst.List)) and isinstance(iterable, cst.Call) and \
            isinstance(iterable.func, cst.Name) and iterable.func.value == "enumerate" and len(node.elements) == 2:
        second = node.elements[1].value
        return ([second.value], True) if isinstance(second, cst.Name) else ([], False)
    if isinstance(node, (cst.Tuple, cst.List)):
        return [e.value.value for e in node.elements if isinstance(e.value, cst.Name)], False
    return [], False


def _unwrap(expr: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and \
            expr.func.value in ("enumerate", "list", "tuple", "sorted", "reversed", "iter", "tqdm", "set") and expr.args:
        expr = expr.args[0].value
    return expr


def _bounded(expr: cst.BaseExpression, literal_names: set[str] | frozenset[str] = frozenset(),
             target: cst.CSTNode | None = None) -> bool:
    """Loops over literals, ``range(<literal>)``, UPPER_CASE constants, local names bound to
    literals, the models of the app registry and Django signal responses run a fixed, small
    number of times."""
    expr = _unwrap(expr)
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set, cst.Dict, cst.SimpleString, cst.ConcatenatedString)):
        return True
    if isinstance(expr, cst.Name) and expr.value in literal_names:
        return True
    if isinstance(expr, cst.Call):
        callee = expr.func.attr.value if isinstance(expr.func, cst.Attribute) else \
            expr.func.value if isinstance(expr.func, cst.Name) else ""
        if BATCHING.search(callee):
            return True  # one query per batch of rows is the fix for N+1, not an instance of it
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        method = expr.func.attr.value
        if method in BOUNDED_CALLS:
            return True
        if method in ("send", "send_robust") and isinstance(target, cst.Tuple) and len(target.elements) == 2:
            return True  # ``for receiver, response in signal.send(...)``
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "range":
        return all(isinstance(a.value, cst.Integer) for a in expr.args)
    if isinstance(expr, cst.Name) and BOUNDED_NAME.match(expr.value):
        return True
    if isinstance(expr, cst.Attribute):
        root, chain = _attr_chain(expr)
        if root == "settings" or (chain and BOUNDED_NAME.match(chain[-1])):
            return True
        if chain and chain[-1] in ("choices",):
            return True
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in ("items", "keys", "values"):
        return _bounded(expr.func.value, literal_names)
    return False


def _absence_tests(test: cst.BaseExpression):
    """("missing", x) for ``x is None`` / ``not x``; ("not-in", c) for ``k not in c``."""
    if isinstance(test, cst.BooleanOperation):
        yield from _absence_tests(test.left)
        yield from _absence_tests(test.right)
    elif isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not) and isinstance(test.expression, cst.Name):
        yield "missing", test.expression.value
    elif isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        op, right = test.comparisons[0].operator, test.comparisons[0].comparator
        if isinstance(op, cst.Is) and isinstance(right, cst.Name) and right.value == "None" and isinstance(test.left, cst.Name):
            yield "missing", test.left.value
        elif isinstance(op, cst.NotIn) and isinstance(right, cst.Name):
            yield "not-in", right.value


def _qe_json(q: QueryExpr | None) -> dict | None:
    if q is None:
        return None
    return {"orm": q.orm, "model": q.model, "ref": q.ref, "eager": sorted(q.eager), "to_attr": sorted(q.to_attr),
            "values": q.values, "single": q.single, "rel_var": q.rel_var, "rel_chain": q.rel_chain}


@dataclass
class _Frame:
    func: cst.FunctionDef | None
    cls: str | None
    names: dict[str, QueryExpr] = field(default_factory=dict)
    fid: int = 0
    queries: int = 0  # database calls in the function (recorded as "fq" facts)
    calls: list[list[Any]] = field(default_factory=list)  # [name, on self]
    accesses: int = 0  # attribute reads on parameters (recorded as "fa" facts)
    params: list[str] = field(default_factory=list)
    literals: set[str] = field(default_factory=set)  # names bound to literal containers


class NPlusOneQuery(ProjectRule):
    """
    ## What it does
    Finds queries that run once per iteration of a loop or comprehension:

    * a query in the loop body: Django manager queries (`Model.objects.get/filter/create/...`),
      SQLAlchemy session queries (`session.query`, `session.execute`, `session.scalars`,
      `session.get`, `Model.query...`), DB-API `cursor.execute`/`executemany`-able writes,
      asyncpg, databases and MongoDB calls;
    * relation access on the rows of a query: a Django forward foreign key (`order.customer`), a
      reverse or many-to-many manager (`order.items.all()`, `.count()`, `.filter()`,
      `.exists()`), a SQLAlchemy lazy relationship (`user.addresses`), when the query that
      produced the rows does not load that relation (`select_related`, `prefetch_related`,
      `Prefetch`, `joinedload`, `selectinload`, `subqueryload`, or a relationship declared with
      `lazy="joined"/"selectin"/"subquery"`). Chaining `.filter()`/`.order_by()`/... onto a
      prefetched relation is reported too: it queries again;
    * a call, inside the loop, of a function or method of the same module that runs a query
      or reads a relation of the row it is given.

    Which attributes are relations comes from the project's own model definitions (Django
    models, SQLAlchemy declarative classes, Flask-SQLAlchemy and SQLModel models), in any
    file. The finding sits on the query line and names the loop line.

    ## Why is this bad?
    A list of N rows then costs N+1 round trips to the database instead of one or two. It
    goes unnoticed with ten rows in development and turns a page into seconds of database
    time in production.

    ## Known limits
    Deliberately not reported:

    * Writes through a model instance in a loop (`obj.save()`, `obj.delete()`,
      `obj.tags.add()`): they run the model's own logic and signals per object, so the bulk
      alternatives are no drop-in replacement. Set `include-instance-writes = true` to report
      them. Writes through a manager or session (`Model.objects.create(...)`,
      `session.execute(update(...))`) and raw driver writes (`cursor.execute("INSERT ...")`)
      are reported (`include-writes = false` turns the first two off); DDL and loops that
      run a list of statements are not.
    * Loops that run a few times: over literal collections (also through a local name),
      `range(<number>)`, UPPER_CASE constants, the app registry's models, a Django signal's
      responses, and a branch taken for one iteration (`if key == "x":`).
    * Batching, which is the fix rather than the problem: loops over `chunks(...)`,
      `batched(...)` or paginators, and queries on the batch (`filter(id__in=chunk)`,
      `.in_(chunk)`); loops over databases or tenants that open their own connection.
    * Queries that run once or not at all: in a `return`/`raise` inside the loop, guarded by
      a cache test (`if key not in cache: cache[key] = ...`, `if x is None: x = ...`),
      subqueries (`OuterRef`, `Subquery`, `Exists`, a queryset passed to another query),
      `.none()`, and `refresh_from_db()` (a deliberate re-read).
    * Reading the parent from rows loaded through its reverse manager
      (`for o in customer.orders.all(): o.customer`): Django sets it without a query.

    `while` loops are not checked (they usually page through results or retry). Relation
    access is followed only when the loop iterates a query whose model is known in the
    same function (directly, through local variables, or through the relation of an outer
    loop's row); rows passed in as parameters and DRF serializers
    (`SerializerMethodField`) are not followed. Helper functions are followed within one
    module. Migrations and test code are not checked.
    """

    slug = SLUG
    checklist = "N+1 query problems in database operations; optimize N+1 with eager loading"
    section = Section.PERFORMANCE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript")
    summary = "A query runs once per loop iteration (N+1 queries)"
    options = {"include-writes": True, "include-instance-writes": False}
    triggers = ("objects", "query", "execute", "session", "select", "fetch", "save(", "delete(", "find_one",
                "_set", ".all()", "scalars", "insert_one", "update_one")
    bad = (
        Example(
            "from django.db import models\n\n"
            "class Customer(models.Model):\n"
            "    name = models.CharField(max_length=80)\n\n"
            "class Order(models.Model):\n"
            "    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name='orders')\n\n"
            "def report():\n"
            "    rows = []\n"
            "    for order in Order.objects.filter(paid=True):\n"
            "        rows.append(order.customer.name)  # flagged\n"
            "    return rows\n",
            path="shop/models.py",
        ),
        Example(
            "import sqlite3\n\n"
            "def save_all(db_path, users):\n"
            "    conn = sqlite3.connect(db_path)\n"
            "    cur = conn.cursor()\n"
            "    for user in users:\n"
            "        cur.execute(  # flagged\n"
            "            'INSERT INTO users (name) VALUES (?)', (user.name,)\n"
            "        )\n"
            "    conn.commit()\n",
            path="app/store.py",
        ),
    )
    good = (
        Example(
            "from django.db import models\n\n"
            "class Customer(models.Model):\n"
            "    name = models.CharField(max_length=80)\n\n"
            "class Order(models.Model):\n"
            "    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name='orders')\n\n"
            "def report():\n"
            "    orders = Order.objects.filter(paid=True).select_related('customer')\n"
            "    return [order.customer.name for order in orders]\n",
            path="shop/models.py",
        ),
        Example(
            "import sqlite3\n\n"
            "def save_all(db_path, users):\n"
            "    conn = sqlite3.connect(db_path)\n"
            "    conn.executemany('INSERT INTO users (name) VALUES (?)', [(u.name,) for u in users])\n"
            "    conn.commit()\n",
            path="app/store.py",
        ),
    )

    # -- the per-file part: record loops, queries, relation accesses and helper calls --------
    def __init__(self, ctx=None) -> None:
        super().__init__(ctx)
        self._frames: list[_Frame] = []
        self._loops: dict[int, dict] = {}
        self._next = 0
        self._skip = ctx is not None and (ctx.is_test or bool(MIGRATION_PATH.search(ctx.path)))
        self._loop_assigned: dict[int, set[str]] = {}
        self._assign_counts: dict[int, dict[str, int]] = {}

    def _frame(self) -> _Frame | None:
        return self._frames[-1] if self._frames else None

    def visit_Module(self, node: cst.Module) -> None:
        self._frames.append(_Frame(None, None))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        cls = None
        for anc in self.ctx.ancestors():
            if isinstance(anc, cst.ClassDef):
                cls = anc.name.value
                break
            if isinstance(anc, cst.FunctionDef):
                break
        self._next += 1
        frame = _Frame(node, cls, fid=self._next)
        frame.params = [p.name.value for p in node.params.params]
        self._frames.append(frame)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        frame = self._frames.pop()
        if self._skip:
            return
        decorators = [self.ctx.resolve(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or ""
                      for d in node.decorators]
        cached = any(CACHE_DECORATORS.search(d) for d in decorators)
        if frame.queries or frame.calls or frame.accesses:
            self.record({"t": "func", "fid": frame.fid, "name": node.name.value, "cls": frame.cls,
                         "params": frame.params, "calls": frame.calls, "cached": cached}, node)

    # Local names bound to query expressions, in source order.
    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        frame = self._frame()
        if frame is None or not isinstance(target, cst.Name):
            return
        for loop in self.ctx.enclosing_loops():
            self._loop_assigned.setdefault(id(loop), set()).add(target.value)
            counts = self._assign_counts.setdefault(id(loop), {})
            counts[target.value] = counts.get(target.value, 0) + 1
        if isinstance(value, (cst.List, cst.Tuple, cst.Set, cst.Dict)) and len(value.elements) <= 50 and \
                not any(isinstance(e, (cst.StarredElement, cst.StarredDictElement)) for e in value.elements):
            frame.literals.add(target.value)
        elif isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and \
                value.func.attr.value in ("send", "send_robust") and self._signal_name(value.func.value):
            frame.literals.add(target.value)  # responses of a Django signal: one per receiver
        else:
            frame.literals.discard(target.value)
        desc = describe_query(self.ctx, value, frame.names, self._row_vars())
        if desc is not None:
            frame.names[target.value] = desc
        else:
            frame.names.pop(target.value, None)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._skip:
            return
        for t in node.targets:
            self._bind(t.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and not self._skip:
            self._bind(node.target, node.value)

    def _signal_name(self, node: cst.BaseExpression) -> bool:
        resolved = self.ctx.resolve(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
        return bool(resolved) and ("signal" in resolved.lower() or resolved.rsplit(".", 1)[-1].startswith(
            ("register_", "on_", "pre_", "post_")))

    def _row_vars(self) -> dict[str, int]:
        """Loop variables in scope (innermost loops last), to their loop ids."""
        out: dict[str, int] = {}
        for loop in reversed(self.ctx.enclosing_loops() + ([self.ctx.node] if self.ctx.node is not None else [])):
            info = self._loops.get(id(loop))
            if info is not None:
                for v in info["vars"]:
                    out[v] = info["id"]
        return out

    def _add_loop(self, node: cst.CSTNode, target: cst.BaseAssignTargetExpression, iterable: cst.BaseExpression) -> None:
        frame = self._frame()
        if frame is None or self._skip:
            return
        self._next += 1
        row_vars = self._row_vars()
        names, rows = _targets(target, iterable)
        desc = describe_query(self.ctx, _unwrap(iterable), frame.names, row_vars) if rows else None
        info = {"t": "loop", "id": self._next, "vars": names,
                "bounded": _bounded(iterable, frame.literals, target),
                "iter": _qe_json(desc), "rel_loop": row_vars.get(desc.rel_var) if desc is not None and desc.rel_var else None,
                "text": self.ctx.code_of(_unwrap(iterable)).strip()[:80]}
        self._loops[id(node)] = info
        self.record(info, node)

    def visit_For(self, node: cst.For) -> None:
        self._add_loop(node, node.target, node.iter)

    def _comp(self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp) -> None:
        self._add_loop(node, node.for_in.target, node.for_in.iter)

    visit_ListComp = _comp
    visit_SetComp = _comp
    visit_GeneratorExp = _comp
    visit_DictComp = _comp

    def _loop_ids(self) -> list[int]:
        return [self._loops[id(n)]["id"] for n in self.ctx.enclosing_loops() if id(n) in self._loops]

    def visit_Call(self, node: cst.Call) -> None:
        frame = self._frame()
        if frame is None or self._skip:
            return
        loops = self._loop_ids()
        found = classify(self.ctx, node, frame.func)
        if found is not None and found.op in (READ, WRITE, LAZY):
            if is_chain_receiver(self.ctx):
                return
            kind = "instance" if found.op == WRITE and found.instance else "write" if found.op == WRITE else "read"
            if found.method not in BATCH_METHODS and found.method not in NO_ROUND_TRIP and frame.func is not None:
                frame.queries += 1
                self.record({"t": "fq", "fid": frame.fid, "desc": found.description, "kind": kind,
                             "stmt": self._statement_param(node, found, frame)}, node)
            if found.method in BATCH_METHODS or found.method in NO_ROUND_TRIP or self._per_connection(node, frame) \
                    or self._statement_list(node, found) \
                    or self._leaves_loop() or self._subquery(node, frame) or self._memoised() or self._one_iteration():
                return
            if loops:
                self.checked()
                self.record({"t": "query", "loops": loops, "desc": found.description, "api": found.api,
                             "op": found.op, "method": found.method, "batched": self._batched(node),
                             "kind": kind}, node)
            return
        callee = None
        if isinstance(node.func, cst.Name):
            callee = [node.func.value, False]
        elif isinstance(node.func, cst.Attribute) and isinstance(node.func.value, cst.Name) and \
                node.func.value.value in ("self", "cls"):
            callee = [node.func.attr.value, True]
        if callee is None:
            return
        if frame.func is not None and callee[0] == frame.func.name.value:
            return  # recursion, not a loop calling a helper
        args = [a.value.value if isinstance(a.value, cst.Name) and a.keyword is None else None for a in node.args]
        # Positional arguments computed per call (a call, an f-string, an operation, a
        # starred expansion): a statement runner fed one builds a new statement each time.
        computed = [a.keyword is None and (bool(a.star) or isinstance(a.value, COMPUTED)) for a in node.args]
        if [callee[0], callee[1]] not in frame.calls:
            frame.calls.append([callee[0], callee[1]])
        if loops:
            self.record({"t": "call", "loops": loops, "name": callee[0], "self": callee[1], "cls": frame.cls,
                         "args": args, "computed": computed, "row_vars": self._row_vars()}, node)

    def _subquery(self, node: cst.Call, frame: _Frame) -> bool:
        """A queryset used inside another query (``Subquery``, ``Exists``, ``pk__in=...``,
        ``OuterRef``): the database runs it as part of that query."""
        if "OuterRef" in self.ctx.code_of(node):
            return True
        child: cst.CSTNode = node
        for anc in self.ctx.ancestors():
            if isinstance(anc, (cst.For, cst.While, cst.FunctionDef, cst.Lambda) + COMP_NODES):
                return False
            if isinstance(anc, cst.Call) and child is not anc.func:
                name = (self.ctx.resolve(anc.func) or "").rsplit(".", 1)[-1]
                if name in SUBQUERY_WRAPPERS or classify(self.ctx, anc, frame.func) is not None:
                    return True
            child = anc
        return False

    def _statement_list(self, node: cst.Call, found) -> bool:
        """``for stmt in statements: conn.execute(stmt)`` runs different statements, and DDL
        (``CREATE``/``DROP``/``ALTER``, ``DropTable(...)``) cannot be batched into one query."""
        if found.api not in ("dbapi", "sqlalchemy", "asyncpg", "databases") or not node.args:
            return False
        first = node.args[0].value
        if isinstance(first, cst.Name) and first.value in self._row_vars():
            return True
        if isinstance(first, cst.Call):
            name = (self.ctx.resolve(first.func) or "").rsplit(".", 1)[-1]
            if DDL_CONSTRUCT.match(name):
                return True
        text = string_value(first)
        return bool(text and DDL_TEXT.match(text))

    def _statement_param(self, node: cst.Call, found, frame: _Frame) -> int | None:
        """The index of the parameter a statement runner executes as its SQL text
        (``def execute(self, sql, params): cursor.execute(sql, params)``), else None."""
        if found.api not in ("dbapi", "sqlalchemy", "asyncpg", "databases") or not node.args:
            return None
        first = node.args[0].value
        if isinstance(first, cst.Name) and first.value in frame.params and first.value not in ("self", "cls"):
            return frame.params.index(first.value)
        return None

    def _one_iteration(self) -> bool:
        """``if key == "itemvars": ...`` inside ``for key in fields``: the branch runs for one iteration."""
        row_vars = self._row_vars()
        for anc in self.ctx.ancestors():
            if isinstance(anc, cst.If):
                test = anc.test
                if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and \
                        isinstance(test.comparisons[0].operator, (cst.Equal, cst.Is)):
                    sides = (test.left, test.comparisons[0].comparator)
                    if any(isinstance(a, cst.Name) and a.value in row_vars for a in sides) and \
                            any(isinstance(b, (cst.SimpleString, cst.Integer, cst.ConcatenatedString)) for b in sides):
                        return True
            elif isinstance(anc, (cst.For, cst.While, cst.FunctionDef)):
                return False
        return False

    def _memoised(self) -> bool:
        """``if key not in cache: cache[key] = Model.objects.get(...)`` / ``if x is None: x = ...``
        (with ``x`` kept across iterations): the query runs once per key, guarded by the test."""
        names: set[str] = set()  # plain names assigned from the query
        containers: set[str] = set()  # ``cache`` in ``cache[key] = ...``
        loops = self.ctx.enclosing_loops()
        counts = self._assign_counts.get(id(loops[0]), {}) if loops else {}
        for anc in self.ctx.ancestors():
            if isinstance(anc, (cst.Assign, cst.AugAssign)):
                targets = [t.target for t in anc.targets] if isinstance(anc, cst.Assign) else [anc.target]
                for t in targets:
                    if isinstance(t, cst.Name):
                        names.add(t.value)
                        continue
                    while isinstance(t, (cst.Subscript, cst.Attribute)):
                        t = t.value
                    if isinstance(t, cst.Name):
                        containers.add(t.value)
            elif isinstance(anc, cst.If) and (names or containers):
                for kind, name in _absence_tests(anc.test):
                    if kind == "missing" and name in names and counts.get(name, 0) <= 1:
                        return True
                    if kind == "not-in" and name in containers | names:
                        return True
            elif isinstance(anc, (cst.For, cst.While, cst.FunctionDef)):
                return False
        return False

    def _leaves_loop(self) -> bool:
        """The call is part of a ``return``/``raise`` inside the loop: it runs once, then the loop ends."""
        for anc in self.ctx.ancestors():
            if isinstance(anc, (cst.Return, cst.Raise)):
                return True
            if isinstance(anc, (cst.For, cst.While, cst.FunctionDef, cst.Lambda) + COMP_NODES):
                return False
        return False

    def _per_connection(self, node: cst.Call, frame: _Frame) -> bool:
        """A query on a connection that the loop itself iterates or opens (one per shard,
        tenant or database): the loop is over databases, not rows."""
        base, _ = call_chain(node)
        root = base
        while isinstance(root, (cst.Attribute, cst.Subscript)):
            root = root.value
        if not isinstance(root, cst.Name):
            return False
        loops = self.ctx.enclosing_loops()
        kind = function_locals(self.ctx, frame.func).kinds.get(root.value)
        for loop in loops:
            info = self._loops.get(id(loop))
            if info is not None and root.value in info["vars"] and kind is None and \
                    classify(self.ctx, node, frame.func).api != "django":
                return True
            if kind is not None and root.value in self._loop_assigned.get(id(loop), ()):
                return True
        return False

    def _batched(self, node: cst.Call) -> bool:
        """``filter(pk__in=chunk)`` / ``.in_(chunk)`` with a loop variable: a batch, not a row."""
        row_vars = set(self._row_vars())
        found = False

        class _Find(cst.CSTVisitor):
            def visit_Arg(self, a: cst.Arg) -> None:
                nonlocal found
                if a.keyword is not None and a.keyword.value.endswith("__in") and isinstance(a.value, cst.Name) \
                        and a.value.value in row_vars:
                    found = True

            def visit_Call(self, c: cst.Call) -> None:
                nonlocal found
                if isinstance(c.func, cst.Attribute) and c.func.attr.value in ("in_", "any_") and c.args and \
                        isinstance(c.args[0].value, cst.Name) and c.args[0].value.value in row_vars:
                    found = True

        walk(node, _Find())
        return found

    def visit_Attribute(self, node: cst.Attribute) -> None:
        frame = self._frame()
        if frame is None or self._skip:
            return
        parent = self.ctx.parent()
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return  # only the outermost attribute of a chain
        if isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.Del)) and \
                getattr(parent, "target", None) is node:
            return  # ``row.customer = x`` sets the key; it does not load anything
        if isinstance(parent, cst.Element) and any(isinstance(a, cst.AssignTarget) for a in self.ctx.ancestors()):
            return
        root, chain = _attr_chain(node)
        if root is None or not chain:
            return
        called = isinstance(parent, cst.Call) and parent.func is node
        row_vars = self._row_vars()
        if root in row_vars:
            self.record({"t": "access", "loop": row_vars[root], "var": root, "chain": chain, "call": called}, node)
        elif frame.func is not None and root in frame.params and root not in ("self", "cls"):
            frame.accesses += 1
            self.record({"t": "fa", "fid": frame.fid, "param": frame.params.index(root), "chain": chain,
                         "call": called}, node)

    # -- the project part --------------------------------------------------------------------
    def check(self, project: ProjectContext) -> None:
        models = load_models(project)
        by_path: dict[str, list[Fact]] = {}
        for fact in project.facts(SLUG):
            by_path.setdefault(fact.path, []).append(fact)
        for path, facts in sorted(by_path.items()):
            if project.is_test(path) or MIGRATION_PATH.search(path):
                continue
            _FileCheck(self, models, path, facts, self._write_kinds()).run()

    def _write_kinds(self) -> set[str]:
        kinds = {"read"}
        if self.opts.get("include-writes", True):
            kinds.add("write")
        if self.opts.get("include-instance-writes", False):
            kinds.add("instance")
        return kinds


@dataclass
class _Resolved:
    orm: str
    model: Model | None
    eager: set[str]
    to_attr: set[str]
    values: bool
    prefix: str = ""  # the relation path from the outer query's rows (nested loops)


class _FileCheck:
    def __init__(self, rule: NPlusOneQuery, models: Models, path: str, facts: list[Fact], kinds: set[str]) -> None:
        self.rule = rule
        self.kinds = kinds
        self.writes = "instance" in kinds
        self.models = models
        self.path = path
        self.loops: dict[int, Fact] = {}
        self.queries: list[Fact] = []
        self.accesses: list[Fact] = []
        self.calls: list[Fact] = []
        self.funcs: dict[tuple[str | None, str], Fact] = {}
        self.func_queries: dict[int, list[Fact]] = {}
        self.func_accesses: dict[int, list[Fact]] = {}
        for f in facts:
            t = f.data["t"]
            if t == "loop":
                self.loops[f.data["id"]] = f
            elif t == "query":
                self.queries.append(f)
            elif t == "access":
                self.accesses.append(f)
            elif t == "call":
                self.calls.append(f)
            elif t == "func":
                self.funcs.setdefault((f.data["cls"], f.data["name"]), f)
            elif t == "fq":
                self.func_queries.setdefault(f.data["fid"], []).append(f)
            elif t == "fa":
                self.func_accesses.setdefault(f.data["fid"], []).append(f)
        self.reported: set[int] = set()
        self._resolved: dict[int, _Resolved | None] = {}

    def run(self) -> None:
        for q in sorted(self.queries, key=lambda f: f.line):
            if q.data.get("batched") or q.data.get("kind", "read") not in self.kinds:
                continue
            loop = self._unbounded_loop(q.data["loops"])
            if loop is None:
                continue
            self._report(q.line, f"{q.data['desc']} runs once per iteration of the loop on line {loop.line} "
                                 f"(N+1 queries); {_advice(q.data)}", loop)
        seen: set[tuple[int, str]] = set()
        for a in sorted(self.accesses, key=lambda f: f.line):
            loop = self.loops.get(a.data["loop"])
            if loop is None or loop.data["bounded"]:
                continue
            self._access(loop, a.data["var"], a.data["chain"], a.data["call"], a.line, seen)
        for c in sorted(self.calls, key=lambda f: f.line):
            self._helper_call(c, seen)

    # -- the loop's rows ------------------------------------------------------------------------
    def _unbounded_loop(self, ids: list[int]) -> Fact | None:
        for i in ids:
            loop = self.loops.get(i)
            if loop is not None and not loop.data["bounded"]:
                return loop
        return None

    def resolve(self, loop_id: int, depth: int = 0) -> _Resolved | None:
        if loop_id in self._resolved:
            return self._resolved[loop_id]
        self._resolved[loop_id] = None
        loop = self.loops.get(loop_id)
        desc = loop.data.get("iter") if loop is not None else None
        result = None
        if desc is not None and depth < 8:
            if desc.get("rel_var"):
                outer = self.resolve(loop.data.get("rel_loop"), depth + 1) if loop.data.get("rel_loop") else None
                if outer is not None and outer.model is not None:
                    result = self._through(outer, desc["rel_chain"], desc)
            elif desc.get("model") and not desc.get("values") and not desc.get("single"):
                model = self.models.get(desc["model"], desc.get("ref"))
                if model is not None and (model.orm == desc["orm"] or desc["orm"] == "?"):
                    result = _Resolved(model.orm or desc["orm"], model, set(desc["eager"]), set(desc["to_attr"]), False)
        self._resolved[loop_id] = result
        return result

    def _through(self, outer: _Resolved, chain: list[str], desc: dict) -> _Resolved | None:
        """The rows of ``row.<relation>.all()`` for an outer row."""
        model, path, rel = outer.model, "", None
        for name in chain:
            if name in MANAGER_METHODS:
                break
            rel = self.models.relation(model, name)
            if rel is None:
                return None
            path = f"{path}__{name}" if path else name
            model = self.models.get(rel.get("target"))
            if model is None:
                return None
        prefix = path + "__"
        eager = {p[len(prefix):] for p in outer.eager if p.startswith(prefix)}
        if rel is not None and rel.get("kind") == "reverse_fk" and rel.get("field"):
            eager.add(rel["field"])  # Django sets the parent on rows read through its reverse manager
        if "*" in outer.eager:
            eager.add("*")
        eager |= set(desc.get("eager", ()))
        full = f"{outer.prefix}__{path}" if outer.prefix else path
        return _Resolved(model.orm or outer.orm, model, eager, set(), False, full)

    # -- relation access --------------------------------------------------------------------------
    def _access(self, loop: Fact, var: str, chain: list[str], called: bool, line: int, seen: set) -> None:
        rows = self.resolve(loop.data["id"])
        if rows is None or rows.model is None:
            return
        problem = self.relation_problem(rows, chain, called, var)
        if problem is None:
            return
        key, what, fix = problem
        if (loop.data["id"], key) in seen:
            return
        seen.add((loop.data["id"], key))
        self._report(line, f"{what} runs a query once per row of the loop on line {loop.line} (N+1 queries); {fix}", loop)

    def relation_problem(self, rows: _Resolved, chain: list[str], called: bool, var: str) -> tuple[str, str, str] | None:
        """(relation path, what runs the query, what to do instead) for a chain read on a row, or None."""
        model, path = rows.model, ""
        for i, name in enumerate(chain):
            if i == 0 and name in rows.to_attr:
                return None
            rel = self.models.relation(model, name)
            if rel is None:
                return None
            path = f"{path}__{name}" if path else name
            shown = f"`{var}.{path.replace('__', '.')}"
            rest = chain[i + 1:]
            target = self.models.get(rel.get("target"))
            if model is not None and model.orm == "sqlalchemy":
                lazy = rel.get("lazy") or "select"
                covered = path in rows.eager or "*" in rows.eager or lazy in NON_LAZY
                if lazy in NO_SQL:
                    return None
                if lazy in ALWAYS_QUERY:
                    return path, f"{shown}` (a `lazy=\"{lazy}\"` relationship)", \
                        "load the related rows of all parents in one query before the loop"
                if not covered:
                    how = "selectinload" if rel.get("many") else "joinedload"
                    where = "the outer query's loader option" if rows.prefix else "the query"
                    verb = "chain" if rows.prefix else "add"
                    option = f".{how}({model.name}.{name})" if rows.prefix else f".options({how}({model.name}.{name}))"
                    return path, f"{shown}` (a lazy relationship)", f"{verb} `{option}` to {where}"
                if rel.get("many"):
                    return None
                model = target
                continue
            # Django
            if rel.get("many"):
                method = rest[0] if rest else None
                if method is None:
                    return None  # the manager itself, not evaluated here
                prefetched = path in rows.eager
                if method in REL_WRITES:
                    if not self.writes:
                        return None
                    return path, f"{shown}.{method}()`", "collect the changes and write them with one bulk query"
                full = f"{rows.prefix}__{path}" if rows.prefix else path
                if method in FROM_PREFETCH:
                    if prefetched:
                        return None
                    if method in ("count", "exists"):
                        return path, f"{shown}.{method}()`", \
                            f"add `.annotate(...)` with `Count('{path}')`, or `.prefetch_related('{full}')`, to the {_outer(rows)}query"
                    return path, f"{shown}.{method}()`", f"add `.prefetch_related('{full}')` to the {_outer(rows)}query"
                if method in REQUERY:
                    if prefetched:
                        return path, f"{shown}.{method}()` (`{path}` is prefetched, but `.{method}()` queries again)", \
                            f"work on the prefetched rows in Python, or prefetch with `Prefetch('{path}', queryset=...)`"
                    return path, f"{shown}.{method}()`", f"prefetch with `Prefetch('{path}', queryset=...)`"
                return None
            covered = path in rows.eager or ("*" in rows.eager and rel.get("kind") in ("fk", "o2o"))
            if not covered:
                if rest and rest[0] in ("pk", "id") and rel.get("kind") == "fk" and len(chain) == i + 2:
                    return path, f"{shown}.{rest[0]}`", f"use `{var}.{name}_id`, which needs no query"
                if rows.prefix:
                    return path, f"{shown}` (a related object)", \
                        f"add `.prefetch_related('{rows.prefix}__{path}')` to the outer query"
                return path, f"{shown}` (a related object)", f"add `.select_related('{path}')` to the query"
            model = target
            if model is None:
                return None
        return None

    # -- helpers ----------------------------------------------------------------------------------
    def _helper(self, cls: str | None, name: str, is_self: bool) -> Fact | None:
        if is_self:
            return self.funcs.get((cls, name))
        return self.funcs.get((None, name))

    def _helper_query(self, fn: Fact, visited: set) -> tuple[int, str] | None:
        key = (fn.data["cls"], fn.data["name"])
        if key in visited or fn.data.get("cached"):
            return None
        visited.add(key)
        for q in sorted(self.func_queries.get(fn.data["fid"], []), key=lambda f: f.line):
            if q.data["kind"] in self.kinds:
                return q.line, q.data["desc"]
        for name, is_self in fn.data["calls"]:
            inner = self._helper(fn.data["cls"], name, is_self)
            if inner is not None:
                found = self._helper_query(inner, visited)
                if found is not None:
                    return found
        return None

    def _runs_statement_list(self, call: Fact, fn: Fact) -> bool:
        """``for sql in statements: self.execute(sql)``: the helper runs the SQL text it is
        given, and the loop hands it a different statement each time (a loop variable, or
        one built per iteration, as schema editors do); a constant statement still counts."""
        queries = self.func_queries.get(fn.data["fid"], [])
        if not queries:
            return False
        offset = 1 if call.data["self"] else 0
        row_vars = call.data.get("row_vars", {})
        args, computed = call.data["args"], call.data.get("computed", [])
        for q in queries:
            index = q.data.get("stmt")
            if index is None or not 0 <= index - offset < len(args):
                return False
            position = index - offset
            if args[position] not in row_vars and not (position < len(computed) and computed[position]):
                return False
        return True

    def _helper_call(self, call: Fact, seen: set) -> None:
        fn = self._helper(call.data["cls"], call.data["name"], call.data["self"])
        if fn is None:
            return
        loop = self._unbounded_loop(call.data["loops"])
        if loop is None:
            return
        shown = f"{'self.' if call.data['self'] else ''}{call.data['name']}()"
        if self._runs_statement_list(call, fn):
            return
        found = self._helper_query(fn, set())
        if found is not None:
            line, desc = found
            self._report(call.line, f"`{shown}` runs {desc} (line {line}) once per iteration of the loop on line "
                                    f"{loop.line} (N+1 queries); load what it needs for all rows before the loop",
                         loop, extra=[Location(self.path, line, "query in the helper")])
            return
        if fn.data.get("cached"):
            return
        # A helper that reads a relation of the row it is given.
        row_vars = call.data.get("row_vars", {})
        offset = 1 if call.data["self"] else 0
        for index, value in enumerate(call.data["args"]):
            if value is None or value not in row_vars:
                continue
            rows = self.resolve(row_vars[value])
            if rows is None or rows.model is None:
                continue
            for access in sorted(self.func_accesses.get(fn.data["fid"], []), key=lambda f: f.line):
                param_index, chain, called, line = (access.data["param"], access.data["chain"], access.data["call"],
                                                    access.line)
                if param_index != index + offset:
                    continue
                problem = self.relation_problem(rows, chain, called, fn.data["params"][param_index])
                if problem is None:
                    continue
                key, what, fix = problem
                if (row_vars[value], key) in seen:
                    continue
                seen.add((row_vars[value], key))
                self._report(call.line, f"`{shown}` reads {what} (line {line}), which runs a query once per row of the "
                                        f"loop on line {loop.line} (N+1 queries); {fix}", loop,
                             extra=[Location(self.path, line, "relation read in the helper")])
                return

    def _report(self, line: int, message: str, loop: Fact, extra: list[Location] | None = None) -> None:
        if line in self.reported:
            return
        self.reported.add(line)
        related = [Location(self.path, loop.line, "the loop")] + list(extra or [])
        self.rule.report_at(self.path, line, message, related=related)


def _outer(rows: _Resolved) -> str:
    return "outer " if rows.prefix else ""


def _advice(q: dict) -> str:
    api, op, method = q["api"], q["op"], q["method"]
    if api == "django":
        if method in ("create", "acreate", "bulk_create"):
            return "collect the objects and call `bulk_create()` once"
        if method in ("save", "asave"):
            return "use `bulk_update()` or one `queryset.update()`"
        if method in ("delete", "adelete"):
            return "delete with one `queryset.filter(...).delete()`"
        if method in ("get_or_create", "update_or_create"):
            return "fetch the existing rows with one `__in` query, then `bulk_create()` the missing ones"
        return "fetch the rows for all iterations in one query (`filter(<field>__in=...)`, `in_bulk()`) before the loop"
    if api == "dbapi":
        if op == WRITE:
            return "use `executemany()` (or one multi-row statement) instead"
        return "run one set query (`WHERE id IN (...)` / `= ANY(%s)`) before the loop"
    if api == "sqlalchemy":
        if op == WRITE:
            return "send all rows in one `session.execute(insert(...), rows)` / `update(...)` call"
        return "load the rows for all iterations in one query (`where(Model.id.in_(ids))`) or eager-load the relation"
    if api == "mongo":
        return "use one `$in` query, `insert_many()` or `bulk_write()`"
    return "load everything the loop needs in one query before it"
