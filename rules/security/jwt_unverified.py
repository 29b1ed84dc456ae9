from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.web import arg, string_value

# Resolved names of decode functions: PyJWT (``jwt``), python-jose (``jose.jwt``).
DECODE = frozenset({"jwt.decode", "jwt.api_jwt.decode", "jwt.PyJWT().decode", "jwt.api_jwt.PyJWT().decode",
                    "jose.jwt.decode", "jwt.api_jws.decode"})
ENCODE = frozenset({"jwt.encode", "jwt.api_jwt.encode", "jwt.PyJWT().encode", "jose.jwt.encode"})
UNVERIFIED = frozenset({"jose.jwt.get_unverified_claims", "jwt.get_unverified_claims"})
# options={...} keys that switch a check off, and what the check protects.
CHECKS = {"verify_signature": "the signature", "verify_exp": "the expiry"}


def _false(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


def _walk(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _walk(child)


class JwtUnverified(FileRule):
    """
    ## What it does
    Finds JSON Web Tokens accepted without checking them (PyJWT and python-jose):
    - `jwt.decode(..., options={"verify_signature": False})` or `verify=False` (the
      PyJWT 1.x form), and `options={"verify_exp": False}`;
    - `algorithms=` missing (PyJWT 1.x then accepts whatever algorithm the token names)
      or listing `"none"`;
    - `jose.jwt.get_unverified_claims(token)` whose result is used;
    - `jwt.encode` of a payload dict without an `exp` claim: a token that never expires
      (unsigned assertions, `algorithm="none"`, are not tokens anyone should trust and
      are left alone).

    A function that reads the claims unverified only to pick the key (issuer, `kid`)
    and then decodes again with verification is not reported.

    ## Why is this bad?
    Claims of an unverified token are whatever the client wrote: anyone can mint a
    token saying `"sub": "admin"`. Without `algorithms`, an attacker picks the
    algorithm (`none`, or HS256 keyed with the server's public RSA key). A token
    without expiry stays valid forever once stolen.

    ## Known limits
    Options built in another function are not followed. A payload whose `exp` is added
    by a helper is reported (the finding has medium confidence). Audience and issuer
    checks are not required (many deployments have no audience). Test code is skipped.
    """

    slug = "jwt-unverified"
    checklist = "Verify JWT signature, expiration, issuer and required claims"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript")
    cwe = ("CWE-347", "CWE-613")
    summary = "A JWT is accepted without verifying it"
    triggers = ("jwt", "jose")
    bad = (
        Example(
            "import jwt as pyjwt\n\n"
            "def current_user(token, users):\n"
            "    claims = pyjwt.decode(token, options={'verify_signature': False})  # flagged\n"
            "    return users.get(claims['sub'])\n\n"
            "def issue(user, key):\n"
            "    return pyjwt.encode({'sub': user.id, 'role': user.role}, key, algorithm='HS256')  # flagged\n"
        ),
    )
    good = (
        Example(
            "from datetime import datetime, timedelta, timezone\n"
            "import jwt\n\n"
            "def current_user(token, key, users):\n"
            "    claims = jwt.decode(token, key, algorithms=['HS256'], options={'require': ['exp', 'sub']})\n"
            "    return users.get(claims['sub'])\n\n"
            "def issue(user, key):\n"
            "    payload = {'sub': user.id}\n"
            "    payload['exp'] = datetime.now(timezone.utc) + timedelta(minutes=15)\n"
            "    return jwt.encode(payload, key, algorithm='HS256')\n\n"
            "def tenant_key(token, keys):\n"
            "    issuer = jwt.decode(token, options={'verify_signature': False})['iss']\n"
            "    return jwt.decode(token, keys[issuer], algorithms=['RS256'])\n"
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test:
            return
        name = self.ctx.resolve(node.func) or ""
        if name in DECODE:
            self._decode(node, name)
        elif name in UNVERIFIED:
            self.checked()
            if not isinstance(self.ctx.parent(), cst.Expr) and not self._verified_later(node):
                self.report(node, "`get_unverified_claims` returns claims nobody checked: decode the token with "
                                  "its key and algorithms before trusting them", confidence=Confidence.MEDIUM)
        elif name in ENCODE:
            self._encode(node)

    def _options(self, node: cst.Call) -> dict[str, cst.BaseExpression]:
        value = arg(node, keyword="options")
        if isinstance(value, cst.Name):
            value = self._local_value(value.value)
        found: dict[str, cst.BaseExpression] = {}
        if isinstance(value, cst.Dict):
            for element in value.elements:
                if isinstance(element, cst.DictElement):
                    key = string_value(element.key)
                    if key:
                        found[key] = element.value
        elif isinstance(value, cst.Call) and (self.ctx.resolve(value.func) or "") == "dict":
            for a in value.args:
                if a.keyword is not None:
                    found[a.keyword.value] = a.value
        return found

    def _local_value(self, name: str) -> cst.BaseExpression | None:
        func = self.ctx.enclosing_function()
        scope = func if func is not None else self.ctx.module
        value = None
        for sub in _walk(scope):
            if isinstance(sub, cst.Assign) and any(isinstance(t.target, cst.Name) and t.target.value == name
                                                   for t in sub.targets):
                value = sub.value
        return value

    def _decode(self, node: cst.Call, name: str) -> None:
        self.checked()
        options = self._options(node)
        off = [what for key, what in CHECKS.items() if _false(options.get(key))]
        if _false(arg(node, keyword="verify")):
            off.insert(0, "the signature")
        signature_off = "the signature" in off
        if signature_off and self._verified_later(node):
            off.remove("the signature")
            signature_off = False
        if off:
            accepted = "a forged token" if signature_off else "an expired token"
            self.report(node, f"JWT decoded without checking {' and '.join(off)}: {accepted} is accepted",
                        severity=Severity.HIGH if signature_off else Severity.MEDIUM)
            return
        if signature_off or _false(options.get("verify_signature")):
            return  # a pre-read before a verified decode
        algorithms = arg(node, keyword="algorithms")
        if algorithms is None:
            algorithms = arg(node, 2) if name.startswith("jwt") else None
        if algorithms is None:
            if arg(node, 1) is not None or arg(node, keyword="key") is not None:
                self.report(node, "JWT decoded without `algorithms=`: PyJWT 1.x lets the token choose the "
                                  "algorithm (`none`, or HS256 keyed with a public key)",
                            confidence=Confidence.MEDIUM)
            return
        listed = algorithms.elements if isinstance(algorithms, (cst.List, cst.Tuple, cst.Set)) else [algorithms]
        for element in listed:
            value = element.value if hasattr(element, "value") and not isinstance(element, cst.SimpleString) else element
            text = string_value(value)
            if text is not None and text.lower() == "none":
                self.report(node, "`algorithms` accepts `none`: unsigned tokens pass")
                return

    def _verified_later(self, node: cst.Call) -> bool:
        """Whether the same function also decodes with the signature checked (the
        unverified read only picks the key or issuer)."""
        func = self.ctx.enclosing_function()
        if func is None:
            return False
        for sub in _walk(func):
            if sub is node or not isinstance(sub, cst.Call):
                continue
            if (self.ctx.resolve(sub.func) or "") in DECODE:
                options = self._options(sub)
                if not _false(options.get("verify_signature")) and not _false(arg(sub, keyword="verify")):
                    return True
        return False

    def _encode(self, node: cst.Call) -> None:
        algorithm = arg(node, keyword="algorithm")
        if algorithm is not None and (string_value(algorithm) or "").lower() == "none" or \
                isinstance(algorithm, cst.Name) and algorithm.value == "None":
            return  # an unsigned assertion (e.g. PayPal-Auth-Assertion) grants nothing by itself
        payload = arg(node, 0) or arg(node, keyword="payload") or arg(node, keyword="claims")
        name = None
        if isinstance(payload, cst.Name):
            name = payload.value
            payload = self._local_value(name)
        if not isinstance(payload, cst.Dict):
            return
        self.checked()
        keys = set()
        for element in payload.elements:
            if not isinstance(element, cst.DictElement):
                return  # **spread: claims come from elsewhere
            keys.add(string_value(element.key))
        if "exp" in keys:
            return
        if name is not None and self._exp_added(name):
            return
        self.report(node, "JWT signed without an `exp` claim: the token never expires",
                    severity=Severity.MEDIUM, confidence=Confidence.MEDIUM)

    def _exp_added(self, name: str) -> bool:
        func = self.ctx.enclosing_function()
        scope = func if func is not None else self.ctx.module
        for sub in _walk(scope):
            if isinstance(sub, cst.Subscript) and isinstance(sub.value, cst.Name) and sub.value.value == name:
                index = sub.slice[0].slice if sub.slice else None
                if isinstance(index, cst.Index) and string_value(index.value) == "exp":
                    return True
            if isinstance(sub, cst.Call) and isinstance(sub.func, cst.Attribute) and \
                    isinstance(sub.func.value, cst.Name) and sub.func.value.value == name and \
                    sub.func.attr.value in ("update", "setdefault"):
                if any(a.keyword is not None and a.keyword.value == "exp" for a in sub.args):
                    return True
                if any(string_value(a.value) == "exp" for a in sub.args):
                    return True
                for a in sub.args:
                    if isinstance(a.value, cst.Dict) and any(
                        isinstance(e, cst.DictElement) and string_value(e.key) == "exp" for e in a.value.elements
                    ):
                        return True
        return False
