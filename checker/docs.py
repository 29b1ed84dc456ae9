"""Documentation generated from the rules' own metadata: `checker explain`, `docs/rules.md`
and the rule table in the README. ``python -m checker.docs --write`` regenerates the files;
a test fails when they are stale."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Mapping

from checker.model import RuleMeta, Section, Severity
from checker.registry import Registry, load

README_START = "<!-- rules-table:start -->"
README_END = "<!-- rules-table:end -->"
SECTIONS = (Section.SECURITY, Section.PERFORMANCE, Section.ARCHITECTURE)


def rules_table(registry: Registry, enabled: set[str], severity: Mapping[str, Severity] | None = None) -> list[dict]:
    rows = []
    for section in SECTIONS:
        for slug, meta in registry.metas().items():
            if meta.section is not section:
                continue
            rows.append({
                "slug": slug, "checklist": meta.checklist, "section": section.value,
                "severity": (severity or {}).get(slug, meta.severity).label, "confidence": meta.confidence.label,
                "scope": meta.scope, "languages": list(meta.languages), "enabled": slug in enabled,
                "summary": meta.summary,
            })
    return rows


def _fence(code: str) -> str:
    ticks = "```"
    while ticks in code:
        ticks += "`"
    return f"{ticks}python\n{code.rstrip()}\n{ticks}"


def rule_markdown(meta: RuleMeta, heading: str = "#") -> str:
    """A rule's documentation: what it checks, why, and its examples."""
    parts = [f"{heading} `{meta.slug}`", "",
             f"**Checklist item:** {meta.checklist}  ",
             f"**Section:** {meta.section.title} · **severity:** {meta.severity.label} · "
             f"**confidence:** {meta.confidence.label} · **scope:** {meta.scope} · "
             f"**languages:** {', '.join(meta.languages)}" + (f" · **CWE:** {', '.join(meta.cwe)}" if meta.cwe else ""),
             ""]
    if meta.summary:
        parts += [meta.summary, ""]
    docs = re.sub(r"^## ", heading + "# ", meta.docs, flags=re.MULTILINE)
    parts += [docs, ""]
    for title, examples in (("Example", meta.bad), ("Use instead", meta.good)):
        if not examples:
            continue
        parts += [f"{heading}# {title}", ""]
        for example in examples:
            parts += [_fence(example.code), ""]
    if meta.options:
        parts += [f"{heading}# Options", "", f"Set under `[tool.checker.rules.{meta.slug}]`:", ""]
        parts += [f"- `{name}` (default `{value!r}`)" for name, value in meta.options.items()] + [""]
    return "\n".join(parts).rstrip() + "\n"


def rules_md(registry: Registry) -> str:
    metas = registry.metas()
    lines = ["# Rules", "", "Generated from the rules' own metadata by `python -m checker.docs --write`;",
             "`checker explain SLUG` prints the same text for one rule.", ""]
    for section in SECTIONS:
        lines += [f"## {section.title}", ""]
        for slug, meta in metas.items():
            if meta.section is section:
                lines += [rule_markdown(meta, heading="##"), ""]
    return "\n".join(lines).rstrip() + "\n"


def readme_table(registry: Registry) -> str:
    lines = ["| slug | checklist item | severity | scope | languages |", "|---|---|---|---|---|"]
    for row in rules_table(registry, set(registry.slugs)):
        lines.append(f"| [`{row['slug']}`](docs/rules.md#{row['slug']}) | {row['checklist']} | {row['severity']} | "
                     f"{row['scope']} | {', '.join(row['languages'])} |")
    return "\n".join(lines)


def render_readme(text: str, registry: Registry) -> str:
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < 0:
        raise ValueError("README.md lacks the rules-table markers")
    return text[: start + len(README_START)] + "\n" + readme_table(registry) + "\n" + text[end:]


def expected_files(project: Path) -> dict[Path, str]:
    registry = load()
    readme = project / "README.md"
    return {
        project / "docs" / "rules.md": rules_md(registry),
        readme: render_readme(readme.read_text(encoding="utf-8"), registry),
    }


def main(argv: list[str]) -> int:
    project = Path(__file__).resolve().parent.parent
    stale = []
    for path, text in expected_files(project).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(path)
            if "--write" in argv:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    if stale and "--write" not in argv:
        print("stale: " + ", ".join(str(p.relative_to(project)) for p in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
