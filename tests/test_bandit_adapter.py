"""The bandit adapter: the mapping table, normalising a recorded report, the process's
failure paths (with a fake executable), and one real bandit run."""

from __future__ import annotations

import json
import shutil
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

from checker.analyzers import excerpt
from checker.analyzers.bandit import (
    BanditRun, MappingError, bandit_targets, load_mapping, parse_bandit_output,
)
from checker.model import Confidence, Severity, Span
from checker.source import SourceFile

REPO = Path(__file__).resolve().parent.parent
MAPPING = REPO / "rules" / "bandit.yaml"
DATA = Path(__file__).resolve().parent / "data" / "bandit"
PROJECT = DATA / "project"
ENABLED = {"tls-verify-disabled", "missing-request-timeout", "insecure-code-execution", "debug-enabled",
           "xss-unescaped-output", "hardcoded-secret"}
PASSWORD = "s3cr3t-Passw0rd"


def sources(root: Path) -> dict[str, SourceFile]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        out[rel] = SourceFile(path, rel, "python", path.stat().st_size)
    return out


def recorded() -> dict:
    return json.loads((DATA / "report.json").read_text())


def summary(run) -> set[tuple]:
    return {(f.path, f.span.line, f.span.column, f.rule, f.engine)
            for found in run.findings.values() for f in found}


PROJECT_FINDINGS = {
    (".github/scripts/release.py", 5, 12, "missing-request-timeout", "bandit"),
    ("app/clients.py", 12, 12, "tls-verify-disabled", "bandit"),
    ("app/clients.py", 12, 12, "missing-request-timeout", "bandit"),
    ("app/clients.py", 20, 12, "tls-verify-disabled", "bandit"),
    ("app/clients.py", 37, 5, "debug-enabled", "bandit"),
}
PROJECT_FAILED = {"app/broken.py": "syntax error while parsing AST from file"}


# -- the mapping table --------------------------------------------------------------------------


def test_mapping_maps_the_precise_tests_and_documents_each():
    mapping = load_mapping(MAPPING)
    by_slug: dict[str, set[str]] = {}
    for test, entry in mapping.items():
        by_slug.setdefault(entry.slug, set()).add(test)
    assert by_slug == {
        "tls-verify-disabled": {"B323", "B501", "B502", "B503", "B504"},
        "missing-request-timeout": {"B113"},
        "debug-enabled": {"B201"},
        "xss-unescaped-output": {"B701"},
    }
    raw = yaml.safe_load(MAPPING.read_text())
    assert all(entry.get("why") for entry in raw["tests"].values())
    assert set(raw["not-mapped"]) == {"B102", "B105", "B106", "B107", "B301", "B307", "B308", "B324", "B506", "B602",
                                      "B605", "B608", "B614", "B703", "B704"}


@pytest.mark.parametrize("text, problem", [
    ("tests: [B501]", "bandit.yaml: expected a mapping with a `tests` table"),
    ("tests:\n  B501: {slug: tls-verify-disabled}", "bandit.yaml: B501: needs `slug` and `message`"),
    ("tests:\n  X1: {slug: a, message: m}", "bandit.yaml: X1: not a bandit test id (like B501)"),
    ("tests:\n  B501: {slug: a, message: m, severity: huge}",
     "bandit.yaml: B501: unknown severity 'huge' (expected one of: info, low, medium, high, critical)"),
    ("tests:\n  B501: {slug: a, message: m, colour: red}", "bandit.yaml: B501: unknown key(s) colour"),
    ("tests: [", None),
])
def test_a_broken_mapping_is_refused_with_the_reason(tmp_path, text, problem):
    path = tmp_path / "bandit.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    if problem is not None:
        assert str(info.value) == problem
    else:
        assert str(info.value).startswith("bandit.yaml cannot be read:")


def test_targets_are_the_python_files_when_a_mapped_slug_is_enabled():
    files = [SourceFile(Path(n), n, lang) for n, lang in
             [("a.py", "python"), ("b.js", "javascript"), ("c.pyi", "python"), ("Dockerfile", "dockerfile")]]
    assert [f.relpath for f in bandit_targets(files, MAPPING, {"debug-enabled"})] == ["a.py", "c.pyi"]
    assert bandit_targets(files, MAPPING, {"hardcoded-secret", "n-plus-one-query"}) == []


# -- normalising a recorded report ---------------------------------------------------------------


def test_recorded_report_normalises_to_exact_findings_and_failures():
    files = sources(PROJECT)
    run = parse_bandit_output(recorded(), PROJECT, files, ENABLED, MAPPING)
    assert run.status.ran and run.status.name == "bandit"
    assert summary(run) == PROJECT_FINDINGS
    assert run.failed_files == PROJECT_FAILED
    assert run.facts == {}
    tls = run.findings["app/clients.py"][1]
    assert (tls.rule, tls.span) == ("tls-verify-disabled", Span(12, 12, 12, 39))
    assert tls.message == "`verify=False` turns off TLS certificate verification"
    assert (tls.severity, tls.confidence) == (Severity.HIGH, Confidence.HIGH)
    assert tls.snippet == "    return http.get(url, verify=False)"
    assert tls.snippet == excerpt(files["app/clients.py"].lines, tls.span)
    timeout = run.findings["app/clients.py"][0]
    assert timeout.rule == "missing-request-timeout"
    assert (timeout.severity, timeout.confidence) == (Severity.MEDIUM, Confidence.HIGH)  # override
    debug = run.findings["app/clients.py"][-1]
    assert (debug.severity, debug.confidence) == (Severity.HIGH, Confidence.MEDIUM)  # bandit's own


def test_bandit_text_and_code_never_reach_the_output():
    data = recorded()
    data["results"].append({
        "code": f'33 DATABASE_PASSWORD = "{PASSWORD}"\n', "col_offset": 20, "end_col_offset": 37,
        "filename": "./app/clients.py", "issue_confidence": "MEDIUM", "issue_severity": "LOW",
        "issue_text": f"Possible hardcoded password: '{PASSWORD}'", "line_number": 33, "line_range": [33],
        "test_id": "B105", "test_name": "hardcoded_password_string",
    })
    for result in data["results"]:
        result["issue_text"] += " LEAKED"
        result["code"] += " LEAKED"
    run = parse_bandit_output(data, PROJECT, sources(PROJECT), ENABLED, MAPPING)
    assert summary(run) == PROJECT_FINDINGS  # B105 is not mapped
    text = json.dumps([[f.snippet, f.message] for found in run.findings.values() for f in found])
    assert "LEAKED" not in text and PASSWORD not in text


def test_only_enabled_slugs_are_reported():
    run = parse_bandit_output(recorded(), PROJECT, sources(PROJECT), {"debug-enabled"}, MAPPING)
    assert summary(run) == {("app/clients.py", 37, 5, "debug-enabled", "bandit")}


# -- the process, with a fake bandit ----------------------------------------------------------------


def fake(folder: Path, body: str) -> Path:
    path = folder / "bin" / "bandit"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time, signal\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def run_fake(tmp_path, body, enabled=frozenset({"tls-verify-disabled", "debug-enabled"}), timeout=60.0):
    root = tmp_path / "repo"
    root.mkdir(exist_ok=True)
    (root / "app.py").write_text("import requests\nrequests.get('https://x', verify=False, timeout=3)\n")
    files = [SourceFile(root / "app.py", "app.py", "python")]
    run = BanditRun(files, MAPPING, set(enabled), root, timeout=timeout, executable=fake(tmp_path, body))
    run.start()
    return run.wait()


def test_flags_and_targets(tmp_path, monkeypatch):
    calls = tmp_path / "calls.json"
    body = f"""
open({str(calls)!r}, "w").write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd()}}))
print(json.dumps({{"errors": [], "results": [{{"filename": "./app.py", "test_id": "B501", "line_number": 2,
    "col_offset": 0, "end_col_offset": 47, "line_range": [2], "issue_severity": "HIGH",
    "issue_confidence": "HIGH", "issue_text": "x", "code": "x"}}]}}))
sys.exit(1)
"""
    outcome = run_fake(tmp_path, body)
    assert outcome.status.ran and outcome.status.files == 1
    assert summary(outcome) == {("app.py", 2, 1, "tls-verify-disabled", "bandit")}
    call = json.loads(calls.read_text())
    assert call["argv"] == ["-f", "json", "-q", "-x", "", "--ignore-nosec", "-t",
                            "B201,B323,B501,B502,B503,B504", "--", "app.py"]
    assert call["cwd"] == str(tmp_path / "repo")


@pytest.mark.parametrize("body, detail", [
    ("print('not json')", "bandit printed no JSON report (no output)"),
    ("print('[main] ERROR No tests would be run', file=sys.stderr)\nsys.exit(2)",
     "bandit exited with status 2: [main] ERROR No tests would be run"),
    ("os.kill(os.getpid(), signal.SIGSEGV)", "bandit was killed by SIGSEGV"),
    ("time.sleep(60)", "timed out after 1 s"),
])
def test_engine_trouble_becomes_a_status_not_an_exception(tmp_path, body, detail):
    started = time.monotonic()
    outcome = run_fake(tmp_path, body, timeout=1)
    assert time.monotonic() - started < 15
    assert not outcome.status.ran
    assert outcome.status.detail == detail
    assert outcome.findings == {} and outcome.failed_files == {}


def test_missing_bandit_and_broken_mapping_are_reported(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    files = [SourceFile(tmp_path / "a.py", "a.py", "python")]
    run = BanditRun(files, MAPPING, {"debug-enabled"}, tmp_path, executable=tmp_path / "no-such-bandit")
    run.start()
    assert run.wait().status.detail == ("bandit is not installed (not found beside the Python interpreter "
                                        "or on PATH)")
    broken = tmp_path / "bandit.yaml"
    broken.write_text("tests:\n  B501: {slug: tls-verify-disabled}\n")
    run = BanditRun(files, broken, {"tls-verify-disabled"}, tmp_path, executable=fake(tmp_path, ""))
    run.start()
    status = run.wait().status
    assert not status.ran
    assert status.detail == "mapping cannot be used: bandit.yaml: B501: needs `slug` and `message`"


# -- one real bandit run -----------------------------------------------------------------------------


def test_real_bandit_run(tmp_path):
    """The real tool on a copy of the test project: exact findings, the file under
    `.github/` (which bandit's default excludes would drop) included, and the same result
    as the recorded report."""
    root = tmp_path / "repo"
    shutil.copytree(PROJECT, root)
    files = sources(root)
    chosen = bandit_targets(list(files.values()), MAPPING, ENABLED)
    assert sorted(f.relpath for f in chosen) == sorted(files)
    run = BanditRun(chosen, MAPPING, ENABLED, root)
    run.start()
    outcome = run.wait()
    assert outcome.status.ran, outcome.status
    assert summary(outcome) == PROJECT_FINDINGS
    assert outcome.failed_files == PROJECT_FAILED
    replay = parse_bandit_output(recorded(), PROJECT, sources(PROJECT), ENABLED, MAPPING)
    assert [(f.rule, f.span, f.message, f.snippet) for found in outcome.findings.values() for f in found] == \
        [(f.rule, f.span, f.message, f.snippet) for found in replay.findings.values() for f in found]


def test_targets_leave_out_test_code(tmp_path):
    from checker.rule import glob_match
    from checker.source import SourceFile

    files = [SourceFile(tmp_path / p, p, "python") for p in ("app/api.py", "tests/test_api.py", "app/conftest.py")]
    chosen = bandit_targets(files, MAPPING, ENABLED,
                            lambda path: any(glob_match(path, p) for p in ("tests", "conftest.py")))
    assert [f.relpath for f in chosen] == ["app/api.py"]
