"""Diff mode: keep only the findings a change introduced.

``scan --diff-base REF`` finds the merge base of ``HEAD`` and ``REF``, asks git which lines
the working tree adds or changes relative to it (committed, staged, unstaged and untracked
work alike), and keeps

* file-scope findings whose span, or one of whose related locations, is on such a line;
* project-scope findings whose file, or one of whose related files, the change touches
  at all (a deletion counts: removing a health-check route touches the routes module).

:func:`materialize` writes the tree at the merge base to a folder, so the engine can score
"before" the same way it scores "now". Everything runs local git commands; nothing is
fetched.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence

from checker.model import Finding, RuleMeta


class DiffError(Exception):
    """Diff mode cannot work here; the message says why and what to do."""


def _git(root: Path, *args: str, env: Mapping[str, str] | None = None,
         what: str = "") -> str:
    command = ["git", "-c", "core.quotePath=false", *args]
    try:
        done = subprocess.run(
            command, cwd=root, capture_output=True, check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0",
                 **(env or {})},
        )
    except FileNotFoundError:
        raise DiffError("diff mode needs git, and no `git` program was found on PATH") from None
    except NotADirectoryError:
        raise DiffError(f"{root} is not a folder") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit code {done.returncode}"
        raise DiffError(f"{what or 'git ' + args[0]} failed in {root}: {detail}")
    return done.stdout.decode("utf-8", "surrogateescape")


def _ensure_repo(root: Path) -> None:
    try:
        inside = _git(root, "rev-parse", "--is-inside-work-tree").strip()
    except DiffError:
        inside = ""
    if inside != "true":
        raise DiffError(f"diff mode needs a git repository, and {root} is not inside one")


def merge_base(root: Path, ref: str) -> str:
    """The commit where ``HEAD`` and ``ref`` diverged (``git merge-base HEAD ref``)."""
    root = Path(root)
    _ensure_repo(root)
    if not ref or ref.startswith("-"):
        raise DiffError(f"invalid diff base {ref!r}: give a branch, tag or commit")
    try:
        _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except DiffError:
        raise DiffError(f"the repository at {root} has no commits yet") from None
    try:
        target = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options",
                      f"{ref}^{{commit}}").strip()
    except DiffError:
        raise DiffError(
            f"unknown diff base {ref!r}: no such branch, tag or commit in {root}. In a CI "
            f"checkout, fetch it first (for example `git fetch origin {ref}`, or check out "
            f"with full history: actions/checkout `fetch-depth: 0`)"
        ) from None
    try:
        return _git(root, "merge-base", "HEAD", target).strip()
    except DiffError:
        raise DiffError(
            f"HEAD and {ref!r} have no common ancestor in {root} (a shallow clone cuts the "
            f"history: fetch more of it, for example actions/checkout `fetch-depth: 0`)"
        ) from None


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
            '"': '"', "\\": "\\"}


def _unquote(name: str) -> str:
    """A path as git prints it in a diff header (C-quoted when it holds odd characters)."""
    if not (len(name) >= 2 and name[0] == '"' and name[-1] == '"'):
        return name
    body, out, i = name[1:-1], bytearray(), 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            octal = re.match(r"[0-7]{3}", body[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(0), 8))
                i += 4
            else:
                out += _ESCAPES.get(body[i + 1], body[i + 1]).encode("utf-8", "surrogateescape")
                i += 2
        else:
            out += body[i].encode("utf-8", "surrogateescape")
            i += 1
    return out.decode("utf-8", "surrogateescape")


def _strip_prefix(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


def parse_diff(text: str) -> dict[str, set[int]]:
    """Added/changed lines (new side) per file from ``git diff -U0`` output.

    Every file the diff names is present, with an empty set when the change only deleted
    lines or the file is binary; deleted files are not (they have no new side).
    """
    changed: dict[str, set[int]] = {}
    current: str | None = None
    in_header = False  # between "diff --git" and the first hunk: no content lines there
    for line in text.splitlines():
        if line.startswith("diff --git "):
            current, in_header = None, True
        elif not in_header and not line.startswith("@@"):
            continue  # a content line ("+++ x" may be an added line reading "++ x")
        elif line.startswith("+++ "):
            name = _unquote(line[4:].rstrip("\t"))
            current = None if name == "/dev/null" else _strip_prefix(name, "b/")
            if current is not None:
                changed.setdefault(current, set())
        elif line.startswith("rename to ") and current is None:
            # A pure rename has no ---/+++ lines; the file is touched, no line is new.
            changed.setdefault(_unquote(line[len("rename to "):]), set())
        elif line.startswith("Binary files ") and current is None:
            match = re.match(r"^Binary files (.*) and (.*) differ$", line)
            if match and match.group(2) != "/dev/null":
                changed.setdefault(_strip_prefix(_unquote(match.group(2)), "b/"), set())
        elif line.startswith("@@") and current is not None:
            in_header = False
            match = _HUNK.match(line)
            if match:
                start = int(match.group(1))
                count = 1 if match.group(2) is None else int(match.group(2))
                changed[current].update(range(start, start + count))
    return changed


def _line_count(path: Path) -> int:
    try:
        data = path.read_bytes()
    except OSError:
        return 0
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def changed_lines(root: Path, ref: str) -> dict[str, set[int]]:
    """Lines added or changed since the merge base of ``HEAD`` and ``ref``, per file.

    Paths are posix paths relative to ``root`` (the repository's top level when ``root``
    is it; with a sub-folder, only files under it, relative to it). The working tree is
    compared with the merge base, so committed, staged and unstaged changes all count;
    untracked files that are not ignored count as wholly added.
    """
    root = Path(root)
    base = merge_base(root, ref)
    text = _git(
        root, "diff", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--find-renames",
        "--relative", "--src-prefix=a/", "--dst-prefix=b/", base, "--",
        what="git diff",
    )
    changed = parse_diff(text)
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", ".",
                     what="git ls-files")
    for name in filter(None, untracked.split("\0")):
        full = root / name
        if full.is_file() and not full.is_symlink():
            changed[name] = set(range(1, _line_count(full) + 1))
    return {str(PurePosixPath(k)): v for k, v in sorted(changed.items())}


def _norm(path: str) -> str:
    return str(PurePosixPath(path.replace("\\", "/")))


def filter_findings(findings: Sequence[Finding], changed: Mapping[str, set[int]],
                    metas: Mapping[str, RuleMeta]) -> list[Finding]:
    """The findings a change is responsible for (see the module docs), in their order."""
    touched = {_norm(k): set(v) for k, v in changed.items()}
    kept: list[Finding] = []
    for finding in findings:
        meta = metas.get(finding.rule)
        scope = meta.scope if meta is not None else "file"
        if scope == "project":
            paths = [finding.path, *(r.path for r in finding.related)]
            if any(_norm(p) in touched for p in paths):
                kept.append(finding)
            continue
        lines = touched.get(_norm(finding.path), set())
        span = finding.span
        if any(n in lines for n in range(span.line, max(span.end_line, span.line) + 1)):
            kept.append(finding)
        elif any(r.line in touched.get(_norm(r.path or finding.path), set())
                 for r in finding.related):
            kept.append(finding)
    return kept


def materialize(root: Path, ref: str, dest: Path) -> None:
    """Write the files of the merge base of ``HEAD`` and ``ref`` into ``dest``.

    Uses a throw-away index (``git read-tree`` + ``git checkout-index``): the repository's
    own index, work tree and refs are left untouched, ``export-ignore`` attributes do not
    drop files, and large-file filters are not asked to download anything. With ``root`` a
    sub-folder of the repository, ``dest`` receives that sub-folder's contents.
    """
    root, dest = Path(root), Path(dest)
    base = merge_base(root, ref)
    prefix = _git(root, "rev-parse", "--show-prefix").strip()
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    tree = f"{base}:{prefix.rstrip('/')}" if prefix else base
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise DiffError(f"cannot write the tree at {ref!r} into {dest}: the folder is not empty")
    with tempfile.TemporaryDirectory(prefix="checker-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_LFS_SKIP_SMUDGE": "1"}
        try:
            _git(top, "read-tree", tree, env=env, what="git read-tree")
        except DiffError as exc:
            raise DiffError(f"cannot read the tree at {ref!r} ({base[:12]}): {exc}") from None
        # From the top level: in a sub-folder, checkout-index would only take paths under it.
        _git(top, "checkout-index", "--all", "--force", f"--prefix={dest.resolve()}/",
             env=env, what="git checkout-index")
