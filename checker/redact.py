"""Redaction: no secret value leaves the checker in clear.

Rules pass the values they know to be secret; on top of that every snippet goes through a
safety net that masks well-known credential formats, whatever rule produced it.
"""

from __future__ import annotations

import re

# Formats that are credentials wherever they appear. Each keeps a short, non-secret prefix.
KNOWN_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("AWS access key", re.compile(r"\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16})\b")),
    ("GitHub token", re.compile(r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b")),
    ("GitHub token", re.compile(r"\b(github_pat_[A-Za-z0-9_]{60,255})\b")),
    ("GitLab token", re.compile(r"\b(glpat-[A-Za-z0-9_\-]{20,})\b")),
    ("Slack token", re.compile(r"\b(xox[abposr]-[A-Za-z0-9\-]{10,})\b")),
    ("Stripe key", re.compile(r"\b((?:sk|rk)_live_[A-Za-z0-9]{16,})\b")),
    ("Google API key", re.compile(r"\b(AIza[0-9A-Za-z_\-]{35})\b")),
    ("OpenAI key", re.compile(r"\b(sk-(?:proj-)?[A-Za-z0-9_\-]{32,})\b")),
    ("SendGrid key", re.compile(r"\b(SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,})\b")),
    ("Twilio key", re.compile(r"\b(SK[0-9a-f]{32})\b")),
    ("JSON Web Token", re.compile(r"\b(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})")),
)
PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)",
    re.DOTALL,
)
# scheme://user:password@host — keep the user, mask the password.
URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@'\"]*:)([^\s@/'\"]+)(@)")

MASK = "*" * 8


def mask(value: str) -> str:
    """The redacted form of a secret: a recognisable prefix for long values, never the rest."""
    value = str(value)
    if len(value) >= 16:
        return value[:4] + MASK
    return MASK


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """``text`` with every given secret and every known credential format masked."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, mask(secret))
    text = PEM_PRIVATE_KEY.sub("-----BEGIN PRIVATE KEY-----" + MASK, text)
    text = URL_PASSWORD.sub(lambda m: m.group(1) + (MASK if not _placeholder(m.group(2)) else m.group(2)) + m.group(3), text)
    for _, pattern in KNOWN_FORMATS:
        text = pattern.sub(lambda m: mask(m.group(1)), text)
    return text


def _placeholder(value: str) -> bool:
    return value.startswith(("${", "{", "<", "%(", "$")) or value.strip("*") == ""
