"""Finds the rules: Python rule classes and collectors in the ``rules`` package, the
semgrep YAML beside them, the bandit mapping and the manual-review items.

The engine asks the registry for "the visitors to run" and "the project rules to run";
it never names a rule.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import yaml

from checker.model import ManualItem, RuleMeta, Section
from checker.rule import Collector, FileRule, ProjectRule, Rule, Visitor

RULES_PACKAGE = "rules"
ENGINES = ("checker", "semgrep", "bandit")


class RegistryError(Exception):
    pass


@dataclass
class Registry:
    rules: dict[str, type[Rule]]
    collectors: list[type[Collector]]
    manual: list[ManualItem] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)
    root: Path = Path(".")
    #: slug -> engine -> languages, from the semgrep YAML and the bandit mapping on disk
    external: dict[str, dict[str, set[str]]] = field(default_factory=dict)

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
        """A rule's metadata, with the engines and languages that really implement it: its
        own analysis, plus the semgrep YAML and bandit tests found for its slug."""
        slug = self.canonical(slug)
        cls = self.rules[slug]
        meta = cls.meta()
        covered: dict[str, set[str]] = {}
        if issubclass(cls, (Visitor, ProjectRule)):
            covered["checker"] = {"python", *getattr(cls, "text_languages", ())}
            if issubclass(cls, ProjectRule):
                covered["checker"] |= set(meta.languages)  # project rules read facts of every language
        for engine, languages in self.external.get(slug, {}).items():
            covered.setdefault(engine, set()).update(languages)
        languages = set().union(*covered.values()) if covered else set()
        ordered = tuple(lang for lang in meta.languages if lang in languages) or tuple(sorted(languages))
        return replace(meta, engines=tuple(e for e in ENGINES if e in covered), languages=ordered)

    def metas(self) -> dict[str, RuleMeta]:
        return {slug: self.meta(slug) for slug in sorted(self.rules)}

    def engine_languages(self, slug: str, engine: str) -> set[str]:
        return set(self.external.get(slug, {}).get(engine, ()))

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
    return Registry(rules, [collectors[k] for k in sorted(collectors)], manual, dict(redirects), root,
                    _external(root))


def _external(root: Path) -> dict[str, dict[str, set[str]]]:
    """Which slugs the semgrep YAML and the bandit mapping implement, in which languages.
    A semgrep fact rule counts for the slugs that use its facts (``checker-used-by``)."""
    out: dict[str, dict[str, set[str]]] = {}
    for path in sorted((root / "semgrep").glob("*.y*ml")):
        for rule in (_load_yaml(path) or {}).get("rules", []):
            meta = rule.get("metadata", {}) or {}
            slugs = meta.get("checker-used-by", []) if meta.get("checker-fact") else [meta.get("checker-slug", rule.get("id"))]
            for slug in slugs:
                out.setdefault(slug, {}).setdefault("semgrep", set()).update(rule.get("languages", []))
    for test in ((_load_yaml(root / "bandit.yaml") or {}).get("tests", {}) or {}).values():
        out.setdefault(test["slug"], {}).setdefault("bandit", set()).add("python")
    return out


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
