"""Architecture rules and their shared knowledge (handler detection, layers): exact
results on small projects, including the close negatives found on real code."""

from __future__ import annotations

import libcst as cst
import pytest

from checker.analyzers.python import analyze
from checker.rule import Collector
from checker.source import SourceFile
from checker.testing import fired, scan_files
from rules._shared.layers import ModuleIndex, absolute_import, layers_from_settings, module_name
from rules._shared.web import current_handler


# ---------------------------------------------------------------------------------------
# Handler detection


class _Probe(Collector):
    name = "test-probe-handlers"

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        h = current_handler(self.ctx, node)
        if h is not None:
            self.record((h.qualname, h.framework, sorted(h.methods), h.path))


def handlers(code: str, path: str = "app/views.py", settings: dict | None = None, tmp_path=None) -> list:
    file = tmp_path / "src.py"
    file.write_text(code)
    result = analyze(SourceFile(file, path, "python"), [_Probe], settings or {})
    assert not result.errors
    return [tuple(data) if not isinstance(data, list) else tuple(data)
            for _, data in result.facts.get("test-probe-handlers", [])]


def test_flask_routes_blueprints_registered_views_and_class_views(tmp_path):
    code = (
        "from flask import Blueprint, Flask\n"
        "from flask.views import MethodView\n"
        "from flask_restful import Resource\n\n"
        "app = Flask(__name__)\n"
        "bp = Blueprint('b', __name__)\n\n"
        "@app.route('/a', methods=['GET', 'POST'])\n"
        "def a():\n    return ''\n\n"
        "@bp.delete('/b/<int:i>')\n"
        "def b(i):\n    return ''\n\n"
        "def c():\n    return ''\n\n"
        "bp.add_url_rule('/c', view_func=c, methods=['PUT'])\n\n"
        "class Items(MethodView):\n"
        "    def get(self):\n        return ''\n"
        "    def helper(self):\n        return ''\n\n"
        "class Thing(Resource):\n"
        "    def post(self):\n        return ''\n"
    )
    assert handlers(code, "app/routes.py", tmp_path=tmp_path) == [
        ("a", "flask", ["get", "post"], "/a"),
        ("b", "flask", ["delete"], "/b/<int:i>"),
        ("c", "flask", ["put"], "/c"),
        ("Items.get", "flask", ["get"], None),
        ("Thing.post", "flask-restful", ["post"], None),
    ]


def test_fastapi_starlette_and_aiohttp_handlers(tmp_path):
    fastapi = (
        "from fastapi import APIRouter\n\n"
        "router = APIRouter(prefix='/x')\n\n"
        "@router.post('/items', status_code=201)\n"
        "def create(): ...\n\n"
        "@router.get('')\n"
        "async def listing(): ...\n"
    )
    assert handlers(fastapi, "app/api.py", tmp_path=tmp_path) == [
        ("create", "fastapi", ["post"], "/items"), ("listing", "fastapi", ["get"], "")]
    starlette = (
        "from starlette.endpoints import HTTPEndpoint\n"
        "from starlette.routing import Route\n\n"
        "async def homepage(request):\n    ...\n\n"
        "class Users(HTTPEndpoint):\n"
        "    async def get(self, request):\n        ...\n\n"
        "routes = [Route('/', homepage)]\n"
    )
    assert handlers(starlette, "site/app.py", tmp_path=tmp_path) == [
        ("homepage", "starlette", [], "/"), ("Users.get", "starlette", ["get"], None)]
    aiohttp = (
        "from aiohttp import web\n\n"
        "routes = web.RouteTableDef()\n\n"
        "@routes.get('/ping')\n"
        "async def ping(request):\n    return web.json_response({})\n\n"
        "class Orders(web.View):\n"
        "    async def post(self):\n        return web.json_response({})\n\n"
        "async def _helper(request):\n    return None\n"
    )
    assert handlers(aiohttp, "svc/server.py", tmp_path=tmp_path) == [
        ("ping", "aiohttp", ["get"], "/ping"), ("Orders.post", "aiohttp", ["post"], None)]


def test_django_views_and_drf_views_viewsets_actions(tmp_path):
    code = (
        "from django.http import JsonResponse\n"
        "from django.views.decorators.http import require_POST\n"
        "from django.views.generic import View\n"
        "from rest_framework import viewsets\n"
        "from rest_framework.decorators import action\n"
        "from rest_framework.views import APIView\n\n"
        "def cart_id(request):\n    return request.session.get('cart')\n\n"
        "def _address_form(request):\n    return None\n\n"
        "def cart(request):\n    return JsonResponse({'id': cart_id(request)})\n\n"
        "@require_POST\n"
        "def add(request):\n    return JsonResponse({})\n\n"
        "def edit(request):\n"
        "    if request.method == 'POST':\n        return JsonResponse({})\n"
        "    return JsonResponse({})\n\n"
        "class BaseView(View):\n    pass\n\n"
        "class Export(BaseView):\n"
        "    def get(self, request):\n        return JsonResponse({})\n\n"
        "class Stats(APIView):\n"
        "    def get(self, request):\n        return None\n\n"
        "class Orders(viewsets.ModelViewSet):\n"
        "    def get_queryset(self):\n        return None\n"
        "    def destroy(self, request, pk=None):\n        return None\n"
        "    @action(detail=True, methods=['post'])\n"
        "    def cancel(self, request, pk=None):\n        return None\n"
    )
    assert handlers(code, "shop/views.py", tmp_path=tmp_path) == [
        ("cart", "django", [], None),
        ("add", "django", ["post"], None),
        ("edit", "django", ["post"], None),
        ("Export.get", "django", ["get"], None),
        ("Stats.get", "drf", ["get"], None),
        ("Orders.destroy", "drf", ["delete"], None),
        ("Orders.cancel", "drf", ["post"], None),
    ]


def test_project_base_classes_by_name_and_configured_frameworks(tmp_path):
    code = (
        "from rest_framework.response import Response\n\n"
        "from core.api import TenantViewSet\n"
        "from myweb import endpoint, Handler\n\n"
        "class Invoices(TenantViewSet):\n"
        "    def list(self, request):\n        return Response([])\n\n"
        "@endpoint('/reports', methods=['GET'])\n"
        "def reports():\n    return []\n\n"
        "class Health(Handler):\n"
        "    def get(self):\n        return 'ok'\n"
    )
    settings = {"handlers": {"decorators": ["endpoint"], "base-classes": ["myweb.Handler"]}}
    assert handlers(code, "billing/api.py", settings, tmp_path=tmp_path) == [
        ("Invoices.list", "drf", ["get"], None),
        ("reports", "custom", ["get"], "/reports"),
        ("Health.get", "custom", ["get"], None),
    ]
    assert handlers(code, "billing/api.py", tmp_path=tmp_path) == [("Invoices.list", "drf", ["get"], None)]


def test_cli_and_task_decorators_are_not_routes(tmp_path):
    code = (
        "import click\n"
        "from celery import shared_task\n\n"
        "cli = click.Group()\n\n"
        "@cli.command('/sync')\n"
        "def sync():\n    pass\n\n"
        "@shared_task\n"
        "def post(request):\n    pass\n"
    )
    assert handlers(code, "tools/jobs.py", tmp_path=tmp_path) == []


# ---------------------------------------------------------------------------------------
# Layers


def test_default_layers_from_folders_and_plural_file_names():
    layers = layers_from_settings({}, [])
    assert layers.order == ("controllers", "services", "repositories", "models")
    assert layers.layer_of("shop/orders/views.py") == "controllers"
    assert layers.layer_of("app/api/v1/endpoints/items.py") == "controllers"
    assert layers.layer_of("app/services/billing.py") == "services"
    assert layers.layer_of("app/crud/user.py") == "repositories"
    assert layers.layer_of("api/models.py") == "models"
    # A file called service.py is often a client of some external service, not a layer.
    assert layers.layer_of("editing/controllers/backend/service.py") == "controllers"
    assert layers.layer_of("editing/service.py") is None
    assert layers.layer_of("lib/utils.py") is None


def test_layer_named_package_root_is_not_a_layer():
    paths = ["api/services/orders.py", "api/utils.py", "api/models.py", "api/views.py"]
    layers = layers_from_settings({}, paths)
    assert layers.layer_of("api/utils.py") is None
    assert layers.layer_of("api/services/orders.py") == "services"
    assert layers.layer_of("api/views.py") == "controllers"


def test_configured_layers_with_path_and_dotted_globs():
    settings = {"layers": {"web": ["src/shop/http/**"], "domain": ["shop.domain"], "storage": ["shop.storage.*"]}}
    layers = layers_from_settings(settings)
    assert layers.configured and layers.order == ("web", "domain", "storage")
    assert layers.layer_of("src/shop/http/orders.py") == "web"
    assert layers.layer_of("src/shop/domain/pricing.py") == "domain"
    assert layers.layer_of("src/shop/storage/__init__.py") == "storage"
    assert layers.layer_of("src/shop/storage/sql.py") == "storage"
    assert layers.layer_of("src/shop/views.py") is None
    assert layers.data_owner() == "domain"


def test_module_names_relative_imports_and_index():
    assert module_name("src/app/services/orders.py") == "app.services.orders"
    assert module_name("app/api/__init__.py") == "app.api"
    assert absolute_import("app/services/orders.py", 1, "pricing") == "app.services.pricing"
    assert absolute_import("app/services/__init__.py", 2, "models") == "app.models"
    index = ModuleIndex(["backend/app/models.py", "backend/app/services/__init__.py", "other/app/models.py"])
    assert index.resolve("app.models", near="backend/app/api/x.py") == "backend/app/models.py"
    assert index.resolve("requests") is None
    assert index.resolve_from("app.services", ["orders"]) == [("", "backend/app/services/__init__.py")]


# ---------------------------------------------------------------------------------------
# File rules


def only(slug: str, files: dict[str, str], config: dict | None = None) -> set[tuple[str, int, str]]:
    return {f for f in fired(scan_files(files, select=[slug], config=config)) if f[2] == slug}


def test_controller_db_access_configured_controllers_health_and_shortcuts():
    files = {
        "app/http/orders.py": (
            "from app.models import Order\n\n"
            "def list_orders(session):\n"
            "    return session.query(Order).all()\n\n"
            "def _serialize(order):\n"
            "    return {'id': order.id}\n"
        ),
    }
    config = {"layers": {"http": ["app/http/**"], "logic": ["app/logic/**"]}}
    assert only("controller-db-access", files, config) == {("app/http/orders.py", 4, "controller-db-access")}
    assert only("controller-db-access", files) == set()
    views = {
        "shop/views.py": (
            "from django.db import connection\n"
            "from django.http import JsonResponse\n"
            "from django.shortcuts import get_object_or_404\n\n"
            "from .models import Product\n\n"
            "def healthz(request):\n"
            "    with connection.cursor() as cursor:\n"
            "        cursor.execute('SELECT 1')\n"
            "    return JsonResponse({'status': 'ok'})\n\n"
            "def product(request, pk):\n"
            "    item = get_object_or_404(Product, pk=pk)\n"
            "    return JsonResponse({'sku': item.sku})\n"
        ),
    }
    assert only("controller-db-access", views) == set()


def test_fat_controller_thresholds_are_options():
    files = {
        "app/routes.py": (
            "from flask import Blueprint\n\n"
            "bp = Blueprint('b', __name__)\n\n"
            "@bp.get('/x')\n"
            "def x():\n"
            "    a = 1\n"
            "    b = 2\n"
            "    if a:\n"
            "        b = 3\n"
            "    return str(a + b)\n"
        ),
    }
    assert only("fat-controller", files) == set()
    config = {"rules": {"fat-controller": {"max-statements": 3}}}
    assert only("fat-controller", files, config) == {("app/routes.py", 6, "fat-controller")}
    config = {"rules": {"fat-controller": {"max-branches": 0}}}
    assert only("fat-controller", files, config) == {("app/routes.py", 6, "fat-controller")}


def test_swallowed_exception_leaves_del_tests_and_narrow_handlers_alone():
    files = {
        "pkg/tmp.py": (
            "import os\n\n"
            "class Tmp:\n"
            "    def __del__(self):\n"
            "        try:\n"
            "            os.remove(self.path)\n"
            "        except Exception:\n"
            "            pass\n\n"
            "def parse(raw):\n"
            "    try:\n"
            "        return int(raw)\n"
            "    except (ValueError, TypeError):\n"
            "        return None\n\n"
            "def load(raw):\n"
            "    try:\n"
            "        return int(raw)\n"
            "    except Exception:\n"
            "        return None\n"
        ),
        "tests/test_tmp.py": "def test_x():\n    try:\n        1 / 0\n    except:\n        pass\n",
    }
    assert only("swallowed-exception", files) == {("pkg/tmp.py", 19, "swallowed-exception")}


def test_hardcoded_config_fallbacks_public_urls_and_test_code():
    files = {
        "app/settings.py": (
            "import os\n\n"
            "BROKER = os.getenv('BROKER_URL', 'amqp://guest@localhost//')\n"
            "SEARCH = os.getenv('SEARCH_URL', 'http://search.prod.internal:9200')\n"
            "GITHUB = 'https://api.github.com'\n"
            "DOCS = 'https://docs.example.com/guide'\n"
            "SENTRY_DSN = os.environ.get('SENTRY_DSN') or 'https://abc@o1.ingest.sentry.io:443/1'\n"
        ),
        "tests/conftest.py": "DB = 'postgresql://t@10.0.0.9/test'\n",
    }
    found = scan_files(files, select=["hardcoded-config"])
    assert fired(found) == {("app/settings.py", 4, "hardcoded-config"), ("app/settings.py", 7, "hardcoded-config")}
    assert {f.severity.label for f in found} == {"low"}


def test_migration_explained_downgrade_is_a_decision_generated_comment_is_not():
    head = "from alembic import op\n\nrevision = 'b'\ndown_revision = 'a'\n\ndef upgrade():\n    op.drop_column('t', 'c')\n\n"
    files = {
        "migrations/versions/b_explained.py": head + "def downgrade():\n    # nothing to undo: the column was unused\n    pass\n",
        "migrations/versions/c_generated.py": head + (
            "def downgrade():\n"
            "    # ### commands auto generated by Alembic - please adjust! ###\n"
            "    pass\n"
            "    # ### end Alembic commands ###\n"
        ),
    }
    assert only("migration-without-rollback", files) == {
        ("migrations/versions/c_generated.py", 9, "migration-without-rollback")}


def test_dockerfile_inherited_user_build_args_and_nonroot_images():
    files = {
        "Dockerfile": (
            "ARG BASE=python:3.12-slim\n"
            "FROM ${BASE} AS base\n"
            "RUN useradd app\n"
            "USER app\n"
            "HEALTHCHECK CMD curl -f http://localhost/ || exit 1\n\n"
            "FROM base\n"
            "COPY . /srv\n"
            'CMD ["python", "-m", "srv"]\n'
        ),
        "build/Containerfile": (
            "FROM python AS build\n"
            "FROM gcr.io/distroless/python3-debian12:nonroot\n"
            "HEALTHCHECK CMD [\"/app\", \"check\"]\n"
            "ENV API_TOKEN_FILE=/run/secrets/token PASSWORD=${PASSWORD}\n"
        ),
    }
    assert only("dockerfile-hygiene", files) == {("build/Containerfile", 1, "dockerfile-hygiene")}


# ---------------------------------------------------------------------------------------
# Project rules


def test_layer_violation_with_configured_layers_and_close_negatives():
    files = {
        "shop/web/orders.py": "from shop.core import pricing\n",
        "shop/core/pricing.py": "from shop.web import orders\nfrom flask import g\n",
        "shop/core/__init__.py": "",
        "shop/web/__init__.py": "",
    }
    config = {"layers": {"web": ["shop.web"], "core": ["shop.core"]}}
    assert only("layer-violation", files, config) == {("shop/core/pricing.py", 1, "layer-violation")}
    oauth = {
        "auth/oauth/models.py": (
            "def endpoint_classes():\n"
            "    from auth.oauth.endpoints import RevocationEndpoint\n"
            "    return [RevocationEndpoint]\n"
        ),
        "auth/oauth/endpoints.py": "class RevocationEndpoint:\n    pass\n",
    }
    assert only("layer-violation", oauth) == set()


def test_missing_transaction_atomic_requests_callers_branches_and_delete_signals():
    view = (
        "from django.http import JsonResponse\n\n"
        "from .models import Order, Line\n\n"
        "def place(request):\n"
        "    order = Order.objects.create(customer=request.user)\n"
        "    Line.objects.create(order=order, sku='x')\n"
        "    return JsonResponse({'id': order.pk}, status=201)\n"
    )
    assert only("missing-transaction", {"shop/views.py": view}) == {("shop/views.py", 5, "missing-transaction")}
    settings = "DATABASES = {'default': {'ENGINE': 'x', 'ATOMIC_REQUESTS': True}}\n"
    assert only("missing-transaction", {"shop/views.py": view, "site/settings.py": settings}) == set()
    services = {
        "shop/services.py": (
            "from django.db import transaction\n"
            "from django.db.models.signals import post_delete\n"
            "from django.dispatch import receiver\n\n"
            "from .models import Order, Line, Audit\n\n"
            "def _write_order_rows(order):\n"
            "    Line.objects.filter(order=order).delete()\n"
            "    Audit.objects.create(order=order)\n\n"
            "def place(order):\n"
            "    with transaction.atomic():\n"
            "        _write_order_rows(order)\n\n"
            "def touch(order):\n"
            "    if order.pk:\n"
            "        order.save()\n"
            "    else:\n"
            "        Order.objects.create(number=order.number)\n\n"
            "@receiver(post_delete, sender=Order)\n"
            "def cleanup(sender, instance, **kwargs):\n"
            "    Line.objects.filter(order=instance).delete()\n"
            "    Audit.objects.filter(order=instance).delete()\n"
        ),
    }
    assert only("missing-transaction", services) == set()


def test_print_logging_only_in_servers_and_not_in_settings_or_echoing_functions():
    library = {"lib/report.py": "def show(rows):\n    print(len(rows))\n"}
    assert only("print-logging", library) == set()
    server = {
        "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
        "app/settings.py": "import sys\n\nif sys.version_info < (3, 10):\n    print('too old')\n",
        "app/db.py": (
            "import click\n\n"
            "def prepare(verbose):\n"
            "    click.secho('preparing', fg='yellow')\n"
            "    print('tables created')\n\n"
            "def sync():\n"
            "    print('synced')\n"
        ),
    }
    assert only("print-logging", server) == {("app/db.py", 8, "print-logging")}


def test_missing_audit_log_follows_services_and_framework_hooks():
    files = {
        "app/api.py": (
            "from rest_framework import viewsets\n"
            "from django.http import Http404\n\n"
            "class Vouchers(viewsets.ModelViewSet):\n"
            "    def update(self, request, *args, **kwargs):\n"
            "        return super().update(request, *args, **kwargs)\n\n"
            "    def perform_update(self, serializer):\n"
            "        serializer.save()\n"
            "        serializer.instance.log_action('voucher.changed')\n\n"
            "    def destroy(self, request, *args, **kwargs):\n"
            "        raise Http404()\n\n"
            "    def partial_update(self, request, *args, **kwargs):\n"
            "        return super().partial_update(request, *args, **kwargs)\n"
        ),
    }
    assert only("missing-audit-log", files) == set()
    with_library = {
        "app/views.py": (
            "from django.http import JsonResponse\n"
            "from django.views.decorators.http import require_POST\n\n"
            "@require_POST\n"
            "def delete_order(request, pk):\n"
            "    request.user.orders.filter(pk=pk).delete()\n"
            "    return JsonResponse({})\n"
        ),
    }
    assert only("missing-audit-log", with_library) == {("app/views.py", 5, "missing-audit-log")}
    with_library["app/apps.py"] = "from auditlog.registry import auditlog\n"
    assert only("missing-audit-log", with_library) == set()


def test_missing_tests_manifests_helpers_and_lcov():
    code = {"app/services/billing.py": "def charge(order):\n    return order\n"}
    assert only("missing-tests", code) == set()  # a loose script folder is not a project
    assert only("missing-tests", {**code, "requirements.txt": "flask\n"}) == {
        ("requirements.txt", 1, "missing-tests")}
    helpers = {**code, "requirements.txt": "flask\n", "app/test/factories.py": "def make_order():\n    return {}\n"}
    assert only("missing-tests", helpers) == set()
    lcov = {
        **code, "requirements.txt": "flask\n",
        "tests/test_billing.py": "from app.services.billing import charge\n\ndef test_charge():\n    assert charge(1) == 1\n",
        "lcov.info": "SF:app/services/billing.py\nLF:10\nLH:2\nend_of_record\n",
    }
    assert only("missing-tests", lcov) == {("app/services/billing.py", 1, "missing-tests")}


def test_missing_api_docs_sources_spec_files_and_html_sites():
    api = (
        "from flask import Flask, jsonify\n\n"
        "app = Flask(__name__)\n\n"
        "@app.get('/a')\ndef a():\n    return jsonify(a=1)\n\n"
        "@app.get('/b')\ndef b():\n    return jsonify(b=1)\n\n"
        "@app.get('/c')\ndef c():\n    return {'c': 1}\n"
    )
    assert only("missing-api-docs", {"app.py": api}) == {("app.py", 3, "missing-api-docs")}
    assert only("missing-api-docs", {"app.py": "from flasgger import Swagger\n" + api}) == set()
    assert only("missing-api-docs", {"app.py": api, "docs/openapi.yaml": "openapi: 3.0.3\n"}) == set()
    site = api.replace("jsonify(a=1)", "render_template('a.html')").replace("jsonify(b=1)", "render_template('b.html')")
    site = site.replace("{'c': 1}", "render_template('c.html')").replace("import Flask, jsonify", "import Flask, render_template")
    assert only("missing-api-docs", {"app.py": site}) == set()


def test_missing_error_handler_small_apps_templates_and_middleware():
    small = "from flask import Flask\n\napp = Flask(__name__)\n\n@app.get('/')\ndef home():\n    return 'hi'\n"
    assert only("missing-error-handler", {"app.py": small}) == set()
    django = {
        "site/settings.py": "ROOT_URLCONF = 'site.urls'\n",
        "site/urls.py": (
            "from django.urls import path\n\nfrom shop import views\n\n"
            "urlpatterns = [path('a/', views.a), path('b/', views.b), path('c/', views.c)]\n"
        ),
    }
    assert only("missing-error-handler", django) == {("site/settings.py", 1, "missing-error-handler")}
    assert only("missing-error-handler", {**django, "site/templates/500.html": "<h1>Sorry</h1>\n"}) == set()
    aiohttp = (
        "from aiohttp import web\n\n"
        "@web.middleware\n"
        "async def errors(request, handler):\n"
        "    try:\n        return await handler(request)\n"
        "    except Exception:\n        return web.json_response({'error': 'internal'}, status=500)\n\n"
        "app = web.Application(middlewares=[errors])\n"
        "app.router.add_get('/a', None)\napp.router.add_get('/b', None)\napp.router.add_get('/c', None)\n"
    )
    assert only("missing-error-handler", {"server.py": aiohttp}) == set()


def test_inconsistent_response_format_protocol_endpoints_field_errors_and_ties():
    files = {
        "app/api.py": (
            "from flask import Blueprint, jsonify\n\n"
            "bp = Blueprint('api', __name__)\n\n"
            "@bp.get('/a')\ndef a():\n    return jsonify(detail='no a'), 404\n\n"
            "@bp.get('/b')\ndef b():\n    return jsonify(detail='no b'), 404\n\n"
            "@bp.post('/c')\ndef c():\n    return jsonify(email=['required']), 400\n\n"
            "@bp.post('/oauth/token')\ndef token():\n    return jsonify(error='invalid_grant'), 400\n"
        ),
    }
    assert only("inconsistent-response-format", files) == set()
    tie = {
        "app/api.py": (
            "from flask import Blueprint, jsonify\n\n"
            "bp = Blueprint('api', __name__)\n\n"
            "@bp.get('/a')\ndef a():\n    return jsonify(detail='no a'), 404\n\n"
            "@bp.get('/b')\ndef b():\n    return jsonify(error='no b'), 404\n"
        ),
    }
    assert only("inconsistent-response-format", tie) == set()


def test_wrong_status_code_html_forms_actions_and_updates():
    files = {
        "shop/views.py": (
            "from django.http import JsonResponse\n"
            "from django.shortcuts import redirect\n"
            "from django.views.generic import View\n\n"
            "from .forms import OrderForm\n\n"
            "class OrderCreateView(View):\n"
            "    def post(self, request):\n"
            "        form = OrderForm(request.POST)\n"
            "        form.save()\n"
            "        return redirect('orders')\n"
        ),
        "shop/api.py": (
            "from flask import Blueprint, jsonify\n\n"
            "from shop import service\n\n"
            "bp = Blueprint('api', __name__)\n\n"
            "@bp.post('/orders/<int:pk>/image')\n"
            "def upload_image(pk):\n"
            "    return jsonify(service.set_image(pk))\n\n"
            "@bp.post('/orders/search')\n"
            "def search():\n"
            "    return jsonify(service.create_query())\n\n"
            "@bp.post('/orders')\n"
            "def add_order():\n"
            "    return jsonify(service.create_order())\n\n"
            "@bp.post('/orders/bulk')\n"
            "def bulk_create():\n"
            "    return jsonify(service.create_many()), 200\n"
        ),
    }
    assert only("wrong-status-code", files) == {("shop/api.py", 17, "wrong-status-code")}


def test_missing_health_check_needs_an_application():
    blueprints = {
        "ext/routes.py": (
            "from flask import Blueprint\n\nbp = Blueprint('ext', __name__)\n\n"
            "@bp.get('/things')\ndef things():\n    return []\n"
        ),
    }
    assert only("missing-health-check", blueprints) == set()
    django = {
        "site/settings.py": "ROOT_URLCONF = 'site.urls'\n",
        "site/urls.py": (
            "from django.urls import include, path\n\n"
            "urlpatterns = [path('ht/', include('health_check.urls')), path('shop/', include('shop.urls'))]\n"
        ),
    }
    assert only("missing-health-check", django) == set()
    django["site/urls.py"] = "from django.urls import include, path\n\nurlpatterns = [path('shop/', include('shop.urls'))]\n"
    assert only("missing-health-check", django) == {("site/settings.py", 1, "missing-health-check")}


@pytest.mark.parametrize("slug", ["fat-controller", "controller-db-access", "wrong-status-code"])
def test_test_code_is_never_judged(slug):
    files = {
        "tests/test_views.py": (
            "from flask import Flask, jsonify\n\n"
            "app = Flask(__name__)\n\n"
            "@app.post('/x')\n"
            "def create_x():\n"
            "    return jsonify(error='nope')\n"
        ),
    }
    assert only(slug, files) == set()


def test_missing_transaction_sqlalchemy_split_commits_and_progress_markers():
    files = {
        "app/tasks.py": (
            "from app.extensions import db\n"
            "from app.models import State\n\n"
            "def build(site, builder):\n"
            "    site.state = State.running\n"
            "    db.session.commit()\n"
            "    site.path = builder.build(site)\n"
            "    site.state = State.success\n"
            "    db.session.commit()\n\n"
            "def cancel(order, products):\n"
            "    order.status = 'cancelled'\n"
            "    db.session.commit()\n"
            "    for item in order.items:\n"
            "        products.adjust_stock(item.product_id, item.quantity)\n"
            "    db.session.commit()\n"
        ),
    }
    assert only("missing-transaction", files) == {("app/tasks.py", 11, "missing-transaction")}
