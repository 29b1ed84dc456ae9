from __future__ import annotations

import re
from pathlib import PurePosixPath

from checker.model import Confidence, Example, Section, Severity
from checker.redact import mask
from checker.rule import ProjectContext, ProjectRule
from rules._shared.secrets import is_placeholder, known_secrets, secret_kind

SSH_KEY_NAMES = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity"})
KEY_SUFFIXES = frozenset({".pem", ".key", ".ppk", ".asc", ".gpg", ".priv", ".private"})
KEYSTORE_SUFFIXES = frozenset({".p12", ".pfx", ".jks", ".keystore", ".bks", ".p8"})
EXAMPLE_WORDS = re.compile(r"example|sample|template|dist|default|skel|tmpl|\.tpl", re.IGNORECASE)
PRIVATE_KEY_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*(.*?)\s*$")
NPMRC_TOKEN = re.compile(r"(?:_authToken|_auth|_password|//[^=]*:_password)\s*=\s*(.+?)\s*$")
INI_PASSWORD = re.compile(r"^\s*(password|aws_secret_access_key|secret_key|access_token|token)\s*[=:]\s*(.+?)\s*$",
                          re.IGNORECASE)
NETRC_PASSWORD = re.compile(r"\bpassword\s+(\S+)")
DOCKER_AUTH = re.compile(r"\"auth\"\s*:\s*\"([A-Za-z0-9+/=]{8,})\"")
JSON_PRIVATE_KEY = re.compile(r"\"private_key\"\s*:\s*\"(-----BEGIN[^\"]+)\"")
JSON_CLIENT_SECRET = re.compile(r"\"client_secret\"\s*:\s*\"([^\"]{8,})\"")
MAX_JSON = 200_000


def _value(raw: str) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        return raw[1:end] if end > 0 else raw[1:]
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


class CommittedSecretFile(ProjectRule):
    """
    ## What it does
    Finds files holding secrets that version control tracks:
    - `.env`-style files (`.env`, `.env.production`, `prod.env`) with real values for
      secret-named keys or credentials in a known format; `.env.example`,
      `.env.sample`, `.env.template` and the like holding placeholders are fine;
    - private keys: `id_rsa`-style SSH keys, `*.pem`, `*.key`, `*.ppk`, `*.asc` files
      containing a private key (public keys and certificates are not secrets), and key
      stores (`*.p12`, `*.pfx`, `*.jks`, `*.keystore`);
    - credential files: Google service-account and OAuth client JSON (`private_key`,
      `client_secret`), `.npmrc` and `.pypirc` with tokens or passwords, `.netrc`,
      `.git-credentials`, `.htpasswd`, Docker `config.json` with `auth`, AWS
      `credentials`.

    Only tracked files count (outside a git work tree every scanned file does), and
    test paths (`test-paths`) are skipped.

    ## Why is this bad?
    A committed secret is in every clone, fork and backup of the repository and in its
    history even after the file is deleted. Remove the file from version control, add
    it to `.gitignore`, and rotate the credential.

    ## Known limits
    Binary key stores are reported by name (their content is not opened). Encrypted
    private keys are reported with medium severity. Terraform state and other
    tool-specific files are not examined.
    """

    slug = "committed-secret-file"
    checklist = "Never commit secrets to version control"
    section = Section.SECURITY
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    languages = ("any",)
    cwe = ("CWE-540", "CWE-312")
    summary = "A file with secrets is committed"
    bad = (
        Example("SECRET_KEY=9f3kLz72mQpR4tVx8wYc  # flagged\nDEBUG=0\n", path=".env.production"),
        Example("-----BEGIN OPENSSH PRIVATE KEY-----  # flagged\n"
                "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
                "QyNTUxOQAAACBvZ3J5c2VjcmV0a2V5bWF0ZXJpYWxmb3J0ZXN0aW5nAAAAJGZha2VrZXk=\n"
                "-----END OPENSSH PRIVATE KEY-----\n", path="deploy/id_ed25519"),
    )
    good = (
        Example("SECRET_KEY=change-me\nDATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\n", path=".env.example"),
        Example("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGVGb3JUZXN0aW5n\n"
                "-----END CERTIFICATE-----\n", path="deploy/ca.pem"),
    )

    def check(self, project: ProjectContext) -> None:
        for file in project.files:
            path = file.path
            if project.is_test(path):
                continue
            checker = self._checker_for(path, file.language)
            if checker is None or not project.is_tracked(path):
                continue
            self.checked()
            checker(project, path)

    def _checker_for(self, path: str, language: str):
        pure = PurePosixPath(path)
        name = pure.name
        lower = name.lower()
        suffix = pure.suffix.lower()
        if language == "dotenv" or lower == ".env" or lower.startswith(".env."):
            return None if EXAMPLE_WORDS.search(lower) else self._dotenv
        if lower in SSH_KEY_NAMES or suffix in KEY_SUFFIXES:
            return self._private_key
        if suffix in KEYSTORE_SUFFIXES:
            return self._keystore
        if lower == ".npmrc":
            return self._npmrc
        if lower in (".pypirc", ".s3cfg") or (lower == "credentials" and pure.parent.name == ".aws"):
            return self._ini_password
        if lower in (".netrc", "_netrc"):
            return self._netrc
        if lower == ".git-credentials":
            return self._git_credentials
        if lower == ".htpasswd":
            return self._htpasswd
        if lower in ("config.json", ".dockercfg") and (pure.parent.name == ".docker" or lower == ".dockercfg"):
            return self._docker
        if suffix == ".json" and not EXAMPLE_WORDS.search(lower):
            return self._json_credentials
        return None

    # -- per kind ---------------------------------------------------------------------------
    def _dotenv(self, project: ProjectContext, path: str) -> None:
        text = project.read_text(path)
        if not text:
            return
        first, secrets = 0, []
        for number, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            hits = known_secrets(line)
            found = [h.secret for h in hits]
            m = DOTENV_LINE.match(line)
            if not found and m:
                key, value = m.group(1), _value(m.group(2))
                if secret_kind(key) is not None and not is_placeholder(value, key):
                    found = [value]
            if found:
                first = first or number
                secrets.extend(found)
        if secrets:
            self.report_at(path, first, f"`{PurePosixPath(path).name}` with {len(secrets)} secret value(s) is "
                                        "committed: remove it from version control, add it to .gitignore, rotate "
                                        "the values, and commit a `.env.example` with placeholders instead",
                           secrets=secrets)

    def _private_key(self, project: ProjectContext, path: str) -> None:
        text = project.read_text(path)
        if text is None:
            return
        if "PuTTY-User-Key-File" in text and "Private-Lines" in text:
            self.report_at(path, 1, "a PuTTY private key is committed: remove it and replace the key",
                           secrets=[text])
            return
        match = PRIVATE_KEY_BEGIN.search(text)
        if match is None:
            return
        line = text.count("\n", 0, match.start()) + 1
        block = text[match.start():]
        body_lines = [ln.strip() for ln in block.splitlines()[1:] if ln.strip() and "-----" not in ln]
        if not body_lines:
            return
        encrypted = "ENCRYPTED" in match.group(1) or "Proc-Type: 4,ENCRYPTED" in block[:200]
        kind = match.group(1).replace("ENCRYPTED", "").strip()
        label = f"private key ({kind})" if kind else "private key"
        self.report_at(path, line, f"{'an encrypted ' if encrypted else 'a '}{label} is committed: remove it from "
                                   "version control and replace the key",
                       severity=Severity.MEDIUM if encrypted else None, secrets=body_lines)

    def _keystore(self, project: ProjectContext, path: str) -> None:
        self.report_at(path, 1, f"key store `{PurePosixPath(path).name}` is committed: it normally holds private "
                                "keys; keep it out of version control", confidence=Confidence.MEDIUM)

    def _line_hits(self, project: ProjectContext, path: str, pattern: re.Pattern, group: int, what: str) -> None:
        text = project.read_text(path)
        if not text:
            return
        for number, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith(("#", ";")):
                continue
            m = pattern.search(line)
            if m and not is_placeholder(_value(m.group(group))):
                value = _value(m.group(group))
                self.report_at(path, number, f"{what} ({mask(value)}) is committed: remove the file from version "
                                             "control and rotate the credential", secrets=[value])
                return

    def _npmrc(self, project: ProjectContext, path: str) -> None:
        self._line_hits(project, path, NPMRC_TOKEN, 1, "an npm registry token in `.npmrc`")

    def _ini_password(self, project: ProjectContext, path: str) -> None:
        self._line_hits(project, path, INI_PASSWORD, 2, f"a credential in `{PurePosixPath(path).name}`")

    def _netrc(self, project: ProjectContext, path: str) -> None:
        self._line_hits(project, path, NETRC_PASSWORD, 1, "a password in `.netrc`")

    def _git_credentials(self, project: ProjectContext, path: str) -> None:
        text = project.read_text(path) or ""
        for number, line in enumerate(text.splitlines(), 1):
            hits = known_secrets(line)
            if hits:
                self.report_at(path, number, "stored git credentials are committed", secrets=[h.secret for h in hits])
                return

    def _htpasswd(self, project: ProjectContext, path: str) -> None:
        text = project.read_text(path) or ""
        for number, line in enumerate(text.splitlines(), 1):
            if ":" in line and not line.startswith("#"):
                value = line.split(":", 1)[1].strip()
                if value:
                    self.report_at(path, number, "password hashes in `.htpasswd` are committed", secrets=[value])
                    return

    def _docker(self, project: ProjectContext, path: str) -> None:
        self._line_hits(project, path, DOCKER_AUTH, 1, "a registry login in the Docker config")

    def _json_credentials(self, project: ProjectContext, path: str) -> None:
        size = next((f.size for f in project.files if f.path == path), 0)
        if size > MAX_JSON:
            return
        text = project.read_text(path)
        if not text or ("private_key" not in text and "client_secret" not in text):
            return
        for pattern, what in ((JSON_PRIVATE_KEY, "a service-account private key"),
                              (JSON_CLIENT_SECRET, "an OAuth client secret")):
            m = pattern.search(text)
            if m is None:
                continue
            value = m.group(1)
            if what.startswith("a service") and not known_secrets(value.replace("\\n", "\n")):
                continue
            if what.startswith("an OAuth") and is_placeholder(value):
                continue
            line = text.count("\n", 0, m.start()) + 1
            self.report_at(path, line, f"{what} is committed in `{PurePosixPath(path).name}`: remove the file and "
                                       "rotate the credential",
                           secrets=[value, *[s for s in value.split("\\n") if len(s) >= 8]])
            return
