"""The pre-commit hooks, run by the real ``pre-commit`` tool.

``pre-commit try-repo`` clones this checkout (with its uncommitted changes), installs the
package into a fresh hook environment the way users get it, and runs the hooks of
``.pre-commit-hooks.yaml`` on a scratch repository: the commit is refused while it holds a
violation and accepted once it is fixed. Each try-repo run installs the hook environment
anew (from the package index), which takes a few tens of seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}

CLIENT = """\
import requests as http


def fetch(url):
    return http.get(url, verify=False, timeout=5)
"""

APP = """\
from flask import Flask

app = Flask(__name__)


@app.get("/items")
def items():
    return []
"""

# The scratch project's own configuration: the two rules it is about, and a policy that
# fails on any finding of theirs.
CONFIG = """\
select: [tls-verify-disabled, missing-health-check]
policy:
  fail-on: low
"""

HEALTH = """

@app.get("/healthz")
def healthz():
    return {"status": "ok"}
"""


def env(tmp_path: Path) -> dict[str, str]:
    # Keep pre-commit's store and the hook's caches inside the test's folder.
    values = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    values.update(GIT_ENV)
    values.update({"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1",
                   "PRE_COMMIT_COLOR": "never"})
    return values


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def try_repo(repo: Path, tmp_path: Path, *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([str(PRE_COMMIT), "try-repo", str(PROJECT), *args], cwd=repo,
                          env=env(tmp_path), capture_output=True, text=True, timeout=900)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def hook_lines(output: str) -> dict[str, str]:
    """Hook name -> Passed/Failed/(no files to check)Skipped, from pre-commit's report."""
    result = {}
    for line in output.splitlines():
        for status in ("Passed", "Failed", "(no files to check)Skipped"):
            if line.startswith("checker (") and line.endswith(status):
                result[line.split(".", 1)[0]] = status
    return result


def test_hook_definitions():
    hooks = {h["id"]: h for h in yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"checker", "checker-project"}
    assert hooks["checker"]["require_serial"] is True
    assert hooks["checker"]["language"] == "python"
    assert hooks["checker"]["entry"] == "checker scan --scope file --quiet --format concise"
    assert hooks["checker"].get("pass_filenames", True) is True
    assert hooks["checker-project"]["pass_filenames"] is False
    assert hooks["checker-project"]["require_serial"] is True
    assert hooks["checker-project"]["entry"] == "checker scan --scope project --quiet --format concise"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "service"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "client.py").write_text(CLIENT)
    (root / "app.py").write_text(APP)
    (root / "README.md").write_text("# service\n")
    (root / ".checker.yml").write_text(CONFIG)
    git(root, "add", ".")
    return root


def test_hooks_fail_on_violations_then_pass_once_fixed(repo: Path, tmp_path: Path):
    assert shutil.which("git")
    code, output, first = try_repo(repo, tmp_path, "--all-files")
    assert code == 1, output
    assert hook_lines(output) == {
        "checker (review checklist, changed files)": "Failed",
        "checker (review checklist, whole project)": "Failed",
    }
    assert "client.py:5:" in output and "tls-verify-disabled" in output
    assert "missing-health-check" in output

    (repo / "client.py").write_text(CLIENT.replace("verify=False", "verify=True"))
    (repo / "app.py").write_text(APP + HEALTH)
    git(repo, "add", ".")
    code, output, second = try_repo(repo, tmp_path, "--all-files")
    assert code == 0, output
    assert hook_lines(output) == {
        "checker (review checklist, changed files)": "Passed",
        "checker (review checklist, whole project)": "Passed",
    }
    print(f"try-repo with environment install: {first:.1f} s and {second:.1f} s")


def run(repo: Path, tmp_path: Path, *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(list(args), cwd=repo, env=env(tmp_path), capture_output=True,
                          text=True, timeout=900)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def test_installed_hooks_guard_real_commits(repo: Path, tmp_path: Path):
    """The way a project uses the hooks: pinned in .pre-commit-config.yaml, installed as
    git's pre-commit hook, run by ``git commit`` on the staged files only."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT, capture_output=True,
                          text=True, check=True).stdout.strip()
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{
        "repo": str(PROJECT), "rev": head,
        "hooks": [{"id": "checker"}, {"id": "checker-project"}]}]}))
    (repo / "app.py").write_text(APP + HEALTH)
    git(repo, "rm", "-q", "--cached", "client.py")  # not part of the first commit
    git(repo, "add", ".pre-commit-config.yaml", "app.py")
    code, output, install = run(repo, tmp_path, str(PRE_COMMIT), "install-hooks")
    assert code == 0, output
    code, output, _ = run(repo, tmp_path, str(PRE_COMMIT), "install")
    assert code == 0, output

    # client.py (with the violation) is not staged: the commit goes through.
    code, output, _ = run(repo, tmp_path, "git", "commit", "-q", "-m", "app")
    assert code == 0, output
    assert hook_lines(output) == {
        "checker (review checklist, changed files)": "Passed",
        "checker (review checklist, whole project)": "Passed",
    }

    git(repo, "add", "client.py")
    code, output, _ = run(repo, tmp_path, "git", "commit", "-q", "-m", "client")
    assert code == 1, output
    assert hook_lines(output) == {
        "checker (review checklist, changed files)": "Failed",
        "checker (review checklist, whole project)": "Passed",
    }
    assert "client.py:5:" in output and "tls-verify-disabled" in output

    (repo / "client.py").write_text(CLIENT.replace("verify=False", "verify=True"))
    git(repo, "add", "client.py")
    code, output, _ = run(repo, tmp_path, "git", "commit", "-q", "-m", "client, verified")
    assert code == 0, output

    # How long a hook run takes on a few changed files, environment installed.
    for i in range(3):
        (repo / f"svc{i}.py").write_text(CLIENT.replace("verify=False", "verify=True")
                                         + f"\n\nNAME = 'svc{i}'\n")
    git(repo, "add", ".")
    timings = []
    for _ in range(3):
        code, output, seconds = run(repo, tmp_path, str(PRE_COMMIT), "run")
        assert code == 0, output
        timings.append(seconds)
    print(f"hook environment install: {install:.1f} s; pre-commit run on 3 staged files "
          f"(both hooks): {', '.join(f'{t:.2f}' for t in timings)} s")
