"""Scoring: a pure function of the findings, the size of the code and declared weights.

Each finding costs points from its section's 100:

* its base cost is ``severity weight x confidence weight``;
* within one rule, findings are taken most expensive first and the k-th one (counting
  from 0) costs ``repeat-decay ** k`` of its base cost, and a rule never costs more than
  ``rule-cap`` in all, so one noisy rule cannot empty a section;
* the result is divided by ``sqrt(max(KLOC, kloc-floor))``: a finding weighs less in a
  big codebase, but far less than proportionally.

A section scores ``100 - its points`` (never below 0). A critical security finding caps
the security score and the overall score. The overall score is the weighted mean of the
sections that apply to the code (a section none of whose rules found anything to examine
neither helps nor hurts). ``docs/scoring.md`` explains the same in words, with examples.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any, Mapping, Sequence

from checker.model import (
    Confidence,
    Finding,
    RuleMeta,
    Score,
    Section,
    SectionScore,
    Severity,
)

DEFAULT_WEIGHTS: dict[str, Any] = {
    # Base cost of one finding, by severity (points out of a section's 100).
    "severity": {"critical": 50.0, "high": 20.0, "medium": 8.0, "low": 3.0, "info": 0.0},
    # Multiplier by how sure the rule is.
    "confidence": {"high": 1.0, "medium": 0.75, "low": 0.5},
    # Relative weight of each section in the overall score.
    "sections": {"security": 2.0, "performance": 1.0, "architecture": 1.0},
    # Each further finding of the same rule costs this fraction of the one before it.
    "repeat-decay": 0.6,
    # The most one rule can cost its section (before size normalisation).
    "rule-cap": 60.0,
    # Code size normalisation: points are divided by sqrt(max(KLOC, kloc-floor)).
    "kloc-floor": 1.0,
    # With a critical security finding, the security and overall scores are at most these.
    "critical-cap": {"security": 59.0, "overall": 69.0},
}

# Lowest score for each letter; below the last one the grade is F.
GRADES: tuple[tuple[float, str], ...] = ((90.0, "A"), (80.0, "B"), (70.0, "C"), (60.0, "D"))

SECTION_ORDER: tuple[Section, ...] = (Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE)


class WeightsError(ValueError):
    """Invalid scoring weights; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def grade(score: float) -> str:
    """The letter grade of a 0-100 score: A >= 90, B >= 80, C >= 70, D >= 60, else F."""
    for lowest, letter in GRADES:
        if score >= lowest:
            return letter
    return "F"


# ---------------------------------------------------------------------------------------
# Weights: defaults, merging and validation.


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_weights(weights: Mapping[str, Any], prefix: str = "weights") -> list[str]:
    """Every problem with a (possibly partial) weights mapping, as readable messages.

    Keys must exist in :data:`DEFAULT_WEIGHTS` with the same nesting; values must be
    non-negative numbers; ``repeat-decay`` lies in (0, 1]; caps lie in [0, 100].
    """
    errors: list[str] = []

    def walk(given: Any, default: Any, path: str) -> None:
        if isinstance(default, dict):
            if not isinstance(given, Mapping):
                errors.append(f"{path}: expected a table of {', '.join(default)}")
                return
            for key, value in given.items():
                if key not in default:
                    errors.append(f"{path}.{key}: unknown key (expected one of: {', '.join(default)})")
                    continue
                walk(value, default[key], f"{path}.{key}")
            return
        if not _is_number(given):
            errors.append(f"{path}: expected a number, got {given!r}")
        elif given < 0:
            errors.append(f"{path}: must not be negative, got {given!r}")

    walk(weights, DEFAULT_WEIGHTS, prefix)
    decay = weights.get("repeat-decay") if isinstance(weights, Mapping) else None
    if _is_number(decay) and not 0 < decay <= 1:
        errors.append(f"{prefix}.repeat-decay: must be greater than 0 and at most 1, got {decay!r}")
    floor = weights.get("kloc-floor") if isinstance(weights, Mapping) else None
    if _is_number(floor) and floor <= 0:
        errors.append(f"{prefix}.kloc-floor: must be greater than 0, got {floor!r}")
    caps = weights.get("critical-cap") if isinstance(weights, Mapping) else None
    if isinstance(caps, Mapping):
        for key, value in caps.items():
            if key in DEFAULT_WEIGHTS["critical-cap"] and _is_number(value) and value > 100:
                errors.append(f"{prefix}.critical-cap.{key}: must be at most 100, got {value!r}")
    return errors


def merge_weights(weights: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:data:`DEFAULT_WEIGHTS` with the given (partial) weights laid over it.

    Raises :class:`WeightsError` naming every invalid key or value.
    """
    merged = copy.deepcopy(DEFAULT_WEIGHTS)
    if not weights:
        return merged
    errors = validate_weights(weights)
    if errors:
        raise WeightsError(errors)
    for key, value in weights.items():
        if isinstance(merged[key], dict):
            merged[key].update({k: float(v) for k, v in value.items()})
        else:
            merged[key] = float(value)
    return merged


# ---------------------------------------------------------------------------------------
# The score.


def size_divisor(lines_of_code: int, weights: Mapping[str, Any]) -> float:
    """``sqrt(max(KLOC, kloc-floor))``: what every finding's cost is divided by."""
    return math.sqrt(max(max(lines_of_code, 0) / 1000.0, float(weights["kloc-floor"])))


def base_cost(finding: Finding, weights: Mapping[str, Any]) -> float:
    """A finding's cost before repetition and size: severity weight x confidence weight."""
    return float(weights["severity"][Severity(finding.severity).label]) * float(
        weights["confidence"][Confidence(finding.confidence).label]
    )


def formula(weights: Mapping[str, Any]) -> str:
    """The scoring formula in one line, with the weights in force."""
    sev = weights["severity"]
    conf = weights["confidence"]
    sec = weights["sections"]
    cap = weights["critical-cap"]
    return (
        "section = max(0, 100 - sum over rules of min({rc:g}, sum_k sev*conf*{d:g}^k) / sqrt(max(KLOC, {fl:g}))); "
        "sev critical {c:g}, high {h:g}, medium {m:g}, low {lo:g}, info {i:g}; conf high {ch:g}, medium {cm:g}, low {cl:g}; "
        "overall = mean of applicable sections weighted security {ws:g}, performance {wp:g}, architecture {wa:g}; "
        "a critical security finding caps security at {cs:g} and overall at {co:g}"
    ).format(
        rc=weights["rule-cap"], d=weights["repeat-decay"], fl=weights["kloc-floor"],
        c=sev["critical"], h=sev["high"], m=sev["medium"], lo=sev["low"], i=sev["info"],
        ch=conf["high"], cm=conf["medium"], cl=conf["low"],
        ws=sec["security"], wp=sec["performance"], wa=sec["architecture"],
        cs=cap["security"], co=cap["overall"],
    )


def _rule_points(findings: list[Finding], weights: Mapping[str, Any], divisor: float) -> dict[int, float]:
    """Points of each finding of one rule, keyed by position in ``findings``."""
    order = sorted(range(len(findings)),
                   key=lambda i: (-base_cost(findings[i], weights), findings[i].sort_key()))
    decay = float(weights["repeat-decay"])
    decayed = {i: base_cost(findings[i], weights) * decay ** k for k, i in enumerate(order)}
    total = sum(decayed.values())
    cap = float(weights["rule-cap"])
    scale = cap / total if total > cap else 1.0
    return {i: value * scale / divisor for i, value in decayed.items()}


def score(
    findings: Sequence[Finding],
    metas: Mapping[str, RuleMeta],
    lines_of_code: int,
    weights: Mapping | None = None,
    applicable: set[Section] | None = None,
) -> tuple[Score, tuple[Finding, ...]]:
    """Score the findings; return the :class:`Score` and the findings with ``points`` set.

    ``metas`` gives each finding's section (a finding whose rule is unknown costs nothing).
    ``applicable`` is the set of sections with at least one rule that examined something
    (``None``: all sections); a section with findings always counts as applicable.
    ``weights`` may be partial: it is laid over :data:`DEFAULT_WEIGHTS`.
    The findings come back in their given order.
    """
    w = merge_weights(weights)
    divisor = size_divisor(lines_of_code, w)

    by_rule: dict[str, list[int]] = {}
    for index, finding in enumerate(findings):
        if finding.rule in metas:
            by_rule.setdefault(finding.rule, []).append(index)

    points = [0.0] * len(findings)
    section_points = {section: 0.0 for section in SECTION_ORDER}
    critical_security = False
    for rule, indexes in by_rule.items():
        section = Section(metas[rule].section)
        group = [findings[i] for i in indexes]
        for position, value in _rule_points(group, w, divisor).items():
            points[indexes[position]] = value
            section_points[section] += value
        if section is Section.SECURITY and any(f.severity == Severity.CRITICAL for f in group):
            critical_security = True

    in_play = set(SECTION_ORDER) if applicable is None else {Section(s) for s in applicable}
    in_play |= {Section(metas[rule].section) for rule in by_rule}

    sections: list[SectionScore] = []
    for section in SECTION_ORDER:
        value = max(0.0, 100.0 - section_points[section])
        capped = False
        if section is Section.SECURITY and critical_security:
            value = min(value, float(w["critical-cap"]["security"]))
            capped = True
        value = round(value, 1)
        sections.append(SectionScore(
            section=section,
            score=value,
            grade=grade(value) if section in in_play else "n/a",
            points=round(section_points[section], 2),
            capped=capped,
        ))

    weighted = [(float(w["sections"][s.section.value]), s.score) for s in sections if s.section in in_play]
    total_weight = sum(weight for weight, _ in weighted)
    overall = sum(weight * value for weight, value in weighted) / total_weight if total_weight else 100.0
    if critical_security:
        overall = min(overall, float(w["critical-cap"]["overall"]))
    overall = round(overall, 1)

    result = Score(
        overall=overall,
        grade=grade(overall),
        sections=tuple(sections),
        lines_of_code=lines_of_code,
        formula=formula(w),
        capped=critical_security,
    )
    scored = tuple(replace(f, points=round(p, 2)) for f, p in zip(findings, points))
    return result, scored
