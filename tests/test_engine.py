"""Engine post-processing and the cache."""

from __future__ import annotations

import json
from pathlib import Path

from checker.api import scan
from checker.cache import CACHE_DIR
from checker.config import parse
from checker.engine import _dedupe
from checker.model import Confidence, Finding, Severity, Span
from checker.registry import load
from checker.testing import fired, scan_project

BAD = "import requests\n\ndef f(url):\n    return requests.get(url, timeout=2, verify=False)\n"


def _finding(engine: str, line: int = 4, message: str = "m") -> Finding:
    return Finding("tls-verify-disabled", "a.py", Span(line, 1), message, Severity.HIGH, Confidence.HIGH, engine=engine)


def test_dedupe_keeps_one_finding_per_place_preferring_the_checker() -> None:
    kept = _dedupe([_finding("bandit"), _finding("checker"), _finding("semgrep"), _finding("bandit", line=9)])
    assert sorted((f.engine, f.line) for f in kept) == [("bandit", 9), ("checker", 4)]


def test_severity_override_and_per_path_ignores(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "b.py").write_text(BAD)
    report = scan_project(tmp_path, select=["tls-verify-disabled"], config={
        "severity": {"tls-verify-disabled": "critical"},
        "per-path-ignores": {"scripts/**": ["tls-verify-disabled"]},
    })
    assert fired(report.findings) == {("a.py", 4, "tls-verify-disabled")}
    assert [f.severity for f in report.findings] == [Severity.CRITICAL]
    assert report.rules["tls-verify-disabled"].severity is Severity.CRITICAL


def test_unchanged_rescan_is_served_from_the_cache_and_corrupt_cache_is_discarded(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "b.py").write_text("x = 1\n")
    cfg = parse({}, load())

    def run():
        return scan([tmp_path], cfg, root=tmp_path, select=["tls-verify-disabled"], jobs=1, engines={"checker"})

    first = run()
    cache_file = tmp_path / CACHE_DIR / "results.json"
    assert json.loads(cache_file.read_text())["entries"].keys() == {"a.py", "b.py"}
    second = run()
    assert fired(second.findings) == fired(first.findings) == {("a.py", 4, "tls-verify-disabled")}
    assert [e.detail for e in second.engines if e.name == "checker"] == ["0 analysed, 2 from cache"]
    (tmp_path / "b.py").write_text(BAD)
    third = run()
    assert [e.detail for e in third.engines if e.name == "checker"] == ["1 analysed, 1 from cache"]
    cache_file.write_text("{not json")
    fourth = run()
    assert fired(fourth.findings) == {("a.py", 4, "tls-verify-disabled"), ("b.py", 4, "tls-verify-disabled")}
    assert [e.detail for e in fourth.engines if e.name == "checker"] == ["2 analysed, 0 from cache"]
    assert [e.detail for e in fourth.engines if e.name == "cache"] == ["cache discarded (unreadable: JSONDecodeError)"]
    assert (tmp_path / CACHE_DIR / ".gitignore").read_text().endswith("*\n")


def test_parallel_and_serial_scans_agree(tmp_path: Path) -> None:
    for i in range(40):
        (tmp_path / f"m{i}.py").write_text(BAD if i % 3 == 0 else "x = 1\n")
    cfg = parse({}, load())
    serial = scan([tmp_path], cfg, root=tmp_path, select=["tls-verify-disabled"], jobs=1, use_cache=False,
                  engines={"checker"})
    parallel = scan([tmp_path], cfg, root=tmp_path, select=["tls-verify-disabled"], jobs=2, use_cache=False,
                    engines={"checker"})
    assert serial.findings == parallel.findings
    assert fired(serial.findings) == {(f"m{i}.py", 4, "tls-verify-disabled") for i in range(0, 40, 3)}


def test_missing_external_engine_is_reported_and_the_scan_completes(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "a.py").write_text(BAD)
    monkeypatch.setenv("PATH", "/nonexistent")
    import checker.analyzers.semgrep as semgrep_adapter

    monkeypatch.setattr(semgrep_adapter, "find_semgrep", lambda: None, raising=False)
    (tmp_path / "x.js").write_text("https.request({rejectUnauthorized: false});\n")
    report = scan([tmp_path], parse({}, load()), root=tmp_path, jobs=1, use_cache=False,
                  engines={"checker", "semgrep"}, select=["tls-verify-disabled"])
    assert fired(report.findings) == {("a.py", 4, "tls-verify-disabled")}
    status = [e for e in report.engines if e.name == "semgrep"][0]
    assert not status.ran and status.detail
