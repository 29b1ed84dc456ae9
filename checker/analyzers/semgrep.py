"""The semgrep adapter: one semgrep process per scan, local rules only, no network.

Rules live in ``rules/semgrep/*.yaml``. A rule's slug is its ``id``, or
``metadata.checker-slug`` when several semgrep rules implement one slug (semgrep keeps only
one rule per id, so the Go rule of a slug needs an id of its own). A rule whose metadata
has ``checker-fact: <key>`` records facts for project rules instead of reporting findings;
``metadata.checker-fact-data`` is the fact's data, where a string that is exactly a
metavariable (``"$PATH"``) stands for the code it matched, and ``checker-used-by`` lists
the slugs that read the fact (the rule runs when one of them is enabled).

Only the enabled rules are written to a temporary configuration, and semgrep is given
the exact file list: explicit file targets bypass its ``.semgrepignore`` and default
ignore list (which would otherwise skip ``tests/`` and similar folders), and
``--no-git-ignore`` keeps it from asking git. Findings are built from the file's own
lines through :func:`checker.analyzers.make_finding` (redacted, fingerprinted);
semgrep's ``extra.lines`` is never read.

Measured with semgrep 1.182 on this machine: about 1.8-2.3 s pass before any file is
scanned (``semgrep --version`` alone takes 2 s), while scanning itself is fast. So the
adapter starts semgrep only when some enabled rule applies to some file, runs no separate
version or validation call (the version comes from the JSON report), and puts all
targets on one command line (in batches only beyond about 1 MB of arguments).
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from checker.analyzers import make_finding
from checker.analyzers.external import (
    EngineRun, ExternalRun, batches, exit_reason, find_executable, last_line, make_workdir, not_run,
    tool_relpath,
)
from checker.model import Confidence, EngineStatus, Finding, Severity, Span
from checker.redact import redact
from checker.rule import glob_match
from checker.source import SourceFile, Unreadable

NAME = "semgrep"
ANY = frozenset({"*"})
#: semgrep's language names -> the languages discovery gives files.
LANGUAGES: dict[str, frozenset[str]] = {
    "javascript": frozenset({"javascript"}), "js": frozenset({"javascript"}),
    "typescript": frozenset({"typescript"}), "ts": frozenset({"typescript"}),
    "go": frozenset({"go"}), "golang": frozenset({"go"}),
    "python": frozenset({"python"}), "python3": frozenset({"python"}), "py": frozenset({"python"}),
    "dockerfile": frozenset({"dockerfile"}), "docker": frozenset({"dockerfile"}),
    "yaml": frozenset({"yaml"}), "json": frozenset({"json"}),
    "generic": ANY, "regex": ANY, "none": ANY,
}
#: semgrep's own severities, when a rule's metadata does not state ours.
SEVERITIES = {
    "ERROR": Severity.HIGH, "WARNING": Severity.MEDIUM, "INFO": Severity.LOW,
    "CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW, "INVENTORY": Severity.INFO, "EXPERIMENT": Severity.INFO,
}
#: Separates metavariable values in the message of a fact rule (see ``_config_rule``):
#: semgrep's JSON report carries no metavariable values, only the interpolated message.
SEPARATOR = "\x1e"
METAVARIABLE = re.compile(r"^\$[A-Z_][A-Z0-9_]*$")
INVALID_ROOT = re.compile(r"Invalid scanning root: (.+?)(?: is a symbolic link\.|\n|$)")
# Flags, and why:
#   --metrics=off, --disable-version-check (and the environment below): no network.
#   --no-rewrite-rule-ids: ids stay the slugs, not "tmpdir.slug".
#   --no-git-ignore: do not ask git; the file list is ours.
#   --disable-nosem: suppressions are the checker's (`checker: ignore[...]`), the same for
#     every engine; a project's own `nosemgrep` comments are for its own semgrep runs.
#   --scan-unknown-extensions: files discovery classified by name (`Dockerfile.prod`,
#     `.mts`) are scanned although semgrep does not know the extension.
#   --max-target-bytes=0: discovery already applies the size limit.
FLAGS = (
    "--json", "--metrics=off", "--disable-version-check", "--no-rewrite-rule-ids", "--no-git-ignore",
    "--disable-nosem", "--scan-unknown-extensions", "--max-target-bytes=0",
)


# -- rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SemgrepRule:
    id: str
    slug: str
    languages: frozenset[str]  # discovery languages, or ANY
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    fact: str | None
    used_by: tuple[str, ...]
    raw: Mapping[str, Any] = field(compare=False, hash=False)
    source: str = ""

    def wanted(self, enabled: set[str]) -> bool:
        if self.fact is not None:
            return self.id in enabled or bool(enabled & set(self.used_by))
        return self.slug in enabled

    def applies_to(self, source: SourceFile) -> bool:
        if self.languages is not ANY and source.language not in self.languages:
            return False
        if self.languages is ANY and source.language == "other" and not self.include:
            return False
        if self.include and not any(glob_match(source.relpath, p) for p in self.include):
            return False
        return not any(glob_match(source.relpath, p) for p in self.exclude)


class RuleError(Exception):
    """A rule file that cannot be used (the message names the file and the problem)."""


_CACHE: dict[tuple, tuple[list[SemgrepRule], list[str]]] = {}


def load_rules(rule_dir: Path) -> tuple[list[SemgrepRule], list[str]]:
    """Every rule under ``rule_dir`` and the problems of files that could not be read."""
    paths = sorted(p for p in Path(rule_dir).glob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    key = (str(rule_dir),) + tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    if key in _CACHE:
        return _CACHE[key]
    rules: list[SemgrepRule] = []
    problems: list[str] = []
    for path in paths:
        try:
            rules.extend(_rules_of(path))
        except RuleError as exc:
            problems.append(str(exc))
    ids: dict[str, str] = {}
    for rule in rules:
        if rule.id in ids:
            problems.append(f"{rule.source}: rule id {rule.id!r} is also used in {ids[rule.id]} "
                            "(semgrep keeps only one rule per id)")
        ids.setdefault(rule.id, rule.source)
    _CACHE.clear()
    _CACHE[key] = (rules, problems)
    return rules, problems


def _rules_of(path: Path) -> list[SemgrepRule]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleError(f"{path.name}: cannot be read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"{path.name}: expected a mapping with a `rules` list")
    out = []
    for raw in data["rules"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise RuleError(f"{path.name}: every rule needs an `id`")
        meta = raw.get("metadata") or {}
        languages: set[str] = set()
        for name in raw.get("languages") or []:
            mapped = LANGUAGES.get(str(name).lower())
            if mapped is None:
                raise RuleError(f"{path.name}: rule {raw['id']}: unknown language {name!r}")
            languages |= mapped
        paths = raw.get("paths") or {}
        out.append(SemgrepRule(
            id=raw["id"],
            slug=str(meta.get("checker-slug") or raw["id"]),
            languages=ANY if "*" in languages else frozenset(languages),
            include=tuple(paths.get("include") or ()),
            exclude=tuple(paths.get("exclude") or ()),
            fact=meta.get("checker-fact"),
            used_by=tuple(meta.get("checker-used-by") or ()),
            raw=raw,
            source=path.name,
        ))
    return out


def selected_rules(rule_dir: Path, enabled: Iterable[str]) -> list[SemgrepRule]:
    enabled = set(enabled)
    rules, _ = load_rules(rule_dir)
    return [r for r in rules if r.wanted(enabled)]


def semgrep_targets(files: list[SourceFile], rule_dir: Path, enabled: set[str]) -> list[SourceFile]:
    """The files some enabled semgrep rule applies to (by the rules' languages and paths)."""
    rules = selected_rules(rule_dir, enabled)
    if not rules:
        return []
    return [f for f in files if any(rule.applies_to(f) for rule in rules)]


def _metavariables(template: Any) -> list[str]:
    if isinstance(template, str):
        return [template] if METAVARIABLE.match(template) else []
    if isinstance(template, list):
        return [m for item in template for m in _metavariables(item)]
    if isinstance(template, dict):
        return [m for value in template.values() for m in _metavariables(value)]
    return []


def _config_rule(rule: SemgrepRule) -> dict:
    """The rule as written to the temporary configuration. A fact rule's message becomes
    its metavariables' values, separated, since that is the only place semgrep's report
    gives them; the names are kept in the metadata to read them back."""
    raw = dict(rule.raw)
    if rule.fact is None:
        return raw
    names = sorted(set(_metavariables((raw.get("metadata") or {}).get("checker-fact-data") or {})))
    raw["metadata"] = {**(raw.get("metadata") or {}), "checker-fact-vars": names}
    raw["message"] = SEPARATOR.join(names) if names else "fact"
    return raw


# -- the run -------------------------------------------------------------------------------


def semgrep_env(workdir: Path) -> dict[str, str]:
    """The environment semgrep runs in: nothing inherited that configures semgrep (a
    ``SEMGREP_RULES`` or app token in the user's shell), no metrics, no version check, and
    its settings (where a login token would be) and log kept in our temporary folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMGREP_")}
    env.update(
        SEMGREP_ENABLE_VERSION_CHECK="0",
        SEMGREP_SEND_METRICS="off",
        SEMGREP_SETTINGS_FILE=str(workdir / "settings.yml"),
        SEMGREP_LOG_FILE=str(workdir / "semgrep.log"),
        SEMGREP_VERSION_CACHE_PATH=str(workdir / "version"),
        NO_COLOR="1",
    )
    return env


def find_semgrep() -> str | None:
    """The semgrep executable: beside the running interpreter first, then on PATH."""
    return find_executable(NAME)


class SemgrepRun(ExternalRun):
    """One semgrep process over all its targets: :meth:`start` returns at once, the
    process runs while the checker's own analysis works, :meth:`wait` collects it."""

    NAME = NAME

    def __init__(self, files: list[SourceFile], rule_dir: Path, enabled: set[str], root: Path,
                 timeout: float = 300, executable: str | os.PathLike | None = None) -> None:
        super().__init__(files, root, timeout, executable)
        self.rule_dir = Path(rule_dir)
        self.enabled = set(enabled)
        self._arg_to_rel: dict[str, str] = {}

    def _prepare(self) -> None:
        rules, problems = load_rules(self.rule_dir)
        if problems:
            self._finish(not_run(NAME, "rules cannot be used: " + "; ".join(problems)))
            return
        rules = [r for r in rules if r.wanted(self.enabled)]
        if not rules or not self.files:
            self._finish(not_run(NAME, "no enabled semgrep rule applies to the files"))
            return
        exe = self.executable or find_semgrep()
        if exe is None or not Path(exe).is_file():
            self._finish(not_run(NAME, "semgrep is not installed (not found beside the Python interpreter or on PATH)"))
            return
        self._workdir = make_workdir("checker-semgrep-")
        config = self._workdir / "rules.yaml"
        config.write_text(yaml.safe_dump({"rules": [_config_rule(r) for r in rules]}, sort_keys=False),
                          encoding="utf-8")
        self._env = semgrep_env(self._workdir)
        self._argv = [exe, "scan", "--config", str(config), *FLAGS, "--"]
        arguments = self._target_arguments()
        self._pending = batches(arguments, self._argv, self._env)
        if not self._pending:
            self._finish(EngineRun(EngineStatus(NAME, True, "no file left to scan"), failed_files=dict(self._failed)))
            return
        self._launch(self._pending.pop(0))

    def _target_arguments(self) -> list[str]:
        """Command-line targets, relative to the root where possible. semgrep refuses a
        whole run when one target is missing or a symbolic link, so those are checked
        here: a link is given as the file it points to (once)."""
        out: list[str] = []
        seen: set[str] = set()
        root = os.path.realpath(self.root)
        for source in self.files:
            path = os.path.join(root, source.relpath)
            real = os.path.realpath(path)
            if not os.path.isfile(real):
                self._failed[source.relpath] = "the file no longer exists"
                continue
            if real in seen:
                continue  # a link to a file already given: its findings are the file's
            seen.add(real)
            arg = source.relpath if real == os.path.normpath(path) else real
            self._arg_to_rel[arg] = source.relpath
            self._arg_to_rel[os.path.normpath(arg)] = source.relpath
            out.append(arg)
        return out

    def _collect(self) -> None:
        deadline = self._started + self.timeout
        merged = EngineRun(EngineStatus(NAME, True), failed_files=dict(self._failed))
        version = ""
        retries = 0
        while self._current is not None:
            outcome = self._next(deadline)
            if outcome.problem == "timed out":
                self._finish(not_run(NAME, f"timed out after {self.timeout:g} s"))
                return
            if outcome.problem:
                self._finish(not_run(NAME, outcome.problem))
                return
            try:
                data = json.loads(outcome.stdout)
                if not isinstance(data, dict):
                    raise ValueError("not an object")
            except ValueError:
                reason = exit_reason(NAME, outcome.returncode, outcome.stderr) if outcome.returncode not in (0, 1) \
                    else f"semgrep printed no JSON report ({last_line(outcome.stderr) or 'no output'})"
                self._finish(not_run(NAME, reason))
                return
            if outcome.returncode not in (0, 1):
                bad = self._invalid_root(data)
                if bad is not None and retries < 3 and time.monotonic() < deadline:
                    # A target vanished or became a link after discovery: drop it and rerun.
                    retries += 1
                    merged.failed_files[self._arg_to_rel[bad]] = "semgrep refused it as a target"
                    rest = [a for a in self._current_batch if a != bad]
                    if rest:  # never an empty target list: semgrep would scan the folder
                        self._launch(rest)
                    elif self._pending:
                        self._launch(self._pending.pop(0))
                    continue
                self._finish(not_run(NAME, _fatal_reason(data, outcome.returncode, outcome.stderr)))
                return
            version = str(data.get("version") or version)
            self.reports.append(data)
            batch_files = {self._arg_to_rel[a]: self._by_rel[self._arg_to_rel[a]] for a in self._current_batch}
            part = _parse(data, self.root, batch_files, self.enabled, self._arg_to_rel)
            for rel, found in part.findings.items():
                merged.findings.setdefault(rel, []).extend(found)
            for rel, facts in part.facts.items():
                merged.facts.setdefault(rel, {}).update(facts)
            merged.failed_files.update(part.failed_files)
            if self._pending:
                if time.monotonic() >= deadline:
                    self._finish(not_run(NAME, f"timed out after {self.timeout:g} s"))
                    return
                self._launch(self._pending.pop(0))
        merged.status = EngineStatus(NAME, True, f"semgrep {version}" if version else "")
        self._finish(merged)

    def _invalid_root(self, data: dict) -> str | None:
        for error in data.get("errors") or []:
            match = INVALID_ROOT.search(str(error.get("message") or ""))
            if match and match.group(1) in self._current_batch:
                return match.group(1)
        return None


def _fatal_reason(data: dict, returncode: int | None, stderr: str) -> str:
    for error in data.get("errors") or []:
        if error.get("level") == "error":
            text = str(error.get("message") or error.get("long_msg") or error.get("type") or "").strip()
            first = text.splitlines()[0] if text else ""
            return f"semgrep exited with status {returncode}: {redact(first)[:300]}"
    return exit_reason(NAME, returncode, stderr)


# -- normalisation -------------------------------------------------------------------------


def parse_semgrep_output(data: dict, root: Path, files: dict[str, SourceFile], enabled: set[str]) -> EngineRun:
    """Normalise semgrep's JSON report: findings of enabled slugs, facts of fact rules,
    and the files semgrep could not analyse. Pure apart from reading the files' lines."""
    return _parse(data, root, files, set(enabled), {})


def _parse(data: dict, root: Path, files: Mapping[str, SourceFile], enabled: set[str],
           arg_to_rel: Mapping[str, str]) -> EngineRun:
    run = EngineRun(EngineStatus(NAME, True, f"semgrep {data.get('version')}" if data.get("version") else ""))
    seen: set[tuple] = set()
    for result in data.get("results") or []:
        rel = tool_relpath(str(result.get("path", "")), root, files, arg_to_rel)
        if rel is None:
            continue
        extra = result.get("extra") or {}
        meta = extra.get("metadata") or {}
        start, end = result.get("start") or {}, result.get("end") or {}
        line, column = int(start.get("line", 1)), int(start.get("col", 1))
        span = Span(line, column, int(end.get("line", line)), int(end.get("col", column)))
        try:
            lines = files[rel].lines
        except Unreadable as exc:
            run.failed_files[rel] = str(exc)
            continue
        fact = meta.get("checker-fact")
        if fact:
            value = _fact_data(meta, str(extra.get("message", "")), lines, span)
            key = ("fact", rel, fact, line, json.dumps(value, sort_keys=True))
            if key not in seen:
                seen.add(key)
                run.facts.setdefault(rel, {}).setdefault(str(fact), []).append((line, value))
            continue
        slug = str(meta.get("checker-slug") or result.get("check_id", ""))
        if slug not in enabled:
            continue
        key = ("finding", rel, slug, line, column)
        if key in seen:
            continue  # one place matched by two patterns of a rule
        seen.add(key)
        run.findings.setdefault(rel, []).append(make_finding(
            rule=slug, path=rel, span=span, message=str(extra.get("message", "")).strip(),
            severity=_severity(meta, extra), confidence=_confidence(meta), lines=lines, engine=NAME,
        ))
    for error in data.get("errors") or []:
        path = error.get("path")
        if not path:
            continue
        rel = tool_relpath(str(path), root, files, arg_to_rel)
        if rel is not None:
            run.failed_files.setdefault(rel, _error_reason(error))
    scanned = (data.get("paths") or {}).get("scanned")
    if isinstance(scanned, list):
        done = {tool_relpath(str(p), root, files, arg_to_rel) for p in scanned}
        for rel in files:
            if rel not in done and rel not in run.failed_files:
                run.failed_files[rel] = "semgrep did not scan it"
    for found in run.findings.values():
        found.sort(key=Finding.sort_key)
    return run


def _severity(meta: Mapping[str, Any], extra: Mapping[str, Any]) -> Severity:
    if meta.get("severity"):
        try:
            return Severity.parse(str(meta["severity"]))
        except ValueError:
            pass
    return SEVERITIES.get(str(extra.get("severity", "")).upper(), Severity.MEDIUM)


def _confidence(meta: Mapping[str, Any]) -> Confidence:
    try:
        return Confidence.parse(str(meta.get("confidence") or "medium"))
    except ValueError:
        return Confidence.MEDIUM


def _error_reason(error: Mapping[str, Any]) -> str:
    """Why semgrep could not analyse a file, without the code its message quotes."""
    kind = error.get("type") or "error"
    if isinstance(kind, list):
        kind = kind[0] if kind else "error"
    kind = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(kind)).lower()  # PartialParsing -> partial parsing
    spans = [s for s in error.get("spans") or [] if isinstance(s, dict)]
    first = (spans[0].get("start") or {}).get("line") if spans else None
    last = (spans[0].get("end") or {}).get("line") if spans else None
    if first is None:
        match = re.search(r":(\d+):", str(error.get("message") or ""))
        first = int(match.group(1)) if match else None
    if kind == "partial parsing" and first:
        where = f"line {first}" if not last or last == first else f"lines {first}-{last}"
        return f"parsed only in part ({where} could not be parsed)"
    return f"{kind} at line {first}" if first else kind


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"`":
        return value[1:-1]
    if value.startswith("`"):
        return value[1:]  # semgrep drops a template literal's closing backtick
    return value


def _fact_data(meta: Mapping[str, Any], message: str, lines: list[str], span: Span) -> dict:
    names = list(meta.get("checker-fact-vars") or [])
    values: dict[str, str | None] = {}
    parts = message.split(SEPARATOR) if names else []
    for name, value in zip(names, parts):
        values[name] = None if value == name else redact(_unquote(value))

    def fill(template: Any) -> Any:
        if isinstance(template, str) and METAVARIABLE.match(template):
            return values.get(template)
        if isinstance(template, list):
            return [fill(item) for item in template]
        if isinstance(template, dict):
            return {k: fill(v) for k, v in template.items()}
        return template

    data = fill(meta.get("checker-fact-data") or {})
    data = data if isinstance(data, dict) else {"value": data}
    first = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
    text = first[span.column - 1:span.end_column - 1] if span.end_line == span.line else first[span.column - 1:]
    data["text"] = redact(text.strip())
    return data
