"""The command line: parses options, calls :func:`checker.api.scan`, renders, sets the exit code.

Exit codes: 0 the policy passed; 1 the policy failed (a finding at or above ``--fail-on``,
or a score below ``--min-score``); 2 usage, configuration or internal error.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

import checker
from checker.model import Report, Severity
from checker.reporters import RenderOptions, formats, render

if TYPE_CHECKING:  # the engine (and libcst) load only for the commands that scan
    from checker.config import Config

EXIT_OK, EXIT_POLICY, EXIT_ERROR = 0, 1, 2

app = typer.Typer(
    name="checker",
    help="Static code review checker: turns backend review guidelines into a scored checklist.",
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


class Scope(str, Enum):
    all = "all"
    file = "file"
    project = "project"


def _fail(message: str) -> None:
    typer.echo(f"checker: error: {message}", err=True)
    raise typer.Exit(EXIT_ERROR)


def _split(values: Optional[List[str]]) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _use_color(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _width() -> int:
    try:
        return max(60, min(os.get_terminal_size(sys.stdout.fileno()).columns, 140))
    except (OSError, ValueError):
        return 100


def _parse_outputs(primary: str, output: Optional[List[str]]) -> tuple[Path | None, list[tuple[str, Path]]]:
    """``--output FILE`` sets where the main format goes; ``--output FORMAT:FILE`` adds one."""
    main: Path | None = None
    extra: list[tuple[str, Path]] = []
    known = formats()
    for item in output or []:
        fmt, sep, rest = item.partition(":")
        if sep and fmt in known and rest:
            extra.append((fmt, Path(rest)))
        elif main is None:
            main = Path(item)
        else:
            _fail(f"--output {item!r}: the main output is already {main}; use FORMAT:FILE for more")
    return main, extra


def _load(paths: list[Path], config_path: Optional[Path]) -> tuple[Path, Config]:
    from checker.api import load_config, project_root
    from checker.config import ConfigError

    root = project_root(paths)
    if config_path is not None and not config_path.is_file():
        _fail(f"--config {config_path}: no such file")
    try:
        return root, load_config(root, config_path)
    except ConfigError as exc:
        typer.echo(f"checker: error: invalid configuration in {exc.source}:", err=True)
        for problem in exc.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(EXIT_ERROR)


def _check_slugs(values: list[str] | None, option: str) -> None:
    from checker.registry import load

    registry = load()
    for slug in values or []:
        if registry.canonical(slug) not in registry.rules:
            _fail(f"{option}: unknown rule {slug!r} (see `checker rules`)")


def _scope_select(scope: Scope, select: list[str] | None) -> list[str] | None:
    if scope is Scope.all:
        return select
    from checker.registry import load

    registry = load()
    chosen = select or registry.slugs
    return [s for s in chosen if registry.meta(s).scope == scope.value] or ["__none__"]


def policy_failed(report: Report, fail_on: Severity | None, min_score: float | None) -> list[str]:
    """Why the report fails the policy (empty when it passes)."""
    reasons = []
    if fail_on is not None:
        worst = [f for f in report.findings if f.severity >= fail_on]
        if worst:
            reasons.append(f"{len(worst)} finding(s) at or above {fail_on.label}")
    if min_score is not None and report.score.overall < min_score:
        reasons.append(f"score {report.score.overall:g} is below the minimum {min_score:g}")
    return reasons


@app.command()
def scan(
    paths: Optional[List[Path]] = typer.Argument(None, help="Files or folders to scan (default: the current folder)."),
    fmt: str = typer.Option("terminal", "--format", "-f", help="Output format: " + ", ".join(formats()) + "."),
    output: Optional[List[str]] = typer.Option(
        None, "--output", "-o", help="Write the report to FILE instead of standard output; FORMAT:FILE writes one more format."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Only these rules (slugs, comma-separated)."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Leave out these rules (slugs, comma-separated)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Fail on findings at or above: critical, high, medium, low, info, or never."),
    min_score: Optional[float] = typer.Option(None, "--min-score", min=0, max=100, help="Fail when the overall score is below N."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: the machine's cores)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the result cache."),
    config_path: Optional[Path] = typer.Option(None, "--config", help="Configuration file (default: .checker.yml or pyproject.toml)."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Report only findings not recorded in this baseline file."),
    diff_base: Optional[str] = typer.Option(None, "--diff-base", help="Report only findings on lines changed since the merge base with REF."),
    scope: Scope = typer.Option(Scope.all, "--scope", help="Run all rules, only per-file rules, or only project rules."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar, and no output when there is nothing to report."),
) -> None:
    """Scan files and print the scored checklist."""
    if fmt not in formats():
        _fail(f"--format {fmt!r}: unknown format (known: {', '.join(formats())})")
    main_file, extra_outputs = _parse_outputs(fmt, output)
    select_list, ignore_list = _split(select), _split(ignore)
    _check_slugs(select_list, "--select")
    _check_slugs(ignore_list, "--ignore")
    targets = list(paths or [Path(".")])
    root, config = _load(targets, config_path)
    if fail_on is not None:
        try:
            config.fail_on = None if fail_on.lower() in ("never", "none") else Severity.parse(fail_on)
        except ValueError as exc:
            _fail(f"--fail-on: {exc}")
    if min_score is not None:
        config.min_score = min_score
    if baseline is not None and not baseline.is_file():
        _fail(f"--baseline {baseline}: no such file (create one with `checker baseline`)")

    from checker.api import scan as run_scan

    try:
        report = _with_progress(
            lambda progress: run_scan(
                targets, config, root=root, select=_scope_select(scope, select_list or config.select), ignore=ignore_list,
                jobs=jobs, use_cache=not no_cache, baseline=baseline, diff_base=diff_base, progress=progress,
            ),
            enabled=not quiet,
        )
    except Exception as exc:  # noqa: BLE001 - turned into a clear message and exit code 2
        from checker.baseline import BaselineError
        from checker.diff import DiffError

        if isinstance(exc, (BaselineError, DiffError)):
            _fail(str(exc))
        raise

    reasons = policy_failed(report, config.fail_on, config.min_score)
    _emit(report, fmt, main_file, extra_outputs, quiet)
    if reasons and not quiet:
        typer.echo("checker: policy failed: " + "; ".join(reasons), err=True)
    raise typer.Exit(EXIT_POLICY if reasons else EXIT_OK)


def _emit(report: Report, fmt: str, main_file: Path | None, extra: list[tuple[str, Path]], quiet: bool) -> None:
    from checker.fsutil import atomic_write

    for extra_fmt, path in extra:
        atomic_write(path, render(extra_fmt, report, RenderOptions(width=100)))
    if main_file is not None:
        atomic_write(main_file, render(fmt, report, RenderOptions(width=100)))
        return
    if quiet and not report.findings and not report.diagnostics:
        return
    color = fmt == "terminal" and _use_color(sys.stdout)
    text = render(fmt, report, RenderOptions(color=color, width=_width()))
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _with_progress(action, enabled: bool):
    """Runs the scan with a progress bar on standard error when it is a terminal."""
    if not enabled or not _use_color(sys.stderr) or os.environ.get("CI"):
        return action(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr)
    with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("scan", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return action(progress)


@app.command()
def baseline(
    paths: Optional[List[Path]] = typer.Argument(None, help="Files or folders to scan (default: the current folder)."),
    output: Path = typer.Option(Path(".checker-baseline.json"), "--output", "-o", help="Where to write the baseline."),
    config_path: Optional[Path] = typer.Option(None, "--config", help="Configuration file."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1),
    no_cache: bool = typer.Option(False, "--no-cache"),
) -> None:
    """Record the current findings, so that `scan --baseline FILE` reports only new ones."""
    from checker import baseline as baseline_mod
    from checker.api import scan as run_scan

    targets = list(paths or [Path(".")])
    root, config = _load(targets, config_path)
    report = run_scan(targets, config, root=root, jobs=jobs, use_cache=not no_cache)
    baseline_mod.write(output, report.findings)
    typer.echo(f"checker: wrote {len(report.findings)} finding(s) to {output}", err=True)


@app.command("rules")
def rules_command(
    fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="Configuration file (for the enabled column)."),
) -> None:
    """List every rule: slug, checklist item, section, severity, languages, enabled."""
    import json

    from checker.docs import rules_table
    from checker.registry import load

    registry = load()
    _, config = _load([Path(".")], config_path)
    enabled = config.enabled(registry)
    rows = rules_table(registry, enabled, config.severity)
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for column in ("slug", "checklist item", "section", "severity", "languages", "enabled"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["slug"], row["checklist"], row["section"], row["severity"],
                      ", ".join(row["languages"]), "yes" if row["enabled"] else "no")
    Console(no_color=not _use_color(sys.stdout), width=_width() if sys.stdout.isatty() else 160).print(table)


@app.command()
def explain(slug: str = typer.Argument(..., help="The rule's slug, e.g. sql-string-built.")) -> None:
    """Print a rule's documentation with a bad and a good example."""
    from checker.docs import rule_markdown
    from checker.registry import load

    registry = load()
    canonical = registry.canonical(slug)
    if canonical not in registry.rules:
        import difflib

        close = difflib.get_close_matches(slug, registry.slugs, n=1)
        _fail(f"unknown rule {slug!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    text = rule_markdown(registry.meta(canonical))
    if _use_color(sys.stdout):
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        typer.echo(text)


@app.command()
def version() -> None:
    """Print the checker's version."""
    typer.echo(f"checker {checker.__version__}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("checker: interrupted", err=True)
        sys.exit(EXIT_ERROR)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - an internal error is exit code 2, with its cause
        typer.echo(f"checker: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_ERROR)
