"""A rule's examples are its first tests: `bad` examples fire exactly on their `# flagged`
lines, `good` examples do not fire."""

from __future__ import annotations

import pytest

from checker.registry import load
from checker.testing import scan_files

REGISTRY = load()
BAD = [(slug, i) for slug in REGISTRY.slugs for i, _ in enumerate(REGISTRY.meta(slug).bad)]
GOOD = [(slug, i) for slug in REGISTRY.slugs for i, _ in enumerate(REGISTRY.meta(slug).good)]


def _flagged(code: str) -> set[int]:
    return {n for n, line in enumerate(code.splitlines(), 1) if line.rstrip().endswith("# flagged")}


@pytest.mark.parametrize("slug,index", BAD, ids=[f"{s}-bad{i}" for s, i in BAD])
def test_bad_example_fires_on_flagged_lines(slug: str, index: int) -> None:
    example = REGISTRY.meta(slug).bad[index]
    expected = {(example.path, line) for line in _flagged(example.code)}
    assert expected, "a bad example marks the lines it is flagged on"
    findings = scan_files({example.path: example.code}, select=[slug])
    assert {(f.path, f.line) for f in findings if f.rule == slug} == expected


@pytest.mark.parametrize("slug,index", GOOD, ids=[f"{s}-good{i}" for s, i in GOOD])
def test_good_example_does_not_fire(slug: str, index: int) -> None:
    example = REGISTRY.meta(slug).good[index]
    findings = scan_files({example.path: example.code}, select=[slug])
    assert [(f.path, f.line, f.message) for f in findings if f.rule == slug] == []
