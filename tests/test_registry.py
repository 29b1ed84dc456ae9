"""Every rule is complete: a catalog slug, docs under the fixed headings, examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checker.model import Section
from checker.registry import load

CATALOG = Path(__file__).resolve().parents[2] / "shared" / "CHECKLISTS.md"
REGISTRY = load()


def catalog() -> dict[str, Section]:
    section = None
    out: dict[str, Section] = {}
    names = {"## Security": Section.SECURITY, "## Performance": Section.PERFORMANCE,
             "## Architecture and operations": Section.ARCHITECTURE}
    for line in CATALOG.read_text(encoding="utf-8").splitlines():
        if line.strip() in names:
            section = names[line.strip()]
        match = re.match(r"\|\s*([a-z0-9-]+)\s*\|", line)
        if match and section is not None and match.group(1) != "slug":
            out[match.group(1)] = section
    return out


CATALOG_SLUGS = catalog()


def test_catalog_is_read() -> None:
    assert {"hardcoded-secret", "n-plus-one-query", "controller-db-access"} <= set(CATALOG_SLUGS)


@pytest.mark.parametrize("slug", REGISTRY.slugs)
def test_rule_is_complete(slug: str) -> None:
    meta = REGISTRY.meta(slug)
    assert slug in CATALOG_SLUGS, "every rule is a catalog item"
    assert meta.section is CATALOG_SLUGS[slug]
    assert meta.checklist and meta.summary
    assert "## What it does" in meta.docs and "## Why is this bad?" in meta.docs
    assert meta.bad and meta.good
    assert meta.scope in ("file", "project")
    assert meta.languages


def test_manual_items_are_well_formed() -> None:
    keys = [m.key for m in REGISTRY.manual]
    assert len(keys) == len(set(keys)) and keys
    assert not set(keys) & set(CATALOG_SLUGS)


def test_redirects_point_to_rules() -> None:
    for old, new in REGISTRY.redirects.items():
        assert old not in REGISTRY.rules and REGISTRY.canonical(old) in REGISTRY.rules
