"""Every fixture folder is a project of its own: scanned with every rule and the default
engines, the (path, line, slug) set found must equal the `expect:` markers in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.testing import expected_markers, fired, scan_project

PROJECT = Path(__file__).resolve().parents[1]
FOLDERS = sorted(p for p in (PROJECT / "fixtures" / "rules").glob("*/*") if p.is_dir())


def _id(path: Path) -> str:
    return path.relative_to(PROJECT / "fixtures" / "rules").as_posix()


@pytest.mark.parametrize("folder", FOLDERS, ids=_id)
def test_fixture_folder_findings_match_markers(folder: Path) -> None:
    report = scan_project(folder, engines=("checker", "semgrep", "bandit"))
    assert [e for e in report.engines if not e.ran] == []
    assert fired(report.findings) == expected_markers(folder)


def test_semgrep_rule_targets_match_markers() -> None:
    """The annotated targets beside the YAML rules, for the per-file rules (project rules
    that read semgrep facts are covered by their own fixture folders)."""
    from checker.registry import load

    registry = load()
    file_rules = [slug for slug in registry.slugs if registry.meta(slug).scope == "file"]
    folder = PROJECT / "rules" / "semgrep"
    report = scan_project(folder, select=file_rules, engines=("semgrep",))
    assert [e for e in report.engines if not e.ran] == []
    assert expected_markers(folder), "the semgrep rules carry annotated test targets"
    assert fired(report.findings) == expected_markers(folder)


def test_there_are_fixture_folders() -> None:
    assert FOLDERS
