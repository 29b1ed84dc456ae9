from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import ProjectContext, ProjectRule
from checker.syntax import walk
from rules._shared.db import QueryExpr, QueryNames, _attr_chain
from rules._shared.models import load_models

SLUG = "inefficient-query"
COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)
MIGRATION_PATH = re.compile(r"(?:^|/)(?:migrations|alembic|versions)/")
JSON_DUMPS = frozenset({"json.dumps", "simplejson.dumps", "ujson.dumps", "orjson.dumps", "rapidjson.dumps"})


def _rows(q: QueryExpr | None) -> bool:
    """A query that yields model rows (not values, not one object)."""
    return q is not None and q.orm in ("django", "sqlalchemy") and q.model is not None and q.is_collection


def _zero(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Integer) and node.value == "0"


def _one(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Integer) and node.value == "1"


class InefficientQuery(ProjectRule):
    """
    ## What it does
    Finds queries that make the database (and Python) do much more work than the code
    needs:

    * `len(queryset)` / `len(query.all())` to count rows: use `.count()`;
    * a queryset tested for truth (`if qs:`, `bool(qs)`, `qs.count() > 0`,
      `if qs.count():`) only to know whether a row exists: use `.exists()`;
    * `list(queryset)[0]` / `query.all()[0]`, loading every row to take one: use `.first()`;
    * rows filtered in Python after loading them all
      (`[u for u in User.objects.all() if u.active]`): filter in the query;
    * whole rows loaded to read one column (`[u.email for u in User.objects.all()]`):
      use `values_list('email', flat=True)` (Django) or `select(User.email)` (SQLAlchemy);
    * `json.dumps` called once per row of a query: serialise the rows in one call.

    A queryset that is tested or measured and then also iterated is not reported: Django
    caches its rows, so `len()` and truth tests on it are free.

    ## Why is this bad?
    Each of these transfers every row of the result to the application to compute a
    number, a flag or one column, costing database time, network and memory that grow
    with the table, where the database could answer from an index.

    ## Known limits
    Querysets are followed through local variables of one function; querysets passed in
    as parameters are not. Reading one attribute that is a relation (a foreign key) is
    left to `n-plus-one-query`. Migrations (one-off data changes) and test code are not
    checked.
    """

    slug = SLUG
    checklist = "Database queries optimized; inefficient data serialization"
    section = Section.PERFORMANCE
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    summary = "A query loads far more data than the code uses"
    triggers = ("objects", "query", "scalars", "select", ".all()")
    bad = (
        Example(
            "from django.db import models\n\n"
            "class Member(models.Model):\n"
            "    email = models.EmailField(unique=True)\n"
            "    is_active = models.BooleanField(default=True)\n"
            "    is_staff = models.BooleanField(default=False)\n\n"
            "def active_emails():\n"
            "    return [m.email for m in Member.objects.filter(is_active=True)]  # flagged\n\n"
            "def has_staff():\n"
            "    return Member.objects.filter(is_staff=True).count() > 0  # flagged\n",
            path="accounts/models.py",
        ),
    )
    good = (
        Example(
            "from .models import User\n\n"
            "def active_emails():\n"
            "    return list(User.objects.filter(is_active=True).values_list('email', flat=True))\n\n"
            "def has_staff():\n"
            "    return User.objects.filter(is_staff=True).exists()\n\n"
            "def staff_page():\n"
            "    staff = User.objects.filter(is_staff=True)\n"
            "    if not staff:\n"
            "        return []\n"
            "    return [(u.email, u.first_name) for u in staff]\n",
            path="accounts/services.py",
        ),
    )

    def __init__(self, ctx=None) -> None:
        super().__init__(ctx)
        self.names = QueryNames(ctx) if ctx is not None else None
        self.frames: list[dict] = [{"candidates": [], "uses": {}}]
        self.bindings: set[int] = set()  # Name nodes that are assignment targets

    # -- scopes and names ----------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.enter()
        self.frames.append({"candidates": [], "uses": {}})

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.leave()
        self._flush(self.frames.pop())

    def leave_Module(self, node: cst.Module) -> None:
        self._flush(self.frames[0])

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self.names.assign(t.target, node.value)
            if isinstance(t.target, cst.Name):
                self.bindings.add(id(t.target))

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.names.names:
            self.frames[-1]["uses"].setdefault(node.value, []).append(node)

    def _flush(self, frame: dict) -> None:
        for data, node, name in frame["candidates"]:
            if name is not None:
                others = [n for n in frame["uses"].get(name, []) if not self._inside(n, node)
                          and not self._is_binding(n)]
                if others:
                    continue  # the rows are used anyway (a list, or a queryset whose cache answers the test)
            self.record(data, node)

    def _is_binding(self, name: cst.Name) -> bool:
        return id(name) in self.bindings

    @staticmethod
    def _inside(name: cst.Name, node: cst.CSTNode) -> bool:
        found = False

        class _Find(cst.CSTVisitor):
            def on_visit(self, n: cst.CSTNode) -> bool:
                nonlocal found
                if n is name:
                    found = True
                return not found

        walk(node, _Find())
        return found

    def _candidate(self, data: dict, node: cst.CSTNode, name: str | None = None) -> None:
        self.checked()
        self.frames[-1]["candidates"].append((data, node, name))

    def _describe(self, expr: cst.BaseExpression | None) -> QueryExpr | None:
        return self.names.describe(expr) if expr is not None else None

    # -- patterns --------------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test:
            return
        func = self.ctx.resolve(node.func) or ""
        if func in ("len", "bool") and len(node.args) == 1:
            inner = node.args[0].value
            q = self._describe(inner)
            if _rows(q) or (q is not None and q.values and not q.single and q.orm in ("django", "sqlalchemy")
                            and q.model is not None):
                name = inner.value if isinstance(inner, cst.Name) else None
                if func == "len":
                    fix = "`.count()`" if q.orm == "django" else "`.count()` / `select(func.count())`"
                    self._candidate({"kind": "len", "message": f"`len()` loads every row of the query to count them; "
                                                               f"use {fix}"}, node, name)
                else:
                    self._candidate({"kind": "truth", "message": "`bool()` of a query loads its rows to test for one; "
                                                                 "use `.exists()`"}, node, name)
            return
        if func in JSON_DUMPS and node.args:
            for loop in self.ctx.enclosing_loops():
                it = loop.iter if isinstance(loop, cst.For) else getattr(getattr(loop, "for_in", None), "iter", None)
                targets = loop.target if isinstance(loop, cst.For) else getattr(getattr(loop, "for_in", None), "target", None)
                if it is None or not _rows(self._describe(it)) and not self._is_values(it):
                    continue
                if isinstance(targets, cst.Name) and targets.value in self._names_in(node.args[0].value):
                    self._candidate({"kind": "dumps", "message": "`json.dumps` runs once per row of the query the loop "
                                                                 "reads; serialise all rows in one call (`values()` and "
                                                                 "one `json.dumps`, or a serializer with `many=True`)"},
                                    node)
                break

    def _is_values(self, it: cst.BaseExpression) -> bool:
        q = self._describe(it)
        return q is not None and q.values and q.model is not None and q.is_collection

    @staticmethod
    def _names_in(node: cst.CSTNode) -> set[str]:
        found: set[str] = set()

        class _Walk(cst.CSTVisitor):
            def visit_Name(self, n: cst.Name) -> None:
                found.add(n.value)

        walk(node, _Walk())
        return found

    def visit_If(self, node: cst.If) -> None:
        self._truth_test(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._truth_test(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._truth_test(node.test)

    def _truth_test(self, test: cst.BaseExpression) -> None:
        if self.ctx.is_test:
            return
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test = test.expression
        if isinstance(test, cst.BooleanOperation):
            self._truth_test(test.left)
            self._truth_test(test.right)
            return
        if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute) and test.func.attr.value == "count":
            q = self._describe(test.func.value)
            if _rows(q) or q is not None and q.model is not None and q.orm == "django":
                self._candidate({"kind": "count-truth", "message": "`.count()` used as a condition counts every "
                                                                   "matching row; use `.exists()`"}, test)
            return
        q = self._describe(test)
        if _rows(q) and (q.orm == "django" or q.methods[-1:] == ["all"]):
            name = test.value if isinstance(test, cst.Name) else None
            self._candidate({"kind": "truth", "message": "testing the rows of a query for truth loads them all; "
                                                         "use `.exists()`"}, test, name)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if self.ctx.is_test or len(node.comparisons) != 1:
            return
        left, target = node.left, node.comparisons[0]
        op, right = target.operator, target.comparator
        count_side = None
        if isinstance(left, cst.Call) and isinstance(left.func, cst.Attribute) and left.func.attr.value == "count" \
                and not left.args:
            count_side, other = left, right
        elif isinstance(right, cst.Call) and isinstance(right.func, cst.Attribute) and right.func.attr.value == "count" \
                and not right.args:
            count_side, other = right, left
        if count_side is None:
            return
        q = self._describe(count_side.func.value)
        if q is None or q.model is None or q.orm not in ("django", "sqlalchemy"):
            return
        existence = (isinstance(op, (cst.GreaterThan, cst.NotEqual)) and _zero(other)) or \
                    (isinstance(op, cst.Equal) and _zero(other)) or \
                    (isinstance(op, cst.GreaterThanEqual) and _one(other)) or \
                    (isinstance(op, cst.LessThan) and _one(other))
        if existence:
            self._candidate({"kind": "count-compare", "message": "comparing `.count()` with 0 counts every matching "
                                                                 "row to learn whether one exists; use `.exists()`"}, node)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self.ctx.is_test or not node.slice or isinstance(node.slice[0].slice, cst.Slice):
            return
        index = node.slice[0].slice
        if not (isinstance(index, cst.Index) and _zero(index.value)):
            return
        value = node.value
        if isinstance(value, cst.Call) and (self.ctx.resolve(value.func) or "") == "list" and value.args:
            q = self._describe(value.args[0].value)
        elif isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "all" \
                and self._describe(value) is not None and self._describe(value).orm == "sqlalchemy":
            q = self._describe(value)
        else:
            return
        if _rows(q) and not q.limited:
            self._candidate({"kind": "first", "message": "loads every row of the query to take the first; "
                                                         "use `.first()`"}, node)

    def _comp(self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp) -> None:
        if self.ctx.is_test:
            return
        comp_for = node.for_in
        if comp_for.inner_for_in is not None or not isinstance(comp_for.target, cst.Name):
            return
        q = self._describe(comp_for.iter)
        if not _rows(q):
            return
        var = comp_for.target.value
        elt = node.elt if not isinstance(node, cst.DictComp) else None
        source = comp_for.iter.value if isinstance(comp_for.iter, cst.Name) else None
        filtered = [c for c in comp_for.ifs if self._field_test(c.test, var)]
        if filtered:
            attrs = sorted({a for c in filtered for a in self._tested_attrs(c.test, var)})
            self._candidate({"kind": "python-filter", "model": q.model, "ref": q.ref, "orm": q.orm, "fields": attrs,
                             "message": f"rows of `{q.model}` are loaded and then filtered in Python; "
                                        "put the condition in the query (`filter(...)` / `where(...)`)"},
                            comp_for.iter, source)
            return
        if elt is not None and isinstance(elt, cst.Attribute) and isinstance(elt.value, cst.Name) and \
                elt.value.value == var and not comp_for.ifs and not q.values:
            field = elt.attr.value
            fix = f"`values_list('{field}', flat=True)`" if q.orm == "django" else f"`select({q.model}.{field})`"
            self._candidate({"kind": "one-column", "model": q.model, "ref": q.ref, "orm": q.orm, "field": field,
                             "message": f"whole `{q.model}` rows are loaded to read `{field}`; use {fix}"},
                            comp_for.iter, source)

    visit_ListComp = _comp
    visit_SetComp = _comp
    visit_GeneratorExp = _comp

    def _tested_attrs(self, test: cst.BaseExpression, var: str) -> set[str]:
        found: set[str] = set()

        class _Walk(cst.CSTVisitor):
            def visit_Attribute(self, n: cst.Attribute) -> None:
                if isinstance(n.value, cst.Name) and n.value.value == var:
                    found.add(n.attr.value)

        walk(test, _Walk())
        return found

    def _field_test(self, test: cst.BaseExpression, var: str) -> bool:
        """A condition on plain attributes of the row (``u.active``, ``u.age > 18``)."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            return self._field_test(test.expression, var)
        if isinstance(test, cst.BooleanOperation):
            return self._field_test(test.left, var) and self._field_test(test.right, var)
        if isinstance(test, cst.Attribute):
            root, chain = _attr_chain(test)
            return root == var and len(chain) == 1
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            left, right = test.left, test.comparisons[0].comparator
            return self._field_test(left, var) and not (var in self._names_in(right))
        return False

    # -- the project part: drop relations, which n-plus-one-query handles ----------------------
    def check(self, project: ProjectContext) -> None:
        models = load_models(project)
        for fact in sorted(project.facts(SLUG), key=lambda f: (f.path, f.line)):
            data = fact.data
            if project.is_test(fact.path) or MIGRATION_PATH.search(fact.path):
                continue
            if data["kind"] == "python-filter":
                model = models.get(data["model"], data.get("ref"))
                if model is None or any(f not in model.fields for f in data.get("fields", [])):
                    continue  # a property or an unknown attribute cannot move into the query
            if data["kind"] == "one-column":
                model = models.get(data["model"], data.get("ref"))
                field = data["field"]
                key_like = field in ("id", "pk") or field.endswith("_id")
                if model is None and not key_like:
                    continue  # a model from a package: its fields are not known
                if model is not None and field in model.relations:
                    continue
                if model is not None and field not in model.fields and not key_like:
                    continue  # a property or method: the row is needed
            self.report_at(fact.path, fact.line, data["message"])
