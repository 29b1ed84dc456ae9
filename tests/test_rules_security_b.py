"""Focused tests for the request-facing security rules: cases that need several projects
(project rules that look at the whole repository), dependency declarations, and the
precision decisions taken after reviewing real projects."""

from __future__ import annotations

import pytest

from checker.model import Severity
from checker.testing import fired, scan_files
from rules._shared.deps import is_dev_config_path, is_dev_name, parse_declarations

FLASK_APP = (
    "from flask import Flask, jsonify\n\n"
    "app = Flask(__name__)\n\n"
    "@app.get('/orders')\n"
    "def orders():\n"
    "    return jsonify([])\n"
)


def only(findings, slug):
    return [f for f in findings if f.rule == slug]


# -- dependency declarations -------------------------------------------------------------------


def test_requirements_lines_extras_and_editable_installs():
    text = "# web\nFlask-Limiter[redis]>=3.5  # limits\n-e git+https://example.invalid/x.git#egg=django_axes\n-r base.txt\n"
    deps = parse_declarations("requirements/prod.txt", text)
    assert [(d.name, d.line, d.extras) for d in deps] == [("flask-limiter", 2, ("redis",)), ("django-axes", 3, ())]


def test_pyproject_pep621_groups_and_poetry():
    text = (
        "[project]\nname = 'shop'\ndependencies = ['fastapi>=0.110', 'slowapi']\n"
        "[project.optional-dependencies]\nsecurity = ['secure>=1.0']\n"
        "[dependency-groups]\ndev = ['pytest']\n"
        "[tool.poetry.dependencies]\npython = '^3.11'\nflask-talisman = '^1.1'\n"
        "[tool.poetry.group.test.dependencies]\nfactory-boy = '*'\n"
    )
    names = {d.name for d in parse_declarations("pyproject.toml", text)}
    assert names == {"fastapi", "slowapi", "secure", "pytest", "flask-talisman", "factory-boy"}


def test_setup_cfg_setup_py_and_pipfile():
    cfg = "[options]\ninstall_requires =\n    django>=5\n    django-ratelimit; python_version>'3.8'\n"
    assert {d.name for d in parse_declarations("setup.cfg", cfg)} == {"django", "django-ratelimit"}
    setup = "from setuptools import setup\nREQS = ['flask', 'flask_limiter>=3']\nsetup(name='x', install_requires=REQS,\n      extras_require={'s': ['talisman']})\n"
    assert {d.name for d in parse_declarations("setup.py", setup)} == {"flask", "flask-limiter", "talisman"}
    pipfile = "[packages]\nslowapi = '*'\n[dev-packages]\npytest = '*'\n"
    assert {d.name for d in parse_declarations("Pipfile", pipfile)} == {"slowapi", "pytest"}
    assert parse_declarations("pyproject.toml", "[project\n") == []


def test_development_configuration_names():
    assert is_dev_config_path("shop/settings/dev.py") and is_dev_config_path("config/settings_local.py")
    assert is_dev_config_path("examples/app/settings.py") and not is_dev_config_path("shop/settings/production.py")
    assert is_dev_name("TestingConfig") and is_dev_name("DevelopmentConfig") and not is_dev_name("ProductionConfig")


# -- missing-rate-limiting ---------------------------------------------------------------------


def test_no_limiter_anywhere_is_reported_once_at_the_app():
    assert fired(scan_files({"app.py": FLASK_APP}, select=["missing-rate-limiting"])) == {
        ("app.py", 3, "missing-rate-limiting")}


@pytest.mark.parametrize("extra", [
    {"requirements.txt": "flask\ndjango-ratelimit==4.1\n"},
    {"pyproject.toml": "[project]\nname = 'x'\ndependencies = ['slowapi']\n"},
    {"deploy/nginx.conf": "limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;\n"},
    {"limits.py": "from .helpers.ratelimit import rate_limit\n\ndef guard(ip):\n    return rate_limit('api', ip)\n"},
])
def test_a_limiter_declared_configured_or_written_in_house_counts(extra):
    assert fired(scan_files({"app.py": FLASK_APP, **extra}, select=["missing-rate-limiting"])) == set()


def test_login_without_limit_is_not_reported_when_only_an_in_house_limiter_exists():
    files = {
        "app.py": FLASK_APP + "\n@app.post('/login')\ndef login():\n    return {}\n",
        "throttle.py": "class LoginThrottle:\n    pass\n",
    }
    assert fired(scan_files(files, select=["missing-rate-limiting"])) == set()


def test_default_limits_cover_authentication_endpoints():
    files = {
        "app.py": (
            "from flask import Flask\nfrom flask_limiter import Limiter\nfrom flask_limiter.util import get_remote_address\n\n"
            "app = Flask(__name__)\nlimiter = Limiter(get_remote_address, app=app, default_limits=['100/hour'])\n\n"
            "@app.post('/login')\ndef login():\n    return {}\n"
        ),
    }
    assert fired(scan_files(files, select=["missing-rate-limiting"])) == set()


# -- missing-security-headers ---------------------------------------------------------------------


def test_flask_app_without_headers_is_reported():
    assert fired(scan_files({"app.py": FLASK_APP}, select=["missing-security-headers"])) == {
        ("app.py", 3, "missing-security-headers")}


@pytest.mark.parametrize("extra", [
    {"requirements.txt": "flask\nflask-talisman\n"},
    {"hooks.py": "def add_headers(resp):\n    resp.headers['X-Frame-Options'] = 'DENY'\n    return resp\n"},
    {"deploy/nginx.conf": "add_header Strict-Transport-Security \"max-age=63072000\" always;\n"},
])
def test_headers_set_by_a_library_a_hook_or_the_proxy_count(extra):
    assert fired(scan_files({"app.py": FLASK_APP, **extra}, select=["missing-security-headers"])) == set()


def test_django_project_middleware_names_are_matched_by_class():
    settings = (
        "INSTALLED_APPS = ['django.contrib.auth']\n"
        "MIDDLEWARE = [\n"
        "    'shop.middleware.SecurityMiddleware',\n"
        "    'django.contrib.sessions.middleware.SessionMiddleware',\n"
        "    'shop.middleware.XFrameOptionsMiddleware',\n"
        "]\n"
        "SECURE_HSTS_SECONDS = 3600\n"
    )
    assert fired(scan_files({"shop/settings.py": settings}, select=["missing-security-headers"])) == set()


def test_django_settings_only_for_development_are_not_the_project():
    settings = "INSTALLED_APPS = ['django.contrib.auth']\nMIDDLEWARE = ['django.middleware.common.CommonMiddleware']\n"
    assert fired(scan_files({"shop/settings/dev.py": settings}, select=["missing-security-headers"])) == set()


# -- unsafe-file-upload ---------------------------------------------------------------------------

UPLOAD = (
    "from flask import Blueprint, abort, request\n"
    "from werkzeug.utils import secure_filename\n\n"
    "bp = Blueprint('files', __name__)\n\n"
    "@bp.post('/files')\n"
    "def upload():\n"
    "    f = request.files['file']\n"
    "    if not f.filename.endswith('.pdf'):\n"
    "        abort(415)\n"
    "    f.save('/srv/files/' + secure_filename(f.filename))\n"
    "    return '', 201\n"
)


def test_flask_upload_without_max_content_length_anywhere():
    findings = scan_files({"files.py": UPLOAD}, select=["unsafe-file-upload"])
    assert fired(findings) == {("files.py", 8, "unsafe-file-upload")}
    assert "size limit" in findings[0].message and findings[0].severity is Severity.MEDIUM


@pytest.mark.parametrize("extra", [
    {"config.py": "class Config:\n    MAX_CONTENT_LENGTH = 8 * 1024 * 1024\n"},
    {".env": "MAX_CONTENT_LENGTH=8388608\n"},
    {"deploy/nginx.conf": "client_max_body_size 8m;\n"},
])
def test_a_limit_set_in_another_module_or_config_file_counts(extra):
    assert fired(scan_files({"files.py": UPLOAD, **extra}, select=["unsafe-file-upload"])) == set()


def test_django_storage_save_and_a_mere_test_of_request_files_are_not_reported():
    views = (
        "from django.core.files.storage import default_storage\n"
        "from django.http import JsonResponse\n\n"
        "def attach(request, doc):\n"
        "    upload = request.FILES['file']\n"
        "    if upload.size > 1024 * 1024 or upload.content_type != 'application/pdf':\n"
        "        return JsonResponse({}, status=400)\n"
        "    doc.file.save(upload.name, upload)\n"
        "    return JsonResponse({'name': default_storage.save(upload.name, upload)})\n\n"
        "def post_only(request):\n"
        "    if request.FILES:\n"
        "        raise TypeError('no uploads here')\n"
        "    return JsonResponse({})\n"
    )
    assert fired(scan_files({"docs/views.py": views}, select=["unsafe-file-upload"])) == set()


# -- missing-authorization ------------------------------------------------------------------------

ROUTER = (
    "from fastapi import APIRouter\n\n"
    "router = APIRouter()\n\n"
    "@router.get('/a')\nasync def a():\n    return 1\n\n"
    "@router.get('/b')\nasync def b():\n    return 2\n"
)


def test_router_protected_where_it_is_included():
    main = (
        "from fastapi import Depends, FastAPI\n"
        "from .auth import get_current_user\n"
        "from .routers import items\n\n"
        "app = FastAPI()\n"
        "app.include_router(items.router, dependencies=[Depends(get_current_user)])\n"
    )
    files = {"api/main.py": main, "api/routers/items.py": ROUTER}
    assert fired(scan_files(files, select=["missing-authorization"])) == set()


def test_a_project_permission_middleware_protects_django_views():
    views = (
        "from django.contrib.auth.decorators import login_required\n"
        "from django.http import JsonResponse\n\n"
        "@login_required\ndef a(request):\n    return JsonResponse({})\n\n"
        "@login_required\ndef b(request):\n    return JsonResponse({})\n\n"
        "def c(request):\n    return JsonResponse({})\n"
    )
    settings = "MIDDLEWARE = ['django.contrib.auth.middleware.AuthenticationMiddleware', 'shop.middleware.PermissionMiddleware']\n"
    assert fired(scan_files({"shop/views.py": views}, select=["missing-authorization"])) == {
        ("shop/views.py", 12, "missing-authorization")}
    assert fired(scan_files({"shop/views.py": views, "shop/settings.py": settings},
                            select=["missing-authorization"])) == set()


def test_inherited_permission_mixin_of_a_local_base_class():
    views = (
        "from django.views.generic import DetailView\n"
        "from .mixins import EventPermissionRequiredMixin\n\n"
        "class OrderView(EventPermissionRequiredMixin, DetailView):\n    pass\n\n"
        "class OrderRefundView(OrderView):\n"
        "    def post(self, request, *args, **kwargs):\n        return None\n\n"
        "class OrderCancelView(OrderView):\n"
        "    def post(self, request, *args, **kwargs):\n        return None\n\n"
        "class OrderNoteView(OrderView):\n"
        "    permission = 'event.orders:write'\n"
        "    def post(self, request, *args, **kwargs):\n        return None\n"
    )
    assert fired(scan_files({"orders/views.py": views}, select=["missing-authorization"])) == set()


# -- request-facing file rules ---------------------------------------------------------------------


def test_raw_body_parsed_then_validated_is_not_reported():
    code = (
        "import yaml\n"
        "from fastapi import FastAPI, Request\n"
        "from .models import Item\n\n"
        "app = FastAPI()\n\n"
        "@app.post('/items')\n"
        "async def create(request: Request):\n"
        "    raw = await request.body()\n"
        "    data = yaml.safe_load(raw)\n"
        "    item = Item.model_validate(data)\n"
        "    return item\n\n"
        "@app.post('/raw')\n"
        "async def raw_items(request: Request, db=None):\n"
        "    data = yaml.safe_load(await request.body())\n"
        "    db.add(Item(**data))\n"
    )
    assert fired(scan_files({"api.py": code}, select=["missing-input-validation"])) == {
        ("api.py", 17, "missing-input-validation")}


def test_a_posted_lookup_key_is_not_reported_but_a_spread_body_is():
    code = (
        "from django.http import JsonResponse\n"
        "from .models import Address\n\n"
        "def pick(request):\n"
        "    address = Address.objects.get(pk=request.POST['address_id'], user=request.user)\n"
        "    return JsonResponse({'id': address.pk})\n\n"
        "def search(request):\n"
        "    rows = Address.objects.filter(**request.POST.dict())\n"
        "    return JsonResponse({'n': rows.count()})\n"
    )
    assert fired(scan_files({"shop/views.py": code}, select=["missing-input-validation"])) == {
        ("shop/views.py", 9, "missing-input-validation")}


def test_cors_public_wildcard_reflected_origin_and_credentials():
    code = (
        "from flask import Flask, jsonify, request\n\n"
        "app = Flask(__name__)\n\n"
        "@app.get('/widget.js')\n"
        "def widget():\n"
        "    r = jsonify({})\n"
        "    r.headers['Access-Control-Allow-Origin'] = '*'\n"
        "    return r\n\n"
        "@app.get('/me')\n"
        "def me():\n"
        "    r = jsonify({})\n"
        "    r.headers['Access-Control-Allow-Origin'] = '*'\n"
        "    r.headers['Access-Control-Allow-Credentials'] = 'true'\n"
        "    return r\n\n"
        "@app.get('/echo')\n"
        "def echo():\n"
        "    r = jsonify({})\n"
        "    origin = request.headers.get('Origin')\n"
        "    r.headers['Access-Control-Allow-Origin'] = origin\n"
        "    return r\n"
    )
    findings = scan_files({"app.py": code}, select=["permissive-cors"])
    assert fired(findings) == {("app.py", 14, "permissive-cors"), ("app.py", 22, "permissive-cors")}
    assert {f.span.line: f.severity for f in findings} == {14: Severity.HIGH, 22: Severity.MEDIUM}


def test_csrf_exempt_token_endpoint_is_low_and_report_sink_is_quiet():
    code = (
        "import logging\n"
        "from django.http import HttpResponse\n"
        "from django.utils.decorators import method_decorator\n"
        "from django.views import View\n"
        "from django.views.decorators.csrf import csrf_exempt\n\n"
        "log = logging.getLogger(__name__)\n\n"
        "class TokenView(View):\n"
        "    @method_decorator(csrf_exempt)\n"
        "    def dispatch(self, request, *args, **kwargs):\n"
        "        return super().dispatch(request, *args, **kwargs)\n\n"
        "    def post(self, request):\n"
        "        return HttpResponse()\n\n"
        "@csrf_exempt\n"
        "def csp_report(request):\n"
        "    log.warning('csp: %s', request.body[:1000])\n"
        "    return HttpResponse(status=204)\n"
    )
    findings = scan_files({"oauth/views.py": code}, select=["csrf-disabled"])
    assert fired(findings) == {("oauth/views.py", 10, "csrf-disabled")}
    assert findings[0].severity is Severity.LOW and "ignore[csrf-disabled]" in findings[0].message


def test_cookie_without_any_attribute_names_all_three():
    code = (
        "def start(response, token):\n"
        "    response.set_cookie('sessionid', token)\n"
    )
    findings = scan_files({"auth.py": code}, select=["insecure-session-cookie"])
    assert fired(findings) == {("auth.py", 2, "insecure-session-cookie")}
    assert "secure=True, httponly=True, samesite='Lax'" in findings[0].message


def test_mark_safe_of_computed_values_is_quiet_of_stored_text_is_reported():
    code = (
        "from django.utils.html import escape\n"
        "from django.utils.safestring import mark_safe\n"
        "from django.urls import reverse\n\n"
        "def link(obj):\n"
        "    return mark_safe('<a href=\"%s\">%s</a>' % (reverse('detail', args=[obj.pk]), escape(obj.name)))\n\n"
        "def price(obj):\n"
        "    return mark_safe(f'<b>{obj.total_price}</b>')\n\n"
        "def title(obj):\n"
        "    text = '<h2>' + obj.title + '</h2>'\n"
        "    return mark_safe(text)\n"
    )
    assert fired(scan_files({"shop/templatetags/tags.py": code}, select=["xss-unescaped-output"])) == {
        ("shop/templatetags/tags.py", 13, "xss-unescaped-output")}


def test_error_text_of_a_validation_error_may_be_returned():
    code = (
        "from flask import Flask, jsonify\n"
        "from .parse import parse_order\n\n"
        "app = Flask(__name__)\n\n"
        "@app.post('/orders')\n"
        "def create():\n"
        "    try:\n"
        "        order = parse_order()\n"
        "    except ValueError as exc:\n"
        "        return jsonify(error=str(exc)), 400\n"
        "    except RuntimeError as exc:\n"
        "        return jsonify(error=str(exc)), 500\n"
        "    return jsonify(id=order), 201\n"
    )
    assert fired(scan_files({"app.py": code}, select=["error-details-leaked"])) == {
        ("app.py", 13, "error-details-leaked")}
