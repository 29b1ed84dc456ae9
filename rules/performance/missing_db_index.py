from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Location, Section, Severity
from checker.rule import Fact, ProjectContext, ProjectRule
from rules._shared.db import QueryNames, _q_lookups, call_chain, describe_query, filter_lookups
from rules._shared.models import Model, load_models
from rules._shared.web import string_value

SLUG = "missing-db-index"
DJANGO_LOOKUP_METHODS = frozenset({"filter", "exclude", "get", "get_or_create", "update_or_create", "aget",
                                   "aget_or_create", "aupdate_or_create", "filter_by"})
ORDER_METHODS = frozenset({"order_by"})
# Lookups a B-tree index on the column serves (the rest need trigram/functional indexes or
# cannot use one at all, so an ordinary index would not help).
INDEXABLE_LOOKUPS = frozenset({"exact", "in", "gt", "gte", "lt", "lte", "range", "startswith", "date", "year"})
ALL_LOOKUPS = INDEXABLE_LOOKUPS | frozenset({
    "iexact", "contains", "icontains", "istartswith", "endswith", "iendswith", "regex", "iregex", "search",
    "isnull", "month", "day", "week", "week_day", "iso_week_day", "quarter", "time", "hour", "minute", "second",
    "iso_year", "unaccent", "trigram_similar", "overlap", "contained_by", "has_key", "has_keys", "has_any_keys",
    "len", "not", "ne",
})
NOT_LOOKUP_KWARGS = frozenset({"defaults", "create_defaults"})
SA_NON_INDEXABLE = frozenset({"like", "ilike", "contains", "icontains", "endswith", "notlike", "notilike", "match",
                              "regexp_match", "is_", "isnot", "is_not"})
SA_COMPARISON = (cst.Equal, cst.LessThan, cst.GreaterThan, cst.LessThanEqual, cst.GreaterThanEqual, cst.In)
# Paths where a query runs rarely (admin screens, management commands, scripts, migrations).
RARE_PATHS = re.compile(r"(?:^|/)(?:admin(?:\.py|/)|management/commands/|migrations/|alembic/|scripts?/|fixtures/|"
                        r"seeds?/|conftest\.py|manage\.py)")
# Model names that read like small lookup tables.
LOOKUP_TABLE = re.compile(r"(?:Type|Kind|Status|Category|Categories|Setting|Settings|Config|Configuration|Choice|"
                          r"Option|Country|Countries|Currency|Currencies|Language|Locale|Role|Permission|Flag)$")
ENUM_KIND = re.compile(r"Enum", re.IGNORECASE)
UNINDEXABLE_KINDS = frozenset({"TextField", "JSONField", "BinaryField", "FileField", "ImageField", "Text", "JSON",
                               "JSONB", "LargeBinary", "PickleType", "ARRAY", "HStoreField", "ArrayField"})


def _path(lookup: str) -> list[str] | None:
    """``["customer", "email"]`` for ``customer__email__startswith``; None when an ordinary
    index cannot serve the lookup."""
    parts = lookup.split("__")
    op = parts[-1] if len(parts) > 1 and parts[-1] in ALL_LOOKUPS else "exact"
    if op != "exact" or (len(parts) > 1 and parts[-1] == "exact"):
        parts = parts[:-1]
    if op not in INDEXABLE_LOOKUPS or not parts:
        return None
    return parts


class MissingDbIndex(ProjectRule):
    """
    ## What it does
    Collects, over the whole project, the model fields that queries filter and sort on:
    Django `filter`/`exclude`/`get`/`get_or_create`/`order_by` keyword lookups (`email=`,
    `customer__email__startswith=`, `Q(...)` objects) and SQLAlchemy `filter`/`where`
    comparisons (`User.email == x`, `User.id.in_(...)`), `filter_by(email=...)` and
    `order_by(User.created_at.desc())`. A field is indexed when its definition says so
    (Django `db_index`, `unique`, `primary_key`, foreign keys, `SlugField`; SQLAlchemy
    `index=True`, `unique=True`, `primary_key=True`) or when it leads an index or a
    unique constraint (`Meta.indexes`, `unique_together`, `index_together`,
    `UniqueConstraint`, `Index(...)` in `__table_args__` or beside the model). Every
    other queried field is reported at its definition, naming where it is queried.

    ## Why is this bad?
    A lookup on a column without an index makes the database read the whole table. That
    is invisible with test data and grows linearly with the table in production, for
    every request that runs the query.

    ## Known limits
    A lookup counts only where an index on it would be the one to use: when another
    equality condition of the same query can use an index (a key, a foreign key or
    relation, an indexed field, a parent in `with_parent()`, a relation manager such as
    `event.orders.filter(...)`, a join on keys), that index narrows the rows first and the
    lookup is not counted. Conditions that cannot be read (a `Q` object in a variable, a
    query built in another function) get the benefit of the doubt. Sorting counts only
    for the leading sort key of a query with no conditions at all (a whole-table sort).

    Deliberately left out, to keep the findings worth acting on: boolean, choice and enum
    fields (too few distinct values for an index to pay off), text/JSON/binary columns,
    lookups an ordinary index cannot serve (`icontains`, `iexact`, `endswith`, regex,
    `like`/`ilike`, comparisons with another column such as `F("x")`), `exclude()`,
    querysets inside `Prefetch(...)` (narrowed by the parents' keys), sorting through a
    relation (`order_by("customer__name")`), the non-leading columns of a multi-column
    index, models named like small lookup tables (`...Type`, `...Status`, `...Category`,
    `Country`, `Setting`...), unmanaged models (`Meta.managed = False`, e.g. views), and
    fields queried only from admin modules, management commands, scripts, migrations and
    tests. SQLAlchemy foreign-key columns count as indexed by default (MySQL indexes them;
    PostgreSQL does not): set
    `foreign-keys-indexed = false` for a PostgreSQL project to report them too. Models
    from installed packages (e.g. Django's `User`) are not known and not reported.
    """

    slug = SLUG
    checklist = "Database queries optimized with proper indexes; missing indexes on frequently queried columns"
    section = Section.PERFORMANCE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    summary = "A queried field has no database index"
    options = {"foreign-keys-indexed": True, "min-uses": 1}
    triggers = ("filter", "get", "exclude", "order_by", "where", "models", "Column", "mapped_column")
    bad = (
        Example(
            "from django.db import models\n\n"
            "class Invoice(models.Model):\n"
            "    number = models.CharField(max_length=20)  # flagged\n"
            "    issued_at = models.DateTimeField(db_index=True)\n\n"
            "def by_number(number):\n"
            "    return Invoice.objects.get(number=number)\n",
            path="billing/models.py",
        ),
    )
    good = (
        Example(
            "from django.db import models\n\n"
            "class Invoice(models.Model):\n"
            "    number = models.CharField(max_length=20, unique=True)\n"
            "    paid = models.BooleanField(default=False)\n\n"
            "def by_number(number):\n"
            "    return Invoice.objects.filter(paid=False).get(number=number)\n",
            path="billing/models.py",
        ),
        Example(
            "from sqlalchemy import Column, Index, Integer, String, select\n"
            "from sqlalchemy.orm import declarative_base\n\n"
            "Base = declarative_base()\n\n"
            "class Account(Base):\n"
            "    __tablename__ = 'accounts'\n"
            "    id = Column(Integer, primary_key=True)\n"
            "    email = Column(String(200))\n"
            "    __table_args__ = (Index('ix_accounts_email', 'email'),)\n\n"
            "def by_email(session, email):\n"
            "    return session.scalars(select(Account).where(Account.email == email)).first()\n",
            path="app/models.py",
        ),
    )

    def __init__(self, ctx=None) -> None:
        super().__init__(ctx)
        self.names = QueryNames(ctx) if ctx is not None else None
        self._siblings: list[str] = []
        self._sa_siblings: list[str] = []

    # -- the per-file part: record lookups ---------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.enter()

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.leave()

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self.names.assign(t.target, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if not isinstance(node.func, cst.Attribute):
            return
        method = node.func.attr.value
        if method in ("where", "filter") and self._sa_conditions(node):
            return
        if method not in DJANGO_LOOKUP_METHODS and method not in ORDER_METHODS:
            return
        if method in ORDER_METHODS and node.args and string_value(node.args[0].value) is None:
            # SQLAlchemy ``order_by(Model.col)``: only the leading sort key can use an index, and
            # only a query without conditions sorts the whole table.
            entity = describe_query(self.ctx, node.func.value, self.names.names)
            self.checked()
            if self._conditions(node) or entity is not None and entity.lookups:
                return
            self._sa_siblings = self._sa_equalities(node)
            self._sa_order(node.args[0].value, entity.model if entity is not None else None)
            return
        base = describe_query(self.ctx, node.func.value, self.names.names)
        if base is None:
            # ``Order.objects.filter`` itself: the manager is the receiver.
            base = describe_query(self.ctx, cst.Call(func=node.func.with_changes(attr=cst.Name("all"))), self.names.names)
        if base is None or base.model is None or base.values and method in ORDER_METHODS and base.orm == "django":
            if base is None or base.model is None:
                return
        if method == "exclude" or self._in_prefetch():
            return  # negations rarely use an index; prefetch queries are narrowed by their parents' keys
        self.checked()
        # Other equality lookups of the same query: an index on any of them narrows the rows.
        siblings = list(base.lookups) + (filter_lookups(self.ctx, node) if method not in ORDER_METHODS else [])
        if any(m in ("with_parent",) for m, _ in self._outer_methods(node)) or \
                any(m == "with_parent" for m, _ in call_chain(node)[1]):
            siblings.append("?")
        self._siblings = [k for k in siblings if "|" in k or k == "?" or k.split("__")[-1] in ("exact", "in")
                          or k.split("__")[-1] not in ALL_LOOKUPS]
        if method in ORDER_METHODS:
            if self._siblings or self._conditions(node):
                return  # a filtered query sorts only the rows it selected
            if node.args and base.orm == "django":
                field = string_value(node.args[0].value)  # the leading sort key
                if field and not field.startswith("?") and "__" not in field and "." not in field:
                    self._lookup(base.model, base.ref, "django", field.lstrip("-"), "order", node.args[0].value)
            return
        if base.orm == "django" or method == "filter_by":
            all_siblings = self._siblings
            for i, a in enumerate(node.args):
                if a.keyword is not None and a.keyword.value not in NOT_LOOKUP_KWARGS:
                    if self._column_expression(a.value):
                        continue  # ``field__lt=F("other")``: no index serves a comparison of two columns
                    self._lookup(base.model, base.ref, base.orm, a.keyword.value, "filter", a)
                elif a.keyword is None and base.orm == "django":
                    # A positional condition is narrowed by the call's *other* conditions.
                    rest = node.with_changes(args=[x for j, x in enumerate(node.args) if j != i])
                    self._siblings = [k for k in list(base.lookups) + filter_lookups(self.ctx, rest)
                                      if "|" in k or k == "?" or k.split("__")[-1] in ("exact", "in")
                                      or k.split("__")[-1] not in ALL_LOOKUPS]
                    self._q_objects(a.value, base.model, base.ref)
                    self._siblings = all_siblings

    def _outer_methods(self, node: cst.Call) -> list[tuple[str, cst.Call]]:
        """The method calls chained after ``node`` (``.filter_by(...)`` then ``.with_parent(...)``)."""
        out: list[tuple[str, cst.Call]] = []
        stack = self.ctx.stack
        try:
            i = len(stack) - 1 - stack[::-1].index(node)
        except ValueError:
            return out
        while i >= 2 and isinstance(stack[i - 1], cst.Attribute) and stack[i - 1].value is stack[i] and \
                isinstance(stack[i - 2], cst.Call) and stack[i - 2].func is stack[i - 1]:
            out.append((stack[i - 1].attr.value, stack[i - 2]))
            i -= 2
        return out

    def _conditions(self, node: cst.Call) -> bool:
        """Whether the query ``node`` belongs to has any condition (filter, where, join, parent)."""
        base, methods = call_chain(node)
        methods = methods + self._outer_methods(node)
        if any(m in ("filter", "where", "filter_by", "with_parent", "join", "exclude", "get", "having")
               for m, _ in methods):
            return True
        return bool(self._sa_equalities(node))

    def _in_prefetch(self) -> bool:
        for anc in self.ctx.ancestors():
            if isinstance(anc, cst.Call) and (self.ctx.resolve(anc.func) or "").rsplit(".", 1)[-1] == "Prefetch":
                return True
            if isinstance(anc, (cst.FunctionDef, cst.SimpleStatementLine)):
                return False
        return False

    def _column_expression(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.Call):
            name = (self.ctx.resolve(value.func) or "").rsplit(".", 1)[-1]
            return name in ("F", "OuterRef", "Subquery", "Func", "ExpressionWrapper")
        return isinstance(value, cst.BinaryOperation) and "F(" in self.ctx.code_of(value)

    def _q_objects(self, node: cst.BaseExpression, model: str, ref: str | None) -> None:
        """Lookups inside ``Q()`` objects. They are ANDed with the call's other lookups, so
        those narrow them; within an ``OR`` the alternatives do not narrow each other."""
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitAnd):
            # ``Q(a) & Q(b)``: each side is narrowed by the other too.
            outer = self._siblings
            for side, other in ((node.left, node.right), (node.right, node.left)):
                self._siblings = outer + [k for k in _q_lookups(self.ctx, other)
                                          if "|" in k or k == "?" or k.split("__")[-1] in ("exact", "in")
                                          or k.split("__")[-1] not in ALL_LOOKUPS]
                self._q_objects(side, model, ref)
            self._siblings = outer
        elif isinstance(node, cst.BinaryOperation):
            self._q_objects(node.left, model, ref)
            self._q_objects(node.right, model, ref)
        elif isinstance(node, cst.UnaryOperation):
            return  # ``~Q(...)``: a negation
        elif isinstance(node, cst.Call) and (self.ctx.resolve(node.func) or "").rsplit(".", 1)[-1] == "Q":
            for a in node.args:
                if a.keyword is not None:
                    if not self._column_expression(a.value):
                        self._lookup(model, ref, "django", a.keyword.value, "filter", a)
                else:
                    self._q_objects(a.value, model, ref)

    def _lookup(self, model: str, ref: str | None, orm: str, path: str, kind: str, node: cst.CSTNode,
                siblings: list[str] | None = None) -> None:
        parts = _path(path)
        if parts is None:
            return
        others: list = []
        for sib in (self._siblings if siblings is None else siblings):
            if sib == path:
                continue
            if sib == "?" or sib == "|":
                others.append(["?"])
            elif "|" in sib:
                alts = [_path(x) for x in sib.split("|")]
                if all(alts):
                    others.append(["|"] + ["__".join(a) for a in alts])
            else:
                p = _path(sib)
                if p:
                    others.append(p)
        self.record({"model": model, "ref": ref, "orm": orm, "path": parts, "kind": kind, "with": others}, node)

    def _sa_conditions(self, node: cst.Call) -> bool:
        """Record ``Model.col == x`` style conditions; True when the call had any."""
        found = False
        self._sa_siblings = self._sa_equalities(node)
        for a in node.args:
            if a.keyword is None:
                found = self._sa_condition(a.value) or found
        return found

    def _sa_equalities(self, node: cst.Call) -> list[str]:
        """Columns compared with ``==`` in this where()/filter() and the ones before it in the chain."""
        out: list[str] = []
        base, methods = call_chain(node)
        methods = methods + self._outer_methods(node)
        if isinstance(base, cst.Name) and base.value[:1].islower() and base.value not in ("db", "session", "sa"):
            out.append("?")  # a query built elsewhere (a parameter or variable): its conditions are unknown
        if isinstance(base, cst.Attribute) and base.attr.value[:1].islower() and \
                base.attr.value not in ("session", "query", "objects", "db", "scalars", "execute") and \
                not (isinstance(base.value, cst.Name) and base.value.value in ("db", "session", "sa", "sqlalchemy")):
            out.append("?")  # ``event.agreements.filter(...)``: a relationship query, narrowed by its key
        for name, call in methods:
            if name == "with_parent":
                out.append("?")  # filtered by the parent's foreign key
            elif name == "filter_by":
                out += [a.keyword.value for a in call.args if a.keyword is not None]
            if name not in ("where", "filter"):
                continue
            for a in call.args:
                stack = [a.value]
                while stack:
                    e = stack.pop()
                    if isinstance(e, cst.Comparison) and len(e.comparisons) == 1 and \
                            isinstance(e.comparisons[0].operator, cst.Equal):
                        left, right = self._column(e.left), self._column(e.comparisons[0].comparator)
                        if (left is None) != (right is None):
                            out.append((left or right)[1])
                        elif left is not None:
                            out.append("?")  # a join on keys narrows the rows
                        elif "." in self.ctx.code_of(e.left) and "." in self.ctx.code_of(e.comparisons[0].comparator):
                            out.append("?")  # ``cte.c.id == Event.category_id``: a join
                    elif isinstance(e, cst.Call) and isinstance(e.func, cst.Attribute) and \
                            isinstance(e.func.value, cst.Name) and e.func.value.value[:1].isupper() and \
                            e.func.attr.value not in ("in_", "like", "ilike"):
                        out.append("?")  # ``Event.happens_between(...)``: a condition defined on the model
                    elif isinstance(e, cst.Call) and isinstance(e.func, cst.Attribute) and e.func.attr.value == "in_":
                        col = self._column(e.func.value)
                        if col is not None:
                            out.append(col[1])
                    elif isinstance(e, cst.Call) and (self.ctx.resolve(e.func) or "").rsplit(".", 1)[-1] == "and_":
                        stack += [x.value for x in e.args]
                    elif isinstance(e, cst.BooleanOperation) and isinstance(e.operator, cst.And):
                        stack += [e.left, e.right]
        return out

    def _sa_condition(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
            op = expr.comparisons[0].operator
            right = expr.comparisons[0].comparator
            if not isinstance(op, SA_COMPARISON):
                return False
            col = self._column(expr.left)
            if col is None or self._column(right) is not None:
                return col is not None  # a join condition: keys, not lookups
            self.record({"model": col[0], "ref": col[2], "orm": "sqlalchemy", "path": [col[1]], "kind": "filter",
                         "with": [["?"] if c == "?" else [c] for c in self._sa_siblings if c != col[1]]}, expr)
            return True
        if isinstance(expr, cst.Call):
            name = (self.ctx.resolve(expr.func) or "").rsplit(".", 1)[-1]
            if name in ("and_", "or_", "not_"):
                return any([self._sa_condition(a.value) for a in expr.args])
            if isinstance(expr.func, cst.Attribute) and name in ("in_", "between", "startswith", "__eq__"):
                col = self._column(expr.func.value)
                if col is not None:
                    self.record({"model": col[0], "ref": col[2], "orm": "sqlalchemy", "path": [col[1]], "kind": "filter",
                                 "with": [["?"] if c == "?" else [c] for c in self._sa_siblings if c != col[1]]}, expr)
                    return True
            if isinstance(expr.func, cst.Attribute) and name in SA_NON_INDEXABLE:
                return self._column(expr.func.value) is not None
        if isinstance(expr, cst.BooleanOperation):
            left = self._sa_condition(expr.left)
            return self._sa_condition(expr.right) or left
        return False

    def _sa_order(self, expr: cst.BaseExpression, entity: str | None = None) -> None:
        if isinstance(expr, cst.Call):
            name = (self.ctx.resolve(expr.func) or "").rsplit(".", 1)[-1]
            if isinstance(expr.func, cst.Attribute) and name in ("desc", "asc", "nulls_last", "nulls_first"):
                self._sa_order(expr.func.value, entity)
                return
            if name in ("desc", "asc", "nullslast", "nullsfirst") and expr.args:
                self._sa_order(expr.args[0].value, entity)
                return
            return
        col = self._column(expr)
        if col is not None and entity is not None and col[0] != entity:
            return  # sorting by a joined table's column: no index on it orders this query
        if col is not None:
            self.record({"model": col[0], "ref": col[2], "orm": "sqlalchemy", "path": [col[1]], "kind": "order",
                         "with": [["?"] if c == "?" else [c] for c in self._sa_siblings if c != col[1]]}, expr)

    def _column(self, expr: cst.BaseExpression) -> tuple[str, str, str | None] | None:
        """(model, column, resolved model name) for ``Model.column``."""
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, (cst.Name, cst.Attribute)):
            owner = expr.value
            owner_name = owner.value if isinstance(owner, cst.Name) else owner.attr.value
            if owner_name[:1].isupper() and not expr.attr.value[:1].isupper():
                resolved = self.ctx.resolve(owner) or owner_name
                return resolved.rsplit(".", 1)[-1], expr.attr.value, resolved
        return None

    # -- the project part --------------------------------------------------------------------
    def check(self, project: ProjectContext) -> None:
        models = load_models(project)
        fk_indexed = bool(self.opts.get("foreign-keys-indexed", True))
        min_uses = int(self.opts.get("min-uses", 1))
        uses: dict[tuple[str, int, str], list[Fact]] = {}
        targets: dict[tuple[str, int, str], tuple[Model, dict]] = {}
        for fact in project.facts(SLUG):
            if project.is_test(fact.path):
                continue
            model = models.get(fact.data["model"], fact.data.get("ref"))
            if model is None or model.orm != fact.data["orm"] and fact.data["orm"] != "?":
                continue
            found = self._field(models, model, fact.data["path"])
            if found is None:
                continue
            if any(self._narrows(models, model, other, fk_indexed) for other in fact.data.get("with", [])):
                continue  # another lookup of the same query is indexed
            owner, field = found
            key = (field.get("path") or owner.path, field["line"], field["name"])
            uses.setdefault(key, []).append(fact)
            targets[key] = (owner, field)
        for key in sorted(uses):
            owner, field = targets[key]
            facts = uses[key]
            if self._indexed(owner, field, fk_indexed):
                continue
            frequent = [f for f in facts if not RARE_PATHS.search(f.path)]
            if len(frequent) < min_uses:
                continue
            where = sorted({(f.path, f.line) for f in frequent})
            shown = ", ".join(f"{p}:{ln}" for p, ln in where[:4]) + (f" and {len(where) - 4} more" if len(where) > 4 else "")
            kinds = {f.data["kind"] for f in frequent}
            used = "filtered and sorted on" if kinds == {"filter", "order"} else "sorted on" if kinds == {"order"} else "filtered on"
            fix = "add `db_index=True` or a `Meta.indexes` entry" if owner.orm == "django" else \
                "add `index=True` or an `Index(...)` in `__table_args__`"
            self.report_at(key[0], field["line"],
                           f"`{owner.name}.{field['name']}` is {used} ({shown}) but has no index; {fix}",
                           related=[Location(p, ln, "queried here") for p, ln in where[:10]])

    @staticmethod
    def _field(models, model: Model, path: list[str]) -> tuple[Model, dict] | None:
        current = model
        for i, name in enumerate(path):
            last = i == len(path) - 1
            if name in ("pk", "id") and last:
                return None
            rel = current.relations.get(name)
            if rel is not None:
                if last:
                    return None  # a relation: joins on keys
                target = models.get(rel.get("target"))
                if target is None:
                    return None
                current = target
                continue
            field = current.fields.get(name)
            if field is None and name.endswith("_id") and name[:-3] in current.relations:
                return None
            if field is None or not last:
                return None
            return current, field
        return None

    def _narrows(self, models, model: Model, path: list[str], fk_indexed: bool) -> bool:
        """Whether an equality lookup on ``path`` can use an index (keys, relations, indexed fields).
        A condition that cannot be read, or a field the project does not define (inherited from
        an installed package), is given the benefit of the doubt."""
        if path[0] == "?":
            return True
        if path[0] == "|":
            return all(self._narrows(models, model, alt.split("__"), fk_indexed) for alt in path[1:])
        first = path[0]
        if first in ("pk", "id") or first in model.relations:
            return True
        if first.endswith("_id") and first[:-3] in model.relations:
            return True
        field = model.fields.get(first)
        if field is None:
            return True
        if len(path) > 1:
            return False
        return bool(field.get("indexed") or field.get("fk") and (fk_indexed or model.orm == "django")
                    or any(idx and idx[0] in (first, field.get("column")) for idx in model.indexes))

    @staticmethod
    def _indexed(model: Model, field: dict, fk_indexed: bool) -> bool:
        if field.get("indexed"):
            return True
        if field.get("fk") and (fk_indexed or model.orm == "django"):
            return True
        if field.get("boolean") or field.get("choices") or field.get("kind") in UNINDEXABLE_KINDS or \
                ENUM_KIND.search(field.get("kind") or ""):
            return True
        if LOOKUP_TABLE.search(model.name) or model.unmanaged:
            return True
        names = {field["name"], field.get("column") or ""}
        return any(idx and idx[0] in names for idx in model.indexes)
