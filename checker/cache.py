"""The result cache: per-file analysis results keyed by the file's path and content, valid
for one rule set and configuration.

One JSON file per project (``.checker_cache/results.json``), read once and written once
per scan, atomically. A cache that cannot be read or does not match is discarded, never
fatal. JSON rather than pickle: the cache sits inside the scanned repository, and a
planted pickle would run code when loaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import checker
from checker.fsutil import atomic_write

CACHE_DIR = ".checker_cache"
FORMAT = 1


def ruleset_key(extra: Any) -> str:
    """A key that changes whenever the checker, its rules or the relevant config change."""
    digest = hashlib.sha256(f"{checker.__version__}\0{FORMAT}".encode())
    import rules

    for package in (Path(checker.__file__).parent, Path(rules.__file__).parent):
        for path in sorted(package.rglob("*")):
            if path.suffix in (".py", ".yaml", ".yml") and path.is_file():
                digest.update(path.relative_to(package).as_posix().encode())
                digest.update(path.read_bytes())
    digest.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return digest.hexdigest()


class Cache:
    def __init__(self, root: Path, key: str, enabled: bool = True) -> None:
        self.path = root / CACHE_DIR / "results.json"
        self.key = key
        self.enabled = enabled
        self.entries: dict[str, dict[str, Any]] = {}
        self.fresh: dict[str, dict[str, Any]] = {}
        self.problem: str | None = None
        if enabled:
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            self.problem = f"cache discarded (unreadable: {exc.__class__.__name__})"
            return
        if not isinstance(data, dict) or data.get("key") != self.key or not isinstance(data.get("entries"), dict):
            return
        self.entries = data["entries"]

    def get(self, path: str, digest: str, engine: str) -> Any | None:
        entry = self.entries.get(path)
        if not isinstance(entry, dict) or entry.get("digest") != digest:
            return None
        return entry.get(engine)

    def put(self, path: str, digest: str, engine: str, value: Any) -> None:
        entry = self.fresh.setdefault(path, {"digest": digest})
        entry[engine] = value

    def keep(self, path: str, digest: str, engine: str, value: Any) -> None:
        """Carry a cache hit over into the next cache file."""
        self.put(path, digest, engine, value)

    def save(self) -> None:
        if not self.enabled:
            return
        try:
            folder = self.path.parent
            folder.mkdir(parents=True, exist_ok=True)
            ignore = folder / ".gitignore"
            if not ignore.exists():
                atomic_write(ignore, "# Created by checker: the cache is not source.\n*\n")
            atomic_write(self.path, json.dumps({"key": self.key, "entries": self.fresh}, separators=(",", ":")))
        except OSError as exc:
            self.problem = f"cache not written: {exc.strerror or exc}"
