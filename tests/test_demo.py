"""End to end: the bundled demo application (``fixtures/demo``) scanned with every engine.

``fixtures/demo/VIOLATIONS.md`` lists every planted violation as ``| slug | path | line |``
rows, plus the findings the checker is known to get wrong on it today. The scan must
report exactly the planted rows of the rules that exist (minus known misses), plus the
known false positives: nothing more, nothing less.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from checker import registry
from checker.api import scan
from checker.checklist import CATALOG_ORDER
from checker.reporters import RenderOptions, formats, render
from checker.testing import fired

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "demo"
VIOLATIONS = DEMO / "VIOLATIONS.md"

PLANTED = "Planted violations"
FALSE_POSITIVES = "False positives"
MISSED = "Missed planted violations"
# Catalog items the demo does not plant, with the reason given in VIOLATIONS.md.
NOT_PLANTED = {"missing-health-check"}

# Every credential planted in the demo, in clear. None may appear in any output.
SECRETS = (
    "sk_live_51NfQx2LkTr8vW3mZqY7cBd0aHs4PjE9uXgK6oV1iFtR5nCwUyDlMe2bAz",
    "T4wq9Ld2Xz7pRc",
    "Jq3vX9nLr2Tz8WbK5mYc7HdP1sFg4AeU",
)

ROW = re.compile(r"^\|\s*([a-z0-9-]+)\s*\|\s*([^|\s]+)\s*\|\s*(\d+)\s*\|")


def tables(text: str) -> dict[str, set[tuple[str, int, str]]]:
    """The ``(path, line, slug)`` rows of each table, keyed by the heading above it."""
    out: dict[str, set[tuple[str, int, str]]] = {}
    heading = None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            continue
        match = ROW.match(line)
        if match and heading is not None:
            slug, path, number = match.groups()
            out.setdefault(heading, set()).add((path, int(number), slug))
    return out


@pytest.fixture(scope="module")
def documented() -> dict[str, set[tuple[str, int, str]]]:
    found = tables(VIOLATIONS.read_text(encoding="utf-8"))
    for name in (PLANTED, FALSE_POSITIVES, MISSED):
        found.setdefault(name, set())
    return found


@pytest.fixture(scope="module")
def report():
    return scan([DEMO], root=DEMO, jobs=1, use_cache=False)


def test_document_is_consistent(documented):
    planted, false_positives, missed = documented[PLANTED], documented[FALSE_POSITIVES], documented[MISSED]
    assert planted, "no planted violations parsed from VIOLATIONS.md"
    catalog = set(CATALOG_ORDER)
    for path, line, slug in planted | false_positives | missed:
        assert slug in catalog, f"{slug} is not a catalog slug"
        file = DEMO / path
        assert file.is_file(), f"{path} does not exist"
        assert 1 <= line <= len(file.read_text(encoding="utf-8").splitlines()), f"{path}:{line} is past the end"
    assert missed <= planted, f"missed rows that are not planted: {sorted(missed - planted)}"
    assert not false_positives & planted, f"rows both planted and false: {sorted(false_positives & planted)}"
    uncovered = catalog - NOT_PLANTED - {slug for _, _, slug in planted}
    assert not uncovered, f"catalog items with no planted violation: {sorted(uncovered)}"


def test_engines_ran(report):
    failed = {engine.name: engine.detail for engine in report.engines if not engine.ran}
    assert not failed, f"engines that did not run on the demo: {failed}"
    assert not report.skipped, f"demo files skipped: {report.skipped}"


def test_findings_are_exactly_the_documented_ones(report, documented):
    known = set(registry.load().slugs)
    expected = {row for row in documented[PLANTED] - documented[MISSED] if row[2] in known}
    expected |= {row for row in documented[FALSE_POSITIVES] if row[2] in known}
    found = fired(report.findings)
    assert not report.diagnostics, f"suppression diagnostics: {report.diagnostics}"
    missing, extra = sorted(expected - found), sorted(found - expected)
    assert (missing, extra) == ([], []), (
        f"documented but not found: {missing}\nfound but not documented: {extra}"
    )


@pytest.mark.parametrize("fmt", sorted(formats()))
def test_no_secret_in_output(report, fmt):
    text = render(fmt, report, RenderOptions(color=False, width=120, verbose=True))
    assert text.strip()
    if fmt == "json":
        data = json.loads(text)
        assert {f["rule"] for f in data["findings"]} == {f.rule for f in report.findings}
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{fmt} output shows planted secrets in clear: {[s[:4] for s in leaked]}"


def test_planted_secrets_are_in_the_demo():
    """The secrets checked above are really in the demo, so the check cannot pass vacuously."""
    text = "".join(p.read_text(encoding="utf-8") for p in (DEMO / ".env", DEMO / "stockroom/services/payments.py"))
    assert [secret for secret in SECRETS if secret not in text] == []
