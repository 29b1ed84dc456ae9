"""The semgrep adapter: normalising recorded reports, choosing targets and rules, the
process's failure paths (with a fake executable), and one real semgrep run."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from checker.analyzers import excerpt
from checker.analyzers import external
from checker.analyzers.semgrep import (
    FLAGS, SEPARATOR, SemgrepRun, parse_semgrep_output, semgrep_targets,
)
from checker.discovery import language_of
from checker.model import Confidence, Severity, Span
from checker.source import SourceFile

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules" / "semgrep"
DATA = Path(__file__).resolve().parent / "data" / "semgrep"
PROJECT = DATA / "project"
ENABLED = {"tls-verify-disabled", "missing-health-check"}
FAKE_KEY = "AKIAIOSFODNN7EXAMPLE"
TLS_JS = ("TLS certificate verification is disabled: any server certificate is accepted, so anyone on "
          "the network path can read or alter the traffic")
TLS_GO = ("`InsecureSkipVerify: true` accepts any server certificate, so anyone on the network path can "
          "read or alter the traffic")


def sources(root: Path, names: list[str] | None = None) -> dict[str, SourceFile]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not path.name.startswith(".") and ".git/" not in rel and (names is None or rel in names):
            out[rel] = SourceFile(path, rel, language_of(rel), path.stat().st_size)
    return out


def recorded() -> dict:
    return json.loads((DATA / "report.json").read_text())


def summary(run) -> set[tuple]:
    return {(f.path, f.span.line, f.span.column, f.rule, f.engine)
            for found in run.findings.values() for f in found}


PROJECT_FINDINGS = {
    ("cmd/fetch.go", 10, 52, "tls-verify-disabled", "semgrep"),
    ("src/payments.js", 5, 53, "tls-verify-disabled", "semgrep"),
    ("tests/agent.test.js", 5, 25, "tls-verify-disabled", "semgrep"),
}
PROJECT_FACTS = {
    "src/server.ts": {
        "apps": [(3, {"framework": "express", "name": "app", "text": "app = express()"})],
        "routes": [
            (6, {"framework": "express", "path": "/healthz", "methods": ["get"], "owner": "app",
                 "text": "app.get('/healthz', (_req: Request, res: Response) => res.send('ok'))"}),
            (7, {"framework": "express", "path": "/payments", "methods": ["post"], "owner": "v1",
                 "text": "v1.post('/payments', async (req: Request, res: Response) => {"}),
        ],
    },
}
PROJECT_FAILED = {"src/broken.js": "parsed only in part (lines 2-3 could not be parsed)"}


# -- normalising a recorded report -----------------------------------------------------------


def test_recorded_report_normalises_to_exact_findings_facts_and_failures():
    run = parse_semgrep_output(recorded(), PROJECT, sources(PROJECT), ENABLED)
    assert run.status.ran and run.status.name == "semgrep"
    assert summary(run) == PROJECT_FINDINGS
    assert run.facts == PROJECT_FACTS
    assert run.failed_files == PROJECT_FAILED
    go = run.findings["cmd/fetch.go"][0]
    assert go.span == Span(10, 52, 10, 56)
    assert go.message == TLS_GO
    assert (go.severity, go.confidence) == (Severity.HIGH, Confidence.HIGH)
    assert go.snippet == "\t\tTLSClientConfig: &tls.Config{InsecureSkipVerify: true},"
    assert go.fingerprint


def test_snippet_is_our_redacted_line_never_semgreps_lines():
    data = recorded()
    for result in data["results"]:
        result["extra"]["lines"] = "LEAKED " + FAKE_KEY
    files = sources(PROJECT)
    run = parse_semgrep_output(data, PROJECT, files, ENABLED)
    finding = run.findings["src/payments.js"][0]
    assert finding.span == Span(5, 53, 5, 58)
    assert finding.message == TLS_JS
    assert finding.snippet == (
        "const agent = new https.Agent({ rejectUnauthorized: false, passphrase: 'AKIA********' });")
    assert finding.snippet == excerpt(files["src/payments.js"].lines, finding.span)
    everything = json.dumps([[f.snippet, f.message] for found in run.findings.values() for f in found])
    everything += json.dumps(run.facts)
    assert "LEAKED" not in everything and FAKE_KEY not in everything


def test_only_enabled_slugs_become_findings_and_facts_are_kept():
    run = parse_semgrep_output(recorded(), PROJECT, sources(PROJECT), {"missing-health-check"})
    assert run.findings == {}
    assert run.facts == PROJECT_FACTS


def test_metadata_severity_wins_and_semgrep_severity_is_the_fallback():
    data = recorded()
    result = next(r for r in data["results"] if r["path"] == "cmd/fetch.go")
    result["extra"]["metadata"] = {"checker-slug": "tls-verify-disabled"}
    result["extra"]["severity"] = "WARNING"
    run = parse_semgrep_output(data, PROJECT, sources(PROJECT), ENABLED)
    go = run.findings["cmd/fetch.go"][0]
    assert (go.severity, go.confidence) == (Severity.MEDIUM, Confidence.MEDIUM)


def test_the_same_place_matched_twice_is_one_finding():
    data = recorded()
    twin = copy.deepcopy(next(r for r in data["results"] if r["path"] == "cmd/fetch.go"))
    twin["end"]["col"] += 3
    data["results"].append(twin)
    run = parse_semgrep_output(data, PROJECT, sources(PROJECT), ENABLED)
    assert summary(run) == PROJECT_FINDINGS


def test_files_semgrep_did_not_scan_are_reported():
    data = recorded()
    data["paths"]["scanned"].remove("cmd/fetch.go")
    data["results"] = [r for r in data["results"] if r["path"] != "cmd/fetch.go"]
    run = parse_semgrep_output(data, PROJECT, sources(PROJECT), ENABLED)
    assert run.failed_files == {**PROJECT_FAILED, "cmd/fetch.go": "semgrep did not scan it"}


# -- rules and targets ------------------------------------------------------------------------


def write_rules(folder: Path, rules: list[dict], name: str = "rules.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump({"rules": rules}))
    return folder


def rule(rule_id: str, languages: list[str], **extra) -> dict:
    return {"id": rule_id, "languages": languages, "severity": "WARNING", "message": "m", "pattern": "x", **extra}


def test_targets_follow_the_enabled_rules_languages_and_paths(tmp_path):
    rules = write_rules(tmp_path / "rules", [
        rule("go-rule", ["go"]),
        rule("js-rule", ["javascript", "typescript"], paths={"exclude": ["*.test.js"]}),
        rule("js-rule-go", ["go"], metadata={"checker-slug": "js-rule"}),
        rule("docker-rule", ["dockerfile"]),
        rule("env-rule", ["generic"], paths={"include": [".env*"]}),
        rule("fact-thing", ["python"], metadata={"checker-fact": "things", "checker-used-by": ["reader-rule"]}),
    ])
    names = ["main.go", "app.js", "app.test.js", "web.ts", "Dockerfile.prod", ".env.local", "api.py", "notes.txt"]
    files = [SourceFile(tmp_path / n, n, language_of(n)) for n in names]

    def chosen(enabled):
        return [f.relpath for f in semgrep_targets(files, rules, set(enabled))]

    assert chosen({"go-rule"}) == ["main.go"]
    assert chosen({"js-rule"}) == ["main.go", "app.js", "web.ts"]
    assert chosen({"docker-rule"}) == ["Dockerfile.prod"]
    assert chosen({"env-rule"}) == [".env.local"]
    assert chosen({"reader-rule"}) == ["api.py"]
    assert chosen({"unrelated"}) == []


def test_shipped_rules_target_javascript_typescript_and_go_only():
    names = ["a.js", "b.mjs", "c.ts", "d.tsx", "e.go", "f.py", "g.yaml", "Dockerfile"]
    files = [SourceFile(Path(n), n, language_of(n)) for n in names]
    chosen = [f.relpath for f in semgrep_targets(files, RULES, {"tls-verify-disabled"})]
    assert chosen == ["a.js", "b.mjs", "c.ts", "d.tsx", "e.go"]


def test_two_rules_with_one_id_are_refused(tmp_path):
    rules = write_rules(tmp_path / "rules", [rule("dup", ["go"]), rule("dup", ["javascript"])])
    (tmp_path / "main.go").write_text("package main\n")
    files = [SourceFile(tmp_path / "main.go", "main.go", "go")]
    run = SemgrepRun(files, rules, {"dup"}, tmp_path, executable=fake(tmp_path, "print('{}')"))
    run.start()
    status = run.wait().status
    assert not status.ran
    assert status.detail == ("rules cannot be used: rules.yaml: rule id 'dup' is also used in rules.yaml "
                             "(semgrep keeps only one rule per id)")


# -- the process, with a fake semgrep ------------------------------------------------------------


def fake(folder: Path, body: str, name: str = "semgrep") -> Path:
    """An executable Python script standing in for the tool."""
    path = folder / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time, signal\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.js").write_text("const o = { rejectUnauthorized: false };\n")
    (root / "src" / "-odd name.js").write_text("let x = 1;\n")
    return root


def run_fake(tmp_path, project, body, timeout=60.0):
    files = list(sources(project).values())
    run = SemgrepRun(files, RULES, {"tls-verify-disabled"}, project, timeout=timeout,
                     executable=fake(tmp_path, body))
    run.start()
    return run.wait()


RECORD_CALL = """
record = {"argv": sys.argv[1:], "cwd": os.getcwd(),
          "env": {k: v for k, v in os.environ.items() if k.startswith(("SEMGREP", "NO_COLOR"))}}
record["config"] = open(sys.argv[sys.argv.index("--config") + 1]).read()
open(os.environ["CALLS"], "a").write(json.dumps(record) + "\\n")
"""


def test_flags_environment_config_and_targets(tmp_path, project, monkeypatch):
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("CALLS", str(calls))
    monkeypatch.setenv("SEMGREP_APP_TOKEN", "secret-token")
    monkeypatch.setenv("SEMGREP_RULES", "p/default")
    files = [SourceFile(project / "src" / "a.js", "src/a.js", "javascript"),
             SourceFile(project / "src" / "-odd name.js", "src/-odd name.js", "javascript")]
    body = RECORD_CALL + """
print(json.dumps({"version": "9.9.9", "results": [], "errors": [], "paths": {"scanned": sys.argv[sys.argv.index("--") + 1:]}}))
"""
    run = SemgrepRun(files, RULES, {"tls-verify-disabled"}, project, executable=fake(tmp_path, body))
    run.start()
    outcome = run.wait()
    assert outcome.status.ran and outcome.status.detail == "semgrep 9.9.9"
    assert outcome.status.files == 2
    assert outcome.findings == {} and outcome.failed_files == {}
    [call] = [json.loads(line) for line in calls.read_text().splitlines()]
    argv = call["argv"]
    assert argv[:3] == ["scan", "--config", argv[2]]
    assert argv[3:] == [*FLAGS, "--", "src/a.js", "src/-odd name.js"]
    assert {"--metrics=off", "--no-rewrite-rule-ids", "--no-git-ignore", "--json"} <= set(FLAGS)
    assert call["cwd"] == os.path.realpath(project)
    env = call["env"]
    assert env["SEMGREP_ENABLE_VERSION_CHECK"] == "0"
    assert env["SEMGREP_SEND_METRICS"] == "off"
    assert "SEMGREP_APP_TOKEN" not in env and "SEMGREP_RULES" not in env
    assert Path(env["SEMGREP_SETTINGS_FILE"]).parent == Path(argv[2]).parent
    config = yaml.safe_load(call["config"])
    assert [r["id"] for r in config["rules"]] == ["tls-verify-disabled", "tls-verify-disabled-go"]
    assert not Path(argv[2]).exists(), "the temporary configuration is removed"


def test_fact_rules_run_when_a_reader_is_enabled_and_carry_their_metavariables(tmp_path, project, monkeypatch):
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("CALLS", str(calls))
    files = list(sources(project).values())
    body = RECORD_CALL + 'print(json.dumps({"results": [], "errors": []}))'
    run = SemgrepRun(files, RULES, {"missing-health-check"}, project, executable=fake(tmp_path, body))
    run.start()
    assert run.wait().status.ran
    config = yaml.safe_load(json.loads(calls.read_text())["config"])
    by_id = {r["id"]: r for r in config["rules"]}
    assert sorted(by_id) == ["fact-express-app", "fact-express-route"]
    route = by_id["fact-express-route"]
    assert route["metadata"]["checker-fact-vars"] == ["$APP", "$METHOD", "$PATH"]
    assert route["message"] == SEPARATOR.join(["$APP", "$METHOD", "$PATH"])


def test_a_symbolic_link_is_given_as_its_file_and_reported_under_its_own_path(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "shared" / "agent.js"
    outside.parent.mkdir()
    outside.write_text("const o = {\n  rejectUnauthorized: false,\n};\n")
    (root / "agent.js").symlink_to(outside)
    (root / "same.js").symlink_to(root / "agent.js")
    files = [SourceFile(root / "agent.js", "agent.js", "javascript"),
             SourceFile(root / "same.js", "same.js", "javascript")]
    body = """
targets = sys.argv[sys.argv.index("--") + 1:]
assert targets == [os.path.realpath(sys.argv[0] + "/../../shared/agent.js")], targets
result = {"check_id": "tls-verify-disabled", "path": targets[0], "start": {"line": 2, "col": 23},
          "end": {"line": 2, "col": 28}, "extra": {"message": "off", "metadata": {"severity": "high"},
          "severity": "ERROR", "lines": "requires login"}}
print(json.dumps({"results": [result], "errors": [], "paths": {"scanned": targets}}))
"""
    run = SemgrepRun(files, RULES, {"tls-verify-disabled"}, root, executable=fake(tmp_path, body))
    run.start()
    outcome = run.wait()
    assert outcome.status.ran, outcome.status
    assert summary(outcome) == {("agent.js", 2, 23, "tls-verify-disabled", "semgrep")}
    assert outcome.findings["agent.js"][0].snippet == "  rejectUnauthorized: false,"
    assert outcome.failed_files == {}


def test_a_target_semgrep_refuses_is_dropped_and_the_rest_rescanned(tmp_path, project, monkeypatch):
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("CALLS", str(calls))
    body = RECORD_CALL + """
targets = sys.argv[sys.argv.index("--") + 1:]
if "src/a.js" in targets:
    print(json.dumps({"results": [], "errors": [{"code": 2, "level": "error", "type": "SemgrepError",
                      "message": "Invalid scanning root: src/a.js"}], "paths": {"scanned": []}}))
    sys.exit(2)
print(json.dumps({"results": [], "errors": [], "paths": {"scanned": targets}}))
"""
    outcome = run_fake(tmp_path, project, body)
    assert outcome.status.ran, outcome.status
    assert outcome.failed_files == {"src/a.js": "semgrep refused it as a target"}
    targets = [json.loads(line)["argv"][-2:] for line in calls.read_text().splitlines()]
    assert targets == [["src/-odd name.js", "src/a.js"], ["--", "src/-odd name.js"]]


def test_semgrep_is_never_started_without_targets_after_refusals(tmp_path, project, monkeypatch):
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("CALLS", str(calls))
    body = RECORD_CALL + """
first = sys.argv[sys.argv.index("--") + 1]
print(json.dumps({"results": [], "errors": [{"level": "error", "message": f"Invalid scanning root: {first}"}]}))
sys.exit(2)
"""
    outcome = run_fake(tmp_path, project, body)
    assert outcome.status.ran, outcome.status
    assert outcome.failed_files == {"src/-odd name.js": "semgrep refused it as a target",
                                    "src/a.js": "semgrep refused it as a target"}
    targets = [json.loads(line)["argv"][-2:] for line in calls.read_text().splitlines()]
    assert targets == [["src/-odd name.js", "src/a.js"], ["--", "src/a.js"]]


def test_a_file_removed_after_discovery_is_not_given_to_semgrep(tmp_path, project):
    files = list(sources(project).values())
    (project / "src" / "a.js").unlink()
    body = 'print(json.dumps({"results": [], "errors": [], "paths": {"scanned": sys.argv[sys.argv.index("--") + 1:]}}))'
    run = SemgrepRun(files, RULES, {"tls-verify-disabled"}, project, executable=fake(tmp_path, body))
    run.start()
    outcome = run.wait()
    assert outcome.status.ran
    assert outcome.failed_files == {"src/a.js": "the file no longer exists"}


@pytest.mark.parametrize("body, detail", [
    ("print('Traceback (most recent call last):')\nprint('boom', file=sys.stderr)",
     "semgrep printed no JSON report (boom)"),
    ("print('fatal: cannot read rules', file=sys.stderr)\nsys.exit(2)",
     "semgrep exited with status 2: fatal: cannot read rules"),
    ("print(json.dumps({'results': [], 'errors': [{'level': 'error', 'message': 'invalid configuration file found\\nmore'}]}))\nsys.exit(7)",
     "semgrep exited with status 7: invalid configuration file found"),
    ("os.kill(os.getpid(), signal.SIGKILL)", "semgrep was killed by SIGKILL"),
    ("print(json.dumps([1, 2]))", "semgrep printed no JSON report (no output)"),
])
def test_engine_trouble_becomes_a_status_not_an_exception(tmp_path, project, body, detail):
    outcome = run_fake(tmp_path, project, body)
    assert not outcome.status.ran
    assert outcome.status.detail == detail
    assert outcome.status.files == 2
    assert outcome.findings == {} and outcome.facts == {} and outcome.failed_files == {}


def test_a_semgrep_that_hangs_is_killed_with_its_children(tmp_path, project):
    pids = tmp_path / "pids"
    body = f"""
import subprocess
child = subprocess.Popen(["sleep", "60"])
open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(60)
"""
    started = time.monotonic()
    outcome = run_fake(tmp_path, project, body, timeout=1.5)
    assert time.monotonic() - started < 15
    assert not outcome.status.ran
    assert outcome.status.detail == "timed out after 1.5 s"
    for pid in pids.read_text().split():
        assert not alive(int(pid))


def alive(pid: int) -> bool:
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("how", ["path", "finder"])
def test_missing_semgrep_is_reported(tmp_path, project, monkeypatch, how):
    files = list(sources(project).values())
    if how == "finder":
        import checker.analyzers.semgrep as adapter

        monkeypatch.setattr(adapter, "find_semgrep", lambda: None)
        run = SemgrepRun(files, RULES, {"tls-verify-disabled"}, project)
    else:
        run = SemgrepRun(files, RULES, {"tls-verify-disabled"}, project, executable=tmp_path / "no-such-semgrep")
    run.start()
    outcome = run.wait()
    assert not outcome.status.ran
    assert outcome.status.detail == ("semgrep is not installed (not found beside the Python interpreter "
                                     "or on PATH)")


def test_the_executable_beside_the_interpreter_wins_over_path(tmp_path, monkeypatch):
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    other = fake(tmp_path / "elsewhere", "")
    monkeypatch.setenv("PATH", str(other.parent))
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    assert external.find_executable("semgrep") == str(other)
    beside = fake(tmp_path / "venv", "")
    assert beside == venv / "semgrep"
    assert external.find_executable("semgrep") == str(beside)
    monkeypatch.setenv("PATH", "")
    assert external.find_executable("bandit") is None


def test_no_process_when_no_enabled_rule_applies(tmp_path, project):
    calls = tmp_path / "calls"
    exe = fake(tmp_path, f"open({str(calls)!r}, 'w').write('called')")
    run = SemgrepRun(list(sources(project).values()), RULES, {"debug-enabled"}, project, executable=exe)
    run.start()
    outcome = run.wait()
    assert not outcome.status.ran
    assert outcome.status.detail == "no enabled semgrep rule applies to the files"
    assert not calls.exists()


def test_long_target_lists_are_split_only_beyond_the_budget():
    targets = [f"src/module_{i:05}.js" for i in range(1000)]
    assert external.batches(targets, ["semgrep", "scan"], env={}) == [targets]
    split = external.batches(targets, ["semgrep", "scan"], env={}, budget=4096 + 2000)
    assert [t for batch in split for t in batch] == targets
    assert [len(b) for b in split] == [217, 217, 217, 217, 132]
    assert external.batches([], ["semgrep"], env={}) == []


# -- one real semgrep run ---------------------------------------------------------------------------

FACT_MARK = re.compile(r"//\s*fact:\s*([a-z]+)")
EXPECT_MARK = re.compile(r"//\s*expect:\s*([a-z0-9\-]+)")


def test_real_semgrep_on_rule_targets_and_a_project_with_ignore_files(tmp_path):
    """One real run: the rule targets beside the YAML fire exactly on their markers, the
    project gives the same result as the recorded report, and neither `.semgrepignore`,
    `.gitignore` nor semgrep's default ignores (tests/) hide a file we pass."""
    root = tmp_path / "repo"
    shutil.copytree(PROJECT, root)
    targets = sorted(p.name for p in RULES.iterdir() if p.suffix in (".js", ".ts", ".go"))
    (root / "targets").mkdir()
    for name in targets:
        shutil.copy(RULES / name, root / "targets" / name)
    (root / ".gitignore").write_text("src/\ntargets/\n")
    (root / ".semgrepignore").write_text("tests/\ncmd/\nsrc/\ntargets/\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    files = sources(root)
    enabled = ENABLED | {"missing-api-docs"}
    chosen = semgrep_targets(list(files.values()), RULES, enabled)
    assert sorted(f.relpath for f in chosen) == sorted(files)
    run = SemgrepRun(chosen, RULES, enabled, root)
    run.start()
    outcome = run.wait()
    assert outcome.status.ran, outcome.status
    assert re.fullmatch(r"semgrep \d+\.\d+\.\d+", outcome.status.detail)

    expected_findings = set()
    expected_facts = set()
    for name in targets:
        for number, line in enumerate((RULES / name).read_text().splitlines(), 1):
            if match := EXPECT_MARK.search(line):
                expected_findings.add((f"targets/{name}", number, match.group(1)))
            if match := FACT_MARK.search(line):
                expected_facts.add((f"targets/{name}", number, match.group(1)))
    assert expected_findings and expected_facts
    got = summary(outcome)
    assert {(p, line, slug) for p, line, _, slug, _ in got if p.startswith("targets/")} == {
        e for e in expected_findings if e[0].startswith("targets/")}
    assert {g for g in got if not g[0].startswith("targets/")} == PROJECT_FINDINGS

    facts = {(p, line, key) for p, by_key in outcome.facts.items() if p.startswith("targets/")
             for key, items in by_key.items() for line, _ in items}
    assert facts == expected_facts
    assert {p: v for p, v in outcome.facts.items() if not p.startswith("targets/")} == PROJECT_FACTS
    assert outcome.facts["targets/fact-express-route.js"]["routes"][1] == (
        18, {"framework": "express", "path": "/orders", "methods": ["get"], "owner": "api",
             "text": "api.get('/orders', orders.list)"})
    assert outcome.failed_files == PROJECT_FAILED

    # The recorded report is what this semgrep says today.
    replay = parse_semgrep_output(recorded(), PROJECT, sources(PROJECT), enabled)
    assert {f for f in got if not f[0].startswith("targets/")} == summary(replay)
