"""Baselines: line-free fingerprints, counted entries, stable files, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checker import baseline
from checker.analyzers import make_finding
from checker.model import Confidence, Severity, Span

RULE = "tls-verify-disabled"


def findings_in(path: str, source: str, rule: str = RULE):
    """Findings as an engine would build them: one per line holding ``verify=False``."""
    lines = source.splitlines()
    found = []
    for number, text in enumerate(lines, start=1):
        if "verify=False" in text:
            column = text.index("verify=False") + 1
            found.append(make_finding(
                rule=rule, path=path, span=Span(number, column, number, column + 12),
                message="TLS certificate verification is turned off",
                severity=Severity.HIGH, confidence=Confidence.HIGH, lines=lines, engine="checker",
            ))
    return found


OLD = """\
import requests


def fetch(url):
    return requests.get(url, verify=False)


def push(url, data):
    return requests.post(url, data=data, verify=False)
"""

# The same file after someone added imports and a helper above the old code.
SHIFTED = """\
import logging

import requests

log = logging.getLogger(__name__)


def fetch(url):
    return requests.get(url, verify=False)


def push(url, data):
    return requests.post(url, data=data, verify=False)
"""

# ...and then copied the old violation into a new function.
DUPLICATED = SHIFTED + """

def fetch_again(url):
    return requests.get(url, verify=False)
"""


def test_baseline_survives_inserted_lines():
    old = findings_in("app/client.py", OLD)
    assert [f.line for f in old] == [5, 9]
    document = baseline.build(old)

    shifted = findings_in("app/client.py", SHIFTED)
    assert [f.line for f in shifted] == [9, 13]
    new, matched = baseline.apply(shifted, document)
    assert new == []
    assert matched == 2


def test_duplicated_violation_is_new():
    document = baseline.build(findings_in("app/client.py", OLD))
    current = findings_in("app/client.py", DUPLICATED)
    assert [f.line for f in current] == [9, 13, 17]
    new, matched = baseline.apply(current, document)
    # Lines 9 and 17 hold the same code, so the same fingerprint; the entry's count is 1:
    # the first one in file order is the known one, the copy is new.
    assert [(f.rule, f.path, f.line) for f in new] == [(RULE, "app/client.py", 17)]
    assert matched == 2


def test_counts_per_entry():
    source = "requests.get(u, verify=False)\n" * 3
    found = findings_in("a.py", source)
    document = baseline.build(found)
    assert list(document["findings"].values()) == [{"rule": RULE, "path": "a.py", "count": 3}]
    new, matched = baseline.apply(found, document)
    assert (new, matched) == ([], 3)
    more = findings_in("a.py", source * 2)
    new, matched = baseline.apply(more, document)
    assert [f.line for f in new] == [4, 5, 6]
    assert matched == 3


def test_same_code_in_another_file_is_new():
    document = baseline.build(findings_in("app/client.py", OLD))
    new, matched = baseline.apply(findings_in("app/other.py", OLD), document)
    assert [(f.path, f.line) for f in new] == [("app/other.py", 5), ("app/other.py", 9)]
    assert matched == 0


def test_another_rule_on_the_same_code_is_new():
    document = baseline.build(findings_in("app/client.py", OLD))
    other = findings_in("app/client.py", OLD, rule="missing-request-timeout")
    new, matched = baseline.apply(other, document)
    assert [(f.rule, f.line) for f in new] == [("missing-request-timeout", 5),
                                               ("missing-request-timeout", 9)]
    assert matched == 0


def test_new_findings_keep_their_order():
    document = baseline.build(findings_in("b.py", OLD))
    current = findings_in("c.py", OLD) + findings_in("b.py", OLD) + findings_in("a.py", OLD)
    new, matched = baseline.apply(current, document)
    assert [(f.path, f.line) for f in new] == [("c.py", 5), ("c.py", 9), ("a.py", 5), ("a.py", 9)]
    assert matched == 2


def test_written_file_is_sorted_stable_and_line_free(tmp_path: Path):
    path = tmp_path / "baseline.json"
    found = findings_in("z.py", OLD) + findings_in("a.py", OLD)
    baseline.write(path, found)
    first = path.read_bytes()
    assert first.endswith(b"}\n") and not first.endswith(b"\n\n")

    # Same findings in another order, and after lines moved: byte-identical file.
    baseline.write(path, list(reversed(found)))
    assert path.read_bytes() == first
    baseline.write(path, findings_in("a.py", SHIFTED) + findings_in("z.py", SHIFTED))
    assert path.read_bytes() == first

    document = json.loads(first)
    assert document["version"] == 1
    keys = list(document["findings"])
    assert keys == sorted(keys)
    assert sorted((e["path"], e["rule"], e["count"]) for e in document["findings"].values()) == [
        ("a.py", RULE, 1), ("a.py", RULE, 1), ("z.py", RULE, 1), ("z.py", RULE, 1)]
    # No line numbers anywhere: no entry has a line, and the text holds none of them.
    for entry in document["findings"].values():
        assert set(entry) == {"rule", "path", "count"}
    assert first.decode() == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert baseline.load(path) == document
    # No temporary file left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json"]


def test_empty_baseline(tmp_path: Path):
    path = tmp_path / "b.json"
    baseline.write(path, [])
    assert path.read_text() == '{\n  "findings": {},\n  "version": 1\n}\n'
    found = findings_in("a.py", OLD)
    assert baseline.apply(found, baseline.load(path)) == (found, 0)


def test_finding_without_fingerprint_gets_a_line_free_key():
    [one] = findings_in("a.py", "requests.get(u, verify=False)\n")
    from dataclasses import replace
    bare = replace(one, fingerprint="", snippet="", message="no health check (app at line 3)")
    moved = replace(bare, span=Span(30), message="no health check (app at line 30)")
    document = baseline.build([bare])
    assert baseline.apply([moved], document) == ([], 1)


@pytest.mark.parametrize("content, expected", [
    (None, "does not exist (create it with `checker baseline`)"),
    ("{not json", "is not valid JSON (line 1, column 2"),
    ("[]", "the top level must be an object"),
    ('{"version": 7, "findings": {}}', "unsupported version 7 (expected 1)"),
    ('{"version": 1}', "'findings' must be an object keyed by fingerprint"),
    ('{"version": 1, "findings": {"abc": {"rule": "x", "path": "a.py", "count": 0}}}',
     "entry 'abc' needs a positive integer 'count'"),
    ('{"version": 1, "findings": {"abc": {"count": 1, "path": "a.py"}}}',
     "entry 'abc' needs a string 'rule'"),
    ('{"version": 1, "findings": {"abc": 3}}', "entry 'abc' must be an object"),
])
def test_load_errors(tmp_path: Path, content, expected):
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(baseline.BaselineError) as error:
        baseline.load(path)
    assert str(error.value).startswith(f"baseline file {path} ")
    assert expected in str(error.value)


def test_load_undecodable(tmp_path: Path):
    path = tmp_path / "baseline.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(baseline.BaselineError, match="cannot read baseline file"):
        baseline.load(path)


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path):
    from checker.fsutil import atomic_write

    path = tmp_path / "sub" / "out.txt"
    atomic_write(path, "first\n")
    path.chmod(0o640)
    atomic_write(path, "second\r\n")
    assert path.read_bytes() == b"second\r\n"
    assert path.stat().st_mode & 0o777 == 0o640
    with pytest.raises(UnicodeEncodeError):
        atomic_write(path, "caf\u00e9", encoding="ascii")
    assert path.read_bytes() == b"second\r\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]


# ----------------------------------------------------------------------------- end to end

APP_V1 = """\
import requests


def fetch(url):
    return requests.get(url, verify=False, timeout=5)
"""

# Lines inserted above, and the function moved down: the baseline still matches.
APP_V2 = """\
\"\"\"HTTP helpers.\"\"\"
import logging

import requests

log = logging.getLogger(__name__)


def fetch(url):
    return requests.get(url, verify=False, timeout=5)
"""

# The same violation copied into a second branch of the same function: one more is new.
APP_V3 = APP_V2.replace(
    "def fetch(url):\n",
    "def fetch(url):\n    if url.startswith('https://internal'):\n"
    "        return requests.get(url, verify=False, timeout=5)\n",
)


def _cli(root: Path, *args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "checker", *args], cwd=root,
                          capture_output=True, text=True)


def _findings(done) -> list[tuple[str, str, int]]:
    report = json.loads(done.stdout)
    return [(f["rule"], f["path"], f["line"]) for f in report["findings"]]


def test_baseline_command_and_scan_end_to_end(tmp_path: Path):
    (tmp_path / ".git").mkdir()  # the project root marker
    (tmp_path / "app.py").write_text(APP_V1)
    done = _cli(tmp_path, "baseline", "--no-cache")
    assert done.returncode == 0, done.stderr
    written = (tmp_path / ".checker-baseline.json").read_text()
    document = json.loads(written)
    assert [(e["rule"], e["path"], e["count"]) for e in document["findings"].values()] == [
        ("tls-verify-disabled", "app.py", 1)]

    (tmp_path / "app.py").write_text(APP_V2)
    done = _cli(tmp_path, "scan", "--no-cache", "--format", "json", "--baseline",
                ".checker-baseline.json", "--select", "tls-verify-disabled")
    assert done.returncode == 0, done.stderr
    assert _findings(done) == []

    # Regenerating on moved code leaves the file byte for byte as it was.
    assert _cli(tmp_path, "baseline", "--no-cache").returncode == 0
    assert (tmp_path / ".checker-baseline.json").read_text() == written

    (tmp_path / "app.py").write_text(APP_V3)
    done = _cli(tmp_path, "scan", "--no-cache", "--format", "json", "--baseline",
                ".checker-baseline.json", "--select", "tls-verify-disabled")
    assert done.returncode == 1, done.stderr
    # Line 12 is the copy in the new branch; line 13 is the recorded one.
    assert _findings(done) == [("tls-verify-disabled", "app.py", 12)]
