"""Configuration files: pyproject and .checker.yml, every error at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.config import ConfigError, find, load, parse
from checker.model import Severity
from checker.registry import load as registry


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.checker]\nignore = ['missing-health-check']\nexclude = ['vendor']\n"
        "[tool.checker.policy]\nfail-on = 'never'\nmin-score = 75\n"
        "[tool.checker.layers]\ncontrollers = ['app/api/**']\nservices = ['app/services/**']\n"
    )
    cfg = load(find(tmp_path), registry())
    assert cfg.ignore == ["missing-health-check"] and cfg.exclude == ["vendor"]
    assert cfg.fail_on is None and cfg.min_score == 75
    assert list(cfg.settings()["layers"]) == ["controllers", "services"]


def test_yaml_config_and_pyproject_without_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find(tmp_path) is None
    (tmp_path / ".checker.yml").write_text("severity:\n  tls-verify-disabled: critical\n")
    cfg = load(find(tmp_path), registry())
    assert cfg.severity == {"tls-verify-disabled": Severity.CRITICAL}


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse({
            "exclude": "vendor",
            "severity": {"tls-verify-disabled": "huge"},
            "score": {"repeat-decay": 2, "sevirity": {}},
            "engines": {"semgrep": "yes"},
            "rules": {"tls-verify-disabled": {"max": 1}},
            "max-file-size": -1,
        }, registry(), "cfg")
    assert info.value.problems == [
        "exclude: expected a list of strings",
        "severity.tls-verify-disabled: unknown severity 'huge' (expected one of: info, low, medium, high, critical)",
        "score.sevirity: unknown key (expected one of: severity, confidence, sections, repeat-decay, rule-cap, "
        "kloc-floor, critical-cap)",
        "score.repeat-decay: must be greater than 0 and at most 1, got 2",
        "engines.semgrep: expected true or false",
        "rules.tls-verify-disabled: unknown option 'max' (it has no options)",
        "max-file-size: expected a positive whole number",
    ]


def test_broken_yaml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".checker.yml").write_text("select: [a\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load(tmp_path / ".checker.yml", registry())
