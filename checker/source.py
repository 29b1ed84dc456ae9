"""A source file found by discovery: read and parsed lazily, at most once."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst


class Unreadable(Exception):
    """The file cannot be analysed; the message says why, for the report's skipped list."""


@dataclass
class SourceFile:
    path: Path  # absolute
    relpath: str  # posix, relative to the scan root
    language: str
    size: int = 0
    _bytes: bytes | None = field(default=None, repr=False)
    _text: str | None = field(default=None, repr=False)
    _module: cst.Module | None = field(default=None, repr=False)

    def read_bytes(self) -> bytes:
        if self._bytes is None:
            try:
                self._bytes = self.path.read_bytes()
            except OSError as exc:
                raise Unreadable(f"cannot be read: {exc.strerror or exc}") from None
        return self._bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.read_bytes()).hexdigest()

    @property
    def text(self) -> str:
        if self._text is None:
            data = self.read_bytes()
            if b"\x00" in data[:8192]:
                raise Unreadable("binary file (contains NUL bytes)")
            try:
                self._text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise Unreadable(f"not UTF-8 (byte {exc.start}: {exc.reason})") from None
        return self._text

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @property
    def module(self) -> cst.Module:
        if self._module is None:
            try:
                self._module = cst.parse_module(self.text)
            except cst.ParserSyntaxError as exc:
                raise Unreadable(
                    f"does not parse: line {exc.raw_line}, column {exc.raw_column}: {exc.message}"
                ) from None
            except RecursionError:
                raise Unreadable("does not parse: nesting too deep") from None
        return self._module

    def release(self) -> None:
        """Drop the cached bytes, text and tree once the file is done."""
        self._bytes = self._text = self._module = None


def is_within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def relpath(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()
