"""The command line: exit codes, config errors, output files, rules and explain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

VULNERABLE = (
    "import requests as rq\n"
    "\n"
    "def fetch(url):\n"
    "    return rq.get(url, timeout=5, verify=False)\n"
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"NO_COLOR": "1", "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "checker", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "client.py").write_text(VULNERABLE)
    return tmp_path


def test_policy_failure_exits_1_and_json_names_the_finding(project: Path) -> None:
    result = run("scan", "--format", "json", "--no-cache", "--select", "tls-verify-disabled", cwd=project)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert [(f["rule"], f["path"], f["line"]) for f in data["findings"]] == [("tls-verify-disabled", "client.py", 4)]
    assert "policy failed: 1 finding(s) at or above high" in result.stderr


def test_fail_on_critical_passes_with_exit_0(project: Path) -> None:
    result = run("scan", "--fail-on", "critical", "--no-cache", "--select", "tls-verify-disabled", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "tls-verify-disabled" in result.stdout


def test_min_score_fails_when_below(project: Path) -> None:
    result = run("scan", "--fail-on", "never", "--min-score", "99", "--no-cache",
                 "--select", "tls-verify-disabled", cwd=project)
    assert result.returncode == 1
    assert "is below the minimum 99" in result.stderr


def test_clean_project_exits_0(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("import requests\n\nrequests.get('https://x', timeout=3)\n")
    result = run("scan", "--no-cache", "--select", "tls-verify-disabled", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_output_file_and_extra_format_are_written(project: Path) -> None:
    result = run("scan", "--no-cache", "--select", "tls-verify-disabled", "--format", "json",
                 "--output", "out.json", "--output", "terminal:out.txt", cwd=project)
    assert result.returncode == 1
    assert result.stdout == ""
    assert json.loads((project / "out.json").read_text())["findings"][0]["rule"] == "tls-verify-disabled"
    assert "tls-verify-disabled" in (project / "out.txt").read_text()


def test_invalid_config_exits_2_naming_every_bad_key(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        "[tool.checker]\n"
        "selct = ['x']\n"
        "ignore = ['no-such-rule']\n"
        "[tool.checker.policy]\n"
        "fail-on = 'severe'\n"
    )
    result = run("scan", "--no-cache", cwd=project)
    assert result.returncode == 2
    assert "unknown key 'selct' (did you mean 'select'?)" in result.stderr
    assert "ignore: unknown rule 'no-such-rule'" in result.stderr
    assert "policy.fail-on: unknown severity 'severe'" in result.stderr


def test_broken_toml_exits_2(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.checker\n")
    result = run("scan", "--no-cache", cwd=project)
    assert result.returncode == 2
    assert "is not valid TOML" in result.stderr


def test_usage_errors_exit_2(project: Path) -> None:
    assert run("scan", "--format", "nope", cwd=project).returncode == 2
    assert run("scan", "--select", "not-a-rule", cwd=project).returncode == 2
    assert run("scan", "--jobs", "0", cwd=project).returncode == 2
    assert run("explain", "tls-verify-disable", cwd=project).stderr.strip().endswith(
        "(did you mean 'tls-verify-disabled'?)")


def test_rules_lists_every_rule_as_json(project: Path) -> None:
    from checker.registry import load

    result = run("rules", "--format", "json", cwd=project)
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert sorted(r["slug"] for r in rows) == load().slugs
    assert {"slug", "checklist", "section", "severity", "languages", "enabled"} <= set(rows[0])


def test_explain_prints_docs_and_examples(project: Path) -> None:
    result = run("explain", "tls-verify-disabled", cwd=project)
    assert result.returncode == 0
    assert "## What it does" in result.stdout and "## Example" in result.stdout and "## Use instead" in result.stdout


def test_quiet_prints_nothing_when_clean(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    result = run("scan", "--quiet", "--no-cache", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
