"""Focused tests of the secret, SQL, hashing, JWT, code-execution, logging, debug and TLS
rules: the cases the examples and fixtures do not pin down."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from checker.model import Severity, Confidence
from checker.reporters import RenderOptions, formats, render
from checker.testing import fired, scan_files, scan_project
from rules._shared.secrets import is_placeholder, known_secrets, secret_kind
from rules._shared.sql import looks_like_sql

SECRET_SLUGS = ["hardcoded-secret", "committed-secret-file"]

# --------------------------------------------------------------------------------------
# Secrets never leave in clear

PASSWORD = "Wint3r-Sun-88!"
TOKEN = "ghp_R8m2Kq7Zx4Lv9Nw1Tb6Yc3Hd5Jf0Gs2Pa8Ue"
URL_PASSWORD = "Fz83kQm2Lx"
ENV_SECRET = "q7Zx2mK9vR4tB8wN1pL6yC3h"


def _secret_project(tmp_path: Path) -> Path:
    files = {
        "app/settings.py": (
            f"DB_PASSWORD = '{PASSWORD}'\n"
            f"DEPLOY = '{TOKEN}'\n"
            f"DATABASE_URL = 'postgresql://shop:{URL_PASSWORD}@db.internal/shop'\n"
        ),
        ".env": f"SECRET_KEY={ENV_SECRET}\n",
    }
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_no_secret_value_in_any_output_format(tmp_path):
    report = scan_project(_secret_project(tmp_path), select=SECRET_SLUGS)
    assert fired(report.findings) == {
        ("app/settings.py", 1, "hardcoded-secret"), ("app/settings.py", 2, "hardcoded-secret"),
        ("app/settings.py", 3, "hardcoded-secret"), (".env", 1, "hardcoded-secret"),
        (".env", 1, "committed-secret-file"),
    }
    assert {"github", "html", "json", "markdown", "sarif", "terminal"} <= set(formats())
    for fmt in formats():
        text = render(fmt, report, RenderOptions())
        for secret in (PASSWORD, TOKEN, URL_PASSWORD, ENV_SECRET):
            assert secret not in text, (fmt, secret)
            assert secret[6:] not in text, (fmt, secret)


def test_messages_show_the_redacted_form_only(tmp_path):
    report = scan_project(_secret_project(tmp_path), select=["hardcoded-secret"])
    by_line = {(f.path, f.span.line): f for f in report.findings}
    assert by_line[("app/settings.py", 2)].message == "hardcoded credential: GitHub token (ghp_********)"
    assert by_line[("app/settings.py", 1)].message == (
        "hardcoded password in `DB_PASSWORD` (********); read it from the environment or a secret manager")
    assert by_line[("app/settings.py", 1)].snippet == "DB_PASSWORD = '********'"


# --------------------------------------------------------------------------------------
# hardcoded-secret: names, values, formats


@pytest.mark.parametrize("name, kind", [
    ("password", "password"), ("DB_PASSWORD", "password"), ("adminPassword", "password"), ("passwd", "password"),
    ("smtp_pass", "password"), ("SECRET_KEY", "key"), ("apiKey", "key"), ("x-api-key", "key"),
    ("aws_secret_access_key", "key"), ("client_secret", "secret"), ("AUTH_TOKEN", "token"),
    ("refreshToken", "token"), ("credentials", "credentials"),
    ("NextToken", None), ("next_token", None), ("token_type", None), ("TOKEN_URL", None),
    ("password_field", None), ("PASSWORD_MIN_LENGTH", None), ("csrf_token", None), ("public_key", None),
    ("cache_key", None), ("SESSION_KEY", None), ("sort_key", None), ("aws_access_key_id", None),
    ("reset_password", None), ("password_reset_timeout", None), ("token_count", None),
])
def test_secret_names(name, kind):
    assert secret_kind(name) == kind


@pytest.mark.parametrize("value", [
    "", "abc", "changeme", "change-me", "<your-api-key>", "${DB_PASSWORD}", "{{ vault_password }}",
    "%(password)s", "xxxxxxxxxxxx", "********", "your-api-key-here", "dummy-secret", "example",
    "DB_PASSWORD", "/run/secrets/db_password", "keys/private.pem", "Invalid password", "Password",
    "myapp.auth.backends.TokenBackend", "https://auth.example.com/oauth/token", "access_token",
])
def test_placeholders(value):
    assert is_placeholder(value, "password")


@pytest.mark.parametrize("value", ["Wint3r-Sun-88!", "q7Zx2mK9vR4tB8wN1pL6yC3h", "django-insecure-7r$k2m!x9q@w4e8t"])
def test_real_values_are_not_placeholders(value):
    assert not is_placeholder(value, "password")


def test_known_formats_skip_documentation_examples():
    assert [h.kind for h in known_secrets("AKIAZ7Q2M4X8C6V1B3N5")] == ["AWS access key"]
    assert known_secrets("AKIAIOSFODNN7EXAMPLE") == []
    assert [h.kind for h in known_secrets("postgres://app:Xv93kLq2zR@db/app")] == ["password in a URL"]
    assert known_secrets("postgres://app:${DB_PASSWORD}@db/app") == []
    assert known_secrets("postgres://postgres:postgres@localhost/app") == []
    assert [h.kind for h in known_secrets("host=db dbname=app user=app password=Qz81mXv4")] == [
        "password in a connection string"]


def test_python_contexts():
    code = (
        "import os\n"
        "from decouple import config\n"
        "import smtplib\n"
        "import requests\n"
        "API_KEY = config('API_KEY', default='Zq8vN2xL4kR7tY1wB6mC')\n"
        "class Settings:\n"
        "    secret_key: str = 'Zq8vN2xL4kR7tY1wB6mD'\n"
        "class TestSettings:\n"
        "    secret_key: str = 'Zq8vN2xL4kR7tY1wB6mE'\n"
        "def send(msg, password='Zq8vN2xL4kR7tY1wB6mF'):\n"
        "    server = smtplib.SMTP('mail')\n"
        "    server.login('robot', 'Zq8vN2xL4kR7tY1wB6mG')\n"
        "    requests.get('https://api', auth=('robot', 'Zq8vN2xL4kR7tY1wB6mH'), timeout=5)\n"
        "    os.environ['DB_PASSWORD'] = 'Zq8vN2xL4kR7tY1wB6mI'\n"
        "    data = {'client_secret': 'Zq8vN2xL4kR7tY1wB6mJ', 'token': os.environ['T']}\n"
        "    return {'password': password, 'token_type': 'bearer', 'NextToken': 'abcdef123456789'}\n"
        "def test_login():\n"
        "    return {'password': 'Zq8vN2xL4kR7tY1wB6mK'}\n"
    )
    findings = scan_files({"app/mail.py": code}, select=["hardcoded-secret"])
    assert fired(findings) == {("app/mail.py", n, "hardcoded-secret") for n in (5, 7, 10, 12, 13, 14, 15)}


@pytest.mark.parametrize("path, text, lines", [
    ("config/app.json", '{\n  "db": {\n    "password": "Qz81mXv4-db",\n    "user": "app"\n  }\n}\n', {3}),
    ("config/app.json", '{"password": "", "token_url": "https://x/token", "secret": "${SECRET}"}\n', set()),
    ("locale/de/messages.json", '{"password": "Kennwort1234"}\n', set()),
    ("pyproject.toml", '[tool.app]\napi_key = "Qz81mXv4Lr7Ty2Nb"\nname = "app"\n', {2}),
    ("Dockerfile", 'FROM python:3.12-slim\nARG PIP_TOKEN\nENV API_TOKEN=Qz81mXv4Lr7Ty2Nb\nENV DB_PASSWORD Qz81mXv4-db\n',
     {3, 4}),
    ("deploy/app.ini", "[db]\npassword = Qz81mXv4-db\npassword_file = /run/secrets/db\n", {2}),
    ("deploy/values.yaml", "db:\n  password: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n  user: app\n", set()),
    ("deploy/workflow.yml", "env:\n  TOKEN: ${{ secrets.DEPLOY_TOKEN }}\n", set()),
    ("deploy/.env.sample", "SECRET_KEY=Qz81mXv4Lr7Ty2Nb\nGH=" + TOKEN + "\n", {2}),
])
def test_config_files(path, text, lines):
    findings = scan_files({path: text}, select=["hardcoded-secret"])
    assert fired(findings) == {(path, n, "hardcoded-secret") for n in lines}


def test_configured_test_paths_are_not_checked():
    files = {"qa/fixtures.py": "PASSWORD = 'Qz81mXv4-fixture'\n", "app/x.py": "PASSWORD = 'Qz81mXv4-real'\n"}
    assert fired(scan_files(files, select=["hardcoded-secret"])) == {
        ("qa/fixtures.py", 1, "hardcoded-secret"), ("app/x.py", 1, "hardcoded-secret")}
    config = {"test-paths": ["qa"]}
    assert fired(scan_files(files, select=["hardcoded-secret"], config=config)) == {("app/x.py", 1, "hardcoded-secret")}


# --------------------------------------------------------------------------------------
# committed-secret-file


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env=env)


def test_only_tracked_files_count(tmp_path):
    (tmp_path / ".env").write_text(f"SECRET_KEY={ENV_SECRET}\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "release.p12").write_bytes(bytes([0x30, 0x82, 0x09, 0x51, 0x02, 0x01, 0x03, 0x00, 0xFF]))
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "app.py", "release.p12")
    _git(tmp_path, "commit", "-qm", "init")
    report = scan_project(tmp_path, select=["committed-secret-file"])
    assert fired(report.findings) == {("release.p12", 1, "committed-secret-file")}
    assert report.findings[0].confidence == Confidence.MEDIUM
    _git(tmp_path, "add", ".env")
    report = scan_project(tmp_path, select=["committed-secret-file"])
    assert fired(report.findings) == {("release.p12", 1, "committed-secret-file"),
                                      (".env", 1, "committed-secret-file")}


def test_credential_files():
    key_body = "\n".join(["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" + str(i) * 8 for i in range(4)])
    files = {
        ".pypirc": "[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcCJGE4ZjRhY2M0LTc5MWMtNDk0\n",
        "ops/.netrc": "machine api.example.com login robot password Qz81mXv4Lr\n",
        "ops/.npmrc": "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
        "ops/keys/deploy.key": f"-----BEGIN ENCRYPTED PRIVATE KEY-----\n{key_body}\n-----END ENCRYPTED PRIVATE KEY-----\n",
        "ops/keys/ca.pem": f"-----BEGIN CERTIFICATE-----\n{key_body}\n-----END CERTIFICATE-----\n",
        "ops/client_secret.json": '{"web": {"client_id": "x.apps.googleusercontent.com",\n'
                                  '"client_secret": "GOCSPX-Qz81mXv4Lr7Ty2Nb"}}\n',
        ".env.template": "SECRET_KEY=<generate one>\n",
        "tests/keys/test.key": f"-----BEGIN PRIVATE KEY-----\n{key_body}\n-----END PRIVATE KEY-----\n",
    }
    findings = scan_files(files, select=["committed-secret-file"])
    assert fired(findings) == {
        (".pypirc", 3, "committed-secret-file"), ("ops/.netrc", 1, "committed-secret-file"),
        ("ops/keys/deploy.key", 1, "committed-secret-file"), ("ops/client_secret.json", 2, "committed-secret-file"),
    }
    encrypted = next(f for f in findings if f.path == "ops/keys/deploy.key")
    assert encrypted.severity == Severity.MEDIUM
    assert all("Qz81mXv4" not in f.message + f.snippet for f in findings)


# --------------------------------------------------------------------------------------
# sql-string-built


@pytest.mark.parametrize("text, sql", [
    ("SELECT id, name FROM users WHERE id = ?", True),
    ("  UPDATE orders SET state = %s WHERE id = %s", True),
    (" WHERE tenant = ? AND id = ?", True),
    ("INSERT INTO audit (actor, action) VALUES (%s, %s)", True),
    ("Please select a file from the list", False),
    ("Select one from the list below", False),
    ("Delete from the list", False),
    ("Update your profile settings", False),
])
def test_sql_looks(text, sql):
    assert looks_like_sql(text) is sql


def test_sql_value_and_identifier_positions():
    code = (
        "from sqlalchemy import text as sql_text\n"
        "SORTABLE = {'name', 'created'}\n\n"
        "def search(session, name, order, table):\n"
        "    session.execute(sql_text(f'SELECT id FROM users ORDER BY {order}'))\n"
        "    if table not in SORTABLE:\n"
        "        raise ValueError(table)\n"
        "    session.execute(sql_text(f'SELECT id FROM {table}'))\n"
        "    session.execute(sql_text('SELECT id FROM users WHERE name LIKE \\'%' + name + '%\\''))\n\n"
        "def _private(session, column):\n"
        "    session.execute(sql_text(f'SELECT {column} FROM users'))\n\n"
        "class Repo:\n"
        "    def __init__(self, session, table):\n"
        "        self.session, self.table = session, table\n\n"
        "    def all(self):\n"
        "        return self.session.execute(sql_text(f'SELECT * FROM {self.table}'))\n"
    )
    findings = scan_files({"repo.py": code}, select=["sql-string-built"])
    assert fired(findings) == {("repo.py", 5, "sql-string-built"), ("repo.py", 9, "sql-string-built")}
    confidence = {f.span.line: f.confidence for f in findings}
    assert confidence == {5: Confidence.MEDIUM, 9: Confidence.HIGH}


def test_sql_percent_mapping_and_request_data():
    code = (
        "from django.db import connection\n\n"
        "def report(request):\n"
        "    params = {'day': request.GET['day'], 'limit': 10}\n"
        "    sql = \"SELECT * FROM sales WHERE day = '%(day)s' LIMIT %(limit)d\" % params\n"
        "    with connection.cursor() as cursor:\n"
        "        cursor.execute(sql)\n"
        "        cursor.execute('SELECT * FROM sales LIMIT %(limit)d' % {'limit': int(request.GET['n'])})\n"
        "        cursor.execute('SELECT * FROM sales ORDER BY ' + request.GET['sort'])\n"
    )
    findings = scan_files({"shop/views.py": code}, select=["sql-string-built"])
    assert fired(findings) == {("shop/views.py", 7, "sql-string-built"), ("shop/views.py", 9, "sql-string-built")}


# --------------------------------------------------------------------------------------
# The other rules


def test_password_hash_thresholds_are_configurable():
    code = ("import hashlib\nimport bcrypt\n\n"
            "def f(password, salt):\n"
            "    bcrypt.gensalt(rounds=11)\n"
            "    return hashlib.pbkdf2_hmac('sha256', password.encode(), salt, 200_000)\n")
    assert fired(scan_files({"a.py": code}, select=["weak-password-hash"])) == set()
    config = {"rules": {"weak-password-hash": {"pbkdf2-min-iterations": 600_000, "bcrypt-min-rounds": 12}}}
    assert fired(scan_files({"a.py": code}, select=["weak-password-hash"], config=config)) == {
        ("a.py", 5, "weak-password-hash"), ("a.py", 6, "weak-password-hash")}


def test_debug_run_under_main_guard_is_medium():
    code = ("from flask import Flask\napp = Flask(__name__)\napp.run(debug=True)\n"
            "if __name__ == '__main__':\n    app.run(debug=True)\n")
    findings = scan_files({"web/app.py": code, "examples/demo.py": code}, select=["debug-enabled"])
    assert {(f.path, f.span.line, f.severity) for f in findings} == {
        ("web/app.py", 3, Severity.HIGH), ("web/app.py", 5, Severity.MEDIUM)}


def test_code_execution_exceptions():
    code = (
        "import pickle\nimport subprocess\n\n"
        "def load_model():\n"
        "    with open('model.pkl', 'rb') as fh:\n"
        "        return pickle.load(fh)\n\n"
        "class RedisCache:\n"
        "    def get(self, raw):\n"
        "        return pickle.loads(raw)\n\n"
        "def console():\n"
        "    code = input('>>> ')\n"
        "    return eval(code)\n\n"
        "def run(cmd):\n"
        "    subprocess.run(cmd, shell=True)\n"
        "    exec('print(1)')\n\n"
        "class PickleCodec:\n"
        "    def decode(self, value):\n"
        "        return pickle.loads(value)\n\n"
        "import click\n\n"
        "@click.command()\n"
        "@click.option('--target')\n"
        "def compile_translations(target):\n"
        "    subprocess.run('pybabel compile -d {0}'.format(target), shell=True)\n\n"
        "def restore(queue):\n"
        "    return pickle.loads(queue.pop())\n"
    )
    findings = scan_files({"tools/run.py": code}, select=["insecure-code-execution"])
    assert {(f.span.line, f.confidence) for f in findings} == {(17, Confidence.MEDIUM), (32, Confidence.MEDIUM)}


def test_logging_through_structlog_bound_loggers():
    code = (
        "import structlog\n\n"
        "log = structlog.get_logger().bind(service='auth')\n\n"
        "def login(user, pwd, card_number, token_type):\n"
        "    log.info('login', user=user.id, password=pwd)\n"
        "    log.info('charge', card=card_number[-4:])\n"
        "    log.info('issued', token_type=token_type)\n"
        "    print('card', card_number)\n"
    )
    findings = scan_files({"auth/service.py": code}, select=["sensitive-data-logged"])
    assert fired(findings) == {("auth/service.py", 6, "sensitive-data-logged"),
                               ("auth/service.py", 9, "sensitive-data-logged")}
