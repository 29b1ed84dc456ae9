"""Diff mode on a scripted git history."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from checker import diff
from checker.diff import DiffError
from checker.model import (Confidence, Finding, Location, RuleMeta, Section, Severity, Span)

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


CLIENT_V1 = """\
import requests


def fetch(url):
    return requests.get(url, timeout=5)


def push(url, data):
    return requests.post(url, data=data, timeout=5)
"""

CLIENT_V2 = """\
import requests


def fetch(url):
    return requests.get(url, timeout=5)


def fetch_insecure(url):
    return requests.get(url, verify=False)


def push(url, data):
    return requests.post(url, data=data, verify=False)
"""

ROUTES_V1 = """\
from flask import Flask

app = Flask(__name__)


@app.get("/items")
def items():
    return []


@app.get("/health")
def health():
    return "ok"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: two files committed; feature branch: client.py changed, routes untouched."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, "app/client.py", CLIENT_V1)
    write(root, "app/routes.py", ROUTES_V1)
    write(root, "app/models.py", "class Item:\n    pass\n")
    write(root, ".gitignore", "*.log\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    git(root, "checkout", "-q", "-b", "feature")
    write(root, "app/client.py", CLIENT_V2)
    git(root, "commit", "-q", "-am", "insecure client")
    return root


def test_merge_base_is_the_fork_point(repo: Path):
    fork = git(repo, "rev-parse", "main").strip()
    # main moves on after the fork: the merge base stays the fork point.
    git(repo, "checkout", "-q", "main")
    write(repo, "README.md", "docs\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "docs on main")
    git(repo, "checkout", "-q", "feature")
    assert diff.merge_base(repo, "main") == fork
    assert git(repo, "rev-parse", "main").strip() != fork


def test_changed_lines_committed(repo: Path):
    assert diff.changed_lines(repo, "main") == {"app/client.py": {8, 9, 10, 11, 13}}


def test_changed_lines_include_staged_unstaged_and_untracked(repo: Path):
    # unstaged edit of a committed file: one line replaced, one appended
    write(repo, "app/models.py", "class Item:\n    id = 1\n    name = 'x'\n")
    # staged new file
    write(repo, "app/staged.py", "a = 1\nb = 2\n")
    git(repo, "add", "app/staged.py")
    # untracked file: all its lines; ignored file: nothing
    write(repo, "app/new.py", "x = 1\ny = 2\nz = 3")
    write(repo, "debug.log", "noise\n")
    # a deletion only: the file is touched, no line is new
    write(repo, "app/routes.py", ROUTES_V1.replace('\n\n@app.get("/health")\ndef health():\n'
                                                   '    return "ok"\n', ""))
    assert diff.changed_lines(repo, "main") == {
        "app/client.py": {8, 9, 10, 11, 13},
        "app/models.py": {2, 3},
        "app/new.py": {1, 2, 3},
        "app/routes.py": set(),
        "app/staged.py": {1, 2},
    }


def test_changed_lines_from_a_subfolder_are_relative_to_it(repo: Path):
    write(repo, "app/new.py", "x = 1\n")
    write(repo, "top.py", "y = 1\n")
    assert diff.changed_lines(repo / "app", "main") == {
        "client.py": {8, 9, 10, 11, 13}, "new.py": {1}}


def test_renamed_and_odd_names(repo: Path):
    git(repo, "mv", "app/models.py", "app/domain models.py")
    write(repo, "app/caf\u00e9 \"q\".py", "s = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "rename")
    assert diff.changed_lines(repo, "main") == {
        "app/client.py": {8, 9, 10, 11, 13},
        "app/caf\u00e9 \"q\".py": {1},
        "app/domain models.py": set(),
    }


def meta(slug: str, scope: str) -> RuleMeta:
    return RuleMeta(slug=slug, checklist=slug, section=Section.SECURITY, severity=Severity.HIGH,
                    confidence=Confidence.HIGH, scope=scope, languages=("python",), summary="")


METAS = {
    "tls-verify-disabled": meta("tls-verify-disabled", "file"),
    "n-plus-one-query": meta("n-plus-one-query", "file"),
    "missing-health-check": meta("missing-health-check", "project"),
    "missing-rate-limiting": meta("missing-rate-limiting", "project"),
}


def finding(rule: str, path: str, line: int, end_line: int = 0,
            related: tuple[Location, ...] = ()) -> Finding:
    return Finding(rule=rule, path=path, span=Span(line, 1, end_line or line, 10), message="m",
                   severity=Severity.HIGH, confidence=Confidence.HIGH, related=related)


def test_filter_findings_on_the_scripted_history(repo: Path):
    # routes.py loses its health check in the working tree.
    write(repo, "app/routes.py", ROUTES_V1.replace('@app.get("/health")', '@app.get("/status")'))
    changed = diff.changed_lines(repo, "main")
    assert changed["app/routes.py"] == {11}
    findings = [
        finding("tls-verify-disabled", "app/client.py", 9),        # added line: kept
        finding("tls-verify-disabled", "app/client.py", 13),       # changed line: kept
        finding("tls-verify-disabled", "app/client.py", 5),        # old line: dropped
        finding("tls-verify-disabled", "app/client.py", 6, 8),     # span reaches line 8: kept
        finding("tls-verify-disabled", "app/models.py", 1),        # untouched file: dropped
        finding("n-plus-one-query", "app/models.py", 1,            # related line changed: kept
                related=(Location("app/client.py", 10, "query"),)),
        finding("missing-health-check", "app/routes.py", 3),       # project, file touched: kept
        finding("missing-rate-limiting", "app/models.py", 1),      # project, untouched: dropped
        finding("missing-rate-limiting", "app/models.py", 2,       # project, related touched: kept
                related=(Location("app/client.py", 1, "client"),)),
        finding("suppression-unused", "app/client.py", 11),        # unknown rule: file scope
    ]
    kept = diff.filter_findings(findings, changed, METAS)
    assert [(f.rule, f.path, f.line) for f in kept] == [
        ("tls-verify-disabled", "app/client.py", 9),
        ("tls-verify-disabled", "app/client.py", 13),
        ("tls-verify-disabled", "app/client.py", 6),
        ("n-plus-one-query", "app/models.py", 1),
        ("missing-health-check", "app/routes.py", 3),
        ("missing-rate-limiting", "app/models.py", 2),
        ("suppression-unused", "app/client.py", 11),
    ]


def test_materialize_writes_the_merge_base_tree(repo: Path, tmp_path: Path):
    write(repo, ".gitattributes", "app/models.py export-ignore\n")
    write(repo, "wip.py", "uncommitted = True\n")
    status_before = git(repo, "status", "--porcelain")
    dest = tmp_path / "before"
    diff.materialize(repo, "main", dest)
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == [".gitignore", "app/client.py", "app/models.py", "app/routes.py"]
    assert (dest / "app/client.py").read_text() == CLIENT_V1
    # The repository is left as it was: same status, same index, same work tree.
    assert git(repo, "status", "--porcelain") == status_before
    assert (repo / "app/client.py").read_text() == CLIENT_V2


def test_materialize_a_subfolder(repo: Path, tmp_path: Path):
    dest = tmp_path / "before"
    diff.materialize(repo / "app", "main", dest)
    assert sorted(p.name for p in dest.iterdir()) == ["client.py", "models.py", "routes.py"]


def test_materialize_refuses_a_non_empty_folder(repo: Path, tmp_path: Path):
    dest = tmp_path / "before"
    write(dest, "keep.txt", "mine\n")
    with pytest.raises(DiffError, match="the folder is not empty"):
        diff.materialize(repo, "main", dest)


def test_unknown_ref(repo: Path):
    with pytest.raises(DiffError) as error:
        diff.merge_base(repo, "origin/develop")
    assert str(error.value).startswith(
        f"unknown diff base 'origin/develop': no such branch, tag or commit in {repo}.")
    assert "fetch-depth: 0" in str(error.value)


def test_option_like_ref_is_refused(repo: Path):
    with pytest.raises(DiffError, match="invalid diff base '--output=x'"):
        diff.changed_lines(repo, "--output=x")


def test_not_a_repository(tmp_path: Path):
    with pytest.raises(DiffError, match="needs a git repository, and .* is not inside one"):
        diff.changed_lines(tmp_path, "main")


def test_no_common_ancestor(repo: Path):
    git(repo, "checkout", "-q", "--orphan", "other")
    git(repo, "commit", "-q", "-m", "unrelated")
    with pytest.raises(DiffError, match="HEAD and 'main' have no common ancestor"):
        diff.merge_base(repo, "main")


def test_no_commits(tmp_path: Path):
    git(tmp_path, "init", "-q")
    with pytest.raises(DiffError, match="has no commits yet"):
        diff.merge_base(tmp_path, "main")


def test_parse_diff_ignores_content_that_looks_like_headers():
    text = (
        "diff --git a/x.sql b/x.sql\n"
        "index 1..2 100644\n"
        "--- a/x.sql\n"
        "+++ b/x.sql\n"
        "@@ -3 +3,2 @@\n"
        "--- old comment\n"
        "+++ y\n"
        "+@@ -9 +9 @@\n"
        "diff --git a/gone.py b/gone.py\n"
        "deleted file mode 100644\n"
        "--- a/gone.py\n"
        "+++ /dev/null\n"
        "@@ -1 +0,0 @@\n"
        "-x\n"
        "diff --git a/logo.png b/logo.png\n"
        "Binary files a/logo.png and b/logo.png differ\n"
        "diff --git \"a/t\\303\\251\\tst.py\" \"b/t\\303\\251\\tst.py\"\n"
        "--- \"a/t\\303\\251\\tst.py\"\n"
        "+++ \"b/t\\303\\251\\tst.py\"\n"
        "@@ -0,0 +1 @@\n"
        "+v = 1\n"
    )
    assert diff.parse_diff(text) == {"x.sql": {3, 4}, "logo.png": set(), "t\u00e9\tst.py": {1}}


def test_scan_with_diff_base_end_to_end(repo: Path, tmp_path: Path):
    import json
    import sys

    # main already had one insecure call; the feature branch adds two more.
    git(repo, "checkout", "-q", "main")
    write(repo, "app/legacy.py", "import requests\n\n\ndef old(u):\n"
                                 "    return requests.get(u, verify=False, timeout=5)\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "legacy")
    git(repo, "checkout", "-q", "feature")
    git(repo, "merge", "-q", "--no-edit", "main")

    def scan(*args: str):
        return subprocess.run(
            [sys.executable, "-m", "checker", "scan", "--no-cache", "--select",
             "tls-verify-disabled", *args], cwd=repo, capture_output=True, text=True)

    done = scan("--format", "json", "--diff-base", "main")
    assert done.returncode == 1, done.stderr
    found = [(f["path"], f["line"]) for f in json.loads(done.stdout)["findings"]]
    assert found == [("app/client.py", 9), ("app/client.py", 13)]

    done = scan("--format", "markdown", "--diff-base", "main")
    line = next(x for x in done.stdout.splitlines() if x.startswith("Whole project"))
    # Before: the legacy call only; now: three calls. The score went down.
    assert re.match(r"Whole project: score at main \(`[0-9a-f]{7}`\) \*\*\d+\.\d\*\* \(\w\) "
                    r"\u2192 now \*\*\d+\.\d\*\* \(\w\), \*\*-\d+\.\d\*\*\. Findings below are "
                    r"only those on lines changed since main\.$", line), line

    done = scan("--format", "json")
    found = [(f["path"], f["line"]) for f in json.loads(done.stdout)["findings"]]
    assert found == [("app/client.py", 9), ("app/client.py", 13), ("app/legacy.py", 5)]

    done = scan("--diff-base", "no-such-branch")
    assert done.returncode == 2
    assert "unknown diff base 'no-such-branch'" in done.stderr
