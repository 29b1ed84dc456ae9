"""A non-editable install carries the whole rule package: every rule module and data file."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DATA = (".py", ".yaml", ".yml", ".json")


def test_wheel_contains_every_rule_and_data_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
         str(PROJECT)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("checker-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        p.relative_to(PROJECT).as_posix()
        for package in ("checker", "rules")
        for p in (PROJECT / package).rglob("*")
        if p.is_file() and p.suffix in DATA and "__pycache__" not in p.parts
    }
    assert expected - names == set()
    assert "checker/reporters/report.schema.json" in names and "rules/manual.yaml" in names
