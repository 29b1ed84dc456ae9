from __future__ import annotations

import re

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.secrets import name_words
from rules._shared.web import arg, string_value

FAST_HASHES = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_224", "sha3_256",
                         "sha3_384", "sha3_512", "blake2b", "blake2s", "shake_128", "shake_256", "new"})
HASH_MODULES = ("hashlib", "Crypto.Hash", "Cryptodome.Hash", "cryptography.hazmat.primitives.hashes")
WEAK_DJANGO_HASHERS = frozenset({
    "django.contrib.auth.hashers.MD5PasswordHasher", "django.contrib.auth.hashers.SHA1PasswordHasher",
    "django.contrib.auth.hashers.UnsaltedMD5PasswordHasher", "django.contrib.auth.hashers.UnsaltedSHA1PasswordHasher",
    "django.contrib.auth.hashers.CryptPasswordHasher",
})
WEAK_PASSLIB_SCHEMES = frozenset({
    "plaintext", "md5_crypt", "apr_md5_crypt", "des_crypt", "bsdi_crypt", "bigcrypt", "crypt16", "hex_md5",
    "hex_md4", "hex_sha1", "hex_sha256", "hex_sha512", "ldap_md5", "ldap_sha1", "ldap_plaintext", "ldap_salted_md5",
    "ldap_salted_sha1", "ldap_hex_md5", "ldap_hex_sha1", "ldap_des_crypt", "mysql323", "mysql41", "postgres_md5",
    "oracle10", "oracle11", "lmhash", "nthash", "msdcc", "msdcc2", "roundup_plaintext", "htdigest", "cisco_pix",
    "cisco_asa", "cisco_type7", "sun_md5_crypt", "unix_disabled", "django_salted_md5", "django_salted_sha1",
    "django_des_crypt", "django_disabled",
})
WERKZEUG_WEAK_METHODS = re.compile(r"^(?:plain|md5|sha1|sha224|sha256|sha384|sha512)$")
PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "passphrase", "pass", "pw", "pword"})
# Words after "password" that mean the value is not a password (a reset token, a hash...).
NOT_PASSWORD_AFTER = frozenset({"hash", "hashed", "digest", "token", "reset", "salt", "key", "url", "link", "field",
                                "length", "len", "policy", "changed", "expiry", "expires", "id", "version", "code",
                                "history", "strength", "validator", "validators", "rules", "set", "form"})
PBKDF2_CALLS = {
    "hashlib.pbkdf2_hmac": ("iterations", 3),
    "cryptography.hazmat.primitives.kdf.pbkdf2.PBKDF2HMAC": ("iterations", 3),
    "Crypto.Protocol.KDF.PBKDF2": ("count", 3),
    "Cryptodome.Protocol.KDF.PBKDF2": ("count", 3),
    "django.utils.crypto.pbkdf2": ("iterations", 2),
}
TEST_SETTINGS = re.compile(r"(?:^|[/_.])(?:test\w*|ci)(?:[/_.]|$)")


def _int(node: cst.BaseExpression | None) -> int | None:
    if isinstance(node, cst.Integer):
        try:
            return int(node.value.replace("_", ""), 0)
        except ValueError:
            return None
    return None


def _password_like(name: str) -> bool:
    words = name_words(name) if name else []
    for i, word in enumerate(words):
        if word in PASSWORD_WORDS or (word == "password"):
            after = set(words[i + 1:])
            if not after & NOT_PASSWORD_AFTER and not set(words[:i]) & {"reset", "hash", "hashed", "has", "is"}:
                return True
    return False


def _walk(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _walk(child)


def carries_password(node: cst.BaseExpression | None) -> cst.CSTNode | None:
    """The part of an expression that reads a password (``password``, ``user.raw_password``,
    ``form["password"]``, ``request.POST.get("pwd")``), or None."""
    if node is None:
        return None
    for sub in _walk(node):
        name = None
        if isinstance(sub, cst.Name):
            name = sub.value
        elif isinstance(sub, cst.Attribute):
            name = sub.attr.value
        elif isinstance(sub, cst.Subscript) and len(sub.slice) == 1 and isinstance(sub.slice[0].slice, cst.Index):
            name = string_value(sub.slice[0].slice.value)
        elif isinstance(sub, cst.Call) and isinstance(sub.func, cst.Attribute) and sub.func.attr.value == "get":
            name = string_value(arg(sub, 0))
        if name and _password_like(name):
            return sub
    return None


class WeakPasswordHash(FileRule):
    """
    ## What it does
    Finds passwords hashed in ways that do not resist guessing:
    - a fast digest (`hashlib.md5/sha1/sha256/...`, `hashlib.new("md5", ...)`, a hash
      object's `update()`) applied to a password-like value (`password`, `raw_password`,
      `form["pwd"]`...);
    - Django `PASSWORD_HASHERS` led by an MD5, SHA1, unsalted or crypt hasher;
    - passlib `CryptContext` whose default scheme is weak (`plaintext`, `md5_crypt`,
      `des_crypt`, `hex_sha256`...), or direct use of those schemes;
    - werkzeug `generate_password_hash(..., method="sha1")` or too few PBKDF2 rounds;
    - PBKDF2 with fewer iterations than `pbkdf2-min-iterations` (default 100,000:
      OWASP asks for 600,000 with SHA-256; below 100,000 is weak on any digest);
    - bcrypt cost below `bcrypt-min-rounds` (default 10) in `bcrypt.gensalt`, passlib
      `.using(rounds=...)` and `BCRYPT_LOG_ROUNDS`.

    Digests of file bodies, cache keys, ETags or tokens are not reported: only values
    named like passwords are (`password_reset_token` and `password_hash` are not). The
    SHA-1 prefix sent to the Have I Been Pwned range API is not a stored hash either.

    ## Why is this bad?
    Leaked password tables are cracked offline. A GPU computes billions of MD5 or
    SHA-256 digests per second, so most human passwords fall within hours; unsalted
    hashes fall to precomputed tables at once. Password hashes must be slow and salted:
    bcrypt, scrypt, argon2, or PBKDF2 with a high iteration count.

    ## Known limits
    Test settings (`settings/test.py`, `test_settings.py`...) that choose a fast hasher
    to speed tests up are skipped, as is test code. A password passed through another
    variable name (`data = password.encode(); md5(data)`) is not followed.
    """

    slug = "weak-password-hash"
    checklist = "Hash passwords with bcrypt/argon2; weak password hashing algorithms"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-916", "CWE-328")
    summary = "Passwords are hashed with a weak algorithm"
    options = {"pbkdf2-min-iterations": 100_000, "bcrypt-min-rounds": 10}
    triggers = ("hashlib", "PASSWORD_HASHERS", "passlib", "pbkdf2", "PBKDF2", "bcrypt", "BCRYPT",
                "generate_password_hash", "Crypto")
    bad = (
        Example(
            "import hashlib as h\n\n"
            "def store(db, email, password, salt):\n"
            "    digest = h.sha256((salt + password).encode()).hexdigest()  # flagged\n"
            "    db.save(email, digest)\n\n"
            "def check(stored, form):\n"
            "    return stored == h.md5(form['password'].encode()).hexdigest()  # flagged\n"
        ),
        Example(
            "PASSWORD_HASHERS = [\n"
            "    'django.contrib.auth.hashers.MD5PasswordHasher',  # flagged\n"
            "    'django.contrib.auth.hashers.PBKDF2PasswordHasher',\n"
            "]\n",
            path="shop/settings.py",
        ),
    )
    good = (
        Example(
            "import hashlib\n"
            "import bcrypt\n\n"
            "def etag(body: bytes) -> str:\n"
            "    return hashlib.md5(body).hexdigest()\n\n"
            "def reset_digest(password_reset_token: str) -> str:\n"
            "    return hashlib.sha256(password_reset_token.encode()).hexdigest()\n\n"
            "def store(password: str) -> bytes:\n"
            "    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12))\n"
        ),
        Example(
            "PASSWORD_HASHERS = ['django.contrib.auth.hashers.MD5PasswordHasher']\n",
            path="shop/settings/test.py",
        ),
    )

    def _skip(self) -> bool:
        return self.ctx.is_test or bool(TEST_SETTINGS.search(self.ctx.path.lower()))

    def visit_Call(self, node: cst.Call) -> None:
        if self._skip():
            return
        name = self.ctx.resolve(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        root_ok = name.startswith(HASH_MODULES)
        if root_ok and last.lower() in FAST_HASHES | {"new"}:
            self._fast_hash(node, name, last)
            return
        if last == "update" and isinstance(node.func, cst.Attribute) and self._is_hash_object(node.func.value):
            self._password_arg(node, arg(node, 0), "a fast hash object's `update()`")
            return
        if name in PBKDF2_CALLS:
            keyword, index = PBKDF2_CALLS[name]
            self._iterations(node, arg(node, keyword=keyword) or arg(node, index), "PBKDF2")
            return
        if name in ("bcrypt.gensalt",):
            self.checked()
            rounds = _int(arg(node, keyword="rounds") or arg(node, 0))
            minimum = int(self.opts["bcrypt-min-rounds"])
            if rounds is not None and rounds < minimum:
                self.report(node, f"bcrypt cost {rounds} is below {minimum}: each guess is too cheap")
            return
        if name.startswith("passlib."):
            self._passlib(node, name, last)
            return
        if last == "generate_password_hash" and name.startswith(("werkzeug", "flask_bcrypt")) or name == "generate_password_hash":
            method = string_value(arg(node, keyword="method") or arg(node, 1))
            self.checked()
            if method is None:
                return
            parts = method.split(":")
            if WERKZEUG_WEAK_METHODS.match(parts[0]):
                self.report(node, f"`generate_password_hash(method='{method}')` is a single fast digest, not a "
                                  "password hash")
            elif parts[0] == "pbkdf2" and len(parts) == 3 and parts[2].isdigit():
                self._iteration_count(node, int(parts[2]), "werkzeug PBKDF2")

    def _fast_hash(self, node: cst.Call, name: str, last: str) -> None:
        data = arg(node, 0) or arg(node, keyword="data") or arg(node, keyword="string")
        algorithm = last
        if last.lower() == "new":
            algorithm = string_value(arg(node, 0)) or "hash"
            data = arg(node, 1) or arg(node, keyword="data")
        if algorithm.lower() == "sha1" and "pwnedpasswords" in self.ctx.text:
            return  # the Have I Been Pwned range API is queried with SHA-1 prefixes
        self._password_arg(node, data, f"`{algorithm}`")

    def _password_arg(self, node: cst.Call, data: cst.BaseExpression | None, what: str) -> None:
        if data is None:
            return
        self.checked()
        part = carries_password(data)
        if part is not None:
            self.report(node, f"password hashed with {what}, a fast digest: use bcrypt, argon2 or scrypt "
                              "(e.g. passlib, Django's hashers, werkzeug's scrypt/pbkdf2)",
                        related=[])

    def _is_hash_object(self, receiver: cst.BaseExpression) -> bool:
        if isinstance(receiver, cst.Call):
            name = self.ctx.resolve(receiver.func) or ""
            return name.startswith(HASH_MODULES) and name.rsplit(".", 1)[-1].lower() in FAST_HASHES
        if not isinstance(receiver, cst.Name):
            return False
        func = self.ctx.enclosing_function()
        scope = func.body if func is not None else self.ctx.module
        for sub in _walk(scope):
            if isinstance(sub, cst.Assign) and isinstance(sub.value, cst.Call) and any(
                isinstance(t.target, cst.Name) and t.target.value == receiver.value for t in sub.targets
            ):
                name = self.ctx.resolve(sub.value.func) or ""
                if name.startswith(HASH_MODULES) and name.rsplit(".", 1)[-1].lower() in FAST_HASHES:
                    return True
        return False

    def _iterations(self, node: cst.Call, value: cst.BaseExpression | None, what: str) -> None:
        self.checked()
        count = _int(value)
        if count is not None:
            self._iteration_count(node, count, what)

    def _iteration_count(self, node: cst.CSTNode, count: int, what: str) -> None:
        minimum = int(self.opts["pbkdf2-min-iterations"])
        if count < minimum:
            self.report(node, f"{what} with {count:,} iterations (minimum {minimum:,}): guesses are cheap")

    def _passlib(self, node: cst.Call, name: str, last: str) -> None:
        if last == "CryptContext":
            self.checked()
            schemes = arg(node, keyword="schemes") or arg(node, 0)
            default = string_value(arg(node, keyword="default"))
            first = None
            if isinstance(schemes, (cst.List, cst.Tuple)) and schemes.elements:
                first = string_value(schemes.elements[0].value)
            elif string_value(schemes):
                first = string_value(schemes).replace(",", " ").split()[0]
            chosen = default or first
            if chosen in WEAK_PASSLIB_SCHEMES:
                self.report(node, f"passlib's default scheme `{chosen}` is not a password hash")
            return
        parts = name.split(".")
        scheme = parts[2] if len(parts) > 3 and parts[1] == "hash" else None
        if scheme in WEAK_PASSLIB_SCHEMES and last in ("hash", "encrypt", "using"):
            self.checked()
            self.report(node, f"passlib scheme `{scheme}` is not a password hash")
            return
        if last == "using":
            self.checked()
            rounds = _int(arg(node, keyword="rounds"))
            if rounds is None:
                return
            if scheme and "bcrypt" in scheme and rounds < int(self.opts["bcrypt-min-rounds"]):
                self.report(node, f"bcrypt cost {rounds} is below {self.opts['bcrypt-min-rounds']}")
            elif scheme and "pbkdf2" in scheme:
                self._iteration_count(node, rounds, f"passlib {scheme}")

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._skip():
            return
        for target in node.targets:
            t = target.target
            field = t.value if isinstance(t, cst.Name) else (t.attr.value if isinstance(t, cst.Attribute) else None)
            if isinstance(t, cst.Subscript) and len(t.slice) == 1 and isinstance(t.slice[0].slice, cst.Index):
                field = string_value(t.slice[0].slice.value)
            if field == "PASSWORD_HASHERS" and isinstance(node.value, (cst.List, cst.Tuple)) and node.value.elements:
                self.checked()
                first = node.value.elements[0].value
                hasher = string_value(first)
                if hasher in WEAK_DJANGO_HASHERS:
                    self.report(first, f"`PASSWORD_HASHERS` starts with `{hasher.rsplit('.', 1)[-1]}`: new "
                                       "passwords are stored with a fast, weak digest")
            elif field == "BCRYPT_LOG_ROUNDS":
                self.checked()
                rounds = _int(node.value)
                if rounds is not None and rounds < int(self.opts["bcrypt-min-rounds"]):
                    self.report(node, f"`BCRYPT_LOG_ROUNDS = {rounds}` is below {self.opts['bcrypt-min-rounds']}")
            elif field == "iterations" and self._in_django_hasher():
                self.checked()
                self._iterations(node, node.value, "password hasher")

    def _in_django_hasher(self) -> bool:
        cls = self.ctx.enclosing_class()
        if cls is None or self.ctx.enclosing_function() is not None:
            return False
        return any("PasswordHasher" in (self.ctx.resolve(b.value) or "") for b in cls.bases)
