"""Focused tests for the performance rules and their shared database and model knowledge."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from checker.analyzers.python import analyze
from checker.rule import Fact, FileRule
from checker.source import SourceFile
from checker.testing import fired, scan_files
from rules._shared.db import classify, db_call, is_chain_receiver, is_query
from rules._shared.models import ModelFacts, Models


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def run(files: dict[str, str], slug: str, config: dict | None = None) -> set[tuple[str, int, str]]:
    return fired(scan_files({k: src(v) for k, v in files.items()}, select=[slug], config=config))


# ---------------------------------------------------------------------------------------
# rules/_shared/db.py


class _Probe(FileRule):
    slug = "probe"
    checklist = ""
    section = None  # type: ignore[assignment]
    seen: list = []

    def visit_Call(self, node: cst.Call) -> None:
        if not is_chain_receiver(self.ctx):
            found = classify(self.ctx, node)
            type(self).seen.append((self.ctx.line_of(node), db_call(self.ctx, node), is_query(self.ctx, node),
                                    found.op if found else None))


def probe(tmp_path: Path, code: str) -> dict[int, tuple]:
    path = tmp_path / "views.py"
    path.write_text(src(code))
    _Probe.seen = []
    result = analyze(SourceFile(path, "views.py", "python"), [_Probe])
    assert result.errors == []
    return {line: tuple(rest) for line, *rest in _Probe.seen if rest[0] is not None}


def test_db_call_catalog(tmp_path):
    found = probe(tmp_path, """
        import sqlite3
        import requests
        from flask import session as web_session
        from sqlalchemy import insert, select
        from sqlalchemy.orm import Session
        from shop.models import Order as O

        def view(request, db: Session):
            O.objects.filter(paid=True).first()
            order = O.objects.get(pk=1)
            order.save()
            db.query(O).filter(O.id == 1).all()
            db.execute(select(O)).scalars().all()
            db.execute(insert(O).values(paid=True))
            db.add(order)
            db.commit()
            conn = sqlite3.connect("app.db")
            cur = conn.cursor()
            cur.execute("SELECT 1")
            cur.fetchall()
            O.query.filter_by(paid=True).count()
            http = requests.Session()
            http.get("https://example.com", timeout=5)
            request.session.get("cart")
            web_session.get("user_id")
            {}.get("key")
    """)
    assert found == {
        9: ("Django ORM query `Order.objects.filter(...).first`", True, "read"),
        10: ("Django ORM query `Order.objects.get`", True, "read"),
        11: ("Django model `save()`", True, "write"),
        12: ("SQLAlchemy session query", True, "read"),
        13: ("SQLAlchemy session `execute`", True, "read"),
        14: ("SQLAlchemy session `execute`", True, "write"),
        15: ("SQLAlchemy session `add`", False, "stage"),
        16: ("SQLAlchemy session `commit`", False, "transaction"),
        19: ("DB-API cursor `execute`", True, "read"),
        20: ("DB-API cursor `fetchall`", False, "fetch"),
        21: ("SQLAlchemy query `Order.query.count`", True, "read"),
    }


# ---------------------------------------------------------------------------------------
# rules/_shared/models.py


def model_facts(tmp_path: Path, files: dict[str, str]) -> Models:
    facts, indexes, members = [], [], []
    for rel, code in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(src(code))
        result = analyze(SourceFile(path, rel, "python"), [ModelFacts])
        facts += [Fact(rel, line, data) for line, data in result.facts.get("models", [])]
        indexes += [Fact(rel, line, data) for line, data in result.facts.get("model_indexes", [])]
        members += [Fact(rel, line, data) for line, data in result.facts.get("model_members", [])]
    return Models(facts, indexes, members)


def test_models_resolve_inheritance_reverse_relations_and_backrefs(tmp_path):
    models = model_facts(tmp_path, {
        "shop/base.py": """
            from django.db import models

            class Stamped(models.Model):
                created = models.DateTimeField(db_index=True)

                class Meta:
                    abstract = True
        """,
        "shop/models.py": """
            from django.db import models
            from .base import Stamped

            class Customer(Stamped):
                email = models.EmailField()

            class Order(Stamped):
                customer = models.ForeignKey("shop.Customer", on_delete=models.CASCADE)
                tags = models.ManyToManyField("Tag", related_name="tagged")

            class Tag(models.Model):
                label = models.CharField(max_length=20)
        """,
        "blog/models.py": """
            import sqlalchemy as sa
            from sqlalchemy.orm import declarative_base, relationship

            Base = declarative_base()

            class Author(Base):
                __tablename__ = "authors"
                id = sa.Column(sa.Integer, primary_key=True)
                posts = relationship("Post", backref="author", lazy="selectin")

            class Post(Base):
                __tablename__ = "posts"
                id = sa.Column(sa.Integer, primary_key=True)
                author_id = sa.Column(sa.Integer, sa.ForeignKey("authors.id"))
                title = sa.Column(sa.String(80))

            sa.Index("ix_posts_title", Post.title)
        """,
    })
    customer, order, tag = models.get("Customer"), models.get("Order"), models.get("Tag")
    assert customer.fields["created"]["indexed"] is True  # inherited from the abstract base
    assert customer.relations["order_set"]["kind"] == "reverse_fk"
    assert customer.relations["order_set"]["field"] == "customer"
    assert order.relations["customer"]["target"] == "Customer"
    assert tag.relations["tagged"]["kind"] == "reverse_m2m"
    post, author = models.get("Post"), models.get("Author")
    assert author.relations["posts"]["lazy"] == "selectin" and author.relations["posts"]["many"] is True
    assert post.relations["author"]["kind"] == "backref" and post.relations["author"]["many"] is False
    assert ["title"] in post.indexes
    assert (customer.fields["created"]["path"], customer.fields["created"]["line"]) == ("shop/base.py", 4)
    assert (order.fields["customer"]["path"], order.fields["customer"]["line"]) == ("shop/models.py", 8)


# ---------------------------------------------------------------------------------------
# n-plus-one-query

DJANGO_MODELS = """
    from django.db import models

    class Customer(models.Model):
        name = models.CharField(max_length=80, db_index=True)

    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
        total = models.IntegerField(db_index=True)
"""


def test_n_plus_one_writes_by_option():
    files = {
        "shop/models.py": DJANGO_MODELS,
        "shop/jobs.py": """
            from django.db import transaction
            from .models import Customer, Order

            def bump(orders, names):
                with transaction.atomic():
                    for order in orders:
                        order.total += 1
                        order.save()
                    for name in names:
                        Customer.objects.create(name=name)
        """,
    }
    options = lambda **kw: {"rules": {"n-plus-one-query": kw}}  # noqa: E731
    assert run(files, "n-plus-one-query") == {("shop/jobs.py", 10, "n-plus-one-query")}
    assert run(files, "n-plus-one-query", options(**{"include-writes": False})) == set()
    assert run(files, "n-plus-one-query", options(**{"include-instance-writes": True})) == {
        ("shop/jobs.py", 8, "n-plus-one-query"),
        ("shop/jobs.py", 10, "n-plus-one-query"),
    }


def test_n_plus_one_names_the_loop_and_the_query_line():
    findings = scan_files({
        "shop/models.py": src(DJANGO_MODELS),
        "shop/report.py": src("""
            from .models import Order

            def names():
                out = []
                for order in Order.objects.filter(total__gt=10):
                    out.append(
                        order.customer.name
                    )
                return out
        """),
    }, select=["n-plus-one-query"])
    assert fired(findings) == {("shop/report.py", 7, "n-plus-one-query")}
    assert [(r.line, r.message) for r in findings[0].related] == [(5, "the loop")]
    assert "select_related('customer')" in findings[0].message


def test_n_plus_one_sqlalchemy_lazy_modes():
    files = {
        "lib/models.py": """
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base, relationship

            Base = declarative_base()

            class Author(Base):
                __tablename__ = "authors"
                id = Column(Integer, primary_key=True)

            class Book(Base):
                __tablename__ = "books"
                id = Column(Integer, primary_key=True)
                author_id = Column(Integer, ForeignKey("authors.id"), index=True)
                author = relationship(Author, lazy="joined")
                editor_id = Column(Integer, ForeignKey("authors.id"), index=True)
                editor = relationship(Author, foreign_keys=[editor_id], lazy="raise")
                translator_id = Column(Integer, ForeignKey("authors.id"), index=True)
                translator = relationship(Author, foreign_keys=[translator_id])
        """,
        "lib/report.py": """
            from sqlalchemy import select
            from .models import Book

            def credits(session):
                rows = []
                for book in session.scalars(select(Book)):
                    rows.append((book.author.id, book.editor, book.translator))
                return rows
        """,
    }
    assert run(files, "n-plus-one-query") == {("lib/report.py", 7, "n-plus-one-query")}


def test_n_plus_one_leaves_while_loops_and_comprehension_iterables():
    files = {
        "shop/models.py": DJANGO_MODELS,
        "shop/scan.py": """
            from .models import Order

            def drain(batch_size):
                start = 0
                while True:
                    batch = list(Order.objects.filter(total__gt=start)[:batch_size])
                    if not batch:
                        return
                    start = batch[-1].total

            def totals():
                return [o.total for o in Order.objects.filter(total__gt=0)]
        """,
    }
    assert run(files, "n-plus-one-query") == set()


def test_enclosing_loops_skips_a_comprehensions_own_iterable(tmp_path):
    seen: list[tuple[int, int]] = []

    class LoopProbe(FileRule):
        slug = "loop-probe"
        checklist = ""
        section = None  # type: ignore[assignment]

        def visit_Call(self, node: cst.Call) -> None:
            seen.append((self.ctx.line_of(node), len(self.ctx.enclosing_loops())))

    path = tmp_path / "m.py"
    path.write_text(src("""
        rows = [
            str(x)
            for x in load()
            for y in expand(x)
            if keep(y)
        ]
    """))
    analyze(SourceFile(path, "m.py", "python"), [LoopProbe])
    assert sorted(seen) == [(2, 1), (3, 0), (4, 1), (5, 1)]


# ---------------------------------------------------------------------------------------
# missing-db-index


SA_MODELS = """
    from sqlalchemy import Column, ForeignKey, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()

    class Customer(Base):
        __tablename__ = "customers"
        id = Column(Integer, primary_key=True)

    class Invoice(Base):
        __tablename__ = "invoices"
        id = Column(Integer, primary_key=True)
        customer_id = Column(Integer, ForeignKey("customers.id"))
        number = Column(String(20))
"""


def test_missing_db_index_foreign_keys_by_option():
    files = {
        "app/models.py": SA_MODELS,
        "app/queries.py": """
            from sqlalchemy import select
            from .models import Invoice

            def of_customer(session, customer_id):
                return session.scalars(select(Invoice).where(Invoice.customer_id == customer_id).limit(20)).all()
        """,
    }
    assert run(files, "missing-db-index") == set()
    assert run(files, "missing-db-index", {"rules": {"missing-db-index": {"foreign-keys-indexed": False}}}) == {
        ("app/models.py", 13, "missing-db-index"),
    }


def test_missing_db_index_leaves_admin_only_queries_and_lookup_tables():
    files = {
        "shop/models.py": """
            from django.db import models

            class Voucher(models.Model):
                code = models.CharField(max_length=20)

            class PaymentStatus(models.Model):
                code = models.CharField(max_length=20)

            class Membership(models.Model):
                team = models.CharField(max_length=20)
                member = models.CharField(max_length=20)

                class Meta:
                    unique_together = [("team", "member")]
        """,
        "shop/admin.py": """
            from .models import Voucher

            def find(code):
                return Voucher.objects.get(code=code)
        """,
        "shop/services.py": """
            from .models import Membership, PaymentStatus

            def status(code):
                return PaymentStatus.objects.get(code=code)

            def teams():
                return Membership.objects.filter(team="core")

            def members():
                return Membership.objects.filter(member="ann")
        """,
    }
    assert run(files, "missing-db-index") == {("shop/models.py", 11, "missing-db-index")}


# ---------------------------------------------------------------------------------------
# missing-response-compression

FASTAPI_APP = """
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/healthz")
    def healthz():
        return {"ok": True}
"""


@pytest.mark.parametrize("extra", [
    {"deploy/nginx.conf": "server {\n    gzip on;\n    location / { proxy_pass http://app:8000; }\n}\n"},
    {"requirements.txt": "fastapi==0.115.0\nbrotli-asgi==1.4.0\n"},
    {"Caddyfile": "example.com {\n    encode zstd gzip\n    reverse_proxy app:8000\n}\n"},
])
def test_missing_response_compression_quiet_when_compressed_elsewhere(extra):
    assert run({"main.py": FASTAPI_APP, **extra}, "missing-response-compression") == set()


def test_missing_response_compression_django_settings_and_no_app():
    settings = """
        MIDDLEWARE = [
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
        ]
    """
    assert run({"site/settings.py": settings}, "missing-response-compression") == {
        ("site/settings.py", 1, "missing-response-compression"),
    }
    gzip = settings.replace('"django.middleware.common', '"django.middleware.gzip.GZipMiddleware",\n    "django.middleware.common')
    assert run({"site/settings.py": gzip}, "missing-response-compression") == set()
    assert run({"lib/util.py": "def add(a, b):\n    return a + b\n"}, "missing-response-compression") == set()


# ---------------------------------------------------------------------------------------
# unpaginated-list-endpoint

DRF_VIEW = """
    from rest_framework import generics
    from .models import Order
    from .serializers import OrderSerializer

    class OrderList(generics.ListAPIView):
        queryset = Order.objects.all()
        serializer_class = OrderSerializer
"""


def test_unpaginated_drf_list_view_and_default_pagination():
    assert run({"shop/views.py": DRF_VIEW}, "unpaginated-list-endpoint") == {
        ("shop/views.py", 5, "unpaginated-list-endpoint"),
    }
    settings = 'REST_FRAMEWORK = {"DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination"}\n'
    assert run({"shop/views.py": DRF_VIEW, "site/settings.py": settings}, "unpaginated-list-endpoint") == set()


def test_unpaginated_list_view_with_a_paginating_mixin_elsewhere():
    files = {
        "shop/mixins.py": """
            class PagedMixin:
                paginate_by = 50
        """,
        "shop/views.py": """
            from django.views.generic import ListView
            from .mixins import PagedMixin
            from .models import Order

            class Orders(PagedMixin, ListView):
                model = Order

            class AllOrders(ListView):
                model = Order
        """,
    }
    assert run(files, "unpaginated-list-endpoint") == {("shop/views.py", 8, "unpaginated-list-endpoint")}


# ---------------------------------------------------------------------------------------
# blocking-call-in-async, missing-connection-pooling, missing-request-timeout


def test_blocking_call_quiet_for_awaited_and_offloaded_work():
    files = {"app/jobs.py": """
        import asyncio
        import time

        import aiosqlite
        import requests

        async def job(url, path):
            async with aiosqlite.connect(path) as db:
                await db.execute("SELECT 1")
            await asyncio.get_running_loop().run_in_executor(None, lambda: requests.get(url, timeout=5))
            await asyncio.to_thread(time.sleep, 1)
            time.sleep(1)
    """}
    assert run(files, "blocking-call-in-async") == {("app/jobs.py", 12, "blocking-call-in-async")}


def test_connection_pooling_per_target_and_retry_loops_are_fine():
    files = {"ops/sync.py": """
        import psycopg2

        def copy(shard_dsns, dsn, rows):
            for shard in shard_dsns:
                psycopg2.connect(shard).close()
            for attempt in range(3):
                conn = psycopg2.connect(dsn)
            for row in rows:
                other = psycopg2.connect(dsn)
    """}
    assert run(files, "missing-connection-pooling") == {("ops/sync.py", 9, "missing-connection-pooling")}


def test_request_timeout_star_kwargs_and_httpx_default():
    files = {"app/client.py": """
        import httpx
        import requests

        def fetch(url, **options):
            requests.get(url, **options)
            httpx.get(url)
            httpx.get(url, timeout=None)
            return requests.Session().post(url, json={})
    """}
    assert run(files, "missing-request-timeout") == {
        ("app/client.py", 7, "missing-request-timeout"),
        ("app/client.py", 8, "missing-request-timeout"),
    }


def test_missing_response_compression_express_app_and_package_json():
    app = "const express = require('express');\nconst app = express();\napp.get('/orders', (req, res) => res.json([]));\n"
    found = fired(scan_files({"server.js": app}, select=["missing-response-compression"], engines=("checker", "semgrep")))
    assert found == {("server.js", 2, "missing-response-compression")}
    package = '{"dependencies": {"express": "^4.19.0", "compression": "^1.7.4"}}\n'
    assert fired(scan_files({"server.js": app, "package.json": package}, select=["missing-response-compression"],
                            engines=("checker", "semgrep"))) == set()
