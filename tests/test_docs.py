"""docs/rules.md and the README's rule table are generated from the rules; they must be current."""

from __future__ import annotations

from pathlib import Path

from checker.docs import expected_files

PROJECT = Path(__file__).resolve().parents[1]


def test_generated_docs_are_current() -> None:
    stale = [str(path.relative_to(PROJECT)) for path, text in expected_files(PROJECT).items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert stale == [], "run `python -m checker.docs --write`"


def test_readme_starts_with_the_two_commands() -> None:
    head = (PROJECT / "README.md").read_text(encoding="utf-8")[:1500]
    assert "make demo" in head and "make test" in head
