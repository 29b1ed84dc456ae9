"""Scoring: exact values computed by hand from the formula in docs/scoring.md."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest

from checker.model import Confidence, Finding, RuleMeta, Section, Severity, Span
from checker.score import (
    DEFAULT_WEIGHTS,
    WeightsError,
    formula,
    grade,
    merge_weights,
    score,
    validate_weights,
)

S, P, A = Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE


def meta(slug: str, section: Section, severity: Severity = Severity.HIGH) -> RuleMeta:
    return RuleMeta(slug=slug, checklist=f"item for {slug}", section=section, severity=severity,
                    confidence=Confidence.HIGH, scope="file", languages=("python",), summary=slug)


METAS = {
    "sql-string-built": meta("sql-string-built", S, Severity.CRITICAL),
    "hardcoded-secret": meta("hardcoded-secret", S),
    "n-plus-one-query": meta("n-plus-one-query", P),
    "missing-request-timeout": meta("missing-request-timeout", P, Severity.MEDIUM),
    "print-logging": meta("print-logging", A, Severity.LOW),
}


def finding(rule: str, line: int, severity: Severity, confidence: Confidence = Confidence.HIGH,
            path: str = "app/x.py") -> Finding:
    return Finding(rule=rule, path=path, span=Span(line, 1), message=f"{rule} at {line}",
                   severity=severity, confidence=confidence)


def sections(result) -> dict[Section, tuple[float, str, float, bool]]:
    return {s.section: (s.score, s.grade, s.points, s.capped) for s in result.sections}


def test_clean_app_scores_100():
    result, scored = score([], METAS, 1200)
    assert scored == ()
    assert (result.overall, result.grade, result.capped, result.lines_of_code) == (100.0, "A", False, 1200)
    assert sections(result) == {S: (100.0, "A", 0.0, False), P: (100.0, "A", 0.0, False),
                                A: (100.0, "A", 0.0, False)}


def test_one_critical_sql_injection_in_a_small_app_fails_security():
    result, scored = score([finding("sql-string-built", 10, Severity.CRITICAL)], METAS, 800)
    # 800 lines is under the 1 KLOC floor: divisor 1. Cost 50 x 1.0 = 50.
    assert scored[0].points == 50.0
    assert sections(result)[S] == (50.0, "F", 50.0, True)
    # (2 x 50 + 100 + 100) / 4 = 75, capped to 69.
    assert (result.overall, result.grade, result.capped) == (69.0, "D", True)


def test_critical_cap_holds_in_a_big_codebase():
    result, scored = score([finding("sql-string-built", 10, Severity.CRITICAL)], METAS, 100_000)
    # 50 / sqrt(100) = 5 points: 95 before the cap, 59 after.
    assert scored[0].points == 5.0
    assert sections(result)[S] == (59.0, "F", 5.0, True)
    # (2 x 59 + 100 + 100) / 4 = 79.5, capped to 69.
    assert (result.overall, result.grade, result.capped) == (69.0, "D", True)


def test_high_security_finding_does_not_cap():
    result, _ = score([finding("hardcoded-secret", 3, Severity.HIGH)], METAS, 100_000)
    assert sections(result)[S] == (98.0, "A", 2.0, False)
    assert (result.overall, result.capped) == (round((2 * 98.0 + 200) / 4, 1), False)


def test_critical_outside_security_does_not_cap():
    result, _ = score([finding("n-plus-one-query", 3, Severity.CRITICAL)], METAS, 500)
    assert sections(result)[P] == (50.0, "F", 50.0, False)
    assert sections(result)[S] == (100.0, "A", 0.0, False)
    assert (result.overall, result.grade, result.capped) == (87.5, "B", False)


@pytest.mark.parametrize("loc, expected_points", [
    (0, 20.0), (500, 20.0), (1000, 20.0), (4000, 10.0), (40_000, round(20 / math.sqrt(40), 2)),
    (250_000, round(20 / math.sqrt(250), 2)),
])
def test_size_normalisation_is_square_root_of_kloc_with_a_floor(loc, expected_points):
    result, scored = score([finding("n-plus-one-query", 1, Severity.HIGH)], METAS, loc)
    assert scored[0].points == expected_points
    assert sections(result)[P][0] == round(100 - 20 / math.sqrt(max(loc / 1000, 1)), 1)


@pytest.mark.parametrize("severity, confidence, expected", [
    (Severity.CRITICAL, Confidence.HIGH, 50.0), (Severity.HIGH, Confidence.HIGH, 20.0),
    (Severity.HIGH, Confidence.MEDIUM, 15.0), (Severity.HIGH, Confidence.LOW, 10.0),
    (Severity.MEDIUM, Confidence.HIGH, 8.0), (Severity.MEDIUM, Confidence.LOW, 4.0),
    (Severity.LOW, Confidence.HIGH, 3.0), (Severity.LOW, Confidence.MEDIUM, 2.25),
    (Severity.INFO, Confidence.HIGH, 0.0),
])
def test_base_cost_is_severity_times_confidence(severity, confidence, expected):
    _, scored = score([finding("n-plus-one-query", 1, severity, confidence)], METAS, 1000)
    assert scored[0].points == expected


def test_repeated_findings_of_one_rule_cost_less_and_less():
    findings = [finding("missing-request-timeout", line, Severity.MEDIUM) for line in (50, 10, 40, 20, 30)]
    result, scored = score(findings, METAS, 1000)
    # Equal base cost: ordered by position; the k-th costs 8 x 0.6^k.
    by_line = {f.line: f.points for f in scored}
    assert by_line == {10: 8.0, 20: 4.8, 30: 2.88, 40: 1.73, 50: 1.04}
    total = 8 * (1 + 0.6 + 0.36 + 0.216 + 0.1296)
    assert sections(result)[P] == (round(100 - total, 1), "B", round(total, 2), False)
    assert [f.line for f in scored] == [50, 10, 40, 20, 30]  # given order kept


def test_most_expensive_finding_of_a_rule_pays_full_price():
    findings = [finding("n-plus-one-query", 1, Severity.LOW), finding("n-plus-one-query", 2, Severity.HIGH)]
    _, scored = score(findings, METAS, 1000)
    assert [f.points for f in scored] == [round(3 * 0.6, 2), 20.0]


def test_different_rules_do_not_share_the_decay():
    findings = [finding("n-plus-one-query", 1, Severity.HIGH),
                finding("missing-request-timeout", 2, Severity.HIGH)]
    result, scored = score(findings, METAS, 1000)
    assert [f.points for f in scored] == [20.0, 20.0]
    assert sections(result)[P][:3] == (60.0, "D", 40.0)


def test_one_noisy_rule_cannot_empty_a_section():
    findings = [finding("n-plus-one-query", line, Severity.CRITICAL) for line in range(1, 101)]
    result, scored = score(findings, METAS, 1000)
    # Uncapped: 50 x (1 - 0.6^100) / 0.4 = 125; the rule cap keeps it at 60.
    assert sections(result)[P] == (40.0, "F", 60.0, False)
    # Each finding's share is scaled by 60/125; the first pays 50 x 0.48 = 24.
    assert scored[0].points == 24.0
    assert scored[1].points == round(50 * 0.6 * 60 / (50 * (1 - 0.6 ** 100) / 0.4), 2)


def test_rule_cap_scales_every_share():
    findings = [finding("n-plus-one-query", 1, Severity.CRITICAL), finding("n-plus-one-query", 2, Severity.CRITICAL)]
    result, scored = score(findings, METAS, 1000)
    # 50 + 30 = 80 > 60: scale 0.75 -> 37.5 and 22.5.
    assert [f.points for f in scored] == [37.5, 22.5]
    assert sections(result)[P][:3] == (40.0, "F", 60.0)


def test_section_score_never_goes_below_zero():
    metas = {f"rule-{i}": meta(f"rule-{i}", A) for i in range(3)}
    findings = [finding(f"rule-{i}", 1, Severity.CRITICAL) for i in range(3)]
    result, _ = score(findings, metas, 1000)
    assert sections(result)[A] == (0.0, "F", 150.0, False)
    assert result.overall == 75.0  # (2 x 100 + 100 + 0) / 4


def test_inapplicable_section_does_not_count_in_the_overall_score():
    findings = [finding("n-plus-one-query", 1, Severity.HIGH)]
    result, _ = score(findings, METAS, 1000, applicable={S})
    # Performance has a finding, so it applies anyway; architecture does not.
    assert sections(result)[A] == (100.0, "n/a", 0.0, False)
    assert sections(result)[P] == (80.0, "B", 20.0, False)
    assert result.overall == round((2 * 100 + 80) / 3, 1) == 93.3


def test_no_applicable_section_scores_100():
    result, _ = score([], METAS, 1000, applicable=set())
    assert (result.overall, result.grade) == (100.0, "A")
    assert {s.grade for s in result.sections} == {"n/a"}


def test_overall_uses_section_weights():
    findings = [finding("print-logging", 1, Severity.HIGH)]
    result, _ = score(findings, METAS, 1000)
    assert result.overall == (2 * 100 + 100 + 80) / 4 == 95.0
    result, _ = score(findings, METAS, 1000, weights={"sections": {"architecture": 2}})
    assert result.overall == round((2 * 100 + 100 + 2 * 80) / 5, 1) == 92.0


def test_unknown_rule_costs_nothing_and_info_costs_nothing():
    findings = [finding("not-a-rule", 1, Severity.CRITICAL), finding("print-logging", 2, Severity.INFO)]
    result, scored = score(findings, METAS, 1000)
    assert [f.points for f in scored] == [0.0, 0.0]
    assert (result.overall, result.capped) == (100.0, False)


def test_scoring_is_pure():
    findings = [finding("sql-string-built", 10, Severity.CRITICAL), finding("print-logging", 2, Severity.LOW)]
    before = copy.deepcopy(findings)
    defaults = copy.deepcopy(DEFAULT_WEIGHTS)
    first = score(findings, METAS, 3000, weights={"repeat-decay": 0.5})
    second = score(findings, METAS, 3000, weights={"repeat-decay": 0.5})
    assert first == second
    assert findings == before and all(f.points == 0.0 for f in findings)
    assert DEFAULT_WEIGHTS == defaults


def test_partial_weights_override_only_their_keys():
    result, scored = score([finding("hardcoded-secret", 1, Severity.HIGH)], METAS, 1000,
                           weights={"severity": {"high": 10}})
    assert scored[0].points == 10.0
    assert "high 10," in result.formula and "critical 50," in result.formula


def test_weights_for_caps():
    result, _ = score([finding("sql-string-built", 1, Severity.CRITICAL)], METAS, 100_000,
                      weights={"critical-cap": {"security": 40, "overall": 50}})
    assert sections(result)[S][:2] == (40.0, "F")
    assert result.overall == 50.0


@pytest.mark.parametrize("value, letter", [
    (100, "A"), (90, "A"), (89.99, "B"), (80, "B"), (79.9, "C"), (70, "C"), (69.9, "D"),
    (60, "D"), (59.9, "F"), (0, "F"),
])
def test_grade_boundaries(value, letter):
    assert grade(value) == letter


def test_formula_with_default_weights():
    assert formula(DEFAULT_WEIGHTS) == (
        "section = max(0, 100 - sum over rules of min(60, sum_k sev*conf*0.6^k) / sqrt(max(KLOC, 1))); "
        "sev critical 50, high 20, medium 8, low 3, info 0; conf high 1, medium 0.75, low 0.5; "
        "overall = mean of applicable sections weighted security 2, performance 1, architecture 1; "
        "a critical security finding caps security at 59 and overall at 69"
    )
    result, _ = score([], METAS, 10)
    assert result.formula == formula(DEFAULT_WEIGHTS)


def test_docs_state_the_formula_in_force():
    docs = (Path(__file__).parent.parent / "docs" / "scoring.md").read_text(encoding="utf-8")
    assert formula(DEFAULT_WEIGHTS) in docs
    for key, value in DEFAULT_WEIGHTS.items():
        if isinstance(value, dict):
            for sub, number in value.items():
                assert f"| `{key}.{sub}` | {number:g} |" in docs or f"| `{key}.{sub}` | {number} |" in docs
        else:
            assert f"| `{key}` | {value:g} |" in docs


def test_validate_weights_names_every_problem():
    errors = validate_weights({
        "severity": {"high": "lots", "urgent": 3},
        "confidence": {"low": -1},
        "repeat-decay": 1.5,
        "kloc-floor": 0,
        "critical-cap": {"security": 120},
        "bonus": 1,
        "sections": 3,
    })
    assert errors == [
        "weights.severity.high: expected a number, got 'lots'",
        "weights.severity.urgent: unknown key (expected one of: critical, high, medium, low, info)",
        "weights.confidence.low: must not be negative, got -1",
        "weights.bonus: unknown key (expected one of: severity, confidence, sections, repeat-decay, "
        "rule-cap, kloc-floor, critical-cap)",
        "weights.sections: expected a table of security, performance, architecture",
        "weights.repeat-decay: must be greater than 0 and at most 1, got 1.5",
        "weights.kloc-floor: must be greater than 0, got 0",
        "weights.critical-cap.security: must be at most 100, got 120",
    ]
    assert validate_weights(DEFAULT_WEIGHTS) == []
    assert validate_weights({"severity": {"high": True}}) == ["weights.severity.high: expected a number, got True"]


def test_merge_weights_raises_with_all_errors():
    with pytest.raises(WeightsError) as info:
        merge_weights({"rule-cap": "x", "nope": 1})
    assert info.value.errors == [
        "weights.rule-cap: expected a number, got 'x'",
        "weights.nope: unknown key (expected one of: severity, confidence, sections, repeat-decay, "
        "rule-cap, kloc-floor, critical-cap)",
    ]
    merged = merge_weights({"confidence": {"low": 0.25}})
    assert merged["confidence"] == {"high": 1.0, "medium": 0.75, "low": 0.25}
    assert merged["severity"] == DEFAULT_WEIGHTS["severity"]
