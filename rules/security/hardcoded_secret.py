from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.redact import KNOWN_FORMATS, mask
from checker.rule import FileRule, TextContext
from rules._shared.secrets import (AUTH_HEADER_VALUE, EXTRA_FORMATS, Hit, sequential_run, is_placeholder,
                                   known_secrets, name_words, secret_kind, secret_lines)
from rules._shared.web import arg, string_value

# Calls whose first argument names an environment variable or setting and whose second
# (or ``default=``) is the fallback value.
ENV_READERS = frozenset({"os.getenv", "os.environ.get", "os.environ.setdefault", "decouple.config", "getenv",
                         "environ.get", "os.putenv"})
ENV_READER_ENDINGS = ("env", "env.str", "env.get", "env.bytes", "config", "getenv", "get_env", "environ.get")
# Calls taking (user, password) positionally.
BASIC_AUTH = frozenset({"requests.auth.HTTPBasicAuth", "requests.auth.HTTPDigestAuth", "requests.HTTPBasicAuth",
                        "httpx.BasicAuth", "httpx.DigestAuth", "aiohttp.BasicAuth", "aiohttp.helpers.BasicAuth",
                        "requests_ntlm.HttpNtlmAuth"})
LOGIN_METHODS = frozenset({"login", "starttls_login", "auth_plain"})
_ANY_FORMAT = re.compile("|".join(
    [p.pattern for _, p in KNOWN_FORMATS + EXTRA_FORMATS]
    + [r"-----BEGIN [A-Z ]*PRIVATE KEY", r"://[^\s:/@'\"]*:[^\s@/'\"]+@", r"\b(?:[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]|[Pp][Ww][Dd])\s*="]
))
LOCK_FILES = ("package-lock.json", "npm-shrinkwrap.json", "composer.lock", "Pipfile.lock", "poetry.lock",
              "yarn.lock", "pnpm-lock.yaml", "Cargo.lock", "uv.lock")
LOCALE_DIRS = ("locale", "locales", "i18n", "l10n", "translations", "lang", "langs")

_KIND_LABEL = {"password": "password", "secret": "secret", "token": "token", "key": "key",
               "credentials": "credentials"}


ILLUSTRATIVE_DIRS = frozenset({"example", "examples", "sample", "samples", "docs", "doc", "demo", "demos",
                               "tutorial", "tutorials", "skeleton", "template", "templates"})


def is_illustrative_path(path: str) -> bool:
    """Example, documentation and project-template folders (``docs_src/`` included)."""
    return any(part.lower() in ILLUSTRATIVE_DIRS or re.match(r"^docs?[_\-]", part.lower())
               for part in path.split("/")[:-1])


def _literal(node: cst.BaseExpression | None) -> str | None:
    value = string_value(node)
    if value is None and isinstance(node, cst.FormattedString):
        return None
    return value


def _target_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        index = node.slice[0].slice
        if isinstance(index, cst.Index):
            return string_value(index.value)
    return None


def _expr_name(node: cst.BaseExpression) -> str | None:
    """The name an expression reads a value under: ``token``, ``self.password``,
    ``data["api_key"]``, ``headers.get("X-Api-Key")``."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "get":
        return string_value(arg(node, 0))
    return _target_name(node)


class HardcodedSecret(FileRule):
    """
    ## What it does
    Finds credentials written into the code or its configuration files:
    - string literals bound to secret-like names (`password`, `secret`, `token`,
      `api_key`, `private_key`, `client_secret`, `credentials`, in any case style) in
      assignments, class attributes, keyword arguments, dict keys, default arguments and
      comparisons, and as the fallback of an environment read
      (`os.getenv("SECRET_KEY", "literal")`);
    - credentials recognisable by their format wherever they appear: cloud access keys,
      GitHub/GitLab/Slack/Stripe/OpenAI/SendGrid/npm/PyPI tokens, JWTs, PEM private keys;
    - passwords embedded in connection URLs (`postgres://user:pw@host`) and in
      key=value connection strings, and literal `Authorization` header values;
    - the same in `.env`, YAML, JSON, INI, TOML files and Dockerfile `ENV`/`ARG`.

    Names that only *describe* a secret hold none (`token_type`, `TOKEN_URL`,
    `NextToken`, `password_field`, `PASSWORD_MIN_LENGTH`), and placeholders are not
    secrets: empty or short values, `changeme`, `<your-api-key>`, `${VAR}`, `{{ var }}`,
    `xxx`, masked values, environment variable names, file paths, dotted paths, prose
    such as `"Invalid password"`. Test code (the `test-paths` setting) is not checked.
    The value is never printed: findings show a redacted form.

    ## Why is this bad?
    Anything committed is readable by everyone with access to the repository, its
    forks, clones, backups and CI logs, forever: rotating the credential is the only
    fix once it is pushed. Secrets belong in the environment or a secret manager.

    ## Known limits
    Secrets assembled at run time (split literals joined later, decoded base64) are not
    seen. Single dictionary words and values made of placeholder words are taken as
    placeholders, so a weak real password such as `"admin"` is not reported. In
    example, documentation and project-template folders (`examples/`, `docs/`,
    `samples/`, `templates/`...) only credentials in a known format are reported.
    Translation files (`locale/`, `i18n/`...) and lock files are skipped.
    """

    slug = "hardcoded-secret"
    checklist = "No hardcoded secrets or credentials; never commit secrets"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript", "go", "dotenv", "yaml", "json", "toml", "ini", "dockerfile")
    cwe = ("CWE-798", "CWE-259")
    summary = "A secret is hardcoded"
    text_languages = ("dotenv", "yaml", "json", "toml", "ini", "dockerfile")
    bad = (
        Example(
            "import os\n"
            "import psycopg2 as pg\n\n"
            "STRIPE_API_KEY = 'Zq8vN2xL4kR7tY1wB6mC9pD3'  # flagged\n"
            "SECRET_KEY = os.environ.get('SECRET_KEY', 'k3N9-zQ2mV8rT5yW1pL6')  # flagged\n\n"
            "def connect():\n"
            "    return pg.connect(host='db', user='app',\n"
            "                      password='Wint3r-Sun-88')  # flagged\n",
            path="app/settings.py",
        ),
        Example(
            "DATABASE_URL=postgres://app:Xv93kLq2zR@db.internal:5432/app  # flagged\n"
            "DEBUG=0\n",
            path=".env",
        ),
    )
    good = (
        Example(
            "import os\n\n"
            "SECRET_KEY = os.environ['SECRET_KEY']\n"
            "API_TOKEN = os.getenv('API_TOKEN', '')\n"
            "TOKEN_URL = 'https://auth.example.com/oauth/token'\n"
            "PASSWORD_MIN_LENGTH = 12\n"
            "token_type = 'bearer'\n"
            "ERRORS = {'password': 'Invalid password'}\n\n"
            "def page(client, NextToken='<your-token>'):\n"
            "    return client.list(NextToken=NextToken, password_field='password')\n",
            path="app/settings.py",
        ),
        Example(
            "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app\n"
            "API_KEY=changeme\n",
            path=".env.example",
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._done: set[int] = set()
        text = getattr(ctx, "text", "")
        self._formats_in_file = bool(_ANY_FORMAT.search(text))
        #: examples, docs and samples: only credentials in a known format count there
        self._illustrative = is_illustrative_path(ctx.path)

    # -- Python ---------------------------------------------------------------------------
    def _skipped(self) -> bool:
        if self.ctx.is_test:
            return True
        if self._illustrative:
            return True
        for node in self.ctx.ancestors():
            if isinstance(node, cst.ClassDef) and {"test", "tests", "testing", "mock", "fake"} & set(name_words(node.name.value)):
                return True
            if isinstance(node, cst.FunctionDef) and node.name.value.startswith("test"):
                return True
        return False

    def _pair(self, name: str | None, value_node: cst.BaseExpression | None, *, what: str = "",
              severity: Severity | None = None, confidence: Confidence | None = None) -> bool:
        """Report ``value_node`` when it is a literal secret bound to ``name``."""
        if value_node is None or name is None:
            return False
        value = _literal(value_node)
        if value is None:
            return False
        kind = secret_kind(name)
        if kind is None:
            return False
        self.checked()
        if is_placeholder(value, name):
            return False
        self._done.add(id(value_node))
        label = _KIND_LABEL[kind]
        if confidence is None and len(name_words(name)) == 1 and self.ctx.enclosing_function() is not None:
            confidence = Confidence.MEDIUM  # a bare `secret`/`token` inside code: often sample data
        where = what or f"`{name}`"
        self.report(value_node, f"hardcoded {label} in {where} ({mask(value)}); read it from the environment "
                                "or a secret manager", severity=severity, confidence=confidence,
                    secrets=secret_lines(value))
        return True

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._skipped():
            return
        for target in node.targets:
            self._pair(_target_name(target.target), node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if self._skipped():
            return
        self._pair(_target_name(node.target), node.value)

    def visit_Param(self, node: cst.Param) -> None:
        if self._skipped():
            return
        self._pair(node.name.value, node.default, what=f"the default of `{node.name.value}`")

    def _url_parameters(self) -> bool:
        """A dict passed as ``kwargs=`` to ``reverse()``/``url_for()``-like calls: its values
        are path parameters of a URL (resource identifiers), not credentials."""
        stack = list(self.ctx.ancestors())
        if len(stack) < 3 or not isinstance(stack[0], cst.Dict) or not isinstance(stack[1], cst.Arg):
            return False
        arg_node, call = stack[1], stack[2]
        if not isinstance(call, cst.Call) or arg_node.keyword is None or arg_node.keyword.value != "kwargs":
            return False
        name = (self.ctx.resolve(call.func) or "").rsplit(".", 1)[-1].lower()
        return "reverse" in name or "url" in name

    def _sample_record(self) -> bool:
        """A dict whose other string values are filler (``'hash': 'abcdefghi'``): a record
        of sample data, not configuration."""
        parent = self.ctx.parent()
        if not isinstance(parent, cst.Dict):
            return False
        key = ("sample-record", id(parent))
        if key not in self.ctx.cache:
            fillers = 0
            for element in parent.elements:
                value = string_value(element.value) if isinstance(element, cst.DictElement) else None
                if value and (sequential_run(value) >= 6 or re.search(r"x{4,}|X{4,}|\.\.\.", value)):
                    fillers += 1
            self.ctx.cache[key] = fillers > 0
        return self.ctx.cache[key]

    def visit_DictElement(self, node: cst.DictElement) -> None:
        if self._skipped() or self._url_parameters() or self._sample_record():
            return
        key = string_value(node.key)
        if key is None:
            return
        if key.lower() in ("authorization", "proxy-authorization"):
            value = _literal(node.value)
            match = AUTH_HEADER_VALUE.match(value.strip()) if value else None
            if match and not is_placeholder(match.group(1)):
                self.checked()
                self._done.add(id(node.value))
                self.report(node.value, f"hardcoded `{key}` header ({mask(match.group(1))})",
                            secrets=[value, match.group(1)])
            return
        self._pair(key, node.value)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if self._skipped() or len(node.comparisons) != 1:
            return
        target = node.comparisons[0]
        if not isinstance(target.operator, (cst.Equal, cst.NotEqual)):
            return
        left, right = node.left, target.comparator
        if _literal(left) is not None:
            left, right = right, left
        self._pair(_expr_name(left), right, what=f"a comparison with `{_expr_name(left)}`",
                   confidence=Confidence.MEDIUM)

    def visit_Call(self, node: cst.Call) -> None:
        if self._skipped():
            return
        name = self.ctx.resolve(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        # fallback values of environment reads
        first = string_value(arg(node, 0))
        fallback = arg(node, 1) or arg(node, keyword="default")
        if first is not None and fallback is not None and (
            name in ENV_READERS or name.endswith(ENV_READER_ENDINGS) or last == "get"
        ):
            if self._pair(first, fallback, what=f"the fallback of `{first}`", severity=Severity.MEDIUM):
                return
        # (user, password) pairs
        if name in BASIC_AUTH or (last in LOGIN_METHODS and isinstance(node.func, cst.Attribute)):
            self._pair("password", arg(node, 1) or arg(node, keyword="password"),
                       what=f"the password of `{last}()`")
        auth = arg(node, keyword="auth")
        if isinstance(auth, cst.Tuple) and len(auth.elements) == 2:
            self._pair("password", auth.elements[1].value, what="the `auth=` pair")
        for a in node.args:
            if a.keyword is not None:
                self._pair(a.keyword.value, a.value)

    def _formats_skipped(self) -> bool:
        illustrative, self._illustrative = self._illustrative, False
        try:
            return self._skipped()
        finally:
            self._illustrative = illustrative

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if self._formats_in_file and id(node) not in self._done and not self._formats_skipped():
            self._formats(node, string_value(node))

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> None:
        if self._formats_in_file and id(node) not in self._done and not self._formats_skipped():
            value = string_value(node)
            if value is not None and self._formats(node, value):
                self._mark_parts(node)

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        if self._formats_in_file and id(node) not in self._done and not self._formats_skipped():
            text = "".join(p.value if isinstance(p, cst.FormattedStringText) else "{}" for p in node.parts)
            self._formats(node, text)

    def _mark_parts(self, node: cst.ConcatenatedString) -> None:
        for part in (node.left, node.right):
            self._done.add(id(part))
            if isinstance(part, cst.ConcatenatedString):
                self._mark_parts(part)

    def _formats(self, node: cst.CSTNode, value: str | None) -> bool:
        if not value:
            return False
        self.checked()
        hits = known_secrets(value)
        if not hits:
            return False
        self._done.add(id(node))
        self._report_hits(node, hits)
        return True

    def _report_hits(self, node: cst.CSTNode, hits: list[Hit]) -> None:
        kinds = ", ".join(dict.fromkeys(h.kind for h in hits))
        secrets = [s for h in hits for s in secret_lines(h.secret)]
        self.report(node, f"hardcoded credential: {kinds} ({mask(hits[0].secret)})", secrets=secrets)

    # -- configuration files --------------------------------------------------------------
    def check_text(self, ctx: TextContext) -> None:
        if ctx.is_test:
            return
        parts = ctx.path.split("/")
        base = parts[-1]
        if base in LOCK_FILES or base.endswith((".lock", ".min.json")):
            return
        if ctx.language in ("json", "yaml") and any(p.lower() in LOCALE_DIRS for p in parts[:-1]):
            return
        pairs = _PARSERS.get(ctx.language, _parse_ini)
        example_file = any(w in base.lower() for w in ("example", "sample", "template", ".dist", "default")) \
            or is_illustrative_path(ctx.path)
        lines = ctx.lines
        in_pem: str | None = None
        for number, line in enumerate(lines, 1):
            if in_pem is not None:
                if "-----END" in line:
                    in_pem = None
                continue
            if "-----BEGIN" in line and "PRIVATE KEY-----" in line and "-----END" not in line:
                block = "\n".join(lines[number - 1:number + 60])
                hits = [h for h in known_secrets(_unescape(block)) if h.kind == "private key"]
                in_pem = "" if hits else None
                if hits:
                    self.report_line(number, f"hardcoded credential: private key ({mask(hits[0].secret)})",
                                     secrets=[s for h in hits for s in secret_lines(h.secret)])
                    continue
            self.checked()
            hits = known_secrets(_unescape(line))
            if hits:
                secrets = [s for h in hits for s in secret_lines(h.secret)]
                kinds = ", ".join(dict.fromkeys(h.kind for h in hits))
                self.report_line(number, f"hardcoded credential: {kinds} ({mask(hits[0].secret)})", secrets=secrets)
                continue
            for key, value in () if example_file else pairs(line):
                kind = secret_kind(key)
                if kind is None or is_placeholder(value, key):
                    continue
                column = line.find(value) + 1 if value in line else 1
                self.report_line(number, f"hardcoded {_KIND_LABEL[kind]} in `{key}` ({mask(value)}); "
                                         "keep secrets out of committed files", column=column,
                                 end_column=column + len(value) if column > 1 else 0, secrets=[value])
                break


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n")


def _strip_value(raw: str, comment: str = r"\s+#") -> str:
    value = raw.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        return value[1:end] if end > 0 else value[1:]
    return re.split(comment, value, maxsplit=1)[0].strip()


_DOTENV = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*(.*)$")
_INI = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\- ]*?)\s*[=:]\s*(.*)$")
_TOML = re.compile(r"^\s*([A-Za-z0-9_\-.\"']+)\s*=\s*(\"[^\"]*\"|'[^']*')\s*(?:#.*)?$")
_YAML = re.compile(r"^\s*(?:-\s+)?([\"']?[A-Za-z0-9_\-.]+[\"']?)\s*:\s+(.+?)\s*$")
_YAML_ENV_ITEM = re.compile(r"^\s*-\s+[\"']?([A-Za-z_][A-Za-z0-9_]*)=(.*?)[\"']?\s*$")
_JSON = re.compile(r"\"([^\"\\]{1,80})\"\s*:\s*\"((?:[^\"\\]|\\.)*)\"")
_DOCKER = re.compile(r"^\s*(ENV|ARG)\s+(.*)$", re.IGNORECASE)


def _parse_dotenv(line: str):
    m = _DOTENV.match(line)
    if m and not line.lstrip().startswith("#"):
        yield m.group(1), _strip_value(m.group(2))


def _parse_ini(line: str):
    stripped = line.lstrip()
    if not stripped or stripped[0] in "#;[":
        return
    m = _INI.match(line)
    if m:
        yield m.group(1).strip(), _strip_value(m.group(2), r"\s+[#;]")


def _parse_toml(line: str):
    m = _TOML.match(line)
    if m and not line.lstrip().startswith("#"):
        yield m.group(1).strip("\"'").rsplit(".", 1)[-1], m.group(2)[1:-1]


def _parse_yaml(line: str):
    stripped = line.lstrip()
    if not stripped or stripped.startswith("#"):
        return
    m = _YAML_ENV_ITEM.match(line)
    if m:
        yield m.group(1), _strip_value(m.group(2))
        return
    m = _YAML.match(line)
    if m:
        value = m.group(2)
        if value[:1] in ("|", ">", "&", "*", "!", "{", "["):
            return
        yield m.group(1).strip("\"'"), _strip_value(value)


def _parse_json(line: str):
    for m in _JSON.finditer(line):
        yield m.group(1), m.group(2).replace('\\"', '"')


def _parse_docker(line: str):
    m = _DOCKER.match(line)
    if not m:
        return
    rest = m.group(2).strip()
    if "=" in rest.split(" ", 1)[0]:
        for pair in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)", rest):
            yield pair[0], _strip_value(pair[1])
    elif m.group(1).upper() == "ENV" and " " in rest:
        key, value = rest.split(None, 1)
        yield key, _strip_value(value)


_PARSERS = {"dotenv": _parse_dotenv, "ini": _parse_ini, "toml": _parse_toml, "yaml": _parse_yaml,
            "json": _parse_json, "dockerfile": _parse_docker}
