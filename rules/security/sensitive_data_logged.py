from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.logs import LOGGING_ROOTS, is_log_call
from rules._shared.secrets import name_words, secret_kind
from rules._shared.web import string_value

# Sensitive nouns beyond secrets: payment and identity data, authorisation headers.
SENSITIVE_WORDS = {
    ("card", "number"): "a card number", ("cardnumber",): "a card number", ("credit", "card"): "a card number",
    ("cc", "number"): "a card number", ("ccn",): "a card number", ("pan",): "a card number",
    ("cvv",): "a card security code", ("cvc",): "a card security code", ("cvv2",): "a card security code",
    ("ssn",): "a social security number", ("social", "security"): "a social security number",
    ("authorization",): "an Authorization header", ("auth", "header"): "an Authorization header",
    ("cookie",): "a cookie", ("cookies",): "cookies", ("session", "id"): "a session id",
    ("sessionid",): "a session id", ("otp",): "a one-time code",
}
# Whole request payloads: attribute -> description.
REQUEST_BODIES = {"json": "the whole JSON body", "get_json": "the whole JSON body", "body": "the whole body",
                  "data": "the whole body", "get_data": "the whole body", "POST": "the whole form",
                  "form": "the whole form", "headers": "all request headers", "META": "all request headers",
                  "values": "all request values", "cookies": "all cookies", "COOKIES": "all cookies",
                  "text": "the whole body", "post": "the whole form", "content": "the whole body"}
LOGGER_FACTORIES = frozenset({"getLogger", "get_logger", "getChild", "bind", "wrap_logger", "LoggerAdapter"})
REQUEST_NAMES = ("request", "req", "self.request", "flask.request", "quart.request", "bottle.request",
                 "sanic.request")
# Calls that make a value safe to log.
MASKING = frozenset({"len", "bool", "type", "mask", "redact", "redacted", "hash", "sha256", "md5", "obfuscate",
                     "mask_secret", "censor", "scrub", "sanitize", "sanitise", "is_valid", "isinstance", "id",
                     "hexdigest", "digest", "startswith", "endswith", "count", "keys", "strip_sensitive"})
SECRET_HEADER_NAMES = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                                 "x-auth-token", "api-key", "x-csrf-token", "x-access-token"})


def _sensitive_name(name: str | None) -> str | None:
    """What sensitive datum a name holds, or None."""
    if not name:
        return None
    if name.lower() in SECRET_HEADER_NAMES:
        return f"the `{name}` header"
    kind = secret_kind(name)
    if kind is not None:
        return {"key": "a secret key", "credentials": "credentials"}.get(kind, f"a {kind}")
    words = name_words(name)
    if len(words) > 4:
        return None
    for pattern, what in SENSITIVE_WORDS.items():
        n = len(pattern)
        if tuple(words[-n:]) == pattern:
            return what
    return None


class SensitiveDataLogged(FileRule):
    """
    ## What it does
    Finds log calls (`logging`, `logger.*`, `app.logger`, structlog, loguru) and
    `print` whose arguments carry secrets or personal data: values named like passwords,
    tokens, secrets, API keys, card numbers, CVVs, social security numbers, cookies or
    session ids; `Authorization`/`Cookie`/API-key header values; whole request payloads
    and header sets (`request.json`, `request.get_json()`, `request.body`,
    `request.data`, `request.POST`, `request.form`, `request.headers`). Keyword
    arguments of structured loggers count by their name (`log.info("login",
    password=pw)`).

    A message that only *mentions* a secret is fine (`logger.info("password reset
    requested for %s", user.email)`), and so are values passed through a masking or
    summarising call (`len(token)`, `mask(token)`, `token[:6]`) and names that describe
    a secret without holding it (`token_type`, `password_changed`).

    ## Why is this bad?
    Logs are copied to aggregators, tickets and laptops, kept for months, and read by
    far more people than the database. A password or token in a log line is a leaked
    credential; card data in logs breaks PCI DSS; personal data there is a privacy
    breach.

    ## Known limits
    A secret passed under an unrelated name (`logger.info("%s", value)`) is not seen.
    Test code is skipped.
    """

    slug = "sensitive-data-logged"
    checklist = "Logging implemented without exposing sensitive data"
    section = Section.SECURITY
    severity = Severity.MEDIUM
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-532",)
    summary = "A log call writes sensitive data"
    triggers = ("log", "print", "LOG")
    bad = (
        Example(
            "import logging\n"
            "from flask import request as req\n\n"
            "log = logging.getLogger(__name__)\n\n"
            "def login(username, password):\n"
            "    log.debug('login attempt %s / %s', username, password)  # flagged\n"
            "    log.info('payload: %s', req.get_json())  # flagged\n"
            "    log.info(f\"auth header {req.headers.get('Authorization')}\")  # flagged\n"
        ),
    )
    good = (
        Example(
            "import logging\n\n"
            "logger = logging.getLogger(__name__)\n\n"
            "def reset(user, token):\n"
            "    logger.info('password reset requested for %s', user.email)\n"
            "    logger.debug('issued token of length %d, prefix %s', len(token), token[:4])\n"
            "    logger.info('token_type=%s password_changed=%s', user.token_type, user.password_changed)\n"
        ),
    )

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._logger_names: set[str] = set()

    def _is_log_call(self, node: cst.Call) -> bool:
        func = node.func
        if isinstance(func, cst.Name):
            return func.value == "print" and self.ctx.resolve(func) == "print"
        return is_log_call(self.ctx, node, self._loggers())

    def _loggers(self) -> set[str]:
        """Names and attributes this file assigned a logger to so far
        (``audit = structlog.get_logger()``, ``self.log = logging.getLogger(...)``)."""
        return self._logger_names

    def visit_Assign(self, node: cst.Assign) -> None:
        self._remember_logger([t.target for t in node.targets], node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._remember_logger([node.target], node.value)

    def _remember_logger(self, targets: list[cst.BaseExpression], value: cst.BaseExpression | None) -> None:
        if not isinstance(value, cst.Call):
            return
        factory = self.ctx.resolve(value.func) or ""
        if factory.startswith(LOGGING_ROOTS) or factory.rsplit(".", 1)[-1] in LOGGER_FACTORIES:
            self._logger_names.update(self.ctx.code_of(t) for t in targets)

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test or not self._is_log_call(node):
            return
        self.checked()
        for a in node.args:
            if a.keyword is not None:
                what = _sensitive_name(a.keyword.value)
                if what and a.keyword.value not in ("extra", "exc_info", "stack_info", "stacklevel"):
                    if string_value(a.value) is None and not self._masked(a.value):
                        self._report(node, what)
                        return
                if a.keyword.value == "extra" and isinstance(a.value, cst.Dict):
                    for element in a.value.elements:
                        if isinstance(element, cst.DictElement):
                            what = _sensitive_name(string_value(element.key))
                            if what and string_value(element.value) is None and not self._masked(element.value):
                                self._report(node, what)
                                return
                    continue
            what = self._find(a.value)
            if what:
                self._report(node, what)
                return

    def _report(self, node: cst.Call, what: str) -> None:
        where = "printed" if isinstance(node.func, cst.Name) else "written to the log"
        self.report(node, f"{what} is {where}: log an id or a masked form instead")

    def _masked(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Call):
            name = (self.ctx.resolve(node.func) or "").rsplit(".", 1)[-1]
            return name in MASKING
        if isinstance(node, cst.Subscript):
            return any(isinstance(s.slice, cst.Slice) for s in node.slice)
        return False

    def _find(self, node: cst.BaseExpression) -> str | None:
        """What sensitive value an argument expression carries, if any."""
        if self._masked(node):
            return None
        if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float)):
            return None
        if isinstance(node, cst.ConcatenatedString):
            return self._find(node.left) or self._find(node.right)
        if isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringExpression):
                    what = self._find(part.expression)
                    if what:
                        return what
            return None
        if isinstance(node, cst.Name):
            return _sensitive_name(node.value)
        if isinstance(node, cst.Await):
            return self._find(node.expression)
        request_part = self._request_payload(node)
        if request_part:
            return request_part
        if isinstance(node, cst.Attribute):
            what = _sensitive_name(node.attr.value)
            return what
        if isinstance(node, cst.Subscript):
            key = node.slice[0].slice if len(node.slice) == 1 else None
            if isinstance(key, cst.Index):
                literal = string_value(key.value)
                if literal is not None:
                    return _sensitive_name(literal)
            return None
        if isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value == "get" and node.args:
                literal = string_value(node.args[0].value)
                if literal is not None:
                    return _sensitive_name(literal)
            if isinstance(func, cst.Name) and func.value in ("str", "repr", "format") or \
                    isinstance(func, cst.Attribute) and func.attr.value in ("format", "decode", "encode", "strip"):
                parts = [a.value for a in node.args]
                if isinstance(func, cst.Attribute):
                    parts.append(func.value)
                for part in parts:
                    what = self._find(part)
                    if what:
                        return what
            return None
        if isinstance(node, cst.BinaryOperation):
            return self._find(node.left) or self._find(node.right)
        if isinstance(node, (cst.Tuple, cst.List)):
            for element in node.elements:
                what = self._find(element.value)
                if what:
                    return what
        if isinstance(node, cst.Dict):
            for element in node.elements:
                if isinstance(element, cst.DictElement):
                    what = _sensitive_name(string_value(element.key))
                    if what and string_value(element.value) is None and not self._masked(element.value):
                        return what
                    what = self._find(element.value)
                    if what:
                        return what
        return None

    def _request_payload(self, node: cst.BaseExpression) -> str | None:
        target = node.func if isinstance(node, cst.Call) else node
        if not isinstance(target, cst.Attribute):
            return None
        attr = target.attr.value
        if attr not in REQUEST_BODIES:
            return None
        if isinstance(node, cst.Call) and attr not in ("get_json", "get_data", "json", "body", "text", "post"):
            return None
        owner = self.ctx.resolve(target.value) or ""
        if owner in REQUEST_NAMES or owner.endswith(".request") and owner.startswith(("flask", "quart", "self")):
            call = "()" if isinstance(node, cst.Call) else ""
            return f"`{owner.rsplit('.', 1)[-1]}.{attr}{call}` ({REQUEST_BODIES[attr]})"
        return None
