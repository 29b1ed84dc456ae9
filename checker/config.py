"""Configuration: ``[tool.checker]`` in ``pyproject.toml`` or a ``.checker.yml`` file.

Every problem in a configuration is collected and reported at once (unknown keys with a
suggestion, wrong types, unknown slugs and severities, unknown rule options). Nothing in a
configuration is evaluated: it is plain data.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from checker.model import Severity
from checker.registry import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FILES = (".checker.yml", ".checker.yaml", "pyproject.toml")

DEFAULT_MAX_FILE_SIZE = 1_000_000


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass
class Config:
    source: str = "(defaults)"
    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    test_paths: list[str] | None = None
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    severity: dict[str, Severity] = field(default_factory=dict)
    per_path_ignores: dict[str, list[str]] = field(default_factory=dict)
    score: dict[str, Any] = field(default_factory=dict)
    fail_on: Severity | None = Severity.HIGH
    min_score: float | None = None
    layers: dict[str, list[str]] = field(default_factory=dict)
    handlers: dict[str, list[str]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    semgrep: bool = True
    bandit: bool = True
    engine_timeout: float = 600.0

    def enabled(self, registry: Registry, select: list[str] | None = None,
                ignore: list[str] | None = None) -> set[str]:
        chosen = select if select else self.select
        slugs = set(registry.slugs) if not chosen else {registry.canonical(s) for s in chosen}
        drop = {registry.canonical(s) for s in [*self.ignore, *(ignore or [])]}
        return {s for s in slugs if s in registry.rules} - drop

    def settings(self) -> dict[str, Any]:
        """What rules see as ``ctx.settings``."""
        out: dict[str, Any] = {"layers": self.layers, "handlers": self.handlers}
        if self.test_paths is not None:
            out["test-paths"] = tuple(self.test_paths)
        return out

    def fingerprint(self) -> dict[str, Any]:
        """The parts of the configuration that change analysis results (for the cache key)."""
        return {"settings": self.settings(), "rules": self.rules, "max_file_size": self.max_file_size}


# -- loading ----------------------------------------------------------------------------


def find(root: Path) -> Path | None:
    for name in CONFIG_FILES:
        path = root / name
        if not path.is_file():
            continue
        if name == "pyproject.toml":
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return path  # let load() report it
            if "checker" not in data.get("tool", {}):
                continue
        return path
    return None


def load(path: Path | None, registry: Registry) -> Config:
    if path is None:
        return Config()
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [f"cannot be read: {exc}"]) from None
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(source, [f"is not valid TOML: {exc}"]) from None
        table = data.get("tool", {}).get("checker", {}) if path.name == "pyproject.toml" else data
    else:
        try:
            table = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(source, [f"is not valid YAML: {exc}"]) from None
    return parse(table, registry, source)


def parse(table: Any, registry: Registry, source: str = "(config)") -> Config:
    problems: list[str] = []
    cfg = Config(source=source)
    if not isinstance(table, Mapping):
        raise ConfigError(source, ["the configuration must be a table of settings"])

    def known_slug(key: str, slug: Any) -> str | None:
        if not isinstance(slug, str):
            problems.append(f"{key}: {slug!r} is not a rule slug")
            return None
        canonical = registry.canonical(slug)
        if canonical not in registry.rules:
            problems.append(f"{key}: unknown rule {slug!r}{_suggest(slug, registry.slugs)}")
            return None
        return canonical

    def str_list(key: str, value: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{key}: expected a list of strings")
            return []
        return list(value)

    def table_of(key: str, value: Any) -> Mapping:
        if not isinstance(value, Mapping):
            problems.append(f"{key}: expected a table")
            return {}
        return value

    handlers = {
        "select": lambda v: setattr(cfg, "select", [s for s in (known_slug("select", x) for x in str_list("select", v)) if s]),
        "ignore": lambda v: setattr(cfg, "ignore", [s for s in (known_slug("ignore", x) for x in str_list("ignore", v)) if s]),
        "exclude": lambda v: setattr(cfg, "exclude", str_list("exclude", v)),
        "test-paths": lambda v: setattr(cfg, "test_paths", str_list("test-paths", v)),
        "max-file-size": lambda v: _positive_int(cfg, "max_file_size", "max-file-size", v, problems),
        "severity": lambda v: _severity_table(cfg, table_of("severity", v), known_slug, problems),
        "per-path-ignores": lambda v: _per_path(cfg, table_of("per-path-ignores", v), known_slug, str_list),
        "score": lambda v: _score(cfg, table_of("score", v), problems),
        "policy": lambda v: _policy(cfg, table_of("policy", v), problems),
        "layers": lambda v: setattr(cfg, "layers", {k: str_list(f"layers.{k}", x) for k, x in table_of("layers", v).items()}),
        "handlers": lambda v: _handlers(cfg, table_of("handlers", v), str_list, problems),
        "rules": lambda v: _rule_options(cfg, table_of("rules", v), known_slug, registry, problems),
        "engines": lambda v: _engines(cfg, table_of("engines", v), problems),
    }
    for key, value in table.items():
        handler = handlers.get(key)
        if handler is None:
            problems.append(f"unknown key {key!r}{_suggest(str(key), handlers)}")
            continue
        handler(value)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _positive_int(cfg: Config, attr: str, key: str, value: Any, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.append(f"{key}: expected a positive whole number")
    else:
        setattr(cfg, attr, value)


def _severity_table(cfg: Config, table: Mapping, known_slug, problems: list[str]) -> None:
    for slug, value in table.items():
        canonical = known_slug("severity", slug)
        try:
            severity = Severity.parse(value)
        except ValueError as exc:
            problems.append(f"severity.{slug}: {exc}")
            continue
        if canonical:
            cfg.severity[canonical] = severity


def _per_path(cfg: Config, table: Mapping, known_slug, str_list) -> None:
    for pattern, slugs in table.items():
        cfg.per_path_ignores[str(pattern)] = [
            s for s in (known_slug(f"per-path-ignores.{pattern}", x) for x in str_list(f"per-path-ignores.{pattern}", slugs)) if s
        ]


def _score(cfg: Config, table: Mapping, problems: list[str]) -> None:
    from checker.score import validate_weights

    errors = validate_weights(table, prefix="score")
    problems.extend(errors)
    if not errors:
        cfg.score = dict(table)


def _policy(cfg: Config, table: Mapping, problems: list[str]) -> None:
    for key, value in table.items():
        if key == "fail-on":
            if value in ("never", "none", None, False):
                cfg.fail_on = None
                continue
            try:
                cfg.fail_on = Severity.parse(value)
            except ValueError as exc:
                problems.append(f"policy.fail-on: {exc} or 'never'")
        elif key == "min-score":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                problems.append("policy.min-score: expected a number from 0 to 100")
            else:
                cfg.min_score = float(value)
        else:
            problems.append(f"unknown key 'policy.{key}'{_suggest(str(key), ['fail-on', 'min-score'])}")


def _handlers(cfg: Config, table: Mapping, str_list, problems: list[str]) -> None:
    for key, value in table.items():
        if key not in ("decorators", "base-classes"):
            problems.append(f"unknown key 'handlers.{key}'{_suggest(str(key), ['decorators', 'base-classes'])}")
            continue
        cfg.handlers[key] = str_list(f"handlers.{key}", value)


def _rule_options(cfg: Config, table: Mapping, known_slug, registry: Registry, problems: list[str]) -> None:
    for slug, options in table.items():
        canonical = known_slug("rules", slug)
        if canonical is None:
            continue
        if not isinstance(options, Mapping):
            problems.append(f"rules.{slug}: expected a table of options")
            continue
        declared = registry.rules[canonical].options
        accepted: dict[str, Any] = {}
        for name, value in options.items():
            if name not in declared:
                hint = _suggest(str(name), declared) or (
                    f" (it has: {', '.join(declared)})" if declared else " (it has no options)")
                problems.append(f"rules.{slug}: unknown option {name!r}{hint}")
            elif not _same_type(declared[name], value):
                problems.append(f"rules.{slug}.{name}: expected {type(declared[name]).__name__}, got {type(value).__name__}")
            else:
                accepted[name] = value
        cfg.rules[canonical] = accepted


def _same_type(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _engines(cfg: Config, table: Mapping, problems: list[str]) -> None:
    for key, value in table.items():
        if key in ("semgrep", "bandit"):
            if not isinstance(value, bool):
                problems.append(f"engines.{key}: expected true or false")
            else:
                setattr(cfg, key, value)
        elif key == "timeout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                problems.append("engines.timeout: expected a number of seconds")
            else:
                cfg.engine_timeout = float(value)
        else:
            problems.append(f"unknown key 'engines.{key}'{_suggest(str(key), ['semgrep', 'bandit', 'timeout'])}")
