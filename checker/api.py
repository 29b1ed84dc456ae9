"""``scan()``: the one entry point for the CLI, the GitHub Action, the pre-commit hook and
the tests."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from checker import config as config_mod
from checker.config import Config
from checker.discovery import discover
from checker.engine import Progress, ScanOptions, run
from checker.model import Report
from checker.registry import Registry, load

ROOT_MARKERS = (".checker.yml", ".checker.yaml", "pyproject.toml", ".git")


def project_root(paths: Sequence[Path]) -> Path:
    """The project a scan belongs to: the nearest folder at or above the first path that
    holds a checker config, a ``pyproject.toml`` or a ``.git``; else the current folder."""
    start = (paths[0] if paths else Path.cwd()).resolve()
    if not start.is_dir():
        start = start.parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return start if paths and paths[0].is_dir() else Path.cwd().resolve()


def load_config(root: Path, path: Path | None = None, registry: Registry | None = None) -> Config:
    """The configuration at ``path``, or the project's own, or the defaults."""
    registry = registry or load()
    return config_mod.load(path if path is not None else config_mod.find(root), registry)


def scan(
    paths: Sequence[Path] | None = None,
    config: Config | None = None,
    *,
    root: Path | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    engines: set[str] | None = None,
    baseline: Path | None = None,
    diff_base: str | None = None,
    progress: Progress | None = None,
) -> Report:
    registry = load()
    paths = [Path(p) for p in (paths or [Path(".")])]
    root = (root or project_root(paths)).resolve()
    config = config if config is not None else load_config(root, registry=registry)
    discovered = discover(paths, root, config.exclude, config.max_file_size)
    options = ScanOptions(select=select, ignore=ignore, jobs=jobs, use_cache=use_cache, engines=engines,
                          baseline=baseline, diff_base=diff_base, progress=progress)
    report = run(discovered, config, registry, options)
    if diff_base is not None:
        report = _with_score_before(report, root, paths, config, options)
    return report


def _with_score_before(report: Report, root: Path, paths: Sequence[Path], config: Config,
                       options: ScanOptions) -> Report:
    """Scores the tree at the merge base too, so the report shows before, now and the change."""
    from checker import diff as diff_mod

    extra = dict(report.extra)
    info = dict(extra.get("diff", {}))
    with tempfile.TemporaryDirectory(prefix="checker-base-") as tmp:
        base_root = Path(tmp)
        diff_mod.materialize(root, info.get("merge_base") or options.diff_base, base_root)
        rel = [base_root / p.resolve().relative_to(root) for p in paths if _inside(p, root)]
        before = run(discover(rel or [base_root], base_root, config.exclude, config.max_file_size), config, load(),
                     replace(options, diff_base=None, baseline=None, progress=None, use_cache=False))
    after = info.get("score_after", report.score.overall)
    info.update(score_before=before.score.overall, grade_before=before.score.grade,
                score_change=round(after - before.score.overall, 1))
    extra["diff"] = info
    return replace(report, extra=extra)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except ValueError:
        return False
