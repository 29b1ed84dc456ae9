"""The engine: runs every analyzer over the discovered files, then the project rules, then
the post-processing every engine shares (per-path ignores, severity overrides,
de-duplication, suppressions, baseline, diff filter) and scoring.

Data flows one way; the engine names no rule: it asks the registry what to run.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import checker
from checker import suppress
from checker.analyzers import FileResult, make_finding
from checker.analyzers import python as python_analyzer
from checker.analyzers import text as text_analyzer
from checker.cache import Cache, ruleset_key
from checker.checklist import applicable_sections, build_checklist
from checker.config import Config
from checker.discovery import ANALYZED, Discovered
from checker.model import EngineStatus, Finding, Location, ManualItem, Report, Skipped, Span
from checker.registry import Registry
from checker.rule import DEFAULT_TEST_PATHS, Fact, ProjectContext, ProjectFile, Visitor, glob_match
from checker.score import score as compute_score
from checker.source import SourceFile, Unreadable

CODE_LANGUAGES = frozenset({"python", "javascript", "typescript", "go"})
ENGINE_ORDER = {"checker": 0, "semgrep": 1, "bandit": 2}
#: Below this many files to analyse, worker processes cost more than they save.
PARALLEL_THRESHOLD = 24
CHUNK = 8

Progress = Callable[[int, int], None]


@dataclass
class ScanOptions:
    select: list[str] | None = None
    ignore: list[str] | None = None
    jobs: int | None = None
    use_cache: bool = True
    engines: set[str] | None = None  # None: every engine the config enables
    baseline: Path | None = None
    diff_base: str | None = None
    progress: Progress | None = None


# -- per-file analysis (runs in worker processes) ---------------------------------------

_STATE: dict[str, Any] = {}


def _init_worker(visitors, text_rules, settings, options) -> None:
    _STATE.update(visitors=visitors, text_rules=text_rules, settings=settings, options=options)


def _analyze_one(item: tuple[str, str, str]) -> FileResult:
    abspath, relpath, language = item
    source = SourceFile(Path(abspath), relpath, language)
    if language == "python":
        result = python_analyzer.analyze(source, _STATE["visitors"], _STATE["settings"], _STATE["options"])
    else:
        result = text_analyzer.analyze(source, _STATE["text_rules"], _STATE["settings"], _STATE["options"])
    if result.skipped is None:
        try:
            text = source.text
        except Unreadable as exc:
            result.skipped = str(exc)
        else:
            if language in CODE_LANGUAGES:
                result.lines = sum(1 for line in text.splitlines() if line.strip())
            result.suppressions = [s.to_json() for s in suppress.parse(relpath, text)]
    source.release()
    return result


def _analyze_chunk(items: list[tuple[str, str, str]]) -> list[FileResult]:
    return [_analyze_one(item) for item in items]


def _run_files(items: list[tuple[str, str, str]], jobs: int, state: tuple, progress: Progress | None) -> list[FileResult]:
    total = len(items)
    results: list[FileResult] = []
    if jobs <= 1 or total < PARALLEL_THRESHOLD:
        _init_worker(*state)
        for index, item in enumerate(items):
            results.append(_analyze_one(item))
            if progress:
                progress(index + 1, total)
        return results
    # Largest files first so no worker is left with a big file at the end.
    ordered = sorted(items, key=lambda it: -_size(it[0]))
    chunks = [ordered[i:i + CHUNK] for i in range(0, total, CHUNK)]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    done = 0
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=state) as pool:
        for chunk_results in pool.map(_analyze_chunk, chunks):
            results.extend(chunk_results)
            done += len(chunk_results)
            if progress:
                progress(done, total)
    return results


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# -- the scan ------------------------------------------------------------------------------


@dataclass
class _Collected:
    results: dict[str, FileResult] = field(default_factory=dict)
    external: list[Finding] = field(default_factory=list)
    facts: dict[str, list[Fact]] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    engines: list[EngineStatus] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def run(discovered: Discovered, config: Config, registry: Registry, opts: ScanOptions) -> Report:
    root = discovered.root
    enabled = config.enabled(registry, opts.select, opts.ignore)
    metas = registry.metas()
    for slug, severity in config.severity.items():
        metas[slug] = replace(metas[slug], severity=severity)
    settings = config.settings()
    options = {slug: {**metas[slug].options, **config.rules.get(slug, {})} for slug in metas}
    visitors: list[type[Visitor]] = registry.file_visitors(enabled)
    text_rules = [registry.rules[s] for s in sorted(enabled)]
    engines = opts.engines if opts.engines is not None else {
        "checker", *(["semgrep"] if config.semgrep else []), *(["bandit"] if config.bandit else [])}

    cache = Cache(root, ruleset_key({"config": config.fingerprint(), "enabled": sorted(enabled)}), opts.use_cache)
    collected = _Collected(skipped=list(discovered.skipped))
    analysed = [f for f in discovered.files if f.language in ANALYZED]
    digests: dict[str, str] = {}
    for f in analysed:
        if not cache.enabled:
            digests[f.relpath] = ""  # no cache to key: each file is read once, by its analyzer
            continue
        try:
            digests[f.relpath] = f.digest
        except Unreadable as exc:
            collected.skipped.append(Skipped(f.relpath, str(exc)))
        finally:
            f.release()
    readable = [f for f in analysed if f.relpath in digests]

    externals = _start_externals(readable, digests, cache, registry, enabled, engines, root, config, collected)

    started = time.monotonic()
    todo: list[tuple[str, str, str]] = []
    for f in readable:
        hit = cache.get(f.relpath, digests[f.relpath], "checker")
        if hit is not None:
            try:
                collected.results[f.relpath] = FileResult.from_json(hit)
                cache.keep(f.relpath, digests[f.relpath], "checker", hit)
                continue
            except (KeyError, TypeError, ValueError):
                pass
        todo.append((str(f.path), f.relpath, f.language))
    jobs = opts.jobs or os.cpu_count() or 1
    for result in _run_files(todo, jobs, (visitors, text_rules, settings, options), opts.progress):
        collected.results[result.path] = result
        if not result.errors:
            cache.put(result.path, digests[result.path], "checker", result.to_json())
    collected.engines.append(EngineStatus("checker", True, f"{len(todo)} analysed, {len(readable) - len(todo)} from cache",
                                          len(readable), round(time.monotonic() - started, 3)))

    for name, pending, cached in externals:
        _finish_external(name, pending, cached, digests, cache, registry, enabled, collected)

    for path, result in sorted(collected.results.items()):
        if result.skipped:
            collected.skipped.append(Skipped(path, result.skipped))
        for error in result.errors:
            collected.skipped.append(Skipped(path, f"partly analysed: {error}"))
        for key, items in result.facts.items():
            collected.facts.setdefault(key, []).extend(Fact(path, line, data) for line, data in items)
        for slug, count in result.checked.items():
            collected.checked[slug] = collected.checked.get(slug, 0) + count

    project_findings, reader = _run_project_rules(discovered, registry, enabled, settings, options, collected)
    manual = _manual_signals(registry.manual, discovered, reader)

    findings: list[Finding] = [f for r in collected.results.values() for f in r.findings]
    findings += collected.external + project_findings
    findings = [f for f in findings if f.rule in enabled]
    findings = _per_path_ignores(findings, config.per_path_ignores)
    findings = [replace(f, severity=config.severity[f.rule]) if f.rule in config.severity else f for f in findings]
    findings = _dedupe(findings)

    suppressions = {
        path: suppress.canonicalise([suppress.Suppression.from_json(path, s) for s in r.suppressions], registry.canonical)
        for path, r in collected.results.items() if r.suppressions
    }
    ran = _ran_slugs(enabled, registry, collected.engines)
    findings, suppressed, diagnostics = suppress.apply(findings, suppressions, set(registry.rules), ran, registry.canonical)

    loc = sum(r.lines for r in collected.results.values())
    extra: dict[str, Any] = {}
    if opts.diff_base is not None:
        # The whole tree's score now, counted like the scan of the base (no baseline, no
        # diff filter); the report's own score then covers the change only.
        whole = build_checklist(metas, findings, collected.checked, enabled, manual)
        now, _ = compute_score(findings, metas, loc, config.score or None, applicable_sections(whole))
        extra["diff"] = {"base": opts.diff_base, "score_after": now.overall, "grade_after": now.grade}
    baseline_matched = 0
    if opts.baseline is not None:
        from checker import baseline as baseline_mod

        findings, baseline_matched = baseline_mod.apply(findings, baseline_mod.load(opts.baseline))
        extra["baseline"] = str(opts.baseline)
    if opts.diff_base is not None:
        from checker import diff as diff_mod

        changed = diff_mod.changed_lines(root, opts.diff_base)
        findings = diff_mod.filter_findings(findings, changed, metas)
        extra["diff"].update(merge_base=diff_mod.merge_base(root, opts.diff_base), changed_files=len(changed))

    cache.save()
    if cache.problem:
        collected.engines.append(EngineStatus("cache", False, cache.problem))

    checklist_entries = build_checklist(metas, findings, collected.checked, enabled, manual)
    sections = applicable_sections(checklist_entries)
    the_score, scored = compute_score(findings, metas, loc, config.score or None, sections)
    checklist_entries = build_checklist(metas, scored, collected.checked, enabled, manual)

    return Report(
        tool_version=checker.__version__,
        root=str(root),
        findings=tuple(sorted(scored, key=Finding.sort_key)),
        checklist=checklist_entries,
        manual=manual,
        score=the_score,
        rules=metas,
        files_scanned=len(collected.results),
        skipped=tuple(sorted(set(collected.skipped), key=lambda s: (s.path, s.reason))),
        engines=tuple(collected.engines),
        suppressed=suppressed,
        baseline_matched=baseline_matched,
        diagnostics=tuple(sorted(diagnostics, key=Finding.sort_key)),
        extra=extra,
    )


# -- external engines ----------------------------------------------------------------------


def _start_externals(files, digests, cache, registry, enabled, engines, root, config, collected):
    test_paths = config.settings().get("test-paths", DEFAULT_TEST_PATHS)
    """Start semgrep and bandit on the files the cache cannot answer for; both run while
    the libcst phase works. Returns (name, run or None, cached results by path)."""
    started = []
    for name in ("semgrep", "bandit"):
        if name not in engines:
            continue
        try:
            if name == "semgrep":
                from checker.analyzers import semgrep as mod

                targets = mod.semgrep_targets(files, registry.semgrep_dir, enabled)
            else:
                from checker.analyzers import bandit as mod  # type: ignore[no-redef]

                targets = mod.bandit_targets(files, registry.data_file("bandit.yaml"), enabled,
                                             lambda path: glob_any(path, test_paths))
        except Exception as exc:  # the other engines go on without this one
            collected.engines.append(EngineStatus(name, False, f"could not start: {type(exc).__name__}: {exc}"))
            continue
        cached: dict[str, Any] = {}
        missing = []
        for f in targets:
            hit = cache.get(f.relpath, digests[f.relpath], name)
            if hit is not None:
                cached[f.relpath] = hit
            else:
                missing.append(f)
        run_ = None
        if missing:
            if name == "semgrep":
                run_ = mod.SemgrepRun(missing, registry.semgrep_dir, enabled, root, config.engine_timeout)
            else:
                run_ = mod.BanditRun(missing, registry.data_file("bandit.yaml"), enabled, root, config.engine_timeout)
            run_.start()
        started.append((name, (run_, missing, targets), cached))
    return started


def _finish_external(name, pending, cached, digests, cache, registry, enabled, collected) -> None:
    from checker.analyzers import finding_from_json, finding_to_json

    run_, missing, targets = pending
    for path, value in cached.items():
        collected.external += [finding_from_json(d) for d in value.get("findings", [])]
        for key, items in value.get("facts", {}).items():
            collected.facts.setdefault(key, []).extend(Fact(path, line, data) for line, data in items)
        cache.keep(path, digests[path], name, value)
    if run_ is None:
        collected.engines.append(EngineStatus(name, True, f"{len(cached)} from cache" if cached else "no files to scan",
                                              len(targets)))
    else:
        outcome = run_.wait()
        collected.engines.append(replace(outcome.status, files=len(targets)))
        if outcome.status.ran:
            for f in missing:
                found = outcome.findings.get(f.relpath, [])
                facts = outcome.facts.get(f.relpath, {}) if outcome.facts else {}
                collected.external += found
                for key, items in facts.items():
                    collected.facts.setdefault(key, []).extend(Fact(f.relpath, line, data) for line, data in items)
                if f.relpath not in (outcome.failed_files or {}):
                    cache.put(f.relpath, digests[f.relpath], name,
                              {"findings": [finding_to_json(x) for x in found],
                               "facts": {k: [[ln, d] for ln, d in v] for k, v in facts.items()}})
            for path, reason in (outcome.failed_files or {}).items():
                collected.skipped.append(Skipped(path, f"{name} could not analyse it: {reason}"))
    ran = any(s.name == name and s.ran for s in collected.engines)
    if ran and targets:
        for slug in enabled:
            languages = registry.engine_languages(slug, name)
            count = sum(1 for f in targets if f.language in languages)
            if count:
                collected.checked[slug] = collected.checked.get(slug, 0) + count


# -- project rules -------------------------------------------------------------------------


def _run_project_rules(discovered: Discovered, registry: Registry, enabled, settings, options,
                       collected: _Collected):
    by_path = {f.relpath: f for f in discovered.files}
    texts: dict[str, str | None] = {}

    def reader(path: str) -> str | None:
        if path not in texts:
            source = by_path.get(path)
            if source is None or source.size > 5_000_000:
                texts[path] = None
            else:
                try:
                    texts[path] = source.text
                except Unreadable:
                    texts[path] = None
                source.release()
        return texts[path]

    tracked = discovered.tracked
    project = ProjectContext(
        files=[ProjectFile(f.relpath, f.language, f.size) for f in discovered.files],
        facts=collected.facts, settings=settings, options=options, reader=reader,
        tracked=(lambda p: p in tracked) if tracked is not None else None,
    )
    findings: list[Finding] = []
    for cls in registry.project_rules(enabled):
        rule = cls(None)
        rule.project = project
        try:
            rule.check(project)
        except Exception as exc:  # a rule bug must not cost the rest of the scan
            collected.skipped.append(Skipped("(project)", f"rule {cls.slug} failed: {type(exc).__name__}: {exc}"))
            continue
        if rule._checked:
            collected.checked[cls.slug] = collected.checked.get(cls.slug, 0) + rule._checked
        for path, line, message, severity, confidence, related, secrets in rule._project_reports:
            text = reader(path) or ""
            findings.append(make_finding(
                rule=cls.slug, path=path, span=Span(line), message=message, severity=severity,
                confidence=confidence, lines=text.splitlines(), engine="checker",
                related=tuple(r if isinstance(r, Location) else Location(*r) for r in related),
                secrets=secrets,
            ))
    return findings, reader


MANIFESTS = re.compile(r"(^|/)(requirements[^/]*\.(txt|in)|pyproject\.toml|setup\.cfg|setup\.py|Pipfile|"
                       r"package\.json|go\.mod)$")


def _manual_signals(items: Sequence[ManualItem], discovered: Discovered, reader) -> tuple[ManualItem, ...]:
    """Manual-review items with the signals this project shows: which of each item's
    candidate packages its dependency manifests name."""
    text = "\n".join(reader(f.relpath) or "" for f in discovered.files if MANIFESTS.search(f.relpath)).lower()
    words = set(re.findall(r"[a-z0-9][a-z0-9_.\-]*", text.replace("_", "-")))
    return tuple(replace(item, signals=tuple(s for s in item.signals if s.lower().replace("_", "-") in words))
                 for item in items)


# -- post-processing -------------------------------------------------------------------------


def glob_any(path: str, patterns: Sequence[str]) -> bool:
    return any(glob_match(path, p) for p in patterns)


def _per_path_ignores(findings: Sequence[Finding], table: Mapping[str, Sequence[str]]) -> list[Finding]:
    if not table:
        return list(findings)
    return [f for f in findings
            if not any(f.rule in slugs and glob_match(f.path, pattern) for pattern, slugs in table.items())]


def _dedupe(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per (rule, path, line) and engine rank: where several engines report the
    same place, the checker's own analysis wins over semgrep, and semgrep over bandit."""
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.rule, f.path, f.span.line), []).append(f)
    out: list[Finding] = []
    for group in groups.values():
        best = min(ENGINE_ORDER.get(f.engine, 9) for f in group)
        seen: set[tuple] = set()
        for f in group:
            if ENGINE_ORDER.get(f.engine, 9) == best and (f.span, f.message) not in seen:
                seen.add((f.span, f.message))
                out.append(f)
    return out


def _ran_slugs(enabled: set[str], registry: Registry, engines: Sequence[EngineStatus]) -> set[str]:
    """Slugs none of whose engines failed on this scan: only their suppressions can be called
    unused (an engine that was not asked for cannot have produced the finding either)."""
    failed = {e.name for e in engines if not e.ran}
    return {slug for slug in enabled if not set(registry.meta(slug).engines) & failed}
