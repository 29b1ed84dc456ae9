"""Finds the rules: Python rule classes and collectors in the ``rules`` package, the
semgrep YAML beside them, the bandit mapping and the manual-review items.

The engine asks the registry for "the visitors to run" and "the project rules to run";
it never names a rule.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import yaml

from checker.model import ManualItem, RuleMeta, Section
from checker.rule import Collector, FileRule, ProjectRule, Rule, Visitor

RULES_PACKAGE = "rules"


class RegistryError(Exception):
    pass


@dataclass
class Registry:
    rules: dict[str, type[Rule]]
    collectors: list[type[Collector]]
    manual: list[ManualItem] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)
    root: Path = Path(".")

    # -- lookups -------------------------------------------------------------------------
    @property
    def slugs(self) -> list[str]:
        return sorted(self.rules)

    def canonical(self, slug: str) -> str:
        """The current slug for a possibly renamed one."""
        seen = set()
        while slug in self.redirects and slug not in seen:
            seen.add(slug)
            slug = self.redirects[slug]
        return slug

    def meta(self, slug: str) -> RuleMeta:
        return self.rules[self.canonical(slug)].meta()

    def metas(self) -> dict[str, RuleMeta]:
        return {slug: cls.meta() for slug, cls in sorted(self.rules.items())}

    def file_visitors(self, enabled: Iterable[str]) -> list[type[Visitor]]:
        """What runs in the per-file traversal: enabled file rules, the visitor part of
        enabled project rules, and every collector."""
        enabled = set(enabled)
        out: list[type[Visitor]] = []
        for slug in sorted(enabled):
            cls = self.rules.get(slug)
            if cls is None:
                continue
            if issubclass(cls, FileRule) or (issubclass(cls, ProjectRule) and cls.has_visits()):
                out.append(cls)  # type: ignore[arg-type]
        return out + list(self.collectors)

    def project_rules(self, enabled: Iterable[str]) -> list[type[ProjectRule]]:
        enabled = set(enabled)
        return [cls for slug, cls in sorted(self.rules.items())
                if slug in enabled and issubclass(cls, ProjectRule)]  # type: ignore[misc]

    @property
    def semgrep_dir(self) -> Path:
        return self.root / "semgrep"

    def data_file(self, name: str) -> Path:
        return self.root / name


def _modules(package) -> Iterable[str]:
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        yield info.name


@lru_cache(maxsize=None)
def load(package: str = RULES_PACKAGE) -> Registry:
    pkg = importlib.import_module(package)
    root = Path(pkg.__file__).parent  # type: ignore[arg-type]
    rules: dict[str, type[Rule]] = {}
    collectors: dict[str, type[Collector]] = {}
    for name in sorted(_modules(pkg)):
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if not isinstance(obj, type) or obj.__module__ != module.__name__:
                continue
            if issubclass(obj, Rule) and "slug" in vars(obj):
                slug = obj.slug
                if slug in rules:
                    raise RegistryError(f"slug {slug!r} is defined twice: {rules[slug].__module__} and {name}")
                rules[slug] = obj
            elif issubclass(obj, Collector) and "name" in vars(obj):
                if obj.name in collectors:
                    raise RegistryError(f"collector {obj.name!r} is defined twice")
                collectors[obj.name] = obj
    manual = _load_manual(root / "manual.yaml")
    redirects = _load_yaml(root / "redirects.yaml") or {}
    return Registry(rules, [collectors[k] for k in sorted(collectors)], manual, dict(redirects), root)


def _load_yaml(path: Path):
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _load_manual(path: Path) -> list[ManualItem]:
    data = _load_yaml(path) or []
    return [
        ManualItem(
            key=item["key"], checklist=item["checklist"], section=Section(item["section"]),
            hint=item.get("hint", ""), signals=tuple(item.get("signals", ())),
        )
        for item in data
    ]
