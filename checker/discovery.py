"""Finds the files to scan and classifies them by language.

Inside a git work tree the file list is git's: tracked files plus untracked files that are
not ignored, so ``.gitignore`` is honoured exactly as git reads it. Outside git, the tree is
walked and the root ``.gitignore`` is applied with gitignore-like matching. Configured
excludes and a few always-excluded folders apply in both cases.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Sequence

from checker.model import Skipped
from checker.rule import glob_match
from checker.source import SourceFile

ALWAYS_EXCLUDED = (
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".checker_cache", "site-packages", ".eggs",
    "*.egg-info", "bower_components",
)

SUFFIXES = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".go": "go",
    ".yml": "yaml", ".yaml": "yaml",
    ".json": "json",
    ".toml": "toml",
    ".ini": "ini", ".cfg": "ini", ".conf": "ini", ".properties": "ini",
    ".env": "dotenv",
    ".dockerfile": "dockerfile",
}
#: Languages whose files some analyzer reads; other files are only listed (for project rules).
ANALYZED = frozenset({"python", "javascript", "typescript", "go", "yaml", "json", "toml", "ini", "dotenv", "dockerfile"})


def language_of(relpath: str) -> str:
    name = PurePosixPath(relpath).name
    lower = name.lower()
    if lower in ("dockerfile", "containerfile") or lower.startswith(("dockerfile.", "containerfile.")):
        return "dockerfile"
    if lower == ".env" or lower.startswith(".env.") or lower.endswith(".env"):
        return "dotenv"
    if lower.endswith(".min.js"):
        return "other"
    return SUFFIXES.get(PurePosixPath(lower).suffix, "other")


@dataclass
class Discovered:
    root: Path
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: repo-relative paths git tracks; None outside a git work tree
    tracked: set[str] | None = None


def git_toplevel(path: Path) -> Path | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(path if path.is_dir() else path.parent), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _git_list(root: Path, *args: str) -> list[str] | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", *args],
                             capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return [p for p in out.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def _ignored_by_git(root: Path) -> bool:
    """Whether the folder itself is ignored by the repository around it (a vendored or
    downloaded tree): git lists nothing there, so it is walked like a plain folder."""
    try:
        out = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", "."], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0


def _gitignore_patterns(root: Path) -> list[str]:
    path = root / ".gitignore"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#") and not ln.startswith("!")]


def _walk(root: Path, ignore: Sequence[str]) -> Iterable[str]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not _excluded(rel_dir + d, ignore))
        for name in sorted(filenames):
            yield rel_dir + name


def _excluded(relpath: str, patterns: Sequence[str]) -> bool:
    return any(glob_match(relpath, p) for p in patterns)


def discover(
    paths: Sequence[Path],
    root: Path,
    exclude: Sequence[str] = (),
    max_file_size: int = 1_000_000,
) -> Discovered:
    """The files under ``paths`` (files or folders, inside ``root``) that are to be scanned."""
    root = root.resolve()
    found = Discovered(root)
    patterns = list(ALWAYS_EXCLUDED) + list(exclude)
    in_git = git_toplevel(root) is not None and not _ignored_by_git(root)
    if in_git:
        listed = _git_list(root, "--cached", "--others", "--exclude-standard")
        tracked = _git_list(root, "--cached")
        if listed is None or tracked is None:
            in_git = False
        else:
            found.tracked = set(tracked)
    if not in_git:
        patterns += _gitignore_patterns(root)
        listed = list(_walk(root, patterns))

    targets = []
    for p in paths:
        p = (p if p.is_absolute() else Path.cwd() / p)
        try:
            rel = p.resolve().relative_to(root).as_posix()
        except ValueError:
            found.skipped.append(Skipped(str(p), "outside the project root"))
            continue
        if not p.exists() and not p.is_symlink():
            found.skipped.append(Skipped(rel, "does not exist"))
            continue
        targets.append("" if rel == "." else rel)

    def wanted(rel: str) -> bool:
        return any(t == "" or rel == t or rel.startswith(t + "/") for t in targets)

    seen: set[str] = set()
    for rel in sorted(set(listed or ())):
        if rel in seen or not wanted(rel) or _excluded(rel, patterns):
            continue
        seen.add(rel)
        _add(found, root, rel, max_file_size)
    # Files named explicitly but not listed (e.g. ignored by git) are still scanned.
    for t in targets:
        p = root / t
        if t and t not in seen and p.is_file() and not _excluded(t, patterns):
            seen.add(t)
            _add(found, root, t, max_file_size)
    return found


def _add(found: Discovered, root: Path, rel: str, max_file_size: int) -> None:
    path = root / rel
    language = language_of(rel)
    try:
        if path.is_symlink():
            target = path.resolve(strict=True)
            if not str(target).startswith(str(root) + os.sep):
                found.skipped.append(Skipped(rel, "symbolic link to outside the project"))
                return
            if target.is_dir():
                return
        st = path.stat()
    except RuntimeError:
        found.skipped.append(Skipped(rel, "symbolic link loop"))
        return
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            found.skipped.append(Skipped(rel, "symbolic link loop"))
        elif not path.exists() and not path.is_symlink():
            return  # listed by git but deleted in the work tree
        else:
            found.skipped.append(Skipped(rel, f"cannot be read: {exc.strerror or exc}"))
        return
    if not path.is_file():
        return
    if language in ANALYZED and st.st_size > max_file_size:
        found.skipped.append(
            Skipped(rel, f"larger than the size limit ({st.st_size // 1024} KiB > {max_file_size // 1024} KiB)")
        )
        language = "other"
    found.files.append(SourceFile(path, rel, language, st.st_size))
