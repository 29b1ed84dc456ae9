"""Records the real semgrep JSON report the adapter tests parse (``report.json``).

Run from the repository root when the rules, the test project or semgrep change:
``.venv/bin/python tests/data/semgrep/record.py``. The report is stored as semgrep wrote
it, except its timing section, which changes on every run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
sys.path.insert(0, str(REPO))

from checker.analyzers.semgrep import SemgrepRun  # noqa: E402
from checker.discovery import language_of  # noqa: E402
from checker.source import SourceFile  # noqa: E402

ENABLED = {"tls-verify-disabled", "missing-health-check"}


def files_of(root: Path) -> list[SourceFile]:
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != ".semgrepignore":
            rel = path.relative_to(root).as_posix()
            out.append(SourceFile(path, rel, language_of(rel), path.stat().st_size))
    return out


def main() -> None:
    root = HERE / "project"
    run = SemgrepRun(files_of(root), REPO / "rules" / "semgrep", ENABLED, root)
    run.start()
    outcome = run.wait()
    assert outcome.status.ran, outcome.status
    report = dict(run.reports[0])
    report.pop("time", None)
    (HERE / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
