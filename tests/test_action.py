"""The GitHub Action, run step by step on this machine.

Each ``run:`` script of ``action.yml`` is executed the way the runner executes composite
steps (``bash --noprofile --norc -eo pipefail``), with the step's ``env:`` expressions
evaluated from the inputs and earlier steps' outputs, and with the runner's files and
variables (``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_WORKSPACE``,
``GITHUB_BASE_REF``, ``RUNNER_TEMP``...) set. The install step really installs the
checker from this checkout into a fresh virtualenv (from the package index, once per test
run). The workspace is a shallow clone of a scripted repository, as actions/checkout
leaves it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

PROJECT = Path(__file__).resolve().parents[1]
SCHEMA = PROJECT.parent / "shared/data/sarif-schema-2.1.0.json"
ACTION = yaml.safe_load((PROJECT / "action.yml").read_text(encoding="utf-8"))

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


CLIENT = """\
import requests


def fetch(url):
    return requests.get(url, timeout=5)
"""

LEGACY = """\
import requests


def legacy(url):
    return requests.get(url, verify=False, timeout=5)
"""

CLIENT_PR = CLIENT + """

def fetch_insecure(url):
    return requests.get(url, verify=False, timeout=5)
"""


class Runner:
    """Runs the action's steps the way a GitHub runner does, on this machine."""

    def __init__(self, workspace: Path, temp: Path, inputs: dict[str, str], extra_env: dict):
        self.workspace = workspace
        self.temp = temp
        self.inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
        unknown = set(inputs) - set(self.inputs)
        assert not unknown, f"not inputs of the action: {unknown}"
        self.inputs.update(inputs)
        self.outputs: dict[str, dict[str, str]] = {
            # actions/setup-python with update-environment: false reports the interpreter.
            "python": {"python-path": sys.executable},
        }
        self.summary = temp / "step_summary.md"
        self.summary.write_text("")
        self.extra_env = extra_env

    def expression(self, text: str) -> str:
        def value(match: re.Match) -> str:
            expr = match.group(1).strip()
            if expr.startswith("inputs."):
                return self.inputs[expr[len("inputs."):]]
            if expr == "github.action_path":
                return str(PROJECT)
            found = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
            if found:
                return self.outputs.get(found.group(1), {}).get(found.group(2), "")
            raise AssertionError(f"expression not understood by the test runner: {expr}")

        return re.sub(r"\$\{\{(.*?)\}\}", value, text)

    def run(self, step: dict) -> subprocess.CompletedProcess:
        assert step["shell"] == "bash"
        output = self.temp / f"output_{step.get('id', 'step')}"
        output.write_text("")
        script = self.temp / "step.sh"
        script.write_text(step["run"])
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.update(GIT_ENV)
        env.update({
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_ACTION_PATH": str(PROJECT), "RUNNER_TEMP": str(self.temp),
            "GITHUB_EVENT_NAME": "pull_request",
        })
        env.update(self.extra_env)
        env.update({k: self.expression(str(v)) for k, v in step.get("env", {}).items()})
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=self.workspace, env=env, capture_output=True, text=True)
        if "id" in step:
            self.outputs[step["id"]] = dict(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        return done

    def steps(self) -> dict[str, dict]:
        named = {}
        for step in ACTION["runs"]["steps"]:
            named[step.get("id") or step["name"]] = step
        return named


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runner_temp")


@pytest.fixture(scope="module")
def installed(runner_temp: Path) -> dict[str, str]:
    """The install step, run once: a virtualenv with the checker from this checkout."""
    runner = Runner(runner_temp, runner_temp, {}, {})
    started = time.monotonic()
    done = runner.run(runner.steps()["install"])
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    outputs = runner.outputs["install"]
    assert set(outputs) == {"checker", "python"}
    assert outputs["checker"] == str(runner_temp / "checker-venv" / "bin" / "checker")
    assert done.stdout.strip().startswith("checker ")
    print(f"install step: {seconds:.1f} s")
    return outputs


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    """The repository on the server: main holds a legacy violation, the pull request's
    branch adds a new one."""
    root = tmp_path / "upstream"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app").mkdir()
    (root / "app/client.py").write_text(CLIENT)
    (root / "app/legacy.py").write_text(LEGACY)
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "main")
    git(root, "checkout", "-q", "-b", "feature")
    (root / "app/client.py").write_text(CLIENT_PR)
    git(root, "commit", "-q", "-am", "new client call")
    git(root, "checkout", "-q", "main")
    return root


def checkout(upstream: Path, dest: Path, branch: str = "feature") -> Path:
    """What actions/checkout leaves: a depth-1 clone of the pull request's branch."""
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", branch,
                    upstream.as_uri(), str(dest)], check=True, env={**os.environ, **GIT_ENV})
    return dest


def run_action(tmp_path: Path, runner_temp: Path, installed, workspace: Path,
               inputs: dict | None = None, base_ref: str = "main") -> tuple[Runner, dict]:
    temp = tmp_path / "temp"
    temp.mkdir()
    runner = Runner(workspace, temp, inputs or {}, {"GITHUB_BASE_REF": base_ref})
    runner.outputs["install"] = installed
    steps = runner.steps()
    results = {"scan": runner.run(steps["scan"]), "policy": runner.run(steps["Apply the policy"])}
    return runner, results


def annotations(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("::")]


def test_steps_are_what_the_runner_expects():
    steps = ACTION["runs"]["steps"]
    assert ACTION["runs"]["using"] == "composite"
    assert steps[0]["uses"].startswith("actions/setup-python@")
    assert steps[0]["with"]["update-environment"] is False
    assert [s.get("id") for s in steps] == ["python", "install", "scan", None]
    for step in steps[1:]:
        assert step["shell"] == "bash"
        # No expression is pasted into a script (an input could inject shell code).
        assert "${{" not in step["run"]
    assert ACTION["outputs"]["sarif-file"]["value"] == "${{ steps.scan.outputs.sarif-file }}"


def test_pull_request_with_a_new_violation_fails(tmp_path, runner_temp, installed, upstream):
    workspace = checkout(upstream, tmp_path / "ws")
    assert git(workspace, "rev-parse", "--is-shallow-repository").strip() == "true"
    runner, results = run_action(tmp_path, runner_temp, installed, workspace)
    scan = results["scan"]
    assert scan.returncode == 0, scan.stderr

    # Diff mode against the PR base: only the new violation, not the one already on main.
    assert annotations(scan.stdout) == [
        "::error file=app/client.py,line=9,endLine=9,col=37,endColumn=41,"
        "title=tls-verify-disabled%3A Use HTTPS only in production::"
        "`verify=False` turns off TLS certificate verification%0A(high severity, high confidence)",
    ]
    out = runner.outputs["scan"]
    assert out["exit-code"] == "1"
    assert out["findings"] == "1"
    assert out["sarif-file"] == "checker.sarif"
    sarif = json.loads((workspace / "checker.sarif").read_text())
    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    assert list(validator.iter_errors(sarif)) == []
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
             r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in sarif["runs"][0]["results"]] == [("tls-verify-disabled", "app/client.py", 9)]

    summary = runner.summary.read_text()
    assert summary.startswith(f"## checker: {out['score']} / 100, grade {out['grade']}")
    assert "Whole project: score at origin/main (`" in summary
    assert "`app/client.py:9`" in summary and "legacy.py" not in summary.split("### Findings")[1]

    policy = results["policy"]
    assert policy.returncode == 1
    assert policy.stdout.startswith("::error title=checker::The review policy failed")


def test_fixed_pull_request_passes(tmp_path, runner_temp, installed, upstream):
    git(upstream, "checkout", "-q", "feature")
    (upstream / "app/client.py").write_text(CLIENT_PR.replace("verify=False", "verify=True"))
    git(upstream, "commit", "-q", "-am", "fix")
    git(upstream, "checkout", "-q", "main")
    workspace = checkout(upstream, tmp_path / "ws")
    runner, results = run_action(tmp_path, runner_temp, installed, workspace)
    assert results["scan"].returncode == 0, results["scan"].stderr
    assert annotations(results["scan"].stdout) == []
    assert runner.outputs["scan"]["exit-code"] == "0"
    assert runner.outputs["scan"]["findings"] == "0"
    assert results["policy"].returncode == 0
    assert results["policy"].stdout.startswith("checker: policy passed (score ")
    assert "No findings." in runner.summary.read_text()


def test_whole_project_without_diff_mode(tmp_path, runner_temp, installed, upstream):
    workspace = checkout(upstream, tmp_path / "ws")
    runner, results = run_action(tmp_path, runner_temp, installed, workspace,
                                 inputs={"diff-base": "none", "sarif-file": "out/c.sarif"})
    lines = annotations(results["scan"].stdout)
    assert [re.match(r"::(\w+) file=([^,]+),line=(\d+)", line).groups() for line in lines] == [
        ("error", "app/client.py", "9"), ("error", "app/legacy.py", "5")]
    assert (workspace / "out/c.sarif").is_file()
    assert "Whole project" not in runner.summary.read_text()
    assert results["policy"].returncode == 1


def test_baseline_and_policy_inputs(tmp_path, runner_temp, installed, upstream):
    workspace = checkout(upstream, tmp_path / "ws")
    done = subprocess.run([installed["checker"], "baseline", "--output", "base.json"],
                          cwd=workspace, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # Everything known: no finding, policy passes even on a full scan.
    runner, results = run_action(tmp_path, runner_temp, installed, workspace,
                                 inputs={"diff-base": "none", "baseline": "base.json"})
    assert annotations(results["scan"].stdout) == []
    assert runner.outputs["scan"]["exit-code"] == "0"
    assert results["policy"].returncode == 0

    # A score floor above the current score fails the job even with no finding.
    (tmp_path / "temp").rename(tmp_path / "temp1")
    runner, results = run_action(tmp_path, runner_temp, installed, workspace,
                                 inputs={"diff-base": "none", "baseline": "base.json",
                                         "min-score": "100.5"})
    assert runner.outputs["scan"]["exit-code"] == "2"  # out of range: a usage error
    assert results["policy"].returncode == 2
    assert results["policy"].stdout.startswith("::error title=checker::The scan could not run")


def test_unknown_diff_base_is_a_clear_error(tmp_path, runner_temp, installed, upstream):
    workspace = checkout(upstream, tmp_path / "ws")
    runner, results = run_action(tmp_path, runner_temp, installed, workspace,
                                 base_ref="release/9.9")
    assert runner.outputs["scan"]["exit-code"] == "2"
    assert "unknown diff base 'release/9.9'" in results["scan"].stderr
    assert results["policy"].returncode == 2
