from __future__ import annotations

import ipaddress
import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.web import string_value

URL = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*)://([^/\s?#]*)")
DATA_SCHEMES = re.compile(
    r"^(?:postgres|postgresql|pgsql|mysql|mariadb|mongodb|mongodb\+srv|redis|rediss|amqp|amqps|mssql|oracle|"
    r"cockroachdb|clickhouse|memcached?|nats|kafka|elasticsearch|cassandra|couchbase|neo4j|bolt|influxdb)(?:\+[a-z0-9_]+)?$",
    re.IGNORECASE,
)
SERVICE_SCHEMES = frozenset({"http", "https", "ws", "wss", "grpc", "grpcs", "tcp", "ftp", "sftp", "smtp", "smtps",
                             "ldap", "ldaps"})
HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?$")
INTERNAL_SUFFIXES = (".internal", ".local", ".localdomain", ".svc", ".cluster.local", ".corp", ".lan", ".intranet",
                     ".intra", ".private", ".home.arpa")
EXAMPLE_HOSTS = re.compile(r"(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost)$", re.IGNORECASE)
LOCAL_HOSTS = frozenset({"localhost", "0.0.0.0", "::1", "[::1]", "::", "host.docker.internal", "ip6-localhost"})
# Names whose string value is a host: DB_HOST, REDIS_HOSTNAME, "HOST" keys of Django DATABASES.
HOST_NAMES = re.compile(r"(?:^|_)(?:HOST|HOSTNAME|SERVER|ADDR)$", re.IGNORECASE)
HOST_KEYWORDS = frozenset({"host", "hostname", "server", "server_host", "db_host", "address", "ip"})
# Clients whose host= / first argument is where they connect.
CLIENT_ROOTS = ("psycopg2", "psycopg", "pymysql", "MySQLdb", "mysql", "redis", "pymongo", "motor", "pika", "kombu",
                "elasticsearch", "opensearchpy", "cassandra", "aiomysql", "aiopg", "asyncpg", "aioredis", "memcache",
                "pymemcache", "kafka", "aiokafka", "confluent_kafka", "smtplib", "ftplib", "paramiko", "ldap3",
                "sqlalchemy", "celery", "nats", "clickhouse_driver", "influxdb", "influxdb_client", "pymssql",
                "pyodbc", "cx_Oracle", "oracledb", "databases", "aiosmtplib", "boto3", "minio", "hvac", "consul",
                "httpx", "requests", "aiohttp", "urllib3")
# Calls that read configuration: a literal inside them is a fallback default.
CONFIG_READ = re.compile(r"(?:^|\.)(?:getenv|environ|env|config|settings|conf|get_env|getsetting|get_setting|"
                         r"setdefault|Field|Env|environ_get|str|url|db_url|cache_url)(?:\.|\(\)|$)")
SETTINGS_BASES = ("BaseSettings", "Settings", "AppSettings")
EXCLUDED_DIRS = frozenset({"docs", "doc", "examples", "example", "samples", "sample"})
ALLOWED_HOST_SETTINGS = re.compile(r"(?:ALLOWED_HOSTS|CORS|CSRF_TRUSTED|TRUSTED_ORIGINS|ORIGINS?$|INTERNAL_IPS|"
                                   r"REFERRER|HOMEPAGE|DOCS?_URL|LICENSE|REPOSITORY|PROJECT_URL|SOURCE|LINK)", re.IGNORECASE)


def host_class(host: str) -> str:
    """``local``, ``example`` (documentation hosts), ``placeholder``, ``public`` (a dotted
    domain), ``ip`` or ``internal`` (a bare service name or an internal domain)."""
    host = host.strip().lower().strip("[]")
    if not host or any(ch in host for ch in "{}<>$%*"):
        return "placeholder"
    if host in LOCAL_HOSTS or host.startswith("127."):
        return "local"
    if EXAMPLE_HOSTS.search(host):
        return "example"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if ip.is_loopback or ip.is_unspecified:
            return "local"
        if ip.is_link_local:
            return "example"  # cloud metadata endpoints are fixed addresses, not configuration
        return "ip"
    if not HOST_NAME.match(host):
        return "placeholder"
    if "." not in host or host.endswith(INTERNAL_SUFFIXES):
        return "internal"
    return "public"


def _split_netloc(netloc: str) -> tuple[str, str | None, str | None]:
    """host, port, password of a URL's network location."""
    password = None
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1] or None
    if "," in netloc:  # multi-host URLs: judge the first host
        netloc = netloc.split(",", 1)[0]
    port = None
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif netloc.count(":") == 1:
        host, port = netloc.split(":", 1)
    else:
        host = netloc
    return host, port or None, password


class HardcodedConfig(FileRule):
    """
    ## What it does
    Finds deployment configuration written into code: database and broker URLs
    (`postgresql://`, `mysql://`, `mongodb://`, `redis://`, `amqp://`...), hosts of
    databases, caches and brokers (`host="db.prod.internal"`, `DB_HOST = "10.0.0.12"`,
    Django `DATABASES` `HOST` values), and URLs of internal services (an IP address, an
    explicit port, or an internal host name such as `http://billing:8080`).

    Values read from configuration are quiet: a literal inside `os.getenv(...)`,
    `os.environ.get(...)`, `config(...)`/`env(...)` readers, `... or "default"` after such a
    read, or a pydantic `BaseSettings` field is a fallback; a local fallback
    (`localhost`, `127.0.0.1`, `sqlite`) is fine, a remote one is reported at low
    severity. Local hosts written directly into a client call (`redis.Redis(host="localhost")`,
    `create_engine("postgresql://localhost/app")`) are reported at low severity: they only
    work on a developer's machine. Public web URLs (`https://api.github.com`), documentation
    hosts (`example.com`), placeholders, SQLite URLs, test code, `docs/` and `examples/`
    are left alone.

    ## Why is this bad?
    Configuration in code means a rebuild to move a database, staging code that talks to
    production because someone forgot to edit a constant, and hosts (sometimes with
    credentials) committed to the repository. The twelve-factor rule is to read every
    deployment-specific value from the environment.

    ## Known limits
    URLs assembled from pieces (`f"postgresql://{user}@db.prod/{name}"`) and ports on their
    own are not judged. Public service URLs are treated as constants of the API they name.
    """

    slug = "hardcoded-config"
    checklist = "Environment configuration externalized; environment variables for all configuration"
    section = Section.ARCHITECTURE
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    languages = ("python", "javascript", "typescript", "go")
    cwe = ("CWE-15",)
    summary = "Deployment configuration (host, database or service URL) is hardcoded instead of read from the environment"
    triggers = ("://", "host", "HOST", "Host", "SERVER", "server")
    bad = (
        Example(
            "from sqlalchemy import create_engine\n\n"
            "engine = create_engine(\n"
            "    'postgresql+psycopg2://app@orders-db.prod.internal:5432/orders',  # flagged\n"
            "    pool_pre_ping=True,\n"
            ")\n",
            path="app/db.py",
        ),
        Example(
            "import redis\n\n"
            "CACHE_HOST = '10.20.0.7'  # flagged\n\n"
            "def cache_client():\n"
            "    return redis.Redis(host=CACHE_HOST, port=6379)\n",
            path="app/cache.py",
        ),
    )
    good = (
        Example(
            "import os\n\n"
            "from sqlalchemy import create_engine\n\n"
            "DATABASE_URL = os.getenv('DATABASE_URL', 'postgresql://postgres@localhost:5432/orders')\n"
            "engine = create_engine(DATABASE_URL, pool_pre_ping=True)\n",
            path="app/db.py",
        ),
        Example(
            "from pydantic_settings import BaseSettings\n\n"
            "class Settings(BaseSettings):\n"
            "    redis_url: str = 'redis://localhost:6379/0'\n"
            "    github_api: str = 'https://api.github.com'\n",
            path="app/config.py",
        ),
    )

    def visit_Module(self, node: cst.Module) -> None:
        parts = self.ctx.path.split("/")
        self._skip = self.ctx.is_test or any(p in EXCLUDED_DIRS for p in parts[:-1]) or parts[-1] in ("setup.py", "conf.py")

    # -- string literals -----------------------------------------------------------
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self._literal(node)

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> bool:
        self._literal(node)
        return False

    def _literal(self, node: cst.BaseExpression) -> None:
        if self._skip:
            return
        value = string_value(node)
        if not value or len(value) > 500 or self._ignored_position(node):
            return
        match = URL.match(value)
        if match:
            self._url(node, match.group(1).lower(), match.group(2))
            return
        if " " in value or "/" in value or len(value) > 253:
            return
        name = self._bound_name(node)
        if name is None or ALLOWED_HOST_SETTINGS.search(name):
            return
        if self._keyword:
            if name.lower() not in HOST_KEYWORDS or not self._client_call():
                return
        elif not HOST_NAMES.search(name):
            return
        cls = host_class(value)
        self.checked()
        fallback = self._config_read()
        if cls in ("ip", "internal", "public"):
            self._report_host(node, value, cls, fallback)
        elif cls == "local" and self._client_call() and not fallback:
            self.report(node, f"the client connects to hardcoded `{value}`: read the host from configuration "
                              "so the code runs outside a developer machine", severity=Severity.LOW)

    def _url(self, node: cst.BaseExpression, scheme: str, netloc: str) -> None:
        host, port, password = _split_netloc(netloc)
        secrets = [password] if password else []
        if scheme.startswith("sqlite") or scheme in ("file", "mailto", "data"):
            return
        data = bool(DATA_SCHEMES.match(scheme))
        if not data and scheme not in SERVICE_SCHEMES:
            return
        name = self._bound_name(node)
        if name is not None and ALLOWED_HOST_SETTINGS.search(name):
            return
        cls = host_class(host)
        if cls in ("placeholder", "example"):
            return
        self.checked()
        fallback = self._config_read()
        what = f"{scheme.split('+')[0].lower()} URL" if data else "service URL"
        if cls == "local":
            if (data or port) and self._client_call() and not fallback:
                self.report(node, f"hardcoded {what} pointing at `{host}`: read it from configuration so the code "
                                  "runs outside a developer machine", severity=Severity.LOW, secrets=secrets)
            return
        if not data and cls == "public" and port is None:
            return  # a public API's base URL is a constant of that API
        where = f"`{host}`" + (f" port {port}" if port else "")
        if fallback:
            self.report(node, f"the configuration fallback hardcodes a {what} for {where}: a missing variable "
                              "should fail or fall back to a local default, not reach a real host",
                        severity=Severity.LOW, secrets=secrets)
            return
        self.report(node, f"hardcoded {what} for {where}: read it from the environment or settings instead",
                    confidence=Confidence.HIGH if data or cls in ("ip", "internal") else Confidence.MEDIUM,
                    secrets=secrets)

    def _report_host(self, node: cst.BaseExpression, value: str, cls: str, fallback: bool) -> None:
        if fallback:
            self.report(node, f"the configuration fallback hardcodes host `{value}`: a missing variable should "
                              "fail or fall back to a local default", severity=Severity.LOW)
            return
        self.report(node, f"hardcoded host `{value}`: read it from the environment or settings instead")

    # -- where the literal sits ---------------------------------------------------------
    def _ignored_position(self, node: cst.CSTNode) -> bool:
        parent = self.ctx.parent()
        if isinstance(parent, cst.Expr):
            return True  # docstrings and bare strings
        for ancestor in self.ctx.ancestors():
            if isinstance(ancestor, (cst.Comparison, cst.Subscript, cst.Assert, cst.Raise)):
                return True
            if isinstance(ancestor, cst.If) and _is_main_guard(ancestor):
                return True
            if isinstance(ancestor, cst.Call):
                name = self.ctx.resolve(ancestor.func) or ""
                if name.rsplit(".", 1)[-1] in ("print", "debug", "info", "warning", "error", "exception", "startswith",
                                               "endswith", "replace", "split", "format", "urljoin", "compile",
                                               "match", "search", "sub"):
                    return True
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef)):
                break
        return False

    def _bound_name(self, node: cst.CSTNode) -> str | None:
        """The variable, attribute, keyword or dict key the literal is the value of
        (``self._keyword`` tells whether it was a keyword argument)."""
        self._keyword = False
        child: cst.CSTNode = node
        for ancestor in self.ctx.ancestors():
            if isinstance(ancestor, cst.Arg):
                self._keyword = ancestor.keyword is not None
                return ancestor.keyword.value if ancestor.keyword is not None and ancestor.value is child else None
            if isinstance(ancestor, cst.DictElement):
                return string_value(ancestor.key) if ancestor.value is child else None
            if isinstance(ancestor, (cst.Assign, cst.AnnAssign)):
                targets = [t.target for t in ancestor.targets] if isinstance(ancestor, cst.Assign) else [ancestor.target]
                for t in targets:
                    if isinstance(t, cst.Name):
                        return t.value
                    if isinstance(t, cst.Attribute):
                        return t.attr.value
                return None
            if isinstance(ancestor, cst.Param):
                return ancestor.name.value
            if isinstance(ancestor, (cst.BooleanOperation, cst.IfExp, cst.List, cst.Tuple, cst.Element)):
                child = ancestor
                continue
            return None
        return None

    def _config_read(self) -> bool:
        """Whether the literal is a fallback of a configuration read."""
        child: cst.CSTNode | None = self.ctx.node
        for ancestor in self.ctx.ancestors():
            if isinstance(ancestor, cst.Call):
                name = self.ctx.resolve(ancestor.func) or ""
                if CONFIG_READ.search(name) or name.endswith(".get") and re.search(r"(?i)(?:env|config|settings|conf)",
                                                                                   name):
                    return True
            if isinstance(ancestor, cst.BooleanOperation) and isinstance(ancestor.operator, cst.Or) \
                    and ancestor.right is child and _reads_config(self.ctx, ancestor.left):
                return True
            if isinstance(ancestor, cst.ClassDef):
                return any((self.ctx.resolve(b.value) or "").rsplit(".", 1)[-1] in SETTINGS_BASES for b in ancestor.bases)
            if isinstance(ancestor, cst.FunctionDef):
                break
            child = ancestor
        return False

    def _client_call(self) -> bool:
        """Whether the literal is an argument of a database/cache/broker/HTTP client call."""
        for ancestor in self.ctx.ancestors():
            if isinstance(ancestor, cst.Call):
                name = self.ctx.resolve(ancestor.func) or ""
                return name.split(".", 1)[0] in CLIENT_ROOTS or name.rsplit(".", 1)[-1] in (
                    "create_engine", "create_async_engine", "from_url", "connect", "MongoClient", "Redis",
                    "StrictRedis", "Celery", "create_pool", "ConnectionPool")
            if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef, cst.SimpleStatementLine)):
                return False
        return False


def _is_main_guard(node: cst.If) -> bool:
    test = node.test
    return isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name) and test.left.value == "__name__"


def _reads_config(ctx, node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Call):
        name = ctx.resolve(node.func) or ""
        return bool(CONFIG_READ.search(name)) or name.endswith(".get")
    if isinstance(node, cst.Subscript):
        name = ctx.resolve(node.value) or ""
        return "environ" in name or "config" in name.lower() or "settings" in name.lower()
    if isinstance(node, cst.BooleanOperation):
        return _reads_config(ctx, node.left) or _reads_config(ctx, node.right)
    return False
