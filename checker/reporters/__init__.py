"""Reporters: one module per output format, each a pure function of the report.

A reporter module defines ``NAME`` (the format's name on the command line), ``EXTENSION``
(a default file suffix) and ``render(report: Report, options: RenderOptions) -> str``.
Modules are discovered by name, so adding a format is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType


@dataclass(frozen=True)
class RenderOptions:
    color: bool = False
    width: int = 100
    verbose: bool = False


@dataclass(frozen=True)
class DiffScores:
    """The whole project's score at the diff base and now (diff mode), for reporters."""

    base: str
    merge_base: str  # short commit id, or empty
    before: float
    after: float
    grade_before: str
    grade_after: str

    @property
    def change(self) -> float:
        return self.after - self.before


def diff_scores(report) -> DiffScores | None:
    """The diff-mode scores a report carries, or None when diff mode did not run."""
    info = (report.extra or {}).get("diff")
    if not isinstance(info, dict):
        return None
    try:
        before, after = float(info["score_before"]), float(info["score_after"])
    except (KeyError, TypeError, ValueError):
        return None
    return DiffScores(str(info.get("base", "")), str(info.get("merge_base", ""))[:7], before, after,
                      str(info.get("grade_before", "")), str(info.get("grade_after", "")))


@lru_cache(maxsize=None)
def formats() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(module, "NAME", None)
        if name and callable(getattr(module, "render", None)):
            found[name] = module
    return dict(sorted(found.items()))


def render(fmt: str, report, options: RenderOptions | None = None) -> str:
    try:
        module = formats()[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(formats())})") from None
    return module.render(report, options or RenderOptions())
