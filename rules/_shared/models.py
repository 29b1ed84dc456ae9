"""Model knowledge gathered from the project's own model definitions.

The :class:`ModelFacts` collector records, per class that looks like a model, its fields
(with whether they are indexed, boolean or choice fields), its relations (target, kind,
lazy mode) and its indexes, for Django models, SQLAlchemy declarative classes (1.x
``Column``/``relationship``, 2.0 ``Mapped``/``mapped_column``), Flask-SQLAlchemy
``db.Model`` and SQLModel ``table=True`` classes. Project rules read the facts through
:class:`Models`, which resolves inheritance (abstract bases, mixins) across files and adds
the reverse side of relations (Django ``related_name``/``<model>_set``, SQLAlchemy
``backref``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import libcst as cst

from checker.rule import Collector, Fact, FileContext
from rules._shared.web import arg, string_value

FACT = "models"
MEMBERS = "model_members"

DJANGO_MODEL_BASES = frozenset({"django.db.models.Model", "django.db.models.base.Model"})
DJANGO_FK = frozenset({"ForeignKey", "ParentalKey", "TreeForeignKey", "ForeignObject"})
DJANGO_O2O = frozenset({"OneToOneField", "ParentalOneToOneField"})
DJANGO_M2M = frozenset({"ManyToManyField", "ParentalManyToManyField", "TreeManyToManyField", "SortedManyToManyField"})
DJANGO_PK_FIELDS = frozenset({"AutoField", "BigAutoField", "SmallAutoField"})
DJANGO_BOOL_FIELDS = frozenset({"BooleanField", "NullBooleanField"})
DJANGO_UNINDEXABLE = frozenset({"TextField", "JSONField", "BinaryField", "FileField", "ImageField"})
SA_COLUMN = frozenset({"Column", "mapped_column", "column_property"})
SA_RELATIONSHIP = frozenset({"relationship", "relation", "Relationship", "dynamic_loader"})
SA_BOOL_TYPES = frozenset({"Boolean"})
SA_CHOICE_TYPES = frozenset({"Enum"})
SA_DECLARATIVE = re.compile(r"(?:^|\.)(?:Base|DeclarativeBase|DeclarativeBaseNoMeta|Model|SQLModel|BaseModel|DbModel|"
                            r"DBModel|ModelBase|db\.Model|AbstractConcreteBase|Mixin)$")
SQLMODEL_FIELD = frozenset({"Field"})
DJANGO_FIELD_ROOTS = ("django.db.models", "django.contrib.postgres.fields", "django.contrib.gis.db.models",
                      "django.contrib.contenttypes.fields")
NOT_MODEL_FIELDS = ("rest_framework", "django.forms", "wtforms", "marshmallow", "pydantic", "graphene",
                    "strawberry", "django_filters", "flask_wtf", "attr", "dataclasses", "ninja")


@dataclass
class FieldInfo:
    name: str
    line: int
    kind: str  # the field class or column type, e.g. CharField, String
    indexed: bool = False  # db_index/unique/primary_key/index=True/foreign key
    why: str = ""  # what indexes it
    boolean: bool = False
    choices: bool = False
    fk: bool = False
    column: str = ""  # the database column name for Django foreign keys: "<name>_id"

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Relation:
    name: str
    target: str  # a model class name, "self", or "AUTH_USER_MODEL"
    kind: str  # fk, o2o, m2m, reverse_fk, reverse_o2o, reverse_m2m, relationship, backref
    many: bool
    lazy: str | None = None  # SQLAlchemy loading strategy
    related_name: str | None = None
    line: int = 0

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _target_name(ctx: FileContext, node: cst.BaseExpression | None) -> str | None:
    if node is None:
        return None
    text = string_value(node)
    if text is not None:
        return text.rsplit(".", 1)[-1] if text != "self" else "self"
    name = ctx.resolve(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
    if name is None:
        return None
    if name.endswith("AUTH_USER_MODEL"):
        return "AUTH_USER_MODEL"
    return _last(name)


def _true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def _strings(node: cst.BaseExpression | None) -> list[str]:
    out: list[str] = []
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        for el in node.elements:
            value = string_value(el.value)
            if value is not None:
                out.append(value)
            elif isinstance(el.value, (cst.Name, cst.Attribute)):
                out.append(el.value.attr.value if isinstance(el.value, cst.Attribute) else el.value.value)
    else:
        value = string_value(node)
        if value is not None:
            out.append(value)
    return out


def _index_columns(ctx: FileContext, call: cst.Call) -> list[str]:
    """Column names of ``Index("ix", "a", Model.b)`` or ``models.Index(fields=[...])``."""
    fields = arg(call, keyword="fields")
    if fields is not None:
        return [f.lstrip("-") for f in _strings(fields)]
    cols: list[str] = []
    for i, a in enumerate(a for a in call.args if a.keyword is None):
        value = string_value(a.value)
        if value is not None:
            if i == 0 and _last(ctx.resolve(call.func) or "") == "Index":
                continue  # the index name
            cols.append(value)
        elif isinstance(a.value, cst.Attribute):
            cols.append(a.value.attr.value)
        elif isinstance(a.value, cst.Name):
            cols.append(a.value.value)
        elif isinstance(a.value, cst.Call):  # Index("ix", func.lower(Model.name)) / F("x").desc()
            inner = [x.value for x in a.value.args if x.keyword is None]
            if inner and isinstance(inner[0], cst.Attribute):
                cols.append(inner[0].attr.value)
    return cols


class ModelFacts(Collector):
    """Facts ``models``: one per model-like class, as
    {name, bases, orm, abstract, fields, relations, indexes, table}.

    Facts ``model_indexes``: indexes declared outside a class body
    (``Index("ix", User.email)``), as {model, columns}.
    """

    name = FACT
    triggers = ("models", "Column", "column", "relationship", "Model", "SQLModel", "Field")

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._count = 0
        self._members: list[tuple[str, str, cst.CSTNode]] = []  # (kind, name, node) of the class being read

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._members = []
        data = self._model(node)
        if data is not None:
            self._count += 1
            data["id"] = self._count
            self.record(data, node)
            # Lines of members are resolved with every other position after the traversal.
            for kind, name, member in self._members:
                if name in data[kind]:
                    self.record({"model": self._count, "kind": kind, "name": name}, member, key=MEMBERS)

    @staticmethod
    def _is_meta_like(node: cst.ClassDef) -> bool:
        return node.name.value == "Meta"

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.enclosing_class() is not None:
            return
        name = self.ctx.resolve(node.func) or ""
        if _last(name) != "Index" or "sqlalchemy" not in name and not self.ctx.imported("sqlalchemy"):
            return
        owners = {a.value.value.value for a in node.args
                  if isinstance(a.value, cst.Attribute) and isinstance(a.value.value, cst.Name)}
        cols = _index_columns(self.ctx, node)
        for owner in owners:
            self.record({"model": owner, "columns": cols}, node, key="model_indexes")

    # -- one class -------------------------------------------------------------------------
    def _model(self, node: cst.ClassDef) -> dict[str, Any] | None:
        ctx = self.ctx
        bases = [ctx.resolve(b.value) or ctx.code_of(b.value) for b in node.bases]
        sqlmodel_table = any(k.keyword is not None and k.keyword.value == "table" and _true(k.value) for k in node.keywords)
        orm: str | None = None
        if any(b in DJANGO_MODEL_BASES for b in bases):
            orm = "django"
        elif sqlmodel_table or any(b.startswith("flask_sqlalchemy") or b.endswith("db.Model") for b in bases):
            orm = "sqlalchemy"
        fields: dict[str, dict] = {}
        relations: dict[str, dict] = {}
        indexes: list[list[str]] = []
        abstract = False
        table = None
        meta_ordering: list[str] = []
        for stmt in node.body.body:
            if isinstance(stmt, cst.ClassDef) and stmt.name.value == "Meta":
                abstract, more, meta_ordering = self._meta(stmt)
                indexes.extend(more)
                continue
            if isinstance(stmt, cst.FunctionDef):
                deco = [ctx.resolve(d.decorator) or "" for d in stmt.decorators]
                if any(_last(d) == "declared_attr" or d.endswith("declared_attr.directive") for d in deco):
                    self._declared_attr(stmt, relations)
                continue
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                target, value, annotation = None, None, None
                if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                    target, value = small.targets[0].target.value, small.value
                elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    target, value, annotation = small.target.value, small.value, small.annotation.annotation
                if target is None:
                    continue
                if target == "__tablename__":
                    table = string_value(value)
                    orm = orm or "sqlalchemy"
                    continue
                if target == "__table_args__":
                    indexes.extend(self._table_args(value))
                    continue
                if target == "__abstract__" and _true(value):
                    abstract = True
                    continue
                kind = self._member(target, value, annotation, 0, fields, relations, orm)
                self._members += [("fields", target, small), ("relations", target, small)]
                if kind is not None and orm is None:
                    orm = kind
        if orm is None and not fields and not relations and not any(
            b.rsplit(".", 1)[-1][:1].isupper() and b not in ("object", "Exception") for b in bases
        ):
            return None  # neither members nor a base that could be a model (``class Product(AbstractProduct)``)
        unmanaged = "__unmanaged__" in meta_ordering
        return {
            "name": node.name.value, "bases": bases, "orm": orm, "abstract": abstract, "fields": fields,
            "relations": relations, "indexes": indexes, "table": table,
            "ordering": [o for o in meta_ordering if o != "__unmanaged__"], "unmanaged": unmanaged,
        }

    def _meta(self, meta: cst.ClassDef) -> tuple[bool, list[list[str]], list[str]]:
        abstract = False
        indexes: list[list[str]] = []
        ordering: list[str] = []
        for stmt in meta.body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if not (isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name)):
                    continue
                key, value = small.targets[0].target.value, small.value
                if key == "abstract" and _true(value):
                    abstract = True
                elif key == "managed" and _false(value):
                    ordering.append("__unmanaged__")  # a view or a table Django does not create
                elif key in ("unique_together", "index_together"):
                    if isinstance(value, (cst.List, cst.Tuple)) and value.elements and \
                            isinstance(value.elements[0].value, (cst.List, cst.Tuple)):
                        for el in value.elements:
                            indexes.append(_strings(el.value))
                    else:
                        indexes.append(_strings(value))
                elif key in ("indexes", "constraints") and isinstance(value, (cst.List, cst.Tuple)):
                    for el in value.elements:
                        if isinstance(el.value, cst.Call):
                            cname = _last(self.ctx.resolve(el.value.func) or "")
                            if cname in ("Index", "UniqueConstraint", "GinIndex", "GistIndex", "BrinIndex",
                                         "HashIndex", "BTreeIndex", "SpGistIndex", "BloomIndex"):
                                cols = _index_columns(self.ctx, el.value)
                                if not cols:  # expression indexes: Index(Lower("email"), name=...)
                                    cols = [s for a in el.value.args if a.keyword is None
                                            for s in _strings_deep(a.value)][:1]
                                if cols:
                                    indexes.append(cols)
                elif key == "ordering":
                    ordering = [s.lstrip("-?") for s in _strings(value)]
        return abstract, indexes, ordering

    def _table_args(self, value: cst.BaseExpression | None) -> list[list[str]]:
        out: list[list[str]] = []
        if isinstance(value, (cst.Tuple, cst.List)):
            for el in value.elements:
                if isinstance(el.value, cst.Call):
                    cname = _last(self.ctx.resolve(el.value.func) or "")
                    if cname in ("Index", "UniqueConstraint", "PrimaryKeyConstraint"):
                        cols = _index_columns(self.ctx, el.value)
                        if cname != "Index":
                            cols = [string_value(a.value) or (a.value.value if isinstance(a.value, cst.Name) else "")
                                    for a in el.value.args if a.keyword is None]
                        out.append([c for c in cols if c])
        return out

    def _declared_attr(self, func: cst.FunctionDef, relations: dict[str, dict]) -> None:
        for stmt in func.body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Return) and isinstance(small.value, cst.Call):
                        cname = _last(self.ctx.resolve(small.value.func) or "")
                        if cname in SA_RELATIONSHIP:
                            rel = self._sa_relationship(func.name.value, small.value, None, 0)
                            if rel is not None:
                                relations[func.name.value] = rel
                                self._members.append(("relations", func.name.value, func))

    def _member(self, name: str, value: cst.BaseExpression | None, annotation: cst.BaseExpression | None, line: int,
                fields: dict[str, dict], relations: dict[str, dict], orm: str | None = None) -> str | None:
        ctx = self.ctx
        if not isinstance(value, cst.Call):
            if annotation is not None and value is None and "Mapped" in ctx.code_of(annotation):
                # ``name: Mapped[str]`` with no mapped_column(): a plain column.
                fields[name] = FieldInfo(name, line, "Mapped").to_json()
                return "sqlalchemy"
            return None
        func = ctx.resolve(value.func) or ""
        cname = _last(func)
        if cname in DJANGO_FK | DJANGO_O2O | DJANGO_M2M:
            target = _target_name(ctx, arg(value, 0) or arg(value, keyword="to"))
            kind = "fk" if cname in DJANGO_FK else "o2o" if cname in DJANGO_O2O else "m2m"
            related = string_value(arg(value, keyword="related_name"))
            relations[name] = Relation(name, target or "?", kind, kind == "m2m", None, related, line).to_json()
            if kind != "m2m":
                indexed = not _false(arg(value, keyword="db_index"))
                fields[name] = FieldInfo(name, line, cname, indexed, "foreign key" if indexed else "", fk=True,
                                         column=f"{name}_id").to_json()
            return "django"
        if cname.endswith("Field") and cname != "Field" and not func.startswith(NOT_MODEL_FIELDS) and (
            func.startswith(DJANGO_FIELD_ROOTS) or "models." in ctx.code_of(value.func) or orm == "django"
        ):
            info = FieldInfo(name, line, cname)
            for key, why in (("primary_key", "primary key"), ("unique", "unique"), ("db_index", "db_index")):
                if _true(arg(value, keyword=key)):
                    info.indexed, info.why = True, why
                    break
            if cname in DJANGO_PK_FIELDS:
                info.indexed, info.why = True, "primary key"
            if cname == "SlugField" and not _false(arg(value, keyword="db_index")) and not info.indexed:
                info.indexed, info.why = True, "SlugField (indexed by default)"
            info.boolean = cname in DJANGO_BOOL_FIELDS
            info.choices = arg(value, keyword="choices") is not None
            fields[name] = info.to_json()
            return "django"
        if cname in ("GenericForeignKey",):
            return "django"
        if cname in SA_COLUMN or (cname in SQLMODEL_FIELD and func.startswith("sqlmodel")):
            info = FieldInfo(name, line, self._sa_type(value, annotation))
            col_name = string_value(arg(value, 0))
            for key, why in (("primary_key", "primary key"), ("unique", "unique"), ("index", "index=True")):
                if _true(arg(value, keyword=key)):
                    info.indexed, info.why = True, why
                    break
            has_fk = any(isinstance(a.value, cst.Call) and _last(ctx.resolve(a.value.func) or "") == "ForeignKey"
                         for a in value.args) or arg(value, keyword="foreign_key") is not None
            if has_fk:
                info.fk = True
            info.boolean = info.kind in SA_BOOL_TYPES or (annotation is not None and "bool" in ctx.code_of(annotation))
            info.choices = info.kind in SA_CHOICE_TYPES
            if col_name and col_name != name:
                info.column = col_name
            fields[name] = info.to_json()
            return "sqlalchemy"
        if cname in SA_RELATIONSHIP:
            rel = self._sa_relationship(name, value, annotation, line)
            if rel is not None:
                relations[name] = rel
            return "sqlalchemy"
        if cname == "association_proxy":
            return None
        return None

    def _sa_type(self, call: cst.Call, annotation: cst.BaseExpression | None) -> str:
        for a in call.args:
            if a.keyword is not None:
                continue
            node = a.value.func if isinstance(a.value, cst.Call) else a.value
            if isinstance(node, (cst.Name, cst.Attribute)):
                name = _last(self.ctx.resolve(node) or "")
                if name and name != "ForeignKey":
                    return name
        if annotation is not None:
            text = self.ctx.code_of(annotation)
            inner = re.search(r"Mapped\[\s*(?:Optional\[)?\s*([A-Za-z_.]+)", text)
            if inner:
                return {"bool": "Boolean", "str": "String", "int": "Integer"}.get(inner.group(1), inner.group(1))
        return "Column"

    def _sa_relationship(self, name: str, call: cst.Call, annotation: cst.BaseExpression | None, line: int) -> dict | None:
        ctx = self.ctx
        target = _target_name(ctx, arg(call, 0) or arg(call, keyword="argument"))
        many = None
        if annotation is not None:
            text = ctx.code_of(annotation)
            m = re.search(r"Mapped\[\s*(?:(List|list|Set|set|Sequence|DynamicMapped|WriteOnlyMapped|"
                          r"typing\.List)\[)?\s*(?:Optional\[)?\s*['\"]?([A-Za-z_][A-Za-z_0-9.]*)", text)
            if m:
                many = m.group(1) is not None
                target = target or m.group(2).rsplit(".", 1)[-1]
            if "DynamicMapped" in text:
                lazy_from_ann = "dynamic"
            elif "WriteOnlyMapped" in text:
                lazy_from_ann = "write_only"
            else:
                lazy_from_ann = None
        else:
            lazy_from_ann = None
        if target is None:
            return None
        uselist = arg(call, keyword="uselist")
        if uselist is not None:
            many = _true(uselist)
        lazy = _lazy_value(arg(call, keyword="lazy")) or lazy_from_ann
        if _last(ctx.resolve(call.func) or "") == "dynamic_loader":
            lazy = "dynamic"
        rel = Relation(name, target, "relationship", bool(many) if many is not None else None, lazy, None, line).to_json()
        backref = arg(call, keyword="backref")
        if backref is not None:
            back_name = string_value(backref)
            back_lazy = None
            back_many = None
            if isinstance(backref, cst.Call):
                back_name = string_value(arg(backref, 0))
                back_lazy = _lazy_value(arg(backref, keyword="lazy"))
                ul = arg(backref, keyword="uselist")
                back_many = _true(ul) if ul is not None else None
            if back_name:
                rel["backref"] = {"name": back_name, "lazy": back_lazy, "many": back_many}
        back_populates = string_value(arg(call, keyword="back_populates"))
        if back_populates:
            rel["back_populates"] = back_populates
        if many is None and arg(call, keyword="secondary") is not None:
            rel["many"] = True
        return rel


def _lazy_value(node: cst.BaseExpression | None) -> str | None:
    if node is None:
        return None
    value = string_value(node)
    if value is not None:
        return value
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": "select", "False": "joined", "None": "noload"}[node.value]
    return None


def _false(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


def _strings_deep(node: cst.BaseExpression) -> list[str]:
    value = string_value(node)
    if value is not None:
        return [value.lstrip("-")]
    if isinstance(node, cst.Call):
        for a in node.args:
            found = _strings_deep(a.value)
            if found:
                return found
        if isinstance(node.func, cst.Attribute):
            return _strings_deep(node.func.value)
    return []


def _looks_model_base(name: str) -> bool:
    return bool(SA_DECLARATIVE.search(name)) or name.endswith("Model")


# ---------------------------------------------------------------------------------------
# The project phase


@dataclass
class Model:
    name: str
    path: str
    line: int
    orm: str | None
    abstract: bool
    bases: list[str]
    fields: dict[str, dict] = field(default_factory=dict)
    relations: dict[str, dict] = field(default_factory=dict)
    indexes: list[list[str]] = field(default_factory=list)
    table: str | None = None
    unmanaged: bool = False  # Meta.managed = False: a view or a table maintained elsewhere

    @property
    def module(self) -> str:
        path = self.path[:-3] if self.path.endswith(".py") else self.path
        return path.replace("/", ".").removesuffix(".__init__")


class Models:
    """Every model of the project, with inherited members and reverse relations resolved."""

    def __init__(self, facts: Sequence[Fact], extra_indexes: Sequence[Fact] = (), members: Sequence[Fact] = ()) -> None:
        lines = {(f.path, f.data["model"], f.data["kind"], f.data["name"]): f.line for f in members}
        raw: list[Model] = []
        for fact in facts:
            d = fact.data
            # Every member remembers the file and line it is defined on (inherited ones keep them).
            key = (fact.path, d.get("id"))
            fields = {k: {**v, "path": fact.path, "line": lines.get((*key, "fields", k), v.get("line", 0))}
                      for k, v in d.get("fields", {}).items()}
            relations = {k: {**v, "path": fact.path, "line": lines.get((*key, "relations", k), v.get("line", 0))}
                         for k, v in d.get("relations", {}).items()}
            raw.append(Model(d["name"], fact.path, fact.line, d.get("orm"), bool(d.get("abstract")), list(d.get("bases", ())),
                             fields, relations, [list(i) for i in d.get("indexes", [])], d.get("table"),
                             bool(d.get("unmanaged"))))
        self._by_name: dict[str, list[Model]] = {}
        for m in raw:
            self._by_name.setdefault(m.name, []).append(m)
        self._resolve_orm(raw)
        self.all: list[Model] = [m for m in raw if m.orm is not None]
        self._by_name = {}
        for m in self.all:
            self._by_name.setdefault(m.name, []).append(m)
        self._inherit()
        for fact in extra_indexes:
            for m in self._by_name.get(fact.data["model"], []):
                m.indexes.append(list(fact.data["columns"]))
        self._reverse()

    # -- resolution --------------------------------------------------------------------------
    def _base_models(self, m: Model) -> list[Model]:
        out = []
        for b in m.bases:
            last = b.rsplit(".", 1)[-1]
            for cand in self._by_name.get(last, []):
                if cand is not m:
                    out.append(cand)
                    break
        return out

    def _resolve_orm(self, raw: list[Model]) -> None:
        changed = True
        while changed:
            changed = False
            for m in raw:
                if m.orm is not None:
                    continue
                for base in self._base_models(m):
                    if base.orm is not None:
                        m.orm = base.orm
                        changed = True
                        break
        for m in raw:  # classes with SQLAlchemy-looking members but no known base
            if m.orm is None and any(f.get("kind") for f in m.fields.values()) and any(_looks_model_base(b) for b in m.bases):
                m.orm = None

    def _inherit(self) -> None:
        done: set[int] = set()

        def visit(m: Model, depth: int = 0) -> None:
            if id(m) in done or depth > 20:
                return
            done.add(id(m))
            for base in self._base_models(m):
                visit(base, depth + 1)
                for k, v in base.fields.items():
                    m.fields.setdefault(k, v)
                for k, v in base.relations.items():
                    rel = dict(v)
                    if rel.get("target") == "self":
                        rel["target"] = m.name
                    if rel.get("related_name"):
                        rel["related_name"] = rel["related_name"].replace("%(class)s", m.name.lower())
                    m.relations.setdefault(k, rel)
                if base.abstract or m.orm == "sqlalchemy":
                    m.indexes.extend(i for i in base.indexes if i not in m.indexes)
                if base.abstract and base.unmanaged:
                    m.unmanaged = True

        for m in self.all:
            visit(m)

    def _reverse(self) -> None:
        user = self._user_model()
        # SQLAlchemy relationships without a declared list-ness: decide from the foreign key side.
        for m in self.all:
            for rel in m.relations.values():
                if rel.get("many") is None:
                    rel["many"] = self._guess_many(m, rel)
        for m in list(self.all):
            if m.abstract:
                continue
            for name, rel in list(m.relations.items()):
                target = rel.get("target")
                if target == "self":
                    rel["target"] = target = m.name
                if target == "AUTH_USER_MODEL":
                    rel["target"] = target = user or "User"
                kind = rel.get("kind")
                if m.orm == "django" and kind in ("fk", "o2o", "m2m"):
                    related = rel.get("related_name")
                    if related and (related.endswith("+") or "%(" in related):
                        continue
                    if kind == "o2o":
                        rname, rkind, many = related or m.name.lower(), "reverse_o2o", False
                    else:
                        rname, rkind, many = related or f"{m.name.lower()}_set", f"reverse_{kind}", True
                    for t in self._by_name.get(target, []):
                        if t.orm != "django":
                            continue
                        back = Relation(rname, m.name, rkind, many, None, None, rel.get("line", 0)).to_json()
                        back["field"] = name  # the forward key on the other side
                        t.relations.setdefault(rname, back)
                elif kind == "relationship" and rel.get("backref"):
                    back = rel["backref"]
                    many = back.get("many")
                    if many is None:
                        many = not rel.get("many")  # the other side of a one-to-many is a many-to-one
                        if rel.get("many") and self._is_secondary(rel):
                            many = True
                    for t in self._by_name.get(target, []):
                        if t.orm != "sqlalchemy":
                            continue
                        t.relations.setdefault(back["name"], Relation(back["name"], m.name, "backref", bool(many),
                                                                        back.get("lazy"), None, rel.get("line", 0)).to_json())

    @staticmethod
    def _is_secondary(rel: dict) -> bool:
        return bool(rel.get("secondary"))

    def _guess_many(self, m: Model, rel: dict) -> bool:
        # A many-to-one has the foreign key column on this side: ``author_id`` beside ``author``.
        name = rel["name"]
        if f"{name}_id" in m.fields and m.fields[f"{name}_id"].get("fk"):
            return False
        if any(f.get("fk") and name in f.get("name", "") for f in m.fields.values()):
            return False
        target = self.get(rel.get("target", ""))
        if target is not None and any(f.get("fk") and m.name.lower() in fname for fname, f in target.fields.items()):
            return True
        return name.endswith("s")

    def _user_model(self) -> str | None:
        for m in self.all:
            if any(b.endswith(("AbstractUser", "AbstractBaseUser")) for b in m.bases) and not m.abstract:
                return m.name
        return None

    # -- lookups ------------------------------------------------------------------------------
    def get(self, name: str | None, module_hint: str | None = None) -> Model | None:
        if not name:
            return None
        cands = self._by_name.get(name, [])
        if not cands:
            return None
        if len(cands) > 1 and module_hint:
            for c in cands:
                if module_hint.startswith(c.module) or c.module.endswith(module_hint.rsplit(".", 1)[0]):
                    return c
        concrete = [c for c in cands if not c.abstract]
        return (concrete or cands)[0]

    def relation(self, model: Model | None, name: str) -> dict | None:
        return model.relations.get(name) if model is not None else None

    def relation_names(self) -> set[str]:
        return {r for m in self.all for r in m.relations}

    def models(self, orm: str | None = None) -> Iterable[Model]:
        return (m for m in self.all if orm is None or m.orm == orm)


def load_models(project: Any) -> Models:
    """The project's models (memoised on the project context)."""
    cached = getattr(project, "_models_cache", None)
    if cached is None:
        cached = Models(project.facts(FACT), project.facts("model_indexes"), project.facts(MEMBERS))
        try:
            project._models_cache = cached
        except AttributeError:  # pragma: no cover - a frozen context
            pass
    return cached
