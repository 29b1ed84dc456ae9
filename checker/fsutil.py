"""Small file-system helpers shared by the engine, the cache and the reporters."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def _default_mode() -> int:
    # Read the umask once (setting it is the only way to read it).
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_DEFAULT_MODE = _default_mode()


def atomic_write(path: Path | str, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` so that readers see either the old file or the new one.

    The text goes to a temporary file in the same folder (same file system), is flushed to
    disk, then renamed over ``path`` with :func:`os.replace`. On any failure the temporary
    file is removed and ``path`` is left as it was. Missing parent folders are created. An
    existing file keeps its permissions; a new one gets the usual ``0666 & ~umask``.
    Newlines are written as given (no platform translation), so output is byte-stable.
    """
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = _DEFAULT_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
