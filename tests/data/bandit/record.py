"""Records the real bandit JSON report the adapter tests parse (``report.json``).

Run from the repository root when the mapping, the test project or bandit change:
``.venv/bin/python tests/data/bandit/record.py``. The report is stored as bandit wrote
it, except its timestamp.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
sys.path.insert(0, str(REPO))

from checker.analyzers.bandit import BanditRun  # noqa: E402
from checker.source import SourceFile  # noqa: E402

ENABLED = {"tls-verify-disabled", "missing-request-timeout", "insecure-code-execution", "debug-enabled",
           "xss-unescaped-output", "hardcoded-secret"}


def main() -> None:
    root = HERE / "project"
    files = [SourceFile(p, p.relative_to(root).as_posix(), "python", p.stat().st_size)
             for p in sorted(root.rglob("*.py"))]
    run = BanditRun(files, REPO / "rules" / "bandit.yaml", ENABLED, root)
    run.start()
    outcome = run.wait()
    assert outcome.status.ran, outcome.status
    report = dict(run.reports[0])
    report.pop("generated_at", None)
    (HERE / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
