"""The bandit adapter: one bandit process per scan over the Python files, limited to the
tests ``rules/bandit.yaml`` maps to enabled slugs.

bandit is run with its own filters out of the way, so it sees exactly our file list:
``-x ''`` replaces its default excludes (matched as substrings, they would drop every
file under ``.github/``), explicit file targets bypass its ``*.py`` include list, and
``--ignore-nosec`` leaves suppression to the checker's own comments, the same for every
engine. bandit's ``code`` and ``issue_text`` are never used: findings are built from the
file's own lines through :func:`checker.analyzers.make_finding` with the mapping's
message (bandit's text for hard-coded passwords quotes the value).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from checker.analyzers import make_finding
from checker.analyzers.external import (
    EngineRun, ExternalRun, batches, exit_reason, find_executable, last_line, make_workdir, not_run,
    tool_relpath,
)
from checker.model import Confidence, EngineStatus, Finding, Severity, Span
from checker.source import SourceFile, Unreadable

NAME = "bandit"
LANGUAGES = frozenset({"python"})
TEST_ID = re.compile(r"^B\d{3}$")


@dataclass(frozen=True)
class BanditTest:
    test: str
    slug: str
    message: str
    severity: Severity | None = None
    confidence: Confidence | None = None


class MappingError(Exception):
    """``rules/bandit.yaml`` cannot be used; the message says why."""


_CACHE: dict[tuple, dict[str, BanditTest]] = {}


def load_mapping(path: Path) -> dict[str, BanditTest]:
    """bandit test id -> what its results become. Raises :class:`MappingError`."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise MappingError(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key in _CACHE:
        return _CACHE[key]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MappingError(f"{path.name} cannot be read: {exc}") from None
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, dict):
        raise MappingError(f"{path.name}: expected a mapping with a `tests` table")
    out: dict[str, BanditTest] = {}
    problems: list[str] = []
    for test, entry in tests.items():
        where = f"{path.name}: {test}"
        if not TEST_ID.match(str(test)):
            problems.append(f"{where}: not a bandit test id (like B501)")
            continue
        if not isinstance(entry, dict) or not entry.get("slug") or not entry.get("message"):
            problems.append(f"{where}: needs `slug` and `message`")
            continue
        try:
            severity = Severity.parse(entry["severity"]) if entry.get("severity") else None
            confidence = Confidence.parse(entry["confidence"]) if entry.get("confidence") else None
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        unknown = set(entry) - {"slug", "message", "severity", "confidence", "why"}
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
            continue
        out[str(test)] = BanditTest(str(test), str(entry["slug"]), str(entry["message"]).strip(),
                                  severity, confidence)
    if problems:
        raise MappingError("; ".join(problems))
    _CACHE.clear()
    _CACHE[key] = out
    return out


def enabled_tests(mapping_path: Path, enabled: set[str]) -> dict[str, BanditTest]:
    return {t: m for t, m in load_mapping(mapping_path).items() if m.slug in enabled}


def bandit_targets(files: list[SourceFile], mapping_path: Path, enabled: set[str],
                   is_test: Callable[[str], bool] = lambda path: False) -> list[SourceFile]:
    """The Python files outside test code (the checker's rules leave tests alone, and so
    do the bandit tests mapped to them), when some mapped test belongs to an enabled slug."""
    try:
        if not enabled_tests(mapping_path, set(enabled)):
            return []
    except MappingError:
        # BanditRun reports the broken mapping; give it the files so it gets the chance.
        pass
    return [f for f in files if f.language in LANGUAGES and not is_test(f.relpath)]


def find_bandit() -> str | None:
    """The bandit executable: beside the running interpreter first, then on PATH."""
    return find_executable(NAME)


class BanditRun(ExternalRun):
    """One bandit process over all the Python targets (same life cycle as SemgrepRun)."""

    NAME = NAME

    def __init__(self, files: list[SourceFile], mapping_path: Path, enabled: set[str], root: Path,
                 timeout: float = 300, executable: str | os.PathLike | None = None) -> None:
        super().__init__(files, root, timeout, executable)
        self.mapping_path = Path(mapping_path)
        self.enabled = set(enabled)
        self._env = dict(os.environ, PYTHONIOENCODING="utf-8")

    def _start_problem(self, exc: Exception) -> str:
        if isinstance(exc, MappingError):
            return f"mapping cannot be used: {exc}"
        return super()._start_problem(exc)

    def _prepare(self) -> None:
        tests = enabled_tests(self.mapping_path, self.enabled)
        if not tests or not self.files:
            self._finish(not_run(NAME, "no enabled rule is mapped to a bandit test"))
            return
        exe = self.executable or find_bandit()
        if exe is None or not Path(exe).is_file():
            self._finish(not_run(NAME, "bandit is not installed (not found beside the Python interpreter or on PATH)"))
            return
        self._workdir = make_workdir("checker-bandit-")
        # -f json -q: the JSON report only. -t: only the mapped tests. -x '': no default
        # excludes. --ignore-nosec: suppressions are the checker's.
        self._argv = [exe, "-f", "json", "-q", "-x", "", "--ignore-nosec", "-t", ",".join(sorted(tests)), "--"]
        arguments = []
        for source in self.files:
            if not os.path.isfile(os.path.join(self.root, source.relpath)):
                self._failed[source.relpath] = "the file no longer exists"
                continue
            arguments.append(source.relpath)
        self._pending = batches(arguments, self._argv)
        if not self._pending:
            self._finish(EngineRun(EngineStatus(NAME, True, "no file left to scan"), failed_files=dict(self._failed)))
            return
        self._launch(self._pending.pop(0))

    def _collect(self) -> None:
        deadline = self._started + self.timeout
        merged = EngineRun(EngineStatus(NAME, True), failed_files=dict(self._failed))
        while self._current is not None:
            outcome = self._next(deadline)
            if outcome.problem == "timed out":
                self._finish(not_run(NAME, f"timed out after {self.timeout:g} s"))
                return
            if outcome.problem:
                self._finish(not_run(NAME, outcome.problem))
                return
            if outcome.returncode not in (0, 1):
                self._finish(not_run(NAME, exit_reason(NAME, outcome.returncode, outcome.stderr)))
                return
            try:
                data = json.loads(outcome.stdout)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
            except ValueError:
                self._finish(not_run(NAME, f"bandit printed no JSON report ({last_line(outcome.stderr) or 'no output'})"))
                return
            self.reports.append(data)
            part = parse_bandit_output(data, self.root, self._by_rel, self.enabled, self.mapping_path)
            for rel, found in part.findings.items():
                merged.findings.setdefault(rel, []).extend(found)
            merged.failed_files.update(part.failed_files)
            if self._pending:
                if time.monotonic() >= deadline:
                    self._finish(not_run(NAME, f"timed out after {self.timeout:g} s"))
                    return
                self._launch(self._pending.pop(0))
        self._finish(merged)


def parse_bandit_output(data: dict, root: Path, files: dict[str, SourceFile], enabled: set[str],
                        mapping_path: Path | None = None,
                        mapping: dict[str, BanditTest] | None = None) -> EngineRun:
    """Normalise bandit's JSON report: the results of mapped tests whose slug is enabled,
    and the files bandit could not analyse. Pure apart from reading the files' lines.
    The mapping comes from ``mapping`` or is read from ``mapping_path``."""
    if mapping is None:
        if mapping_path is None:
            raise ValueError("parse_bandit_output needs mapping or mapping_path")
        mapping = load_mapping(mapping_path)
    run = EngineRun(EngineStatus(NAME, True))
    seen: set[tuple] = set()
    for result in data.get("results") or []:
        entry = mapping.get(str(result.get("test_id", "")))
        if entry is None or entry.slug not in enabled:
            continue
        rel = tool_relpath(str(result.get("filename", "")), root, files)
        if rel is None:
            continue
        try:
            lines = files[rel].lines
        except Unreadable as exc:
            run.failed_files[rel] = str(exc)
            continue
        line = int(result.get("line_number") or 1)
        column = int(result.get("col_offset") or 0) + 1  # bandit's columns are 0-based
        line_range = [int(n) for n in result.get("line_range") or [] if isinstance(n, int)]
        end_line = max([line, *line_range])
        end_col = result.get("end_col_offset")
        end_column = int(end_col) + 1 if isinstance(end_col, int) else 0
        key = (rel, entry.slug, line, column)
        if key in seen:
            continue
        seen.add(key)
        run.findings.setdefault(rel, []).append(make_finding(
            rule=entry.slug, path=rel, span=Span(line, column, end_line, end_column),
            message=entry.message,
            severity=entry.severity or _level(result.get("issue_severity"), Severity, Severity.MEDIUM),
            confidence=entry.confidence or _level(result.get("issue_confidence"), Confidence, Confidence.MEDIUM),
            lines=lines, engine=NAME,
        ))
    for error in data.get("errors") or []:
        rel = tool_relpath(str(error.get("filename", "")), root, files)
        if rel is not None:
            run.failed_files.setdefault(rel, str(error.get("reason") or "bandit could not analyse it"))
    for found in run.findings.values():
        found.sort(key=Finding.sort_key)
    return run


def _level(value: Any, kind, default):
    try:
        return kind.parse(str(value))
    except ValueError:
        return default
