"""Whole small projects, one per framework, laid out controller -> service -> repository.

Each clean project must produce no architecture finding at all; its `-violations` copy has
planted violations, marked with `# expect:` comments, and must produce exactly those.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.model import Section, Status
from checker.registry import load
from checker.testing import expected_markers, fired, scan_files, scan_project

PROJECTS = Path(__file__).resolve().parents[1] / "fixtures" / "projects"
REGISTRY = load()
ARCHITECTURE = sorted(s for s in REGISTRY.slugs if REGISTRY.meta(s).section is Section.ARCHITECTURE)
CLEAN = ("flask-shop", "fastapi-inventory", "django-library")


def _architecture_markers(folder: Path) -> set[tuple[str, int, str]]:
    return {m for m in expected_markers(folder) if m[2] in ARCHITECTURE}


@pytest.mark.parametrize("name", CLEAN)
def test_clean_project_has_no_architecture_findings(name: str) -> None:
    folder = PROJECTS / name
    assert expected_markers(folder) == set()
    report = scan_project(folder, select=ARCHITECTURE)
    assert fired(report.findings) == set()
    statuses = {e.slug: e.status for e in report.checklist if e.slug in ARCHITECTURE}
    # The project is a layered web service: nearly every item applies and passes.
    assert statuses["controller-db-access"] is Status.PASSED
    assert statuses["layer-violation"] is Status.PASSED
    assert statuses["missing-tests"] is Status.PASSED
    assert statuses["missing-error-handler"] is Status.PASSED
    assert statuses["missing-health-check"] is Status.PASSED
    assert statuses["dockerfile-hygiene"] is Status.PASSED


@pytest.mark.parametrize("name", CLEAN)
def test_project_with_planted_violations_reports_exactly_them(name: str) -> None:
    folder = PROJECTS / f"{name}-violations"
    expected = _architecture_markers(folder)
    assert expected
    report = scan_project(folder, select=ARCHITECTURE)
    assert fired(report.findings) == expected


def test_planted_violations_cover_every_architecture_rule() -> None:
    planted = set()
    for name in CLEAN:
        planted |= {slug for _, _, slug in _architecture_markers(PROJECTS / f"{name}-violations")}
    assert planted == set(ARCHITECTURE)


def test_a_library_and_a_cli_get_no_architecture_noise() -> None:
    files = {
        "pyproject.toml": "[project]\nname = 'textkit'\nversion = '0.1'\n",
        "textkit/__init__.py": "from .wrap import wrap\n\n__all__ = ['wrap']\n",
        "textkit/wrap.py": (
            "import textwrap\n\n"
            "def wrap(text, width=70):\n"
            "    try:\n"
            "        return textwrap.fill(text, width)\n"
            "    except ValueError:\n"
            "        return text\n"
        ),
        "textkit/cli.py": (
            "import argparse\n\n"
            "from textkit import wrap\n\n"
            "def main():\n"
            "    parser = argparse.ArgumentParser()\n"
            "    parser.add_argument('path')\n"
            "    args = parser.parse_args()\n"
            "    with open(args.path) as fh:\n"
            "        print(wrap(fh.read()))\n"
        ),
        "tests/test_wrap.py": "from textkit import wrap\n\ndef test_wrap():\n    assert wrap('a b', 1) == 'a\\nb'\n",
    }
    findings = scan_files(files, select=ARCHITECTURE)
    assert [(f.path, f.line, f.rule) for f in findings] == []
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        report = scan_project(root, select=ARCHITECTURE)
    statuses = {e.slug: e.status for e in report.checklist if e.slug in ARCHITECTURE}
    web_only = ("controller-db-access", "layer-violation", "fat-controller", "missing-error-handler",
                "inconsistent-response-format", "wrong-status-code", "missing-health-check", "print-logging",
                "missing-audit-log", "missing-tests", "missing-api-docs", "dockerfile-hygiene",
                "migration-without-rollback", "missing-transaction")
    assert {slug: statuses[slug] for slug in web_only} == {slug: Status.NOT_APPLICABLE for slug in web_only}
    assert Status.FAILED not in statuses.values()
