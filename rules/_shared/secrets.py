"""Secret knowledge shared by the secret rules: which names hold secrets, which values
are placeholders rather than secrets, which formats are credentials wherever they
appear, and how random a string looks.

Known credential formats are those of :data:`checker.redact.KNOWN_FORMATS` (the same
table masks them in every output), plus a few that only detection needs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from checker.redact import KNOWN_FORMATS, PEM_PRIVATE_KEY, URL_PASSWORD

# ---------------------------------------------------------------------------------------
# Names

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

# Compound words people write without a separator, split into their parts.
_COMPOUNDS = {
    "apikey": ("api", "key"), "apikeys": ("api", "key"), "secretkey": ("secret", "key"),
    "privatekey": ("private", "key"), "accesskey": ("access", "key"), "authtoken": ("auth", "token"),
    "accesstoken": ("access", "token"), "refreshtoken": ("refresh", "token"), "clientsecret": ("client", "secret"),
    "passwd": ("password",), "passphrase": ("password",), "pwd": ("password",), "passw": ("password",),
    "password": ("password",), "passwords": ("password",), "pword": ("password",),
    "secrets": ("secret",), "creds": ("credentials",), "credential": ("credentials",),
    "credentials": ("credentials",), "signingkey": ("signing", "key"), "masterkey": ("master", "key"),
    "bearertoken": ("bearer", "token"), "sessiontoken": ("session", "token"), "idtoken": ("id", "token"),
}

# Words that, after the secret noun, say the name holds something *about* a secret
# never reach here: the noun must be the last word. These trailing words describe the
# representation of the secret itself and are skipped.
_VALUE_SUFFIXES = frozenset({"value", "str", "string", "bytes", "raw", "plain", "plaintext", "b64", "base64",
                             "hex", "literal", "default"})

# Words before the noun that make the name something other than a secret
# (pagination cursors, tokenizer vocabulary, UI/validation metadata, flags...).
_NOT_SECRET_QUALIFIERS = frozenset({
    "next", "prev", "previous", "continuation", "page", "pagination", "paging", "cursor", "start", "end",
    "last", "first", "sync", "resume", "marker", "bos", "eos", "pad", "unk", "sep", "cls", "mask", "special",
    "lexer", "parse", "parser", "parsed", "lex", "word", "sentence", "nlp", "vocab", "invalid", "wrong", "bad",
    "expected", "fake", "dummy", "mock", "sample", "example", "test", "testing", "placeholder", "show", "hide", "has", "is", "require",
    "required", "requires", "validate", "validates", "check", "verify", "masked", "hashed", "hash",
    "encrypted", "field", "input", "form", "label", "num", "max", "min", "no", "empty", "null", "unusable",
    "enter", "public", "pub", "csrf", "xsrf", "lookup", "cache", "sort", "primary", "foreign",
    "partition", "group", "idempotency", "ssh_pub", "type", "kind", "get", "set", "use", "using", "uses",
    "allow", "allowed", "disable", "disabled", "enable", "enabled", "with", "without", "send", "reveal",
    "generate", "generated", "random",
})

# ``key`` alone is too common (cache keys, dict keys, sort keys): it is a secret only
# with one of these before it.
_KEY_QUALIFIERS = frozenset({
    "api", "secret", "private", "access", "signing", "sign", "signature", "encryption", "encrypt", "decrypt",
    "crypto", "cipher", "aes", "hmac", "jwt", "auth", "master", "client", "consumer", "license", "licence",
    "subscription", "stripe", "openai", "aws", "sendgrid", "mailgun", "twilio", "google", "github", "slack",
    "fernet", "shared", "webhook", "app", "application", "service", "account", "storage", "recaptcha",
    "captcha", "maps", "gmaps", "mapbox", "algolia", "pusher", "firebase", "sentry", "datadog", "dd", "x",
})

PASSWORD_NOUNS = frozenset({"password"})
# Verbs that, before "password", name an action (``reset_password``, ``change_password``)
# rather than a password; a ``reset_token`` is still a credential.
_PASSWORD_ACTIONS = frozenset({"reset", "forgot", "forgotten", "change", "update", "recover", "recovery"})
_SECRET_NOUNS = frozenset({"password", "secret", "token", "credentials"})


def name_words(name: str) -> list[str]:
    """``apiKey`` -> ``[api, key]``; ``AWS_SECRET_ACCESS_KEY`` -> ``[aws, secret, access, key]``;
    ``x-api-key`` -> ``[x, api, key]``. Compound words are split (``apikey``, ``passwd``)."""
    words: list[str] = []
    for part in _WORD.findall(name):
        low = part.lower()
        words.extend(_COMPOUNDS.get(low, (low,)))
    return words


def secret_kind(name: str | None) -> str | None:
    """What secret a name holds ("password", "secret", "token", "key", "credentials"),
    or None. The secret noun must be the name's last word (``TOKEN_URL``,
    ``token_type``, ``PASSWORD_MIN_LENGTH`` hold no secret), ``key`` needs a qualifier
    (``api_key``, ``SECRET_KEY``, ``private_key``), and some qualifiers mean the name
    is not a secret (``NextToken``, ``csrf_token``, ``public_key``, ``password_field``)."""
    if not name or len(name) > 80:
        return None
    words = name_words(name)
    while len(words) > 1 and words[-1] in _VALUE_SUFFIXES:
        words.pop()
    if not words:
        return None
    last, before = words[-1], words[:-1]
    if any(w in _NOT_SECRET_QUALIFIERS for w in before):
        return None
    if last == "password" and any(w in _PASSWORD_ACTIONS for w in before):
        return None
    if last == "pass" and before:
        return "password"
    if last in _SECRET_NOUNS:
        return last
    if last == "key" and any(w in _KEY_QUALIFIERS for w in before):
        return "key"
    return None


def is_password_name(name: str | None) -> bool:
    return secret_kind(name) == "password"


# ---------------------------------------------------------------------------------------
# Values

_PLACEHOLDER_TOKENS = frozenset({
    "change", "changeme", "changeit", "replace", "replaceme", "your", "yours", "my", "example", "examples",
    "dummy", "test", "testing", "tests", "fake", "sample", "placeholder", "xxx", "xxxx", "todo", "fixme",
    "tbd", "mock", "foo", "bar", "baz", "foobar", "none", "null", "nil", "undefined", "redacted",
    "notasecret", "insert", "here", "secret", "password", "passwd", "pass", "token", "key", "apikey",
    "default", "string", "str", "value", "dev", "development", "local", "localhost", "demo", "sandbox",
    "unused", "unset", "empty", "invalid", "hidden", "masked", "fill", "enter", "set", "me", "abc", "abcd",
    "abc123", "secretkey", "secret_key", "admin", "root", "guest", "user", "username", "postgres", "mysql",
    "hunter2", "letmein", "qwerty", "password1", "password123", "pwd", "na", "tba",
})
_TEMPLATE = re.compile(r"\$\{|\{\{|\{%|%\(|%s\b|^\$[A-Za-z_]|^<.*>$|^\{.*\}$|^\[.*\]$|^%[A-Za-z_]+%$|\bENC\[|^!vault")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*[A-Z0-9]$")
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+$")
_IDENTIFIER_WORDS = re.compile(r"^[A-Za-z]+(?:[_\-.][A-Za-z]+)*$")
_PATH = re.compile(r"^(?:~|\.{1,2})?/|^[A-Za-z]:\\|\.(?:pem|key|crt|cer|der|p12|pfx|json|ya?ml|txt|ini|cfg|conf|env|pub|jks|keystore|gpg|asc)$",
                   re.IGNORECASE)
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://")
_LABEL_WORD = re.compile(r"^[^\W\d_][^\W\d_A-Z]*$")  # one capitalised word of letters: "Passwort"
_MASKED = re.compile(r"^[*xX•#._\-0]+$")
_IDENTIFIER_LOWER = re.compile(r"^[a-z]+(?:[_\-.][a-z]+)*$")  # "order_columns", "list-title"
# Run-together placeholder words in a value without digits: "thisismysecretkey".
_PLACEHOLDER_STEMS = ("secret", "scret", "password", "passwd", "changeme", "example", "dummy", "sample",
                      "placeholder", "default", "notsecure", "insecure", "yourkey", "mykey", "fake", "test")


def is_placeholder(value: str, name: str | None = None) -> bool:
    """Whether a literal is a stand-in rather than a secret: empty or very short, a
    template (``${VAR}``, ``{{ x }}``, ``%(x)s``, ``<your-key>``), masked (``****``),
    made of placeholder words (``changeme``, ``your-api-key``, ``example``, ``dummy``),
    an environment variable's name, a dotted path, a file path or URL without
    credentials, prose (contains spaces), a label word or lower-case identifier
    (``order_columns``), a value without digits that spells a placeholder word
    (``thisismysecretkey``), or the name itself."""
    v = value.strip()
    if len(v) < 4 or _MASKED.match(v) or len(set(v)) <= 2:
        return True
    if any(ch.isspace() for ch in v) and not _known_in(v):
        return True
    if _TEMPLATE.search(v) or _ENV_NAME.match(v) or _PATH.search(v):
        return True
    if _URL.match(v) and not URL_PASSWORD.search(v):
        return True
    if _DOTTED.match(v) and not any(c.isdigit() for c in v):
        return True
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", v.lower()) if t]
    if tokens and any(t in _PLACEHOLDER_TOKENS for t in tokens) and _low_entropy_words(tokens):
        return True
    if re.search(r"x{4,}|X{4,}|\.\.\.|0{8,}", v) or sequential_run(v) >= 6:
        return not _known_in(v)
    if _IDENTIFIER_WORDS.match(v) and (_has_secret_word(v) or (name and _same_words(v, name))):
        return True
    if _LABEL_WORD.match(v) or _IDENTIFIER_LOWER.match(v):
        return True
    if not any(c.isdigit() for c in v):
        letters = re.sub(r"[^a-z]", "", v.lower())
        if any(stem in letters for stem in _PLACEHOLDER_STEMS):
            return True
    if name and _same_words(v, name):
        return True
    return False


def sequential_run(value: str) -> int:
    """The longest run of consecutive letters or digits (``abcdef``, ``jklmnop``, ``123456``)."""
    best = run = 1
    low = value.lower()
    for a, b in zip(low, low[1:]):
        run = run + 1 if a.isalnum() and ord(b) - ord(a) == 1 else 1
        best = max(best, run)
    return best


def _low_entropy_words(tokens: list[str]) -> bool:
    """Placeholder words carry a placeholder unless the value also holds a random part
    (``test_sk_9f8A7b6C5d4E3f2A1b0C`` is not a placeholder)."""
    return not any(len(t) >= 12 and shannon_entropy(t) > 3.0 and any(c.isdigit() for c in t) for t in tokens)


def _has_secret_word(value: str) -> bool:
    words = set(name_words(value))
    return bool(words & (_SECRET_NOUNS | {"key", "auth", "bearer", "basic", "apikey"}))


def _same_words(value: str, name: str) -> bool:
    vw, nw = name_words(value), name_words(name)
    return bool(vw) and (vw == nw or vw == nw[-len(vw):])


def _known_in(value: str) -> bool:
    return any(p.search(value) for _, p in KNOWN_FORMATS) or bool(PEM_PRIVATE_KEY.search(value))


def shannon_entropy(value: str) -> float:
    """Bits per character of a string's character distribution."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def looks_random(value: str, min_length: int = 16) -> bool:
    """A long token of base64/hex-like characters with a high character entropy."""
    v = value.strip()
    if len(v) < min_length or any(ch.isspace() for ch in v):
        return False
    if not re.fullmatch(r"[A-Za-z0-9+/=_\-.~:]+", v):
        return False
    classes = sum(bool(re.search(p, v)) for p in (r"[a-z]", r"[A-Z]", r"\d"))
    return classes >= 2 and shannon_entropy(v) >= 3.5


# ---------------------------------------------------------------------------------------
# Formats that are secrets wherever they appear

# Detection-only additions to checker.redact.KNOWN_FORMATS.
EXTRA_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Azure storage key", re.compile(r"\bAccountKey=([A-Za-z0-9+/]{60,}={0,2})")),
    ("npm token", re.compile(r"\b(npm_[A-Za-z0-9]{36})\b")),
    ("PyPI token", re.compile(r"\b(pypi-[A-Za-z0-9_\-]{50,})")),
    ("Slack webhook", re.compile(r"(https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,})")),
    ("Stripe key", re.compile(r"\b(whsec_[A-Za-z0-9]{24,})\b")),
)
# Connection strings in key=value form (libpq, ODBC): ``host=db password=s3cret``.
CONN_STRING_PASSWORD = re.compile(r"(?:^|[\s;])(?:password|pwd)\s*=\s*([^\s;'\"]+)", re.IGNORECASE)
AUTH_HEADER_VALUE = re.compile(r"^(?:Bearer|Basic|Token|Bot|ApiKey|Api-Key)\s+(\S{8,})$", re.IGNORECASE)

_EXAMPLE_MARK = re.compile(r"EXAMPLE|example|\bSAMPLE|x{6,}|X{6,}|0{10,}")


@dataclass(frozen=True)
class Hit:
    """A secret found inside a literal: what it is and the exact secret text."""

    kind: str
    secret: str


def known_secrets(text: str) -> list[Hit]:
    """Credentials recognisable by their format alone: cloud and VCS tokens, payment and
    chat API keys, JWTs, PEM private keys, URLs and connection strings with an embedded
    password. Documentation examples (``AKIAIOSFODNN7EXAMPLE``) are left out."""
    hits: list[Hit] = []
    pem = PEM_PRIVATE_KEY.search(text)
    if pem and "ENCRYPTED" not in pem.group(0)[:60]:
        body = pem.group(0)
        inner = re.sub(r"-----[A-Z ]+-----|\s", "", body)
        if len(inner) >= 40 and not _EXAMPLE_MARK.search(inner) and len(set(inner)) > 10:
            hits.append(Hit("private key", body))
    for kind, pattern in KNOWN_FORMATS + EXTRA_FORMATS:
        for match in pattern.finditer(text):
            token = match.group(1)
            if _EXAMPLE_MARK.search(token) or len(set(token)) < 8:
                continue
            hits.append(Hit(kind, token))
    for match in URL_PASSWORD.finditer(text):
        password = match.group(2)
        if _url_password_placeholder(password, match.group(1)):
            continue
        hits.append(Hit("password in a URL", password))
    if "=" in text and len(text) < 2000 and re.search(r"(?:host|server|dbname|database|user|uid)\s*=", text, re.I):
        for match in CONN_STRING_PASSWORD.finditer(text):
            password = match.group(1)
            if not is_placeholder(password) and not _url_password_placeholder(password, ""):
                hits.append(Hit("password in a connection string", password))
    return hits


def _url_password_placeholder(password: str, scheme_user: str) -> bool:
    user = scheme_user.rsplit("//", 1)[-1].rstrip(":")
    p = password.strip()
    if not p or p.startswith(("${", "{", "<", "%(", "$", "%")) or "{" in p or "%s" in p:
        return True
    if user and p.lower() == user.lower():
        return True
    return is_placeholder(p) and not looks_random(p, 12)


def secret_lines(secret: str) -> list[str]:
    """A multi-line secret and each of its lines, for redaction of partial snippets."""
    lines = [ln.strip() for ln in secret.splitlines() if len(ln.strip()) >= 8]
    return [secret, *lines]
