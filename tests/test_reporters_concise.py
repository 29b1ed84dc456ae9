from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from sample_report import RAW_SECRET, assert_golden, sample_report  # noqa: E402

from checker.reporters import RenderOptions, render  # noqa: E402


def test_concise_golden() -> None:
    text = render("concise", sample_report(), RenderOptions())
    assert RAW_SECRET not in text
    assert_golden("concise.txt", text)
