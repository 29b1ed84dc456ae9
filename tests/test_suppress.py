"""Inline suppressions: same line, line above, whole file; reasons required; unused reported."""

from __future__ import annotations

from pathlib import Path

from checker.testing import fired, scan_project

CALL = "requests.get(url, timeout=3, verify=False)"


def _scan(tmp_path: Path, text: str):
    (tmp_path / "m.py").write_text("import requests\n" + text)
    return scan_project(tmp_path, select=["tls-verify-disabled"])


def test_same_line_and_line_above(tmp_path: Path) -> None:
    report = _scan(tmp_path, (
        f"def a(url):\n    return {CALL}  # checker: ignore[tls-verify-disabled] -- internal CA\n"
        f"def b(url):\n    # checker: ignore[tls-verify-disabled] -- internal CA\n    return {CALL}\n"
        f"def c(url):\n    return {CALL}\n"
    ))
    assert fired(report.findings) == {("m.py", 8, "tls-verify-disabled")}
    assert report.suppressed == 2
    assert report.diagnostics == ()


def test_missing_reason_is_reported_and_unused_suppressions_too(tmp_path: Path) -> None:
    report = _scan(tmp_path, (
        f"def a(url):\n    return {CALL}  # checker: ignore[tls-verify-disabled]\n"
        "x = 1  # checker: ignore[tls-verify-disabled] -- nothing here\n"
        "y = 2  # checker: ignore[no-such-rule] -- typo\n"
    ))
    assert report.findings == ()
    assert [(d.rule, d.line, d.message) for d in report.diagnostics] == [
        ("invalid-suppression", 3, "suppression without a reason: add `-- why` after the rule list"),
        ("unused-suppression", 4, "unused suppression: no tls-verify-disabled finding here"),
        ("invalid-suppression", 5, "suppression names unknown rule(s): no-such-rule"),
    ]


def test_file_level_and_bare_forms(tmp_path: Path) -> None:
    report = _scan(tmp_path, (
        "# checker: ignore-file[tls-verify-disabled] -- talks to a test double only\n"
        f"def a(url):\n    return {CALL}\n"
    ))
    assert report.findings == () and report.suppressed == 1 and report.diagnostics == ()
    (tmp_path / "m.py").write_text(f"import requests\n{CALL}  # checker: ignore -- vendored snippet\n")
    report = scan_project(tmp_path, select=["tls-verify-disabled"])
    assert report.findings == () and report.suppressed == 1
