from __future__ import annotations

import libcst as cst

from checker.model import Confidence, Example, Section, Severity
from checker.rule import FileRule
from rules._shared.web import arg

# Roots of libraries whose ``verify=``/``ssl=`` keyword controls certificate checking.
HTTP_LIBRARIES = ("requests", "httpx", "urllib3", "aiohttp", "boto3", "botocore", "elasticsearch",
                  "opensearchpy", "hvac", "zeep", "suds", "pysolr", "docker", "kubernetes")
# Final names of calls that send requests or build clients, whatever object they are on.
CLIENT_CALLS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request", "send",
                          "stream", "Client", "AsyncClient", "Session", "client", "resource", "urlopen",
                          "ClientSession", "TCPConnector", "ws_connect"})
NOT_TLS = ("jwt", "decode", "signature", "token")
UNVERIFIED_CONTEXT = frozenset({"ssl._create_unverified_context", "ssl._create_stdlib_context"})
CERT_NONE = frozenset({"ssl.CERT_NONE"})
DISABLE_WARNINGS = frozenset({
    "urllib3.disable_warnings", "requests.packages.urllib3.disable_warnings",
    "requests.urllib3.disable_warnings",
})


def _false(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


class TlsVerifyDisabled(FileRule):
    """
    ## What it does
    Finds TLS connections made without certificate verification: `verify=False` on
    requests/httpx/boto3 and similar clients, `ssl=False` on aiohttp, unverified SSL
    contexts (`ssl._create_unverified_context()`, `check_hostname = False`,
    `verify_mode = CERT_NONE`, `cert_reqs="CERT_NONE"`), a requests `Session` with
    `verify = False`, and the warnings about it being silenced.

    ## Why is this bad?
    Without verification, anyone on the network path can present their own certificate
    and read or alter the traffic: HTTPS then gives no more protection than HTTP.

    ## Known limits
    A verification flag read from a setting or the environment is not followed (that is
    how configurable verification is usually written); a module-level constant bound
    only to `False` (`VERIFY_SSL = False`) is. Test code is not checked.
    """

    slug = "tls-verify-disabled"
    checklist = "Use HTTPS only in production"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    languages = ("python", "javascript", "typescript", "go")
    cwe = ("CWE-295",)
    summary = "TLS certificate verification is disabled"
    triggers = ("verify", "ssl", "CERT_NONE", "check_hostname", "disable_warnings")
    bad = (
        Example(
            "import requests as rq\n\n"
            "def fetch(url):\n"
            "    return rq.get(url, timeout=5, verify=False)  # flagged\n"
        ),
        Example(
            "import ssl\n\n"
            "context = ssl.create_default_context()\n"
            "context.check_hostname = False  # flagged\n"
            "context.verify_mode = ssl.CERT_NONE  # flagged\n"
        ),
    )
    good = (
        Example(
            "import requests\n\n"
            "def fetch(url, ca_bundle):\n"
            "    return requests.get(url, timeout=5, verify=ca_bundle)\n"
        ),
        Example(
            "import jwt\n\n"
            "def claims(token):\n"
            "    return jwt.decode(token, options={'verify_signature': True}, algorithms=['HS256'], key='k')\n"
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.is_test:
            return
        name = self.ctx.resolve(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if name in UNVERIFIED_CONTEXT:
            self.report(node, "unverified SSL context: certificates and host names are not checked")
            return
        if name in DISABLE_WARNINGS:
            self.report(node, "certificate warnings are silenced, which hides unverified TLS connections",
                        severity=Severity.MEDIUM, confidence=Confidence.MEDIUM)
            return
        if any(word in name.lower() for word in NOT_TLS):
            return
        root = name.split(".", 1)[0]
        http_call = root in HTTP_LIBRARIES or last in CLIENT_CALLS
        if not http_call:
            return
        self.checked()
        for keyword in ("verify", "verify_ssl", "ssl"):
            value = arg(node, keyword=keyword)
            if value is not None and (_false(value) or self._false_constant(value)):
                self.report(value, f"`{keyword}=False` turns off TLS certificate verification")
                return
        cert_reqs = arg(node, keyword="cert_reqs")
        if cert_reqs is not None and (
            self.ctx.resolve(cert_reqs) in CERT_NONE
            or isinstance(cert_reqs, cst.SimpleString) and "CERT_NONE" in cert_reqs.value
        ):
            self.report(cert_reqs, "`cert_reqs=CERT_NONE` turns off TLS certificate verification")

    def _false_constant(self, node: cst.BaseExpression) -> bool:
        """A module-level constant bound to ``False`` only (``VERIFY_SSL = False``)."""
        if not isinstance(node, cst.Name):
            return False
        values = []
        for stmt in self.ctx.module.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and any(
                        isinstance(t.target, cst.Name) and t.target.value == node.value for t in small.targets
                    ):
                        values.append(small.value)
        return bool(values) and all(_false(v) for v in values)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self.ctx.is_test:
            return
        for target in node.targets:
            attr = target.target
            if not isinstance(attr, cst.Attribute):
                continue
            field, value = attr.attr.value, node.value
            if field == "check_hostname" and _false(value):
                self.report(node, "`check_hostname = False` accepts certificates issued for any host")
            elif field == "verify_mode" and self.ctx.resolve(value) in CERT_NONE:
                self.report(node, "`verify_mode = CERT_NONE` accepts any certificate")
            elif field == "verify" and _false(value):
                self.report(node, "`session.verify = False` turns off TLS verification for every request")
            elif field == "_create_default_https_context" and self.ctx.resolve(value) in UNVERIFIED_CONTEXT:
                self.report(node, "the default HTTPS context is replaced by an unverified one")
