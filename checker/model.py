"""The checker's data model: frozen values passed from the engine to the reporters.

Everything a reporter needs is in a :class:`Report`; reporters never reopen files or
consult the engine. Lines are 1-based; columns are 1-based too (converted from libcst's
0-based columns at the analyzer boundary).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping


class Severity(enum.IntEnum):
    """How much harm a finding can do. Ordered, so ``finding.severity >= Severity.HIGH`` works."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | "Severity") -> "Severity":
        if isinstance(value, Severity):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {value!r} (expected one of: {', '.join(s.label for s in cls)})"
            ) from None


class Confidence(enum.IntEnum):
    """How sure the rule is that the finding is a real problem."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | "Confidence") -> "Confidence":
        if isinstance(value, Confidence):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown confidence {value!r} (expected one of: {', '.join(c.label for c in cls)})"
            ) from None


class Section(str, enum.Enum):
    """The three parts of the guideline's checklist."""

    SECURITY = "security"
    PERFORMANCE = "performance"
    ARCHITECTURE = "architecture"

    @property
    def title(self) -> str:
        return {"security": "Security", "performance": "Performance",
                "architecture": "Architecture and operations"}[self.value]


class Status(str, enum.Enum):
    """A checklist item's outcome."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not-applicable"
    MANUAL = "manual-review"
    DISABLED = "disabled"


@dataclass(frozen=True, order=True)
class Span:
    line: int
    column: int = 1
    end_line: int = 0
    end_column: int = 0

    def __post_init__(self) -> None:
        if self.end_line < self.line:
            object.__setattr__(self, "end_line", self.line)
        if self.end_line == self.line and self.end_column < self.column:
            object.__setattr__(self, "end_column", self.column)


@dataclass(frozen=True)
class Location:
    """A secondary place a finding refers to (the query line of an N+1 loop, say)."""

    path: str
    line: int
    message: str = ""


@dataclass(frozen=True)
class Finding:
    rule: str
    path: str
    span: Span
    message: str
    severity: Severity
    confidence: Confidence
    snippet: str = ""
    engine: str = "checker"
    related: tuple[Location, ...] = ()
    # The source text the fingerprint is made of (normalised, redacted); no line numbers.
    fingerprint: str = ""
    # Points this finding costs its section's score; filled in by scoring.
    points: float = 0.0

    @property
    def line(self) -> int:
        return self.span.line

    def sort_key(self) -> tuple:
        return (self.path, self.span.line, self.span.column, self.rule, self.message)


@dataclass(frozen=True)
class Example:
    """A code example on a rule: ``bad`` examples must fire, ``good`` ones must not.

    ``path`` is the file name the example is checked as (some rules look at file names).
    """

    code: str
    path: str = "example.py"


@dataclass(frozen=True)
class RuleMeta:
    """Everything known about a rule, stated once, on the rule."""

    slug: str
    checklist: str
    section: Section
    severity: Severity
    confidence: Confidence
    scope: str  # "file" or "project"
    languages: tuple[str, ...]
    summary: str
    docs: str = ""
    cwe: tuple[str, ...] = ()
    bad: tuple[Example, ...] = ()
    good: tuple[Example, ...] = ()
    engines: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ManualItem:
    """A checklist item that needs a person or a running system."""

    key: str
    checklist: str
    section: Section
    hint: str = ""
    signals: tuple[str, ...] = ()  # what the static scan saw that bears on it


@dataclass(frozen=True)
class ChecklistEntry:
    slug: str
    checklist: str
    section: Section
    status: Status
    findings: int = 0
    checked: int = 0  # how many places the rule examined
    points: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class SectionScore:
    section: Section
    score: float
    grade: str
    points: float
    capped: bool = False


@dataclass(frozen=True)
class Score:
    overall: float
    grade: str
    sections: tuple[SectionScore, ...]
    lines_of_code: int
    formula: str = ""
    capped: bool = False


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


@dataclass(frozen=True)
class EngineStatus:
    name: str
    ran: bool
    detail: str = ""
    files: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Report:
    tool_version: str
    root: str
    findings: tuple[Finding, ...]
    checklist: tuple[ChecklistEntry, ...]
    manual: tuple[ManualItem, ...]
    score: Score
    rules: Mapping[str, RuleMeta]
    files_scanned: int
    skipped: tuple[Skipped, ...] = ()
    engines: tuple[EngineStatus, ...] = ()
    suppressed: int = 0
    baseline_matched: int = 0
    # Findings about the checker's own suppression comments (unused, missing reason).
    diagnostics: tuple[Finding, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
