"""Bad input never stops a scan: each bad file is skipped with its reason, the rest is scanned."""

from __future__ import annotations

import os
from pathlib import Path

from checker.testing import fired, scan_project

BAD_CALL = "import requests\nrequests.get('https://x', timeout=2, verify=False)\n"


def test_bad_files_are_skipped_with_reasons_and_the_rest_is_scanned(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(BAD_CALL)
    (tmp_path / "broken.py").write_text("def f(:\n    verify=False\n")
    (tmp_path / "binary.py").write_bytes(b"\x00\x01verify\x02\x00")
    (tmp_path / "latin1.py").write_bytes("# caf\xe9\nverify = False\n".encode("latin-1"))
    (tmp_path / "huge.py").write_text("x = 'verify'\n" * 200_000)
    os.symlink("loop", tmp_path / "loop")
    report = scan_project(tmp_path, select=["tls-verify-disabled"], config={"max-file-size": 1_000_000})
    assert fired(report.findings) == {("good.py", 2, "tls-verify-disabled")}
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["broken.py"].startswith("does not parse: line 2, column 0")
    assert reasons["binary.py"] == "binary file (contains NUL bytes)"
    assert reasons["latin1.py"].startswith("not UTF-8")
    assert reasons["huge.py"].startswith("larger than the size limit")
    assert reasons["loop"] == "symbolic link loop"
    assert set(reasons) == {"broken.py", "binary.py", "latin1.py", "huge.py", "loop"}


def test_a_crashing_rule_costs_only_itself(tmp_path: Path, monkeypatch) -> None:
    from rules.security.tls_verify_disabled import TlsVerifyDisabled

    def boom(self, node):
        raise RuntimeError("rule bug")

    monkeypatch.setattr(TlsVerifyDisabled, "visit_Assign", boom)
    (tmp_path / "a.py").write_text(BAD_CALL + "x = 1\n")
    report = scan_project(tmp_path, select=["tls-verify-disabled"])
    assert fired(report.findings) == {("a.py", 2, "tls-verify-disabled")}
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("a.py", "partly analysed: rule tls-verify-disabled failed: RuntimeError: rule bug")]
